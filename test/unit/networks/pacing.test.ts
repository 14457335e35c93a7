import { describe, expect, it } from "vitest";
import { Pacer, SLACK_CHANNEL, TELEGRAM_BOT, TELEGRAM_GROUP } from "../../../src/networks/pacing.js";

/** A fake clock: sleeping advances time instantly, so the test measures schedule, not speed. */
function clock() {
  let t = 0;
  const sleeps: number[] = [];
  return { now: () => t, sleep: async (ms: number) => { sleeps.push(ms); t += ms; }, sleeps, get t() { return t; } };
}

describe("outbound pacing", () => {
  it("lets a burst through, then one per second per Slack channel", async () => {
    const c = clock();
    const p = new Pacer(c.now, c.sleep);
    for (let i = 0; i < 4; i++) await p.take([["C1", SLACK_CHANNEL]]);
    expect(c.t).toBe(0);
    await p.take([["C1", SLACK_CHANNEL]]);
    await p.take([["C1", SLACK_CHANNEL]]);
    expect(c.t).toBeGreaterThanOrEqual(2000);
    expect(c.t).toBeLessThan(2100);
  });

  it("keeps channels independent", async () => {
    const c = clock();
    const p = new Pacer(c.now, c.sleep);
    for (let i = 0; i < 4; i++) await p.take([["C1", SLACK_CHANNEL]]);
    await p.take([["C2", SLACK_CHANNEL]]);
    expect(c.t).toBe(0);
  });

  it("applies the tightest of several buckets (Telegram bot and group)", async () => {
    const c = clock();
    const p = new Pacer(c.now, c.sleep);
    for (let i = 0; i < 21; i++) await p.take([["bot", TELEGRAM_BOT], ["group:-100", TELEGRAM_GROUP]]);
    // 20 fit the group's burst; the 21st waits about 3 s (20 per minute).
    expect(c.t).toBeGreaterThanOrEqual(2900);
    expect(c.t).toBeLessThan(3100);
    expect(p.waitedMs).toBe(c.t);
  });
});
