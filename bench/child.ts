/**
 * The bridge under test, in its own process (so its RSS and heap are its own, not the fakes'),
 * started in-process through startBridge with the real Slack and Telegram connectors (pacing off).
 * The parent talks to it over IPC: start → ready, stats (latency samples from the core's
 * onRelayed hook, statement count, memory), gc, stop.
 */
import fs from "node:fs";
import { constants as perfConstants, monitorEventLoopDelay, performance, PerformanceObserver } from "node:perf_hooks";
import { parseConfig, type Registration } from "../src/config/index.js";
import { startBridge, type RunningBridge } from "../src/main.js";
import type { RelayTiming } from "../src/core/bridge.js";
import { createLogger } from "../src/observability/log.js";
import { createSlackConnector } from "../src/networks/slack/index.js";
import { createTelegramConnector } from "../src/networks/telegram/index.js";
import { tuneEmbeddedWasm, tuneHeap } from "../src/heap.js";

export interface StartRequest {
  type: "start";
  raw: Record<string, unknown>;
  baseDir: string;
  registration: Registration;
  logFile: string;
  /** Outbound pacing of the connectors (off for the benchmark: it measures the bridge, not Slack's limits). */
  pacing: boolean;
  queueConcurrency?: number;
}

export type ChildRequest = StartRequest | { type: "stats"; reset: boolean } | { type: "gc" } | { type: "stop" } | { type: "depth" };

export interface MemSample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface ChildStats {
  type: "stats";
  /** "slack->matrix" → bridge-added latencies (issuedAt − receivedAt), ms. */
  added: Record<string, number[]>;
  /** Same keys: outgoing call round trip (doneAt − issuedAt), ms. */
  roundTrip: Record<string, number[]>;
  /** Same keys: bridge-added time to the outgoing call's answer (doneAt − receivedAt, less waits), ms. */
  answered: Record<string, number[]>;
  statements: number;
  /** Database transactions (commits): a statement outside a transaction is one, a transaction one. */
  transactions: number;
  queue: { done: number; retried: number; dead: number };
  mem: MemSample;
  /** Highest sample since the last reset (RSS sampled every 250 ms, the heap every second). */
  memMax: MemSample;
  states: string[];
  /** CPU time of the bridge process since start, ms (user + system). */
  cpuMs: number;
  /** Event-loop delay since the last reset, ms: how long ready work waited for the bridge's one thread. */
  loopDelay: { p50: number; p99: number; max: number };
  /** Garbage collections since start (count, ms of pause): V8 tells of each one, no timer of ours. */
  gc: { count: number; ms: number; major: number };
}

export type ChildReply =
  | { type: "ready"; startBridgeMs: number; uptimeMs: number; mem: MemSample }
  | { type: "connected"; ms: number }
  | ChildStats
  | { type: "gc"; mem: MemSample }
  | { type: "depth"; depth: number }
  | { type: "stopped" }
  | { type: "error"; message: string };

const send = (msg: ChildReply) => process.send?.(msg);
const mem = (): MemSample => {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
};

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

let bridge: RunningBridge | null = null;
let added: Record<string, number[]> = {};
let roundTrip: Record<string, number[]> = {};
let answered: Record<string, number[]> = {};
let memMax = mem();

function onRelayed(t: RelayTiming): void {
  const key = `${t.from}->${t.to}`;
  // A fan-out's time waiting for the homeserver's answer to its first hop is not the bridge's.
  (added[key] ??= []).push(t.issuedAt - t.receivedAt - (t.waitedMs ?? 0));
  (roundTrip[key] ??= []).push(t.doneAt - t.issuedAt);
  (answered[key] ??= []).push(t.doneAt - t.receivedAt - (t.waitedMs ?? 0));
}

/** The histogram records each timer tick's interval, resolution included: subtracted below. */
const LOOP_RESOLUTION_MS = 5;
const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
/** BENCH_QUIET=1 (the rest phase): no timers of the bench's own in this process, so its CPU is the bridge's. */
const quiet = process.env.BENCH_QUIET === "1";
if (!quiet) loop.enable();

/** Each GC, as V8 reports it (an observer wakes nothing when no GC runs, so the rest phase keeps it). */
const gcs = { count: 0, ms: 0, major: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcs.count++;
    gcs.ms += e.duration;
    if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++;
  }
}).observe({ entryTypes: ["gc"] });

