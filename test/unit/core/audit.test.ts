/** The audit's pure parts: window parsing, folding store rows into parity and verdicts, formatting. */
import { describe, expect, it } from "vitest";
import { directionParity, formatMs, parseWindow, verdictOf, type AuditReport } from "../../../src/core/audit.js";
import { formatReport } from "../../../src/core/commands/audit.js";
import type { ParityCountRow } from "../../../src/store/audit.js";

describe("parseWindow", () => {
  it("accepts minutes, hours and days, with the default 24h", () => {
    expect(parseWindow()).toEqual({ label: "24h", ms: 86_400_000 });
    expect(parseWindow("1h")).toEqual({ label: "1h", ms: 3_600_000 });
    expect(parseWindow("30m")).toEqual({ label: "30m", ms: 1_800_000 });
    expect(parseWindow("7d")).toEqual({ label: "7d", ms: 604_800_000 });
    expect(parseWindow(" 90 min ")).toEqual({ label: "90m", ms: 5_400_000 });
    expect(parseWindow("2 days")).toEqual({ label: "2d", ms: 172_800_000 });
    expect(parseWindow("12H")).toEqual({ label: "12h", ms: 43_200_000 });
  });

  it("refuses anything else, zero, and more than 90 days", () => {
    for (const bad of ["", "24", "h", "1.5h", "-1h", "0m", "1w", "91d", "24h all", "1e3m", "2160h1"]) expect(parseWindow(bad), bad).toBeNull();
    expect(parseWindow("90d")).toEqual({ label: "90d", ms: 90 * 86_400_000 });
    expect(parseWindow("2161h")).toBeNull();
  });
});

const row = (cls: ParityCountRow["class"], count: number, reason: string | null = null): ParityCountRow =>
  ({ roomId: "!r:x", network: "slack", chat: "C1", direction: "to_matrix", class: cls, reason, count });

describe("parity and verdicts", () => {
  it("seen is delivered + pending + failed; failures grouped by reason, most first; skipped apart", () => {
    const p = directionParity([row("delivered", 5), row("failed", 1, "chat_not_found"), row("failed", 2, "file_too_large"), row("pending", 1), row("skipped", 3)],
      { roomId: "!r:x", network: "slack", chat: "C1", direction: "to_matrix", samples: 5, p50Ms: 20, p95Ms: 90, maxMs: 95 });
    expect(p).toMatchObject({ seen: 9, delivered: 5, pending: 1, failed: 3, skipped: 3, ok: false, verdict: "1 pending, 3 failed" });
    expect(p.failures).toEqual([{ reason: "file_too_large", count: 2 }, { reason: "chat_not_found", count: 1 }]);
    expect(p.latency).toEqual({ samples: 5, p50Ms: 20, p95Ms: 90, maxMs: 95 });
  });

  it("no messages lost when nothing is pending or failed; skipped ones are mentioned, not hidden", () => {
    expect(verdictOf({ pending: 0, failed: 0, skipped: 0 })).toEqual({ ok: true, verdict: "no messages lost" });
    expect(verdictOf({ pending: 0, failed: 0, skipped: 2 })).toEqual({ ok: true, verdict: "no messages lost (2 not relayed: standby or filtered)" });
    expect(verdictOf({ pending: 2, failed: 0, skipped: 0 })).toEqual({ ok: false, verdict: "2 pending, 0 failed" });
    const empty = directionParity([], undefined);
    expect(empty).toMatchObject({ seen: 0, delivered: 0, latency: null, ok: true, verdict: "no messages lost" });
  });

  it("formats durations for people", () => {
    expect([formatMs(0), formatMs(12.4), formatMs(999), formatMs(1000), formatMs(1540), formatMs(12_345), formatMs(65_000), formatMs(3_600_000)])
      .toEqual(["0 ms", "12 ms", "999 ms", "1.0 s", "1.5 s", "12 s", "1m 05s", "60m 00s"]);
  });
});

describe("the audit reply", () => {
  const parity = (over: Partial<ReturnType<typeof directionParity>> = {}) => ({ ...directionParity([row("delivered", 4)], undefined), ...over });
  const report: AuditReport = {
    window: "24h", since: "2025-01-01T10:00:00.000Z", until: "2025-01-02T10:00:00.000Z", ok: false,
    rooms: [{
      roomId: "!r:x", alias: "#ops:x", phase: "parallel",
      links: [{
        network: "slack", networkName: "Slack", chat: "C1", name: "<b>ops</b> & co", loginId: "slack:T1",
        directions: {
          to_matrix: parity({ latency: { samples: 4, p50Ms: 120, p95Ms: 1500, maxMs: 2000 } }),
          from_matrix: directionParity([row("delivered", 2), row("failed", 1, "chat_not_found")], undefined),
        },
      }],
    }],
  };

  it("has one line per chat and direction with counts, latency and verdict", () => {
    const { text } = formatReport(report);
    const lines = text.split("\n");
    expect(lines[0]).toBe("Parity audit, last 24h (since 2025-01-01 10:00 UTC): messages pending or failed");
    expect(lines[1]).toBe("#ops:x (phase parallel)");
    expect(lines[2]).toBe("• Slack <b>ops</b> & co → Matrix: 4 seen, 4 delivered, 0 pending, 0 failed; p50 120 ms, p95 1.5 s, max 2.0 s — no messages lost");
    expect(lines[3]).toBe("• Matrix → Slack <b>ops</b> & co: 3 seen, 2 delivered, 0 pending, 1 failed [chat_not_found ×1]; no latency samples — 0 pending, 1 failed");
  });

  it("escapes user-controlled names in the HTML table", () => {
    const { html } = formatReport(report);
    expect(html).toContain("<td>Slack &lt;b&gt;ops&lt;/b&gt; &amp; co → Matrix</td>");
    expect(html).not.toContain("<b>ops</b>");
    expect(html.match(/<tr>/g)).toHaveLength(4); // header, room title, and one row per direction
  });
});
