/**
 * The relay queue's workers over a real store, the parts between the items: when a lane starts
 * (at once when kicked, never before start or after stop), one worker per lane, what stop()
 * leaves for the next start, a lane going on after a dead letter without waiting for the poll,
 * a database that refuses writes (reported, logged, and resumed from), and what each failure
 * logs for the operator (level, lane, item, attempts, the error with its stack).
 */
import { afterAll, expect, it } from "vitest";
import { RemoteError } from "../../../src/core/errors.js";
import { silentLogger, type Logger } from "../../../src/core/log.js";
import { RelayQueue } from "../../../src/core/relay-queue.js";
import type { QueueItem } from "../../../src/store/api.js";
import { cleanupBackends, describeEachBackend, setReadOnly, storeOpener } from "../../support/db.js";

afterAll(cleanupBackends);

async function until(pred: () => boolean | Promise<boolean>, what = "condition", ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const HOUR = 3600_000;
const v = (item: QueueItem) => (item.payload as { v: string }).v;
const items = (lane: string, ...vs: string[]) => vs.map((x) => ({ lane, sourceKey: `${lane}:${x}`, payload: { v: x } }));

interface Line { level: string; message: string; meta: Record<string, unknown> }
function recordingLogger(lines: Line[]): Logger {
  const rec = (level: string) => (message: string, meta?: Record<string, unknown>) => void lines.push({ level, message, meta: meta ?? {} });
  const log: Logger = { error: rec("error"), warn: rec("warn"), info: () => undefined, debug: () => undefined, child: () => log };
  return log;
}

describeEachBackend("relay queue lifecycle", (backend) => {
  const open = storeOpener();

  it("a kicked lane starts at once, without waiting for the database scan; nothing starts before start() or after stop()", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item) => { seen.push(v(item)); }, async () => undefined, silentLogger, { pollMs: HOUR });
    await store.queue.enqueue(items("k", "early"));
    q.kick(["k"]);
    expect(q.isBusy("k")).toBe(false); // not started yet
    q.start();
    await until(() => seen.includes("early"), "the item queued before start");
    await until(() => !q.isBusy("k"), "the lane drained");
    await store.queue.enqueue(items("k", "kicked"));
    q.kick(["k"]);
    expect(q.isBusy("k")).toBe(true); // its worker started in the kick itself
    await until(() => seen.includes("kicked"), "the kicked item");
    await q.stop();
    await store.queue.enqueue(items("k", "late"));
    q.kick(["k"]);
    q.kick();
    expect(q.isBusy("k")).toBe(false);
    expect(seen).toEqual(["early", "kicked"]);
    expect(await store.queue.depth()).toBe(1);
  });

  it("one worker per lane: an item enqueued to a lane in flight waits for the one before it", async () => {
    const store = await open(backend);
    const events: string[] = [];
    const gates = new Map<string, () => void>();
    const q = new RelayQueue(store, async (item) => {
      events.push(`start ${v(item)}`);
      await new Promise<void>((r) => gates.set(v(item), r));
      events.push(`end ${v(item)}`);
    }, async () => undefined, silentLogger, { pollMs: HOUR });
    await store.queue.enqueue(items("l", "first"));
    q.start();
    q.kick(["l"]);
    await until(() => gates.has("first"), "the first item in flight");
    await store.queue.enqueue(items("l", "second"));
    q.kick(["l"]);
    await store.queue.enqueue(items("l", "third"));
    q.kick(["l"]);
    gates.get("first")!();
    await until(() => gates.has("second"), "the second item");
    gates.get("second")!();
    await until(() => gates.has("third"), "the third item");
    gates.get("third")!();
    await until(() => events.length === 6, "all three done");
    await q.stop();
    expect(events).toEqual(["start first", "end first", "start second", "end second", "start third", "end third"]);
  });

  it("a scan starts ready lanes up to the cap while another lane is busy", async () => {
    const store = await open(backend);
    const gates = new Map<string, () => void>();
    const q = new RelayQueue(store, async (item) => { await new Promise<void>((r) => gates.set(v(item), r)); }, async () => undefined, silentLogger,
      { concurrency: 2, pollMs: HOUR });
    await store.queue.enqueue(items("a", "a1"));
    q.start();
    q.kick(["a"]);
    await until(() => gates.has("a1"), "lane a busy");
    // Queued without a kick (as by another process): only a scan of the database finds them.
    await store.queue.enqueue([...items("b", "b1"), ...items("c", "c1")]);
    q.kick();
    await until(() => gates.size === 2, "one more lane started by the scan");
    expect(q.lanesInFlight).toBe(2); // the cap: b or c, not both
    for (const release of gates.values()) release();
    await until(() => gates.size === 3, "the last lane, when a worker freed");
    for (const release of gates.values()) release();
    await until(async () => (await store.queue.depth()) === 0, "all done");
    await q.stop();
  });

  it("a scan that finds every worker busy leaves its lanes for the next worker to free", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const q = new RelayQueue(store, async (item) => {
      if (v(item) === "a1") await held;
      seen.push(v(item));
    }, async () => undefined, silentLogger, { concurrency: 1, pollMs: HOUR });
    await store.queue.enqueue(items("a", "a1"));
    q.start();
    q.kick(["a"]);
    await until(() => q.isBusy("a"), "a1 in flight");
    await store.queue.enqueue(items("b", "b1")); // no kick: only a scan finds it
    q.kick(); // finds no free worker (decided before it reads anything)
    release();
    await until(() => seen.includes("b1"), "b1 once a's worker freed (the poll is an hour away)");
    await q.stop();
    expect(seen).toEqual(["a1", "b1"]);
  });

  it("stop() lets the item in flight finish and takes no more from its lane; the next start does", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const handler = async (item: QueueItem) => {
      if (v(item) === "s1") await held;
      seen.push(v(item));
    };
    const q = new RelayQueue(store, handler, async () => undefined, silentLogger, { pollMs: HOUR });
    await store.queue.enqueue(items("s", "s1", "s2", "s3"));
    q.start();
    q.kick(["s"]);
    await until(() => q.isBusy("s"), "s1 in flight");
    const stopped = q.stop();
    release();
    await stopped;
    expect(seen).toEqual(["s1"]);
    expect(await store.queue.depth()).toBe(2);
    const again = new RelayQueue(store, handler, async () => undefined, silentLogger, { pollMs: HOUR });
    again.start();
    await until(() => seen.length === 3, "the rest after a new start");
    await again.stop();
    expect(seen).toEqual(["s1", "s2", "s3"]);
  });

  it("after a dead letter its lane goes on at once, not at the next poll", async () => {
    const store = await open(backend);
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item) => {
      if (v(item).startsWith("bad")) throw new RemoteError("msg_too_long", "too long", { retryable: false });
      seen.push(v(item));
    }, async () => undefined, silentLogger, { pollMs: HOUR });
    await store.queue.enqueue(items("d", "bad1", "bad2", "sentinel"));
    q.start();
    q.kick(["d"]);
    await until(() => seen.includes("sentinel"), "the sentinel after two dead letters");
    await q.stop();
    expect(q.counts).toMatchObject({ dead: 2, done: 1 });
  });

  it("a database that refuses writes is reported and logged with the lane; the lane resumes when it is back", async () => {
    const opts = await backend.open();
    const store = await open(backend, opts);
    const lines: Line[] = [];
    const health: Array<string | null> = [];
    const seen: string[] = [];
    const q = new RelayQueue(store, async (item) => { seen.push(v(item)); }, async () => undefined, recordingLogger(lines), { pollMs: 20 });
    q.onStoreHealth = (e) => { if (health.at(-1) !== e) health.push(e); };
    await store.queue.enqueue(items("w", "w1"));
    await setReadOnly(store, opts.uri, true);
    q.start();
    await until(() => lines.some((l) => l.message === "relay queue read failed"), "the failed claim logged");
    await setReadOnly(store, opts.uri, false);
    await until(() => seen.includes("w1"), "the item once writes work again");
    await q.stop();
    const failed = lines.find((l) => l.message === "relay queue read failed")!;
    expect(failed.level).toBe("warn");
    expect(failed.meta).toMatchObject({ lane: "w", error: { message: expect.any(String), stack: expect.any(String) } });
    expect(health).toContainEqual(expect.stringMatching(/read-only/)); // the reads before it worked (null)
    expect(health.at(-1)).toBeNull();
  });

  it("a queue that cannot be read at all (the database gone) is reported and logged", async () => {
    const store = await open(backend);
    const lines: Line[] = [];
    const health: Array<string | null> = [];
    const q = new RelayQueue(store, async () => undefined, async () => undefined, recordingLogger(lines), { pollMs: HOUR });
    q.onStoreHealth = (e) => void health.push(e);
    q.start();
    await until(() => health.length > 0, "the first scan");
    await store.close();
    q.kick();
    await until(() => lines.some((l) => l.message === "relay queue scan failed"), "the failed scan logged");
    await q.stop();
    expect(lines.find((l) => l.message === "relay queue scan failed")).toMatchObject({ level: "warn", meta: { error: { message: expect.any(String), stack: expect.any(String) } } });
    expect(health).toEqual([null, expect.any(String)]);
  });

  it("each failure is logged for the operator: transient as a warning, a bug and a dead letter as errors, with lane, item, attempts and the error", async () => {
    const store = await open(backend);
    const lines: Line[] = [];
    const tries = new Map<string, number>();
    const q = new RelayQueue(store, async (item) => {
      const n = (tries.get(v(item)) ?? 0) + 1;
      tries.set(v(item), n);
      if (v(item) === "flaky" && n === 1) throw new RemoteError("timeout", "the network dropped it", { retryable: true });
      if (v(item) === "bug") throw new TypeError("x is undefined");
    }, async () => { throw new Error("the room is gone"); }, recordingLogger(lines), { pollMs: 10, baseDelayMs: 1, maxDelayMs: 2, bugAttempts: 2 });
    await store.queue.enqueue([...items("f", "flaky"), ...items("g", "bug")]);
    q.start();
    await until(() => tries.get("flaky") === 2 && lines.some((l) => l.message === "dead-letter notice failed"), "the retry and the dead letter");
    await q.stop();
    const ids = new Map((await store.queue.deadItems(10)).map((i) => [i.lane, i.id]));
    const logged = lines.map((l) => [l.level, l.message]);
    expect(logged).toEqual(expect.arrayContaining([
      ["warn", "relay item failed, will retry"],
      ["error", "relay item failed with an unexpected error (a bug?), will try 1 more time(s)"],
      ["error", "relay item failed permanently"],
      ["warn", "dead-letter notice failed"],
    ]));
    expect(logged.filter(([, m]) => m === "relay item failed, will retry")).toHaveLength(1);
    const line = (m: string) => lines.find((l) => l.message === m)!.meta;
    expect(line("relay item failed, will retry")).toMatchObject({ lane: "f", item: expect.any(Number), attempts: 1, delayMs: expect.any(Number),
      error: { code: "timeout", message: "the network dropped it", stack: expect.stringContaining("RemoteError") } });
    expect(line("relay item failed permanently")).toMatchObject({ lane: "g", item: ids.get("g"), attempts: 2, error: { name: "TypeError", message: "x is undefined" } });
    expect(line("dead-letter notice failed")).toMatchObject({ error: { message: "the room is gone", stack: expect.any(String) } });
  });
});