let ticks = 0;
const sampler = quiet ? undefined : setInterval(() => {
  // RSS is cheap to read; the heap figures every fourth tick.
  const rss = process.memoryUsage.rss();
  if (rss > memMax.rss) memMax.rss = rss;
  if (++ticks % 4 !== 0) return;
  const m = mem();
  for (const k of Object.keys(m) as Array<keyof MemSample>) if (m[k] > memMax[k]) memMax[k] = m[k];
}, 250);
sampler?.unref();

async function start(req: StartRequest): Promise<void> {
  const config = parseConfig(req.raw, {}, { baseDir: req.baseDir });
  const stream = fs.createWriteStream(req.logFile, { flags: "a" });
  const { log } = createLogger({ level: config.logging.level, format: "json", stream });
  const connectors = [
    createSlackConnector(config, log.child({ network: "slack" }), { pacing: req.pacing }),
    createTelegramConnector(config, log.child({ network: "telegram" }), { pacing: req.pacing }),
  ];
  tuneHeap(); // as `tandem start` does
  if (!config.database.uri) tuneEmbeddedWasm();
  const t0 = performance.now();
  bridge = await startBridge({
    config, registration: req.registration, logStream: stream, connectors,
    core: { onRelayed, queue: { ...(req.queueConcurrency ? { concurrency: req.queueConcurrency } : {}), ...(process.env.BENCH_POLL_MS ? { pollMs: Number(process.env.BENCH_POLL_MS) } : {}) } },
  });
  const startBridgeMs = performance.now() - t0;
  if (process.env.BENCH_SQL_TIMING) timeQueries(bridge);
  send({ type: "ready", startBridgeMs, uptimeMs: process.uptime() * 1000, mem: mem() });
  const b = bridge;
  const poll = setInterval(() => {
    const all = b.core.health.all();
    if (all.length > 0 && all.every((h) => h.state === "connected")) {
      clearInterval(poll);
      send({ type: "connected", ms: performance.now() - t0 });
    }
  }, 10);
}

/** BENCH_SQL_TIMING=1: count and time every statement by its first words (printed at stop). */
const sqlTimes = new Map<string, { n: number; ms: number }>();
function timeQueries(b: RunningBridge): void {
  const db = b.store.db as { query: (sql: string, params?: unknown[]) => Promise<unknown[]> };
  const orig = db.query.bind(db);
  db.query = async (sql, params) => {
    const t = performance.now();
    try {
      return await orig(sql, params);
    } finally {
      const key = sql.replace(/\s+/g, " ").trim().slice(0, 90);
      const e = sqlTimes.get(key) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += performance.now() - t;
      sqlTimes.set(key, e);
    }
  };
}

/** Statement timings since the last print (BENCH_SQL_TIMING=1), to stderr. */
function printQueryTimes(): void {
  if (sqlTimes.size === 0) return;
  const rows = [...sqlTimes].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => `${String(v.n).padStart(7)} ${v.ms.toFixed(0).padStart(7)} ms ${(v.ms / v.n).toFixed(2).padStart(6)} ms/q  ${k}`);
  process.stderr.write(`bench child: statements since the last mark (count, total, mean):\n${rows.join("\n")}\n`);
  sqlTimes.clear();
}

async function handle(req: ChildRequest): Promise<void> {
  switch (req.type) {
    case "start":
      return start(req);
    case "stats": {
      const b = bridge!;
      send({
        type: "stats", added, roundTrip, answered, statements: b.store.db.statementCount, transactions: b.store.db.transactionCount, queue: { ...b.core.queue.counts }, mem: mem(), memMax: { ...memMax },
        states: b.core.health.all().map((h) => `${h.network}:${h.state}`), cpuMs: cpuMs(), gc: { ...gcs },
        loopDelay: {
          p50: Math.max(0, loop.percentile(50) / 1e6 - LOOP_RESOLUTION_MS),
          p99: Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
          max: Math.max(0, loop.max / 1e6 - LOOP_RESOLUTION_MS),
        },
      });
      if (req.reset) {
        printQueryTimes();
        loop.reset();
        added = {};
        roundTrip = {};
        answered = {};
        memMax = mem();
      }
      return;
    }
    case "depth":
      send({ type: "depth", depth: await bridge!.store.queue.depth() });
      return;
    case "gc": {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) { gc(); gc(); }
      send({ type: "gc", mem: mem() });
      return;
    }
    case "stop":
      printQueryTimes();
      await bridge?.stop();
      send({ type: "stopped" });
      setTimeout(() => process.exit(0), 50);
      return;
  }
}

process.on("message", (req: ChildRequest) => {
  handle(req).catch((err: unknown) => send({ type: "error", message: err instanceof Error ? err.stack ?? err.message : String(err) }));
});
process.on("disconnect", () => process.exit(0));
