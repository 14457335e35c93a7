/**
 * README's budget table, written from a bench run rather than typed: the rows between the
 * `<!-- bench:budget -->` markers are replaced with the run's budget lines, the machine and its
 * load, and which lines the run missed.
 *
 *   npm run bench -- --readme                       after a full run
 *   npx tsx bench/readme.ts a.json [b.json …]       from saved full runs: each line from the
 *                                                   last run that measured it (e.g. a run of
 *                                                   all phases, then `--only embedded`)
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "./report.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const README = path.join(ROOT, "README.md");
const START = "<!-- bench:budget (written by npm run bench -- --readme; do not edit by hand) -->";
const END = "<!-- /bench:budget -->";

const cell = (s: string) => s.replace(/\|/g, "\\|");

type Line = BenchResult["budget"][number] & { run: number };

const measured = (b: BenchResult["budget"][number]) => b.measured !== "-";

/** What the load says about the figures: a load at or above the core count means other work shared the CPUs. */
export function loadSentence(runs: BenchResult[]): string {
  const busy = runs.some((r) => Math.max(r.machine.load1, r.environment?.load1 ?? 0) >= r.machine.cpus);
  return busy
    ? "Other processes shared the machine (load at or above its core count): numbers vary ±30 % and more with load."
    : "Nothing else ran on the machine (load below its core count): numbers still vary ±10-20 % from run to run.";
}

/** The Markdown that goes between the markers: each budget line from the last run that measured it. */
export function budgetMarkdown(runs: BenchResult[]): string {
  const lines = new Map<string, Line>();
  runs.forEach((r, run) => {
    for (const b of r.budget) if (measured(b) || !lines.has(b.what)) lines.set(b.what, { ...b, run });
  });
  const about = (r: BenchResult, i: number) => {
    const m = r.machine;
    const env = r.environment ? `, ${r.environment.load1} before the latency run; disk write + fdatasync p50 ${r.environment.diskSyncMs.p50} ms` : "";
    return `${runs.length > 1 ? `run ${i + 1}: ` : ""}the ${r.mode} run of ${r.startedAt.slice(0, 16).replace("T", " ")} UTC (${r.durationSeconds} s), ` +
      `**load average ${m.load1} at start${env}** on ${m.cpus} CPUs (${m.model}), Node ${m.node}, ` +
      `Postgres ${r.database.version} (${r.database.durability}), bridge node flags: ${m.bridgeNodeFlags || "none"}`;
  };
  const all = [...lines.values()];
  const missed = all.filter((b) => b.ok === false);
  const unmeasured = all.filter((b) => !measured(b));
  const tag = (b: Line) => (runs.length > 1 && measured(b) ? ` (run ${b.run + 1})` : "");
  return [
    `From ${runs.map(about).join("; ")}. ${loadSentence(runs)}`,
    "",
    "| What | Budget | Measured | Met |",
    "| --- | --- | --- | --- |",
    ...all.map((b) => `| ${cell(b.what)} | ${cell(b.budget)} | ${measured(b) ? cell(b.measured) + tag(b) : "not measured"} | ${b.ok === null ? "n/a" : b.ok ? "yes" : "**no**"} |`),
    "",
    missed.length ? `**Missed:** ${missed.map((b) => `${b.what} (${b.measured}, budget ${b.budget})`).join("; ")}.` : "Every judged line was met.",
    ...(unmeasured.length ? ["", `${unmeasured.length} line(s) not measured by ${runs.length > 1 ? "these runs" : "this run"} (phases left out with --only).`] : []),
  ].join("\n");
}

/** Rewrites README's budget table from full runs; returns what it did (one line). Quick runs are not written. */
export function updateReadme(r: BenchResult | BenchResult[], file = README): string {
  const runs = Array.isArray(r) ? r : [r];
  if (runs.some((x) => x.mode !== "full")) return "README not updated: its budget table comes from full runs only";
  const text = fs.readFileSync(file, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return `README not updated: the markers ${START} … ${END} are missing`;
  fs.writeFileSync(file, `${text.slice(0, a + START.length)}\n${budgetMarkdown(runs)}\n${text.slice(b)}`);
  return `README budget table rewritten from the run(s) of ${runs.map((x) => x.startedAt).join(", ")}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = process.argv.length > 2 ? process.argv.slice(2) : [path.join(ROOT, "bench", "results", "latest.json")];
  process.stdout.write(`${updateReadme(files.map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as BenchResult))}\n`);
}
