#!/usr/bin/env node
// List the mutants the last `npm run mutation` left alive (survived or not covered by any test),
// one line each: file:line, mutator, original → replacement. Reads Stryker's JSON report.
// Usage: node scripts/mutation-survivors.mjs [reports/mutation/mutation.json]
import fs from "node:fs";

const file = process.argv[2] ?? "reports/mutation/mutation.json";
if (!fs.existsSync(file)) {
  console.error(`${file} not found: run npm run mutation first`);
  process.exit(1);
}
const report = JSON.parse(fs.readFileSync(file, "utf8"));
const oneLine = (s) => s.replace(/\s+/g, " ").trim().slice(0, 100);
for (const [name, { source, mutants }] of Object.entries(report.files)) {
  const lines = source.split("\n");
  const alive = mutants.filter((m) => m.status === "Survived" || m.status === "NoCoverage");
  const killed = mutants.filter((m) => m.status === "Killed" || m.status === "Timeout").length;
  const scored = mutants.filter((m) => !["Ignored", "CompileError", "RuntimeError"].includes(m.status)).length;
  console.log(`${name}: ${killed}/${scored} killed (${((100 * killed) / Math.max(scored, 1)).toFixed(1)} %), ${alive.length} alive`);
  for (const m of alive.sort((a, b) => a.location.start.line - b.location.start.line)) {
    const { line, column } = m.location.start;
    const original = lines[line - 1].slice(column - 1);
    console.log(`  ${line}:${column} ${m.status === "NoCoverage" ? "no test" : "survived"} ${m.mutatorName}: ${oneLine(original)} → ${oneLine(m.replacement ?? "")}`);
  }
}
