/** The relay queue's workers over a real store (both backends): order, retries, dead letters. */
import { afterAll, expect, it } from "vitest";
import { RelayQueue } from "../../../src/core/relay-queue.js";
import { Deferred, RemoteError, TandemError } from "../../../src/core/errors.js";
import { silentLogger } from "../../../src/core/log.js";
import type { QueueItem } from "../../../src/store/api.js";
import { cleanupBackends, describeEachBackend, storeOpener } from "../../support/db.js";

afterAll(cleanupBackends);

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describeEachBackend("relay queue workers", (backend) => {
  const open = storeOpener();

  it("applies items of one lane in order and lanes in parallel", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item) => { seen.push((item.payload as { v: string }).v); }, async () => undefined, silentLogger, { pollMs: 20 });
    await store.queue.enqueue([
      { lane: "a", sourceKey: "a1", payload: { v: "a1" } }, { lane: "b", sourceKey: "b1", payload: { v: "b1" } },
      { lane: "a", sourceKey: "a2", payload: { v: "a2" } }, { lane: "a", sourceKey: "a3", payload: { v: "a3" } },
    ]);
    q.start();
    await until(() => seen.length === 4);
    await q.stop();
    expect(seen.filter((s) => s.startsWith("a"))).toEqual(["a1", "a2", "a3"]);
    expect(await store.queue.depth()).toBe(0);
  });

  it("retries a retryable failure without letting later items of the lane pass, and not blocking other lanes", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    let failures = 2;
    const q = new RelayQueue(store, async (item: QueueItem) => {
      const v = (item.payload as { v: string }).v;
      if (v === "x1" && failures-- > 0) throw new RemoteError("ratelimited", "slow down", { retryable: true, retryAfterMs: 30 });
      seen.push(v);
    }, async () => undefined, silentLogger, { pollMs: 20, baseDelayMs: 10, maxDelayMs: 50 });
    await store.queue.enqueue([
      { lane: "x", sourceKey: "x1", payload: { v: "x1" } }, { lane: "x", sourceKey: "x2", payload: { v: "x2" } },
      { lane: "y", sourceKey: "y1", payload: { v: "y1" } },
    ]);
    q.start();
    await until(() => seen.length === 3);
    await q.stop();
    expect(seen.indexOf("x1")).toBeLessThan(seen.indexOf("x2"));
    expect(seen.indexOf("y1")).toBeLessThan(seen.indexOf("x1")); // y was not held up by x's retries
    expect(q.counts.retried).toBe(2);
  });

  it("a deferred (paced) item frees its worker, keeps its lane's order, counts no attempt and resumes on time", async () => {
    const store = await open(backend);
    const seen: Array<{ v: string; tries: number; attempts: number }> = [];
    let deferrals = 3;
    // One worker and a long poll: "y" can only run if "p" gave its worker back, and "p" resumes by its wake-up.
    const q = new RelayQueue(store, async (item: QueueItem) => {
      const v = (item.payload as { v: string }).v;
      if (v === "p1" && deferrals-- > 0) throw new Deferred(40, "paced");
      seen.push({ v, tries: item.tries, attempts: item.attempts });
    }, async () => undefined, silentLogger, { concurrency: 1, pollMs: 60_000 });
    await store.queue.enqueue([
      { lane: "p", sourceKey: "p1", payload: { v: "p1" } }, { lane: "p", sourceKey: "p2", payload: { v: "p2" } },
    ]);
    q.start();
    await until(() => q.counts.deferred >= 1);
    await store.queue.enqueue([{ lane: "y", sourceKey: "y1", payload: { v: "y1" } }]);
    q.kick(["y"]);
    await until(() => seen.length === 3);
    await q.stop();
    const order = seen.map((s) => s.v);
    expect(order.indexOf("p1")).toBeLessThan(order.indexOf("p2"));
    expect(order.indexOf("y1")).toBeLessThan(order.indexOf("p1")); // y ran while p waited for its slot
    // Three hand-outs were taken back: p1 looks untried (a crash-time look-up is not needed) and never failed.
    expect(seen.find((s) => s.v === "p1")).toMatchObject({ tries: 1, attempts: 0 });
    expect(q.counts).toMatchObject({ deferred: 3, retried: 0, dead: 0 });
  });

  it("dead-letters a permanent failure once, reports it, and moves on", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    const dead: string[] = [];
    const q = new RelayQueue(store, async (item) => {
      const v = (item.payload as { v: string }).v;
      if (v === "bad") throw new RemoteError("channel_not_found", "gone", { retryable: false });
      seen.push(v);
    }, async (item, err) => { dead.push(`${(item.payload as { v: string }).v}:${(err as Error).message}`); }, silentLogger, { pollMs: 20 });
    await store.queue.enqueue([{ lane: "z", sourceKey: "z1", payload: { v: "bad" } }, { lane: "z", sourceKey: "z2", payload: { v: "good" } }]);
    q.start();
    await until(() => seen.length === 1);
    await q.stop();
    expect(dead).toEqual(["bad:gone"]);
    expect((await store.queue.deadItems(10)).map((i) => i.sourceKey)).toEqual(["z1"]);
  });

  it("gives up on a transient failure after maxAttempts", async () => {
    const store = await open(backend);
    const dead: number[] = [];
    const q = new RelayQueue(store, async () => { throw new RemoteError("http_503", "unavailable", { retryable: true }); }, async (item) => { dead.push(item.attempts); },
      silentLogger, { pollMs: 10, baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 3 });
    await store.queue.enqueue([{ lane: "w", sourceKey: "w1", payload: {} }]);
    q.start();
    await until(() => dead.length === 1);
    await q.stop();
    expect(dead).toEqual([2]); // two recorded failures before the third attempt dead-letters it
  });

  it("a bug (TypeError) costs its lane 3 tries and one dead letter; transport and store failures keep retrying", async () => {
    const store = await open(backend);
    const tries = new Map<string, number>();
    const dead: Array<{ v: string; attempts: number; error: string }> = [];
    const seen: string[] = [];
    const econnreset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    class StoreDown extends TandemError { readonly code = "store.connect"; }
    const q = new RelayQueue(store, async (item) => {
      const v = (item.payload as { v: string }).v;
      const n = (tries.get(v) ?? 0) + 1;
      tries.set(v, n);
      if (v === "bug") throw new TypeError("Cannot read properties of undefined (reading 'text')");
      // fetch's own failure is a TypeError too, but its cause says transport: not a bug.
      if (v === "net" && n < 6) throw new TypeError("fetch failed", { cause: econnreset });
      if (v === "db" && n < 6) throw new StoreDown("lost the connection to Postgres");
      seen.push(v);
    }, async (item, err) => { dead.push({ v: (item.payload as { v: string }).v, attempts: item.attempts, error: String(err) }); },
    silentLogger, { pollMs: 10, baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 40 });
    await store.queue.enqueue([
      { lane: "b", sourceKey: "b1", payload: { v: "bug" } }, { lane: "b", sourceKey: "b2", payload: { v: "after-bug" } },
      { lane: "n", sourceKey: "n1", payload: { v: "net" } }, { lane: "d", sourceKey: "d1", payload: { v: "db" } },
    ]);
    q.start();
    await until(() => seen.length === 3);
    await q.stop();
    expect(tries.get("bug")).toBe(3);
    expect(dead).toEqual([{ v: "bug", attempts: 2, error: "TypeError: Cannot read properties of undefined (reading 'text')" }]);
    expect((await store.queue.deadItems(10)).map((i) => i.lastError)).toEqual(["TypeError: Cannot read properties of undefined (reading 'text')"]);
    expect(seen.sort()).toEqual(["after-bug", "db", "net"]); // the lane went on after its dead letter
    expect(tries.get("net")).toBe(6);
    expect(tries.get("db")).toBe(6);
  });
});
