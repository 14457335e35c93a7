import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { budgetMarkdown, updateReadme } from "../../../bench/readme.js";
import type { BenchResult } from "../../../bench/report.js";

// Only the fields the README table reads; the rest of a run does not matter here.
function run(load1: number, budget: BenchResult["budget"], mode: BenchResult["mode"] = "full"): BenchResult {
  return {
    mode,
    startedAt: "2026-12-06T05:33:03.671Z",
    durationSeconds: 616,
    machine: { cpus: 2, model: "Xeon", memoryMB: 24152, node: "v20.20.2", load1, bridgeNodeFlags: "--max-semi-space-size=4" },
    database: { kind: "pg", version: "15.18", warning: null, durability: "fsync on, synchronous_commit on" },
    budget,
  } as unknown as BenchResult;
}

const met = { what: "throughput", budget: ">= 500 msg/s", measured: "591 msg/s", ok: true };
const missed = { what: "CPU at rest", budget: "<= 0.1 %", measured: "0.397 %", ok: false };

describe("the README's budget table", () => {
  it("names the load: a run on a quiet machine is not called shared", () => {
    const quiet = budgetMarkdown([run(1.35, [met])]);
    expect(quiet).toContain("**load average 1.35 at start**");
    expect(quiet).toContain("Nothing else ran on the machine");
    expect(quiet).not.toContain("shared the machine");
    expect(budgetMarkdown([run(11.46, [met])])).toContain("Other processes shared the machine");
  });

  it("says every missed line with its figure and budget", () => {
    const md = budgetMarkdown([run(1, [met, missed])]);
    expect(md).toContain("| CPU at rest | <= 0.1 % | 0.397 % | **no** |");
    expect(md).toContain("**Missed:** CPU at rest (0.397 %, budget <= 0.1 %).");
    expect(budgetMarkdown([run(1, [met])])).toContain("Every judged line was met.");
  });

  it("rewrites only what is between the markers, and only from a full run", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tandem-readme-")), "README.md");
    const start = "<!-- bench:budget (written by npm run bench -- --readme; do not edit by hand) -->";
    fs.writeFileSync(file, `before\n${start}\nold table\n<!-- /bench:budget -->\nafter\n`);
    expect(updateReadme(run(1, [met], "quick"), file)).toMatch(/not updated/);
    expect(fs.readFileSync(file, "utf8")).toContain("old table");
    updateReadme(run(1, [met]), file);
    const text = fs.readFileSync(file, "utf8");
    expect(text).not.toContain("old table");
    expect(text).toMatch(/^before\n/);
    expect(text).toMatch(/\nafter\n$/);
    expect(text).toContain("| throughput | >= 500 msg/s | 591 msg/s | yes |");
  });
});
