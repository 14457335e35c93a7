/**
 * What the relay queue reports about each item (the outcomes its observers — metrics, the
 * benchmark — count, and the reason a dead letter is filed under) and the default attempt
 * budget of a transient failure, read from the store.
 */
import { afterAll, expect, it } from "vitest";
import { RemoteError } from "../../../src/core/errors.js";
import { silentLogger } from "../../../src/core/log.js";
import { RelayQueue, type QueueOutcome } from "../../../src/core/relay-queue.js";
import type { QueueItem } from "../../../src/store/api.js";
import { cleanupBackends, describeEachBackend, storeOpener } from "../../support/db.js";

afterAll(cleanupBackends);

async function until(pred: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describeEachBackend("relay queue outcomes", (backend) => {
  const open = storeOpener();

  it("every observer is told each outcome with its item; a dead letter's reason is the error's code, class, or 'unknown'", async () => {
    const store = await open(backend);
    const outcomes: string[] = [];
    const alsoSeen: QueueOutcome[] = [];
    const failures: Record<string, () => unknown> = {
      coded: () => new RemoteError("channel_not_found", "gone", { retryable: false }),
      bug: () => new RangeError("index out of range"),
      odd: () => "a thrown string",
    };
    let slowOnce = true;
    const q = new RelayQueue(store, async (item: QueueItem) => {
      const v = (item.payload as { v: string }).v;
      if (v === "slow" && slowOnce) {
        slowOnce = false;
        throw new RemoteError("ratelimited", "slow down", { retryable: true, retryAfterMs: 1 });
      }
      const fail = failures[v];
      if (fail) throw fail();
    }, async () => undefined, silentLogger, { pollMs: 10, baseDelayMs: 1, maxDelayMs: 2, bugAttempts: 1 });
    q.observe((o) => outcomes.push(`${(o.item.payload as { v: string }).v} ${o.outcome}${o.reason ? ` ${o.reason}` : ""}`));
    q.observe((o) => alsoSeen.push(o));
    await store.queue.enqueue(["coded", "bug", "odd", "slow", "sentinel"].map((v) => ({ lane: "o", sourceKey: v, payload: { v } })));
    q.start();
    await until(() => outcomes.includes("sentinel done"));
    await q.stop();
    expect(outcomes).toEqual(["coded dead channel_not_found", "bug dead RangeError", "odd dead unknown", "slow retried", "slow done", "sentinel done"]);
    expect(alsoSeen).toHaveLength(outcomes.length);
    expect(q.counts).toEqual({ done: 2, retried: 1, dead: 3, deferred: 0 });
    expect((await store.queue.deadItems(10)).map((i) => i.lastError).sort()).toEqual(["RangeError: index out of range", "a thrown string", "channel_not_found: gone"]);
  });

  it("a transient failure is retried up to 40 attempts by default, then dead-lettered", async () => {
    const store = await open(backend);
    const dead: number[] = [];
    const q = new RelayQueue(store, async () => { throw new RemoteError("http_503", "unavailable", { retryable: true }); },
      async (item) => { dead.push(item.attempts); }, silentLogger, { pollMs: 60_000 });
    /** An item that has failed `earlier` times already; returns its lane. */
    const failedBefore = async (earlier: number) => {
      const lane = `after-${earlier}`;
      await store.queue.enqueue([{ lane, sourceKey: lane, payload: {} }]);
      const { id } = (await store.queue.head(lane))!;
      for (let i = 0; i < earlier; i++) await store.queue.retry(id, "earlier", new Date(0));
      return lane;
    };
    const retried = await failedBefore(38);
    const given = await failedBefore(39);
    q.start();
    q.kick([retried, given]);
    await until(async () => dead.length === 1 && (await store.queue.head(retried))?.attempts === 39);
    await q.stop();
    expect(dead).toEqual([39]);
    expect(await store.queue.head(given)).toBeNull();
    expect((await store.queue.head(retried))!.nextAttemptAt.getTime()).toBeGreaterThan(Date.now());
  });
});
