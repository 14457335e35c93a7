/**
 * Issue 11 §5: a condition reported on every retry (every 5 s: 720 times an hour) is logged when it
 * starts or changes, then at growing gaps with the count of repeats, and once when it ends.
 */
import { describe, expect, it } from "vitest";
import type { Logger } from "../../../src/core/log.js";
import { RepeatLog } from "../../../src/core/repeat-log.js";

function capture(): { log: Logger; lines: Array<{ level: string; message: string; meta?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => void lines.push({ level, message, meta });
  const log: Logger = { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug"), child: () => log };
  return { log, lines };
}

describe("RepeatLog", () => {
  it("an hour of a 5-second retry loop writes a handful of lines, not 720, each repeat saying how often", () => {
    const { log, lines } = capture();
    let now = 0;
    const r = new RepeatLog(log, { now: () => now });
    for (let t = 0; t < 3_600_000; t += 5000) {
      now = t;
      r.report("warn", "homeserver unreachable (ECONNREFUSED)");
    }
    // at 0, then after gaps of 1, 2, 4, 8, 16 and 32 minutes (1, 3, 7, 15, 31, 63 min): 6 lines in the hour
    expect(lines.map((l) => l.level)).toEqual(["warn", "warn", "warn", "warn", "warn", "warn"]);
    expect(lines[0]!.meta).toEqual({});
    expect(lines[1]!.meta).toMatchObject({ repeated: 12, since: new Date(0).toISOString() });
    expect(lines[2]!.meta).toMatchObject({ repeated: 24 });
    expect(lines.every((l) => l.message === "homeserver unreachable (ECONNREFUSED)")).toBe(true);
  });

  it("a changed message (or level) is logged at once; the end is logged once", () => {
    const { log, lines } = capture();
    let now = 0;
    const r = new RepeatLog(log, { now: () => now });
    r.report("warn", "homeserver unreachable (ECONNREFUSED)");
    now = 5000;
    r.report("warn", "homeserver unreachable (ECONNREFUSED)");
    now = 10_000;
    r.report("warn", "homeserver unreachable (HTTP 502)");
    now = 15_000;
    r.report("error", "homeserver unreachable (HTTP 502)");
    expect(r.active).toBe(true);
    expect(r.clear("homeserver reachable again")).toBe(true);
    expect(r.clear("homeserver reachable again")).toBe(false);
    expect(r.active).toBe(false);
    expect(lines.map((l) => `${l.level} ${l.message}`)).toEqual([
      "warn homeserver unreachable (ECONNREFUSED)",
      "warn homeserver unreachable (HTTP 502)",
      "error homeserver unreachable (HTTP 502)",
      "info homeserver reachable again",
    ]);
    expect(lines[3]!.meta).toEqual({ after: "homeserver unreachable (HTTP 502)" });
    // after the end, the same condition is new again
    r.report("warn", "homeserver unreachable (ECONNREFUSED)");
    expect(lines).toHaveLength(5);
  });

  it("the gap stops growing at maxGapMs", () => {
    const { log, lines } = capture();
    let now = 0;
    const r = new RepeatLog(log, { now: () => now, firstGapMs: 1000, maxGapMs: 4000 });
    for (let t = 0; t <= 30_000; t += 100) {
      now = t;
      r.report("warn", "same");
    }
    // 0, 1000, 3000, 7000, 11000, 15000, 19000, 23000, 27000
    expect(lines).toHaveLength(9);
  });
});
