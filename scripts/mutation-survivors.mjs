#!/usr/bin/env node
// List the mutants a mutation run left alive (survived or not covered by any test), one line
// each: file:line, mutator, original → replacement; then the score over all files. Reads
// Stryker's JSON reports.
// Usage: node scripts/mutation-survivors.mjs [report.json…]
//   no argument: reports/mutation/mutation.json (the last `npm run mutation`)
//   --per-file:  every reports/mutation/mutation-*.json (per-file runs, MUTATION_RUN=name); a file
//                found in several reports counts once, from the newest of them
import fs from "node:fs";
import path from "node:path";

const DIR = "reports/mutation";
const args = process.argv.slice(2);
const files = args[0] === "--per-file"
  ? (fs.existsSync(DIR) ? fs.readdirSync(DIR) : []).filter((f) => /^mutation-.+\.json$/.test(f)).map((f) => path.join(DIR, f))
  : args.length ? args : [path.join(DIR, "mutation.json")];
const missing = files.filter((f) => !fs.existsSync(f));
if (files.length === 0 || missing.length) {
  console.error(`${missing.join(", ") || `no ${DIR}/mutation-*.json`} not found: run npm run mutation (or a per-file run) first`);
  process.exit(1);
}

// Source file → its mutants, from the newest report that has it.
const byFile = new Map();
for (const report of files.sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs)) {
  for (const [name, entry] of Object.entries(JSON.parse(fs.readFileSync(report, "utf8")).files)) {
    byFile.set(name, { ...entry, report });
  }
}

const oneLine = (s) => s.replace(/\s+/g, " ").trim().slice(0, 100);
const isKilled = (m) => m.status === "Killed" || m.status === "Timeout";
const isScored = (m) => !["Ignored", "CompileError", "RuntimeError"].includes(m.status);
const pct = (k, s) => `${((100 * k) / Math.max(s, 1)).toFixed(1)} %`;
let killedAll = 0;
let scoredAll = 0;
for (const [name, { source, mutants, report }] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
  const lines = source.split("\n");
  const alive = mutants.filter((m) => m.status === "Survived" || m.status === "NoCoverage");
  const killed = mutants.filter(isKilled).length;
  const scored = mutants.filter(isScored).length;
  killedAll += killed;
  scoredAll += scored;
  console.log(`${name}: ${killed}/${scored} killed (${pct(killed, scored)}), ${alive.length} alive${files.length > 1 ? ` [${path.basename(report)}]` : ""}`);
  for (const m of alive.sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column)) {
    const { line, column } = m.location.start;
    const original = lines[line - 1].slice(column - 1);
    console.log(`  ${line}:${column} ${m.status === "NoCoverage" ? "no test" : "survived"} ${m.mutatorName}: ${oneLine(original)} → ${oneLine(m.replacement ?? "")}`);
  }
}
console.log(`all ${byFile.size} file(s): ${killedAll}/${scoredAll} killed, mutation score ${pct(killedAll, scoredAll)}`);
