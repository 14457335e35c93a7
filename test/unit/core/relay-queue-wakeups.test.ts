/**
 * The relay queue does not poll: with the safety sweep set to an hour, every item is still applied,
 * because something wakes its lane: the enqueue, a retry's own timer, the due time the database held
 * at start, or the backoff after a failed read of the queue.
 */
import { afterAll, expect, it } from "vitest";
import { RelayQueue, recordMap } from "../../../src/core/relay-queue.js";
import { RemoteError } from "../../../src/core/errors.js";
import { silentLogger } from "../../../src/core/log.js";
import { StoreError } from "../../../src/store/db.js";
import type { Store } from "../../../src/store/api.js";
import { openStore } from "../../../src/store/store.js";
import { cleanupBackends, describeEachBackend, storeOpener } from "../../support/db.js";

afterAll(cleanupBackends);

const HOUR = 3600_000;

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const v = (payload: unknown) => (payload as { v: string }).v;

describeEachBackend("relay queue wake-ups (no poll)", (backend) => {
  const open = storeOpener();

  it("an item enqueued while the bridge is idle is applied at once, with no poll tick", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item) => { seen.push(v(item.payload)); }, async () => undefined, silentLogger, { pollMs: HOUR });
    q.start();
    await store.queue.enqueue([{ lane: "a", sourceKey: "a1", payload: { v: "a1" } }, { lane: "a", sourceKey: "a2", payload: { v: "a2" } }]);
    q.kick(["a"]);
    await until(() => seen.length === 2);
    await q.stop();
    expect(seen).toEqual(["a1", "a2"]);
  });

  it("a retried item is applied when its backoff ends, by its lane's own timer", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    let failures = 2;
    const q = new RelayQueue(store, async (item) => {
      if (v(item.payload) === "r1" && failures-- > 0) throw new RemoteError("timeout", "no answer", { retryable: true });
      seen.push(v(item.payload));
    }, async () => undefined, silentLogger, { pollMs: HOUR, baseDelayMs: 20, maxDelayMs: 40 });
    q.start();
    await store.queue.enqueue([{ lane: "r", sourceKey: "r1", payload: { v: "r1" } }, { lane: "r", sourceKey: "r2", payload: { v: "r2" } }]);
    q.kick(["r"]);
    await until(() => seen.length === 2);
    await q.stop();
    expect(seen).toEqual(["r1", "r2"]);
    expect(q.counts.retried).toBe(2);
  });

  it("an item waiting for a retry from before the start is applied when it comes due (one timer from the database)", async () => {
    const store = await open(backend);
    await store.queue.enqueue([{ lane: "w", sourceKey: "w1", payload: { v: "w1" } }, { lane: "z", sourceKey: "z1", payload: { v: "z1" } }]);
    const w1 = (await store.queue.head("w"))!;
    await store.queue.retry(w1.id, "earlier", new Date(Date.now() + 300));
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item) => { seen.push(v(item.payload)); }, async () => undefined, silentLogger, { pollMs: HOUR });
    q.start();
    await until(() => seen.length === 2);
    await q.stop();
    expect(seen).toEqual(["z1", "w1"]); // z was due at start; w when its time came
  });

  it("a failed read of the queue (database down) is tried again after a backoff, and the lane is applied", async () => {
    const real = await open(backend);
    let down = 2;
    const store = {
      ...real,
      queue: {
        ...real.queue,
        claim: async (lane: string, now?: Date) => {
          if (down-- > 0) throw new StoreError("store.connect", "connection refused");
          return real.queue.claim(lane, now);
        },
      },
    } as Store;
    const seen: string[] = [];
    const health: Array<string | null> = [];
    const q = new RelayQueue(store, async (item) => { seen.push(v(item.payload)); }, async () => undefined, silentLogger, { pollMs: HOUR, baseDelayMs: 20 });
    q.onStoreHealth = (e) => health.push(e);
    q.start();
    await real.queue.enqueue([{ lane: "d", sourceKey: "d1", payload: { v: "d1" } }]);
    q.kick(["d"]);
    await until(() => seen.length === 1);
    await q.stop();
    expect(seen).toEqual(["d1"]);
    expect(health).toContain("connection refused");
    expect(health.at(-1)).toBeNull(); // reported healthy again once a read worked
  });

  it("message-map rows an item records are written with its done: one round trip per item after the claim, none if it fails", async () => {
    const store = await open(backend);
    const row = (ref: string) => ({
      roomId: "!r:x", eventId: `$${ref}`, network: "slack", chat: "C1", remoteRef: ref, part: 0, origin: "remote" as const,
      senderMxid: "@g:x", threadRootEvent: null, threadRootRemote: null, receivedAt: new Date(),
    });
    let failOnce = true;
    const mapped: Record<string, number> = {};
    const statements: number[] = [];
    const q = new RelayQueue(store, async (item) => {
      const ref = v(item.payload);
      statements.push(store.db.statementCount);
      mapped[ref] = (await store.messages.byRemote("slack", ref)).length; // what an earlier try left
      await recordMap(store, item, [row(ref)]);
      if (ref === "f1" && failOnce) {
        failOnce = false;
        throw new RemoteError("timeout", "no answer after the send", { retryable: true });
      }
    }, async () => undefined, silentLogger, { pollMs: HOUR, baseDelayMs: 10 });
    await store.queue.enqueue([{ lane: "s", sourceKey: "s1", payload: { v: "s1" } }, { lane: "s", sourceKey: "s2", payload: { v: "s2" } },
      { lane: "s", sourceKey: "f1", payload: { v: "f1" } }, { lane: "s", sourceKey: "s3", payload: { v: "s3" } }]);
    q.start(); // its scan (done before the first item is applied, so not counted below) starts the lane
    await until(() => q.counts.done === 4);
    await q.stop();
    // s1 → s2 → f1: the handler's own look-up, then one statement (map rows + done + the next claim).
    expect(statements[1]! - statements[0]!).toBe(2);
    expect(statements[2]! - statements[1]!).toBe(2);
    expect(mapped.f1).toBe(0); // the failed try wrote nothing: no map row without its done
    for (const ref of ["s1", "s2", "f1", "s3"]) expect(await store.messages.byRemote("slack", ref)).toHaveLength(1);
  });

  it("an enqueue into a quiet lane hands its head to the worker in the insert; a lane with a waiting head keeps its order", async () => {
    const real = await open(backend);
    // Told when the start's scan has read the queue, so its statements are not counted below.
    let scanned!: () => void;
    const startScan = new Promise<void>((r) => { scanned = r; });
    const store = { ...real, queue: { ...real.queue, nextDueAt: async (now?: Date) => (await real.queue.nextDueAt!(now)) ?? (scanned(), null) } } as Store;
    const seen: Array<{ v: string; statementsBefore: number }> = [];
    let before = 0;
    const q = new RelayQueue(store, async (item) => { seen.push({ v: v(item.payload), statementsBefore: store.db.statementCount - before }); },
      async () => undefined, silentLogger, { pollMs: HOUR });
    q.start();
    await startScan;
    before = store.db.statementCount;
    await q.enqueue([{ lane: "e", sourceKey: "e1", payload: { v: "e1" } }]);
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual({ v: "e1", statementsBefore: 1 }); // the insert, and no claim of its own
    // A head waiting for a retry is not jumped by an item enqueued behind it: w2 waits for w1.
    await store.queue.enqueue([{ lane: "w", sourceKey: "w1", payload: { v: "w1" } }]);
    await store.queue.retry((await store.queue.head("w"))!.id, "earlier", new Date(Date.now() + 200));
    await q.enqueue([{ lane: "w", sourceKey: "w2", payload: { v: "w2" } }, { lane: "e", sourceKey: "e2", payload: { v: "e2" } }]);
    await until(() => seen.length === 2); // e2, the sentinel: enqueued with w2, applied at once
    await q.stop();
    expect(seen.map((x) => x.v)).toEqual(["e1", "e2"]);
    q.start(); // reads w1's due time
    await until(() => seen.length === 4);
    await q.stop();
    expect(seen.map((x) => x.v)).toEqual(["e1", "e2", "w1", "w2"]);
  });

  it("the safety sweep finds an item nobody signalled (no kick, no notification), at its interval", async () => {
    const real = await open(backend);
    let scans = 0;
    const store = { ...real, queue: { ...real.queue, nextDueAt: async (now?: Date) => { const d = await real.queue.nextDueAt!(now); scans++; return d; } } } as Store;
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item) => { seen.push(v(item.payload)); }, async () => undefined, silentLogger, { pollMs: 30 });
    q.start();
    await until(() => scans >= 1); // the start's scan is over: only a sweep can find what comes now
    await real.queue.enqueue([{ lane: "s", sourceKey: "s1", payload: { v: "s1" } }]);
    await until(() => seen.length === 1);
    await q.stop();
    expect(seen).toEqual(["s1"]);
    expect(scans).toBeGreaterThan(1);
  });

  it("an enqueue into a queue that is not running stores the item and applies it only once started", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item) => { seen.push(v(item.payload)); }, async () => undefined, silentLogger, { pollMs: HOUR });
    await q.enqueue([{ lane: "x", sourceKey: "x1", payload: { v: "x1" } }]);
    await q.stop(); // waits for any lane in flight: none may have started
    expect(seen).toEqual([]);
    expect(await store.queue.head("x")).toMatchObject({ sourceKey: "x1" });
    q.start();
    await until(() => seen.length === 1);
    await q.stop();
    expect(seen).toEqual(["x1"]);
  });

  it("one enqueue of many lanes starts no more workers than its concurrency", async () => {
    const store = await open(backend);
    let inFlight = 0;
    let most = 0;
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item) => {
      most = Math.max(most, ++inFlight);
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); // overlap with any other worker running
      inFlight--;
      seen.push(v(item.payload));
    }, async () => undefined, silentLogger, { concurrency: 2, pollMs: HOUR });
    q.start();
    const lanes = ["c1", "c2", "c3", "c4", "c5", "c6"];
    await q.enqueue(lanes.map((l) => ({ lane: l, sourceKey: l, payload: { v: l } })));
    await until(() => seen.length === lanes.length);
    await q.stop();
    expect(seen.sort()).toEqual(lanes);
    expect(most).toBe(2);
  });

  // Postgres only: the embedded database cannot be opened by a second process.
  if (backend.name === "pg") {
    it("an item another process enqueues is applied at once: its NOTIFY wakes the lane, with the sweep at an hour", async () => {
      const opts = await backend.open();
      const own = await openStore(opts); // the bridge's store: its enqueues wake its lanes in-process
      const other = await openStore({ ...opts, notifyEnqueues: true }); // the CLI or a second process: its own pool and connections
      try {
        // Told when the start's scan (once listening) has read the queue.
        let scans = 0;
        const store = { ...own, queue: { ...own.queue, nextDueAt: async (now?: Date) => { const d = await own.queue.nextDueAt!(now); scans++; return d; } } } as Store;
        const seen: string[] = [];
        const q = new RelayQueue(store, async (item) => { seen.push(v(item.payload)); }, async () => undefined, silentLogger, { pollMs: HOUR });
        q.start();
        await until(() => scans === 1); // nothing enqueued from here on can be found by a scan
        await other.queue.enqueue([{ lane: "k", sourceKey: "k1", payload: { v: "k1" } }]); // one item: the store's plain insert must not skip the NOTIFY
        await until(() => seen.length === 1);
        await other.queue.enqueue([{ lane: "n", sourceKey: "n1", payload: { v: "n1" } }, { lane: "m", sourceKey: "m1", payload: { v: "m1" } }]);
        await until(() => seen.length === 3);
        await q.stop();
        expect(seen.sort()).toEqual(["k1", "m1", "n1"]);
        expect(scans).toBe(1); // woken by the notification, not by a scan
      } finally {
        await other.close();
        await own.close();
      }
    });
  }
});
