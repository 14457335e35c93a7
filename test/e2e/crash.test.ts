/**
 * Issue 5, item 4: kill -9 the real bridge (a child process) in the middle of 1,000 messages in
 * each direction (Slack→Matrix, Matrix→Slack, Telegram→Matrix, Matrix→Telegram, all at once),
 * restart it on the same database, and count per chat what was lost, duplicated or reordered.
 * Exactly once and in order everywhere, except Matrix→Telegram: Telegram has no idempotency key
 * nor a history a bot can search, so a send cut short by the crash may be repeated: at most one
 * per chat per kill (the message in flight in that chat's lane). `npx tsx bench/crash-report.ts`
 * prints the same as a table.
 */
import { describe, expect, it } from "vitest";
import { runCrashScenario, summaryLine, table } from "../support/crash-scenario.js";

const KILLS = 1;

describe("crash: kill -9 in the middle of 1,000 messages each way", () => {
  it("every message arrives exactly once and in order per chat (Matrix→Telegram: at most one duplicate per chat per kill)", async () => {
    const result = await runCrashScenario({ perDirection: 1000, chats: 2, kills: KILLS, log: (l) => console.log(`[crash] ${l}`) });
    console.log(table(result));
    for (const d of result.directions) console.log(`[crash] ${summaryLine(d)}`);
    console.log(`[crash] Slack look-ups of possibly sent messages: ${result.slackLookups}; traffic settled in ${result.trafficMs} ms`);

    expect(result.kills).toHaveLength(KILLS);
    for (const d of result.directions) {
      expect(d.sent, d.direction).toBe(1000);
      expect(d.lost, `${d.direction} lost`).toBe(0);
      expect(d.reordered, `${d.direction} reordered`).toBe(0);
      if (d.direction !== "matrix→telegram") expect(d.duplicated, `${d.direction} duplicated`).toBe(0);
      else for (const c of d.chats) expect(c.duplicated, `${d.direction} ${c.chat} duplicated`).toBeLessThanOrEqual(KILLS);
    }
  }, 480_000);
});
