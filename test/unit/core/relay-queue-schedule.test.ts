/**
 * The relay queue's retry schedule and lifecycle, read from what it records in the store: when
 * a failed item is due again (exponential backoff with jitter, capped, Retry-After honoured),
 * what reason a dead letter keeps, and that stop() lets an item in flight finish.
 */
import { afterAll, expect, it } from "vitest";
import { RemoteError } from "../../../src/core/errors.js";
import { silentLogger, type Logger } from "../../../src/core/log.js";
import { RelayQueue, type RelayQueueOptions } from "../../../src/core/relay-queue.js";
import type { QueueItem, Store } from "../../../src/store/api.js";
import { cleanupBackends, describeEachBackend, storeOpener } from "../../support/db.js";

afterAll(cleanupBackends);

async function until(pred: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const slowDown = (retryAfterMs?: number) => new RemoteError("ratelimited", "slow down", { retryable: true, retryAfterMs });

/** Lines logged, for the operator-facing ones. */
function recordingLogger(lines: string[]): Logger {
  const log: Logger = {
    error: (m) => void lines.push(`error ${m}`), warn: (m) => void lines.push(`warn ${m}`),
    info: () => undefined, debug: () => undefined, child: () => log,
  };
  return log;
}

describeEachBackend("relay queue schedule", (backend) => {
  const open = storeOpener();

  /**
   * One item that has failed `earlier` times already fails once more with `err`: how long (ms) after
   * the failure it is due again, as recorded in the queue (bounds from before and after the failure).
   */
  async function nextDelay(store: Store, err: unknown, earlier: number, opts: RelayQueueOptions): Promise<{ min: number; max: number }> {
    const lane = `L${earlier}-${Math.random()}`;
    await store.queue.enqueue([{ lane, sourceKey: `${lane}:1`, payload: {} }]);
    const { id } = (await store.queue.head(lane))!;
    for (let i = 0; i < earlier; i++) await store.queue.retry(id, "earlier", new Date(0));
    let failedAt = 0;
    const q = new RelayQueue(store, async () => { failedAt = Date.now(); throw err; }, async () => undefined, silentLogger, { pollMs: MINUTE, ...opts });
    q.start();
    q.kick([lane]);
    await until(async () => (await store.queue.head(lane))!.attempts === earlier + 1);
    const recordedBy = Date.now();
    await q.stop();
    const due = (await store.queue.head(lane))!.nextAttemptAt.getTime();
    return { min: due - recordedBy, max: due - failedAt };
  }

  it("backs off exponentially with jitter: the nth failure waits between half and all of base·2^(n-1)", async () => {
    const store = await open(backend);
    const first = await nextDelay(store, slowDown(), 0, { baseDelayMs: 10 * SECOND, maxDelayMs: 60 * MINUTE });
    expect(first.max).toBeGreaterThanOrEqual(5 * SECOND);
    expect(first.min).toBeLessThanOrEqual(10 * SECOND);
    const third = await nextDelay(store, slowDown(), 2, { baseDelayMs: 10 * SECOND, maxDelayMs: 60 * MINUTE });
    expect(third.max).toBeGreaterThanOrEqual(20 * SECOND);
    expect(third.min).toBeLessThanOrEqual(40 * SECOND);
  });

  it("caps the backoff at maxDelayMs (5 minutes unless configured)", async () => {
    const store = await open(backend);
    const capped = await nextDelay(store, slowDown(), 10, { baseDelayMs: 10 * SECOND, maxDelayMs: 30 * SECOND });
    expect(capped.max).toBeGreaterThanOrEqual(15 * SECOND);
    expect(capped.min).toBeLessThanOrEqual(30 * SECOND);
    const byDefault = await nextDelay(store, slowDown(), 20, {});
    expect(byDefault.max).toBeGreaterThanOrEqual(2.5 * MINUTE);
    expect(byDefault.min).toBeLessThanOrEqual(5 * MINUTE);
  });

  it("the first retry waits about half a second unless configured", async () => {
    const store = await open(backend);
    const d = await nextDelay(store, slowDown(), 0, {});
    expect(d.max).toBeGreaterThanOrEqual(250);
    expect(d.min).toBeLessThanOrEqual(500);
  });

  it("a Retry-After longer than the backoff is honoured; a shorter one does not shorten it", async () => {
    const store = await open(backend);
    const longer = await nextDelay(store, slowDown(3 * MINUTE), 0, { baseDelayMs: SECOND });
    expect(longer.max).toBeGreaterThanOrEqual(3 * MINUTE);
    expect(longer.min).toBeLessThanOrEqual(3 * MINUTE);
    const shorter = await nextDelay(store, slowDown(1), 0, { baseDelayMs: 10 * MINUTE, maxDelayMs: 60 * MINUTE });
    expect(shorter.max).toBeGreaterThanOrEqual(5 * MINUTE);
  });

  it("a dead letter keeps 'code: message' as its reason, counts once, and a failing notice does not stop the lane", async () => {
    const store = await open(backend);
    const lines: string[] = [];
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item: QueueItem) => {
      const v = (item.payload as { v: string }).v;
      if (v === "bad") throw new RemoteError("channel_not_found", "gone", { retryable: false });
      seen.push(v);
    }, async () => { throw new Error("notice could not be sent"); }, recordingLogger(lines), { pollMs: 20 });
    await store.queue.enqueue([{ lane: "z", sourceKey: "z1", payload: { v: "bad" } }, { lane: "z", sourceKey: "z2", payload: { v: "sentinel" } }]);
    q.start();
    await until(() => seen.includes("sentinel"));
    await q.stop();
    expect((await store.queue.deadItems(10)).map((i) => i.lastError)).toEqual(["channel_not_found: gone"]);
    expect(q.counts).toMatchObject({ dead: 1, done: 1, retried: 0 });
    expect(lines).toContain("warn dead-letter notice failed");
  });

  it("stop() waits for the item in flight, which is recorded done", async () => {
    const store = await open(backend);
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    const events: string[] = [];
    const q = new RelayQueue(store, async () => { events.push("started"); await released; events.push("handled"); }, async () => undefined,
      silentLogger, { pollMs: 20 });
    await store.queue.enqueue([{ lane: "s", sourceKey: "s1", payload: {} }]);
    q.start();
    await until(() => events.includes("started"));
    expect(q.isBusy("s")).toBe(true);
    expect(q.lanesInFlight).toBe(1);
    const stopped = q.stop().then(() => events.push("stopped"));
    release();
    await stopped;
    expect(events).toEqual(["started", "handled", "stopped"]);
    expect(await store.queue.depth()).toBe(0);
    expect(q.counts.done).toBe(1);
    expect(q.isBusy("s")).toBe(false);
  });

  it("at most `concurrency` lanes run at once; lanes left waiting start when a worker frees, not at the next poll", async () => {
    const store = await open(backend);
    const waiting = new Map<string, () => void>(); // source key → let its handler finish
    const done: string[] = [];
    let running = 0;
    let most = 0;
    // A poll an hour away: only a freed worker (or a kick) can start the waiting lanes.
    const q = new RelayQueue(store, async (item: QueueItem) => {
      most = Math.max(most, ++running);
      await new Promise<void>((r) => waiting.set(item.sourceKey, r));
      running--;
      done.push(item.sourceKey);
    }, async () => undefined, silentLogger, { concurrency: 2, pollMs: 60 * MINUTE });
    await store.queue.enqueue(["a", "b", "c", "d"].map((lane) => ({ lane, sourceKey: `${lane}1`, payload: {} })));
    q.start();
    await until(() => waiting.size === 2);
    expect(q.lanesInFlight).toBe(2);
    // A lane enqueued to while every worker is busy waits for one.
    await store.queue.enqueue([{ lane: "e", sourceKey: "e1", payload: {} }]);
    q.kick(["e"]);
    expect(q.isBusy("e")).toBe(false);
    // An item enqueued to a busy lane is taken by that lane's worker.
    await store.queue.enqueue([{ lane: "a", sourceKey: "a2", payload: {} }]);
    q.kick(["a"]);
    while (done.length < 6) {
      await until(() => waiting.size > 0);
      const [key, release] = [...waiting][0]!;
      waiting.delete(key);
      const before = done.length;
      release();
      await until(() => done.length > before);
    }
    await q.stop();
    expect(most).toBe(2);
    expect([...done].sort()).toEqual(["a1", "a2", "b1", "c1", "d1", "e1"]);
    expect(done.indexOf("a1")).toBeLessThan(done.indexOf("a2"));
    expect(await store.queue.depth()).toBe(0);
  });
});
