/**
 * The core's backfill on its own: a scripted history connection, a real store (kv, portals) and
 * a recording importer. Covers what the end-to-end test cannot force: cuts, thread hand-off to
 * live replies, a room someone wrote in, failures, and a restart from kv.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Backfill, type BackfillOptions } from "../../../src/core/backfill.js";
import { ChatHolds } from "../../../src/core/chat-holds.js";
import { describeJob, ProgressTick, type BackfillJob } from "../../../src/core/backfill-jobs.js";
import type { Connection, HistoryOptions, HistoryPage } from "../../../src/core/connector.js";
import type { CoreDeps } from "../../../src/core/context.js";
import { Deferred, RemoteError } from "../../../src/core/errors.js";
import { HealthBoard } from "../../../src/core/health.js";
import { silentLogger, type Logger } from "../../../src/core/log.js";
import type { LoginManager } from "../../../src/core/logins.js";
import type { MatrixPort } from "../../../src/core/matrix-port.js";
import type { RemotePayload } from "../../../src/core/payloads.js";
import { PortalDirectory } from "../../../src/core/portals.js";
import type { RemoteEvent } from "../../../src/core/types.js";
import type { Store } from "../../../src/store/api.js";
import { backends, cleanupBackends, storeOpener } from "../../support/db.js";

afterAll(cleanupBackends);
const open = storeOpener();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Msg = Extract<RemoteEvent, { kind: "message" }>;

const CHAT = "team:chan";
const ROOM = "!room:example.org";
let clock = 1_700_000_000_000;

function msg(text: string, threadRoot?: string): Msg {
  const at = (clock += 1000);
  return {
    kind: "message", key: `msg:${text}`, chat: CHAT, at, ref: `ref:${text}`, sender: "team:u1",
    msg: { doc: [{ type: "paragraph", children: [{ type: "text", text }] }], ...(threadRoot ? { threadRoot } : {}) },
  };
}
const textOf = (e: RemoteEvent) => (e.kind === "message" ? e.key.slice(4) : "");

/** History like Slack's: newest page first, threads apart, one pace per kind. */
class ScriptedHistory {
  top: Msg[] = [];
  replies = new Map<string, Msg[]>();
  ready = { page: 0, thread: 0 };
  calls: Array<{ kind: "page" | "thread"; at: number }> = [];
  /** What the next calls do: an error to throw, or null to answer. */
  failures: Array<RemoteError | null> = [];
  constructor(public pageSize = 3, public intervalMs = 0) {}

  async history(_chat: string, opts: HistoryOptions): Promise<HistoryPage> {
    const kind = opts.thread ? "thread" : "page";
    const wait = this.ready[kind] - Date.now();
    if (wait > 0) await sleep(wait);
    this.ready[kind] = Date.now() + this.intervalMs;
    this.calls.push({ kind, at: Date.now() });
    const f = this.failures.shift();
    if (f) throw f;
    if (opts.thread) return { events: this.replies.get(opts.thread) ?? [] };
    const end = opts.cursor ? Number(opts.cursor) : this.top.filter((m) => m.at < (opts.before ?? Infinity)).length;
    const start = Math.max(0, end - Math.min(opts.limit, this.pageSize));
    const events = this.top.slice(start, end);
    const threads = events.filter((e) => this.replies.has(e.ref)).map((e) => e.ref);
    return { events, ...(start > 0 ? { cursor: String(start) } : {}), ...(threads.length ? { threads } : {}) };
  }

  connection(): Connection {
    return { history: (c: string, o: HistoryOptions) => this.history(c, o), historyReadyAt: (k: "page" | "thread") => this.ready[k] } as unknown as Connection;
  }
}

interface Rig {
  store: Store;
  backfill: Backfill;
  holds: ChatHolds;
  /** Lanes the holds woke (released). */
  woken: string[];
  imported: string[];
  roomHasMessages: boolean;
  hist: ScriptedHistory;
  /** The info lines the backfill logged (its progress). */
  said: string[];
}

async function rig(hist: ScriptedHistory, opts: BackfillOptions = {}, store?: Store): Promise<Rig> {
  store ??= await open(backends[0]!);
  const r = { store, imported: [] as string[], roomHasMessages: false, hist, woken: [] as string[], said: [] as string[] } as Rig;
  const log: Logger = { ...silentLogger, info: (m) => { r.said.push(m); }, child: () => log };
  const matrix = {
    botMxid: "@bot:example.org",
    isBridgeUser: (m: string) => m === "@bot:example.org",
    hasMessages: async () => r.roomHasMessages,
  } as unknown as MatrixPort;
  const deps: CoreDeps = {
    store, matrix, log, health: new HealthBoard(), connectors: new Map(),
    options: { commandPrefix: "!tandem", permissions: {}, maxFileSize: 1e6, promptTimeoutMs: 1000, initialChatCount: {}, backfillCount: { net: 10 } },
  };
  const portals = new PortalDirectory(store, matrix, silentLogger);
  await portals.load();
  if (!portals.portal(ROOM)) {
    await portals.addPortal({ roomId: ROOM, kind: "portal", ownerMxid: "@alice:example.org", phase: "parallel", createdAt: new Date() });
    await portals.addLink({ roomId: ROOM, network: "net", chat: CHAT, loginId: "net:1", name: "chan", alias: null });
  }
  const conn = hist.connection();
  const logins = { connection: () => conn, record: () => ({ id: "net:1" }) } as unknown as LoginManager;
  const importer = async (p: RemotePayload) => {
    expect(p.backfill).toBe(true);
    r.imported.push(textOf(p.event));
  };
  r.holds = new ChatHolds(store, async (lanes) => { r.woken.push(...lanes); });
  r.backfill = new Backfill(deps, portals, logins, r.holds, importer, { holdMs: 300, retryMs: 50, ...opts });
  r.holds.onWaiting = (network, chat, payload) => r.backfill.onWaiting(network, chat, payload);
  await r.holds.load();
  await r.backfill.load();
  r.backfill.start();
  return r;
}

