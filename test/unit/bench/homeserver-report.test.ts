/** The homeserver phase's figures (bench/homeserver-report.ts): ranges, Tandem/null per repeat, the table. */
import { describe, expect, it } from "vitest";
import { cpuRatios, homeserverRows, range, worstRatio, type HomeserverResult, type HsRun } from "../../../bench/homeserver-report.js";

const run = (bridge: HsRun["bridge"], repeat: number, direction: HsRun["direction"], rate: number, cpu: number, tx: number | null = null): HsRun => ({
  bridge, repeat, direction, rate, messages: 100, delivered: 100, seconds: 10, deliveredPerSecond: 10,
  cpuSecondsPer1000: cpu, homeserverCpuSecondsPer1000: 20, transactionsPerMessage: tx,
});

const result = (runs: HsRun[]): HomeserverResult => ({
  homeserver: "Synapse", messagesPerRun: 100, repeats: 2, load1: { start: 1, end: 1 }, idleRssMB: { null: [50, 52], tandem: [100, 110] }, restRssMB: { null: [48, 50], tandem: [90, 96] }, runs,
});

describe("homeserver phase figures", () => {
  it("a range is one number when the values agree, min-max otherwise, '-' for none", () => {
    expect(range([1.234, 1.231])).toBe("1.23");
    expect(range([3, 1.5, 2])).toBe("1.5-3");
    expect(range([])).toBe("-");
  });

  it("Tandem/null pairs each repeat's runs (not the best of one with the worst of the other)", () => {
    const r = result([
      run("null", 1, "slack->matrix", 50, 1), run("tandem", 1, "slack->matrix", 50, 3),
      run("null", 2, "slack->matrix", 50, 2), run("tandem", 2, "slack->matrix", 50, 3),
      run("null", 1, "matrix->slack", 50, 0.5), run("tandem", 1, "matrix->slack", 50, 2),
    ]);
    expect(cpuRatios(r, "slack->matrix", 50)).toEqual([3, 1.5]);
    // Repeat 2 of Matrix→Slack has no null run: no ratio for it.
    expect(cpuRatios(r, "matrix->slack", 50)).toEqual([4]);
    expect(worstRatio(r, 50)).toBe(4);
    expect(worstRatio(r, 10)).toBeNull();
    expect(worstRatio(undefined, 50)).toBeNull();
  });

  it("a null run that cost no measurable CPU gives no ratio rather than Infinity", () => {
    const r = result([run("null", 1, "slack->matrix", 10, 0), run("tandem", 1, "slack->matrix", 10, 5)]);
    expect(cpuRatios(r, "slack->matrix", 10)).toEqual([]);
  });

  it("the table has a CPU row per rate with both directions and the ratio, transactions and idle RSS", () => {
    const r = result([
      run("null", 1, "slack->matrix", 10, 2), run("null", 1, "matrix->slack", 10, 1),
      run("tandem", 1, "slack->matrix", 10, 4, 2.5), run("tandem", 1, "matrix->slack", 10, 3, 3.1),
    ]);
    const rows = homeserverRows(r);
    expect(rows[0]).toEqual(["bridge CPU s per 1,000 msgs at 10 msg/s, Slack→Matrix / Matrix→Slack", "2 / 1", "4 / 3", "2 / 3"]);
    expect(rows.find((x) => x[0] === "database transactions per message")?.[2]).toBe("2.5-3.1");
    expect(rows.find((x) => x[0]!.startsWith("RSS 5 s after"))?.slice(1)).toEqual(["50-52", "100-110", "1.92-2.2"]);
    expect(rows.find((x) => x[0]!.startsWith("RSS idle after login"))?.slice(1)).toEqual(["48-50", "90-96", "1.8-2"]);
  });
});
