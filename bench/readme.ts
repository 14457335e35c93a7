/**
 * README's budget table, written from a bench run rather than typed: the rows between the
 * `<!-- bench:budget -->` markers are replaced with the run's budget lines, the machine and its
 * load, and which lines the run missed.
 *
 *   npm run bench -- --readme                       after a full run
 *   npx tsx bench/readme.ts bench/results/latest.json   from a saved run
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

/** The Markdown that goes between the markers. */
export function budgetMarkdown(r: BenchResult): string {
  const m = r.machine;
  const env = r.environment ? `, ${r.environment.load1} before the latency run` : "";
  const missed = r.budget.filter((b) => b.ok === false);
  const lines = [
    `From the ${r.mode} run of ${r.startedAt.slice(0, 16).replace("T", " ")} UTC (${r.durationSeconds} s): ${m.cpus} CPUs (${m.model}), Node ${m.node}, ` +
      `**load average ${m.load1} at start${env}** (other processes shared the machine; numbers vary ±30 % with load). ` +
      `Postgres ${r.database.version} (${r.database.durability}); bridge node flags: ${m.bridgeNodeFlags || "none (as `node dist/cli.js start`)"}.`,
    "",
    "| What | Budget | Measured | Met |",
    "| --- | --- | --- | --- |",
    ...r.budget.map((b) => `| ${cell(b.what)} | ${cell(b.budget)} | ${cell(b.measured)} | ${b.ok === null ? "n/a" : b.ok ? "yes" : "**no**"} |`),
    "",
    missed.length
      ? `Missed in this run: ${missed.map((b) => `${b.what} (${b.measured}, budget ${b.budget})`).join("; ")}.`
      : "This run met every judged line.",
  ];
  return lines.join("\n");
}

/** Rewrites README's budget table from `r`; returns what it did (one line). Quick runs are not written. */
export function updateReadme(r: BenchResult, file = README): string {
  if (r.mode !== "full") return "README not updated: its budget table comes from full runs only";
  const text = fs.readFileSync(file, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return `README not updated: the markers ${START} … ${END} are missing`;
  fs.writeFileSync(file, `${text.slice(0, a + START.length)}\n${budgetMarkdown(r)}\n${text.slice(b)}`);
  return `README budget table rewritten from the run of ${r.startedAt}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const from = process.argv[2] ?? path.join(ROOT, "bench", "results", "latest.json");
  process.stdout.write(`${updateReadme(JSON.parse(fs.readFileSync(from, "utf8")) as BenchResult)}\n`);
}
