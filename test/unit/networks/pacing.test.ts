import { describe, expect, it } from "vitest";
import { Deferred } from "../../../src/core/errors.js";
import { INLINE_WAIT_MS, Pacer, SLACK_CHANNEL, TELEGRAM_BOT, TELEGRAM_GROUP } from "../../../src/networks/pacing.js";

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

  it("pace(): waits in place for a near slot, defers a far one without spending its token", async () => {
    const c = clock();
    const p = new Pacer(c.now, c.sleep);
    const C1: Array<[string, typeof SLACK_CHANNEL]> = [["C1", SLACK_CHANNEL]];
    for (let i = 0; i < 4; i++) await p.pace(C1, "post");
    expect(c.t).toBe(0);
    // The fifth is a second away: more than the inline wait, so it goes back to the queue.
    const err = await p.pace(C1, "post").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Deferred);
    expect((err as Deferred).retryAfterMs).toBeGreaterThan(INLINE_WAIT_MS);
    expect((err as Deferred).retryAfterMs).toBeLessThanOrEqual(1000);
    expect(c.t).toBe(0);
    // Coming back when told, it goes at once: the deferral spent nothing.
    c.sleeps.length = 0;
    await c.sleep((err as Deferred).retryAfterMs);
    await expect(p.pace(C1, "post")).resolves.toBeUndefined();
    expect(c.t).toBe((err as Deferred).retryAfterMs); // it did not wait on top
  });

  it("reservations queue concurrent callers behind each other (a bucket in debt)", async () => {
    const c = clock();
    const p = new Pacer(c.now, c.sleep);
    const bot: Array<[string, typeof TELEGRAM_BOT]> = [["bot", TELEGRAM_BOT]];
    for (let i = 0; i < 30; i++) await p.reserve(bot, 0);
    // Empty: the next two reserve slots ~33 ms and ~67 ms away, each waiting for its own.
    const waits = [await p.reserve(bot, 100), await p.reserve(bot, 100)];
    expect(waits).toEqual([0, 0]);
    expect(c.sleeps[0]).toBeGreaterThanOrEqual(33);
    expect(c.sleeps[0]).toBeLessThanOrEqual(34);
    // The second waited for its own slot after the first.
    expect(c.sleeps[1]).toBeGreaterThanOrEqual(33);
    // A caller that will not wait that long is told how long, and takes nothing.
    expect(await p.reserve(bot, 10)).toBeGreaterThan(10);
  });

  it("forgets buckets only once they would be full again, so a busy chat keeps its debt", async () => {
    const c = clock();
    const p = new Pacer(c.now, c.sleep);
    const group: Array<[string, typeof TELEGRAM_GROUP]> = [["group", TELEGRAM_GROUP]];
    for (let i = 0; i < 20; i++) await p.reserve(group, 0);
    // 10,001 other buckets make the map prune; the empty group must not come back full.
    for (let i = 0; i <= 10_000; i++) await p.reserve([[`chat${i}`, SLACK_CHANNEL]], 0);
    expect(await p.reserve(group, 0)).toBeGreaterThan(2000);
    // A minute later the group has refilled anyway; forgetting it then changes nothing.
    await c.sleep(61_000);
    for (let i = 0; i < 20; i++) expect(await p.reserve(group, 0)).toBe(0);
    expect(await p.reserve(group, 0)).toBeGreaterThan(0);
  });
});