const link = { roomId: ROOM, network: "net", chat: CHAT, loginId: "net:1", name: "chan", alias: null, createdAt: new Date() };
const jobOf = async (store: Store) => JSON.parse((await store.kv.get(`backfill:net:${CHAT}`))!) as BackfillJob;
async function until(pred: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error("timed out");
    await sleep(10);
  }
}

describe("backfill (core)", () => {
  it("collects newest page first, imports oldest first with replies in time order, capped at the count", async () => {
    const h = new ScriptedHistory(3);
    const all: Msg[] = [];
    for (let i = 1; i <= 12; i++) {
      const m = msg(`m${i}`);
      all.push(m);
      if (i === 5) h.replies.set(m.ref, [msg("m5-r1", m.ref), msg("m5-r2", m.ref)]);
    }
    h.top = all;
    const r = await rig(h);
    await r.backfill.onPortalCreated(link);
    await until(async () => (await jobOf(r.store)).state === "done");
    // 10 newest top-level (m3..m12) and m5's replies, which were posted right after it.
    expect(r.imported).toEqual(["m3", "m4", "m5", "m5-r1", "m5-r2", "m6", "m7", "m8", "m9", "m10", "m11", "m12"]);
    expect(r.backfill.status()).toEqual(["chan (net): done, 12 messages imported"]);
    await r.backfill.stop();
  });

  it("says how far it is: a line per page and per thread with counts, then the import's progress", async () => {
    const h = new ScriptedHistory(3);
    h.top = Array.from({ length: 12 }, (_, i) => msg(`p${i + 1}`));
    h.replies.set(h.top[4]!.ref, [msg("p5-r1", h.top[4]!.ref), msg("p5-r2", h.top[4]!.ref)]);
    // progressEveryMs 0: the once-a-minute import line after every message.
    const r = await rig(h, { progressEveryMs: 0 });
    await r.backfill.onPortalCreated(link);
    await until(async () => (await jobOf(r.store)).state === "done");
    await r.backfill.stop();
    expect(r.said.filter((m) => m.startsWith("backfill:"))).toEqual([
      "backfill: page 1 fetched, 3 of 10 messages collected",
      "backfill: page 2 fetched, 6 of 10 messages collected",
      "backfill: page 3 fetched, 9 of 10 messages collected",
      "backfill: 2 thread replies fetched, 0 thread(s) left", // p5's thread, found on page 3
      "backfill: page 4 fetched, 10 of 10 messages collected (all pages in)",
      "backfill: importing 12 messages",
      ...Array.from({ length: 11 }, (_, i) => `backfill: ${i + 1} of 12 messages imported`),
    ]);
  });

  it("the import's progress line comes once per interval, not per message", () => {
    let now = 0;
    const tick = new ProgressTick(60_000, () => now);
    const due: number[] = [];
    for (now = 0; now <= 150_000; now += 10_000) if (tick.due()) due.push(now);
    expect(due).toEqual([60_000, 120_000]);
  });

  it("holds the chat's lane until the history is in; a waiting live message cuts a slow backfill short after holdMs", async () => {
    const h = new ScriptedHistory(3, 60_000);
    h.top = Array.from({ length: 9 }, (_, i) => msg(`s${i + 1}`));
    const r = await rig(h);
    await r.backfill.onPortalCreated(link);
    expect(r.holds.isHeld("net", CHAT)).toBe(true);
    await until(async () => (await jobOf(r.store)).pages === 1);
    expect(r.backfill.status()[0]).toMatch(/^chan \(net\): 3\/10 messages fetched, next page in (59|60) s$/);
    const live: RemotePayload = { t: "remote", loginId: "net:1", network: "net", receivedAt: Date.now(), event: msg("live") };
    // The lane worker asks before applying the live message: it is put back, and the job stops waiting for page 2.
    expect(() => r.holds.check("net", CHAT, live)).toThrow(Deferred);
    await until(() => !r.holds.isHeld("net", CHAT));
    expect(r.woken).toEqual([`r:net:${CHAT}`]);
    expect(r.imported).toEqual(["s7", "s8", "s9"]);
    const job = await jobOf(r.store);
    expect(job.state).toBe("done");
    expect(job.note).toMatch(/cut short at 3 of 10: a new message arrived/);
    expect(h.calls).toHaveLength(1);
    expect(() => r.holds.check("net", CHAT, live)).not.toThrow();
    await r.backfill.stop();
  });

  it("a live reply takes its thread: older replies are not fetched after it", async () => {
    const h = new ScriptedHistory(5, 0);
    const a = msg("a");
    const root = msg("root");
    h.top = [a, root, msg("b")];
    h.replies.set(root.ref, [msg("old reply", root.ref)]);
    h.ready.thread = Date.now() + 60_000; // the thread cannot be read soon
    const r = await rig(h, { holdMs: 200 });
    await r.backfill.onPortalCreated(link);
    await until(async () => (await jobOf(r.store)).state === "threads");
    expect(r.imported).toEqual(["a", "root", "b"]);
    expect(r.holds.isHeld("net", CHAT)).toBe(false); // the main import is in: live traffic goes on
    await r.backfill.beforeLive("net", msg("live reply", root.ref));
    await until(async () => (await jobOf(r.store)).state === "done");
    expect(r.imported).toEqual(["a", "root", "b"]);
    expect(h.calls.filter((c) => c.kind === "thread")).toHaveLength(0);
    await r.backfill.stop();
  });

  it("imports nothing into a room someone wrote in meanwhile", async () => {
    const h = new ScriptedHistory(5, 0);
    h.top = [msg("x"), msg("y")];
    const r = await rig(h);
    r.roomHasMessages = true;
    await r.backfill.onPortalCreated(link);
    await until(async () => (await jobOf(r.store)).state === "stopped");
    expect(r.imported).toEqual([]);
    expect((await jobOf(r.store)).note).toMatch(/people wrote in the room/);
    await r.backfill.stop();
  });

  it("retries a rate-limited page after Retry-After; a permanent failure imports what is in, with a note", async () => {
    const h = new ScriptedHistory(2, 0);
    h.top = [msg("p1"), msg("p2"), msg("p3"), msg("p4")];
    h.failures = [
      new RemoteError("ratelimited", "slow down", { retryable: true, retryAfterMs: 200 }), null,
      new RemoteError("missing_scope", "no scope", { retryable: false, userMessage: "the Slack app lacks a scope" }),
    ];
    const r = await rig(h);
    await r.backfill.onPortalCreated(link);
    await until(async () => (await jobOf(r.store)).state === "done");
    expect(h.calls).toHaveLength(3);
    expect(h.calls[1]!.at - h.calls[0]!.at).toBeGreaterThanOrEqual(190);
    expect(r.imported).toEqual(["p3", "p4"]);
    expect((await jobOf(r.store)).note).toMatch(/history could not be read further: the Slack app lacks a scope/);
    await r.backfill.stop();
  });

  it("resumes from kv after a restart: the next page from the stored cursor, each message once", async () => {
    const h = new ScriptedHistory(2, 400);
    h.top = [msg("q1"), msg("q2"), msg("q3"), msg("q4"), msg("q5")];
    const first = await rig(h);
    await first.backfill.onPortalCreated(link);
    await until(async () => (await jobOf(first.store)).pages === 2);
    await first.backfill.stop();
    expect(first.woken).toEqual([]);
    const stored = new ChatHolds(first.store, async () => undefined);
    await stored.load();
    expect(stored.isHeld("net", CHAT)).toBe(true); // still held after the stop: the chat's items keep waiting
    const calls = h.calls.length;
    const second = await rig(h, {}, first.store);
    await until(async () => (await jobOf(second.store)).state === "done");
    expect(second.imported).toEqual(["q1", "q2", "q3", "q4", "q5"]);
    expect(second.holds.isHeld("net", CHAT)).toBe(false);
    expect(second.woken).toEqual([`r:net:${CHAT}`]);
    expect(h.calls.length).toBe(calls + 1);
    await second.backfill.stop();
  });

  it("describes each state for status", () => {
    const base: BackfillJob = {
      roomId: ROOM, network: "net", chat: CHAT, loginId: "net:1", target: 50, before: 0, state: "collecting", cursor: "c", morePages: true,
      pages: 2, main: [], replies: [], topLevel: 30, threads: [], imported: 0, retryAt: 0, failures: 0, startedAt: 0,
    };
    expect(describeJob(base, "general (Slack)", 40_000, 0)).toBe("general (Slack): 30/50 messages fetched, next page in 40 s");
    expect(describeJob(base, "g", null, 0)).toBe("g: 30/50 messages fetched, waiting for the login to connect");
    expect(describeJob({ ...base, state: "threads", imported: 30, threads: [{ root: "r", got: 0 }] }, "g", 5000, 0))
      .toBe("g: 30 messages imported, 1 thread(s) left to fetch, next thread in 5 s");
    expect(describeJob({ ...base, state: "stopped", imported: 0, note: "the room was unlinked" }, "g", 0, 0)).toBe("g: stopped after 0 messages (the room was unlinked)");
  });
});
