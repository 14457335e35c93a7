/**
 * `npm run bench` — the bridge under load, against the test fakes (answering at once) and a real
 * Postgres (scripts/pg-test-server.sh; PGlite with a warning when there is none).
 *
 *   npm run bench                 full run (about 5 minutes on 2 cores)
 *   npm run bench -- --quick      smoke run (< 60 s; CI): same phases, smaller; never fails on numbers
 *   npm run bench -- --profile    also write CPU profiles of the bridge process to bench/results/profiles/
 *   npm run bench -- --only relay only some phases (relay, fsync-off, ready, rest, memory, embedded, attack, link, components;
 *                                 and import and homeserver, only when asked: they need the real Synapse of ../shared/homeserver/)
 *   npm run bench -- --only homeserver [--repeats N] [--messages N] [--warm-up N]
 *                                 Tandem beside a null bridge through a real Synapse (bench/homeserver.ts):
 *                                 N interleaved repeats (default 1), N messages per run (default 1,000; --quick 100)
 *   npm run bench -- --only rate  CPU per message against the offered rate, cold and warm (bench/rate.ts; only when asked)
 *   npm run bench -- --rate 50    the latency run's total rate (default 100 messages/s)
 *   npm run bench -- --readme     also rewrite README's budget table from this run (bench/readme.ts)
 *
 * Phases: (1) relay: P portals (Slack, Telegram, linked Slack+Telegram rooms), warm-up, a latency run
 * at a steady total rate, then saturation bursts per direction; (2) start to ready with 1,000,
 * 10,000 (and, in the full run, 100,000) pre-seeded portals; (3) memory with 1,000 portals and
 * 10,000 ghosts all active; (4) attack: the longest event-loop stall while 19 MB hostile bodies are
 * sent to the appservice listener (bench/attack.ts); (5) embedded: the default deployment on
 * PGlite run as an operator runs it (bench/embedded.ts), and the memory phase on PGlite; (6)
 * fsync-off: the latency run again on a Postgres that does not wait for the disk, a labelled
 * comparison (the budget is judged on the durable one); (7) link: 20 busy rooms linked at once, the
 * time to the first 120 messages and the ghost set-up calls (bench/link.ts).
 * The bridge runs with no node flags, as the README starts it; bridge-added latency is given to
 * the outgoing call's issue and to its answer.
 * Prints a table and writes bench/results/latest.json. Exits non-zero only if the bridge breaks
 * (messages not relayed, the bridge process failing).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { DIRECTIONS, Traffic, type Direction } from "./drive.js";
import { measureEnvironment } from "./env.js";
import { BenchDatabases, type DbTarget } from "./pg.js";
import { BridgeProcess, NODE_FLAGS } from "./proc.js";
import { mb, pcts, renderText, round, type BenchResult, type DirectionResult } from "./report.js";
import { World, worldSpec } from "./world.js";
import { attackPhase, IDLE, VALID } from "./attack.js";
import { embeddedPhase } from "./embedded.js";
import { restPhase } from "./rest.js";
import { linkPhase } from "./link.js";
import { importPhase } from "./import.js";
import { homeserverPhase } from "./homeserver.js";
import { componentsPhase } from "./components.js";
import { ratePhase } from "./rate.js";
import { worstRatio } from "./homeserver-report.js";
import { updateReadme } from "./readme.js";
import type { ChildStats } from "./child.js";

const quick = process.argv.includes("--quick");
const profile = process.argv.includes("--profile");
/** `--only relay,ready,memory,attack`: run some phases (for working on one number). */
const onlyArg = process.argv.indexOf("--only");
const only = new Set(onlyArg >= 0 ? (process.argv[onlyArg + 1] ?? "").split(",") : ["relay", "fsync-off", "ready", "rest", "memory", "embedded", "attack", "link", "components"]);
const writeReadme = process.argv.includes("--readme");
/** `--rate N`: total messages/s of the latency run (default 100). */
const rateArg = process.argv.indexOf("--rate");
/** `--repeats N`, `--messages N`: the homeserver phase's interleaved repeats and messages per run. */
const numArg = (flag: string, fallback: number) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? Number(process.argv[i + 1]) || fallback : fallback;
};
const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "results");

const SIZE_DEFAULT = quick
  ? { relay: { slack: 24, telegram: 24, linked: 12, users: 2 }, rate: 100, latencySeconds: 8, burst: 300, ready: [1000], memory: { portals: 100, ghosts: 1000 } }
  : { relay: { slack: 80, telegram: 80, linked: 40, users: 3 }, rate: 100, latencySeconds: 60, burst: 4000, ready: [1000, 10_000, 100_000], memory: { portals: 1000, ghosts: 10_000 } };

const SIZE = { ...SIZE_DEFAULT, rate: rateArg >= 0 ? Number(process.argv[rateArg + 1]) || SIZE_DEFAULT.rate : SIZE_DEFAULT.rate };

/** Which core hook keys belong to a generator direction. */
const HOOK_KEYS: Record<Direction, string[]> = {
  "slack->matrix": ["slack->matrix"], "matrix->slack": ["matrix->slack"], "telegram->matrix": ["telegram->matrix"],
  "matrix->telegram": ["matrix->telegram"], linked: ["slack->matrix", "slack->telegram"],
};

/** The hook key reported as a direction's bridge-added latency in the (mixed) latency run. */
const ADDED_KEY: Record<Direction, string> = {
  "slack->matrix": "slack->matrix", "matrix->slack": "matrix->slack", "telegram->matrix": "telegram->matrix",
  "matrix->telegram": "matrix->telegram", linked: "slack->telegram",
};

const broken: string[] = [];
const notes: string[] = [];
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

async function main(): Promise<void> {
  const t0 = performance.now();
  fs.mkdirSync(RESULTS, { recursive: true });
  const profileDir = profile ? path.join(RESULTS, "profiles") : undefined;
  const dbs = await BenchDatabases.open();
  const result: BenchResult = {
    version: 1, mode: quick ? "quick" : "full", startedAt: new Date().toISOString(), durationSeconds: 0,
    machine: {
      cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "?", memoryMB: Math.round(os.totalmem() / 1048576), node: process.version,
      load1: round(os.loadavg()[0]!, 2), bridgeNodeFlags: NODE_FLAGS.join(" "),
    },
    database: { kind: dbs.kind, version: await dbs.version(), warning: dbs.warning, durability: await dbs.durability() },
    latencyRun: { ratePerSecond: SIZE.rate, seconds: SIZE.latencySeconds, portals: 0, perDirection: {} },
    directions: {}, memory: {}, ready: {}, budget: [], notes,
  };
  try {
    // A phase that fails is reported and the others still run: the table shows what was measured.
    const phase = async (name: string, run: () => Promise<void>) => {
      if (!only.has(name)) return;
      await run().catch((err: unknown) => {
        broken.push(`${name}: failed: ${err instanceof Error ? err.message : String(err)}`);
        log(`${name} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      });
    };
    await phase("relay", () => relayPhase(dbs, result, profileDir));
    await phase("fsync-off", () => fsyncOffPhase(result));
    await phase("ready", async () => { for (const n of SIZE.ready) await readyPhase(dbs, result, n); });
    await phase("rest", () => restPhase(dbs, result, { quick, resultsDir: RESULTS, broken, log, profileDir }));
    await phase("memory", () => memoryPhase(dbs, result, false));
    await phase("embedded", () => embeddedPhase(dbs, result, { quick, resultsDir: RESULTS, broken, log, profileDir }));
    await phase("embedded", () => memoryPhase(dbs, result, true));
    await phase("attack", () => attackPhase(dbs, result, RESULTS, quick ? 1 : 3, broken, log, profileDir));
    await phase("link", () => linkPhase(dbs, result, quick ? [20] : [0, 20, 80], RESULTS, broken, log));
    await phase("components", async () => { result.components = await componentsPhase({ quick, log }); });
    await phase("rate", async () => { result.rate = await ratePhase(dbs, { quick, resultsDir: RESULTS, log }); });
    await phase("import", () => importPhase(result, { quick, log, broken }));
    await phase("homeserver", () => homeserverPhase(dbs, result, {
      quick, resultsDir: RESULTS, profileDir, broken, log, repeats: numArg("--repeats", 1), messages: numArg("--messages", quick ? 100 : 1000), warmUp: numArg("--warm-up", 0),
    }));
  } finally {
    await dbs.cleanup();
  }
  result.durationSeconds = round((performance.now() - t0) / 1000, 0);
  budget(result);
  const text = renderText(result);
  fs.writeFileSync(path.join(RESULTS, "latest.json"), JSON.stringify(result, null, 2) + "\n");
  process.stdout.write(`${text}\n\nJSON: ${path.relative(process.cwd(), path.join(RESULTS, "latest.json"))}\n${JSON.stringify(result)}\n`);
  if (writeReadme) log(updateReadme(result));
  if (broken.length) {
    process.stderr.write(`bench: the bridge broke:\n  ${broken.join("\n  ")}\n`);
    process.exitCode = 1;
  }
}

/** The latency run again on an fsync-off Postgres: a labelled comparison line, not the budget's. */
async function fsyncOffPhase(result: BenchResult): Promise<void> {
  const fast = await BenchDatabases.openFsyncOff();
  if (!fast) {
    notes.push("fsync-off comparison: no fsync-off Postgres could be had (TANDEM_TEST_PG_URI or scripts/pg-test-server.sh)");
    return;
  }
  try {
    const durability = await fast.durability();
    if (!/fsync off/.test(durability)) notes.push(`fsync-off comparison: the server at TANDEM_TEST_PG_URI has ${durability}`);
    const scratch = structuredClone(result);
    await relayPhase(fast, scratch, undefined, true);
    result.fsyncOff = { durability, directions: Object.fromEntries(Object.entries(scratch.directions).map(([d, x]) => [d, { added: x.added, answered: x.answered }])) };
  } finally {
    await fast.cleanup();
  }
}

/** Relay: warm-up, the latency run, saturation bursts (`latencyOnly`: the latency run alone). */
async function relayPhase(dbs: BenchDatabases, result: BenchResult, profileDir?: string, latencyOnly = false): Promise<void> {
  const db = await dbs.fresh(latencyOnly ? "relay_nofsync" : "relay");
  const w = await World.start(db, "warn");
  let proc: BridgeProcess | null = null;
  try {
    const s = SIZE.relay;
    const seeded = await w.seed(worldSpec({ slack: s.slack, telegram: s.telegram, linked: s.linked, usersPerChat: s.users }), db);
    const portals = s.slack + s.telegram + s.linked;
    log(`relay: ${portals} portals seeded in ${seeded} s`);
    const started = await BridgeProcess.start(w, { logFile: path.join(RESULTS, latencyOnly ? "bridge-relay-fsync-off.log" : "bridge-relay.log"), profileDir });
    proc = started.proc;
    if (!(await proc.connected(30_000))) broken.push("relay: the Slack and Telegram logins did not connect within 30 s");
    const traffic = new Traffic(w);
    result.memory["idle after start"] = { rssMB: mb(started.ready.mem.rss), heapUsedMB: mb(started.ready.mem.heapUsed), note: `${portals} portals` };

    // Warm-up: every remote user once in each of its chats (ghost joins), every room once from Matrix.
    for (const dir of DIRECTIONS) {
      const chats = dir === "linked" ? w.linkedChats : dir.includes("slack") ? w.slackChats : w.telegramChats;
      const users = dir.startsWith("matrix->") ? 1 : s.users;
      for (let c = 0; c < chats.length; c++) for (let u = 0; u < users; u++) traffic.send(dir, c, u);
    }
    if (!(await traffic.settle(120_000))) broken.push(`warm-up: ${traffic.pending} messages not relayed within 120 s`);
    const warm = await proc.gc();
    result.memory["idle after warm-up (GC)"] = { rssMB: mb(warm.rss), heapUsedMB: mb(warm.heapUsed), note: `${portals} portals, every ghost joined` };
    const latBefore = await proc.stats(true);

    // Latency: a steady total rate spread evenly over the directions and their portals.
    result.environment = await measureEnvironment(db, w.hs.url);
    log(`environment: load ${result.environment.load1}, Postgres SELECT 1 p50/p99 ${result.environment.pgRoundTripMs?.p50}/${result.environment.pgRoundTripMs?.p99} ms, HTTP p50/p99 ${result.environment.httpRoundTripMs.p50}/${result.environment.httpRoundTripMs.p99} ms, disk sync p50/p99 ${result.environment.diskSyncMs.p50}/${result.environment.diskSyncMs.p99} ms`);
    const perDir = SIZE.rate / DIRECTIONS.length;
    result.latencyRun.portals = portals;
    result.latencyRun.perDirection = Object.fromEntries(DIRECTIONS.map((d) => [d, perDir]));
    const from = traffic.lastId;
    log(`latency run: ${SIZE.rate} msg/s for ${SIZE.latencySeconds} s`);
    await traffic.steady(Object.fromEntries(DIRECTIONS.map((d) => [d, perDir])), SIZE.latencySeconds * 1000);
    if (!(await traffic.settle(60_000))) broken.push(`latency run: ${traffic.pending} messages not relayed within 60 s`);
    const lat = await proc.stats(true);
    const relays = traffic.results(from).reduce((n, r) => n + (r.dir === "linked" ? 2 : 1), 0);
    result.latencyRun.transactionsPerRelay = round((lat.transactions - latBefore.transactions) / Math.max(1, relays), 2);
    result.latencyRun.eventLoopDelayMs = { p50: round(lat.loopDelay.p50, 1), p99: round(lat.loopDelay.p99, 1), max: round(lat.loopDelay.max, 1) };
    const rows = traffic.results(from);
    result.memory["during latency run (max)"] = { rssMB: mb(lat.memMax.rss), heapUsedMB: mb(lat.memMax.heapUsed), note: `${SIZE.rate} msg/s` };
    for (const dir of DIRECTIONS) {
      const e2e = rows.filter((r) => r.dir === dir).flatMap((r) => Object.values(r.e2e));
      result.directions[dir] = { added: pcts(lat.added[ADDED_KEY[dir]] ?? []), answered: pcts(lat.answered[ADDED_KEY[dir]] ?? []), e2e: pcts(e2e) };
    }
    if (latencyOnly) return;
    notes.push("linked: bridge-added is Slack event received → Telegram call issued, less the wait for the homeserver's answer to the Matrix send in between (the fan-out needs its event id): the bridge's time over two relays. e2e covers both destinations.");

    // Saturation: one direction at a time, as fast as the fakes take messages in.
    const ctx: Ctx = { proc, traffic, dbs, db };
    let loadMax = lat.memMax;
    for (const dir of DIRECTIONS) {
      const sat = await saturate(ctx, [dir], SIZE.burst);
      const d = result.directions[dir] as DirectionResult;
      d.saturation = { ...sat, addedP99: pcts(HOOK_KEYS[dir].flatMap((k) => sat.stats.added[k] ?? [])).p99, e2eP99: sat.e2eP99 };
      delete (d.saturation as { stats?: unknown }).stats;
      if (sat.stats.memMax.rss > loadMax.rss) loadMax = sat.stats.memMax;
      log(`saturation ${dir}: ${sat.perSecond} msg/s, ${sat.statementsPerMessage} statements/message, ${sat.transactionsPerMessage} transactions/message`);
    }
    if (!quick) {
      const mixed = await saturate(ctx, DIRECTIONS, Math.round(SIZE.burst / 2));
      const { stats: _s, callsPerMessage: _c, complete: _k, e2eP99: _e, ...mixedRest } = mixed;
      result.mixedSaturation = mixedRest;
      if (mixed.stats.memMax.rss > loadMax.rss) loadMax = mixed.stats.memMax;
    }
    result.memory["under saturation (max)"] = { rssMB: mb(loadMax.rss), heapUsedMB: mb(loadMax.heapUsed), note: "highest sample while saturated" };
    if (proc.error) broken.push(`relay: ${proc.error}`);
  } finally {
    await proc?.stop();
    await w.stop();
  }
}

interface Ctx {
  proc: BridgeProcess;
  traffic: Traffic;
  dbs: BenchDatabases;
  db: DbTarget;
}

const parentCpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

async function saturate({ proc, traffic, dbs, db }: Ctx, dirs: Direction[], n: number) {
  await proc.stats(true);
  const before = await proc.stats(true);
  const callsBefore = traffic.calls();
  const pgBefore = await dbs.backendCpuMs(db);
  const fakesBefore = parentCpuMs();
  const from = traffic.lastId;
  await traffic.burst(dirs, n);
  const complete = await traffic.settle(quick ? 60_000 : 180_000);
  if (!complete) broken.push(`saturation ${dirs.join("+")}: ${traffic.pending} messages not relayed in time`);
  const fakesMs = parentCpuMs() - fakesBefore;
  const stats: ChildStats = await proc.stats(true);
  const pgAfter = await dbs.backendCpuMs(db);
  const rows = traffic.results(from);
  const first = Math.min(...rows.map((r) => r.at));
  const last = Math.max(...rows.flatMap((r) => Object.values(r.e2e).map((e) => r.at + e)));
  const seconds = (last - first) / 1000;
  const messages = rows.length;
  const callsAfter = traffic.calls();
  const perMsg = (k: "homeserver" | "slack" | "telegram" | "transactions") => round((callsAfter[k] - callsBefore[k]) / messages, 2);
  if (process.env.BENCH_DEBUG) {
    const diff = [...callsAfter.paths].map(([k, v]) => [k, round((v - (callsBefore.paths.get(k) ?? 0)) / messages, 2)] as const).filter(([, v]) => v > 0);
    log(`calls per message (${dirs.join("+")}): ${diff.map(([k, v]) => `${k}: ${v}`).join(", ")}`);
  }
  traffic.forget(traffic.lastId);
  return {
    messages, seconds: round(seconds, 2), perSecond: round(messages / seconds, 0), complete,
    statementsPerMessage: round((stats.statements - before.statements) / messages, 2),
    transactionsPerMessage: round((stats.transactions - before.transactions) / messages, 2),
    cpuMsPerMessage: round((stats.cpuMs - before.cpuMs) / messages, 2),
    fakesCpuMsPerMessage: round(fakesMs / messages, 2),
    postgresCpuMsPerMessage: pgBefore === null || pgAfter === null ? null : round(Math.max(0, pgAfter - pgBefore) / messages, 2),
    callsPerMessage: { homeserver: perMsg("homeserver"), slack: perMsg("slack"), telegram: perMsg("telegram"), asTransactions: perMsg("transactions") },
    e2eP99: pcts(rows.flatMap((r) => Object.values(r.e2e))).p99, stats,
  };
}

async function readyPhase(dbs: BenchDatabases, result: BenchResult, portals: number): Promise<void> {
  const db = await dbs.fresh(`ready${portals}`);
  const w = await World.start(db, "warn");
  let proc: BridgeProcess | null = null;
  try {
    const seeded = await w.seed(worldSpec({ coldPortals: portals }), db);
    log(`ready: ${portals} portals seeded in ${seeded} s`);
    const started = await BridgeProcess.start(w, { logFile: path.join(RESULTS, `bridge-ready-${portals}.log`) });
    proc = started.proc;
    await proc.connected(30_000);
    result.ready[`${portals} portals`] = {
      portals, ghosts: 0, startBridgeMs: round(started.ready.startBridgeMs, 0), processMs: round(started.ready.processMs, 0),
      connectedMs: proc.connectedMs === null ? null : round(proc.connectedMs, 0), rssMB: mb(started.ready.mem.rss),
      heapUsedAfterGcMB: mb((await proc.gc()).heapUsed),
    };
    log(`ready with ${portals} portals: startBridge ${round(started.ready.startBridgeMs, 0)} ms`);
    if (proc.error) broken.push(`ready ${portals}: ${proc.error}`);
  } finally {
    await proc?.stop();
    await w.stop();
  }
}

/** Messages/s while every ghost of the memory phase posts once. */
const MEMORY_RATE = 200;

/**
 * 1,000 portals and 10,000 ghosts, every ghost posting once: the caches full, as after a busy day.
 * `embedded`: on a PGlite data directory (the database inside the bridge's process), rows labelled so.
 */
async function memoryPhase(dbs: BenchDatabases, result: BenchResult, embedded: boolean): Promise<void> {
  const { portals, ghosts } = SIZE.memory;
  const db = embedded ? dbs.freshEmbedded("memory") : await dbs.fresh("memory");
  const label = `${embedded ? "embedded: " : ""}${portals} portals, ${ghosts} ghosts`;
  const w = await World.start(db, "warn");
  let proc: BridgeProcess | null = null;
  try {
    const half = portals / 2;
    const seeded = await w.seed(worldSpec({ slack: half, telegram: half, usersPerChat: ghosts / portals, distinctUsers: true }), db);
    log(`memory: ${portals} portals and ${ghosts} ghosts seeded in ${seeded} s`);
    const started = await BridgeProcess.start(w, { logFile: path.join(RESULTS, embedded ? "bridge-memory-embedded.log" : "bridge-memory.log") });
    proc = started.proc;
    await proc.connected(30_000);
    const idle = await proc.gc();
    result.memory[`${label}: idle`] = { rssMB: mb(idle.rss), heapUsedMB: mb(idle.heapUsed), note: "after start, GC" };
    await proc.stats(true);
    const traffic = new Traffic(w);
    // Every ghost posts once, at a steady MEMORY_RATE (a flood of thousands at once would measure
    // the backlog, not the caches; the saturation runs above show memory under a backlog).
    const per = ghosts / portals;
    const everyGhostPosts = async (): Promise<void> => {
      const t0 = performance.now();
      let sent = 0;
      for (let u = 0; u < per; u++) {
        for (let c = 0; c < half; c++) {
          traffic.send("slack->matrix", c, u);
          traffic.send("telegram->matrix", c, u);
          sent += 2;
          const ahead = sent / MEMORY_RATE * 1000 - (performance.now() - t0);
          if (ahead > 5) await new Promise((r) => setTimeout(r, ahead));
        }
      }
      // The embedded database is slower to set up 10,000 new ghosts on a loaded machine: give it longer.
      const limitS = embedded ? 600 : 120;
      if (!(await traffic.settle(limitS * 1000))) broken.push(`memory${embedded ? " (embedded)" : ""}: ${traffic.pending} messages not relayed within ${limitS} s of the last send`);
    };
    // First pass: each ghost is new to the bridge (profile, registration, invite and join).
    await everyGhostPosts();
    const load = await proc.stats(true);
    // Settled as the process is left alone (no forced GC), then after two forced collections.
    await new Promise((r) => setTimeout(r, quick ? 2000 : 5000));
    const unforced = (await proc.stats(false)).mem;
    const after = await proc.gc();
    result.memory[`${label}: all active (max)`] = { rssMB: mb(load.memMax.rss), heapUsedMB: mb(load.memMax.heapUsed), note: `every ghost new, posts once, ${MEMORY_RATE} msg/s` };
    result.memory[`${label}: after, no forced GC`] = { rssMB: mb(unforced.rss), heapUsedMB: mb(unforced.heapUsed), note: `caches full, ${quick ? 2 : 5} s idle` };
    result.memory[`${label}: after, GC`] = { rssMB: mb(after.rss), heapUsedMB: mb(after.heapUsed), note: "caches full, two forced GCs" };
    // Second pass: the same ghosts post again, as on any later day (known: no profile or join calls).
    await proc.stats(true);
    await everyGhostPosts();
    const again = await proc.stats(true);
    result.memory[`${label}: in operation (max)`] = { rssMB: mb(again.memMax.rss), heapUsedMB: mb(again.memMax.heapUsed), note: `known ghosts post again, ${MEMORY_RATE} msg/s` };
    if (proc.error) broken.push(`memory: ${proc.error}`);
  } finally {
    await proc?.stop();
    await w.stop();
  }
}

function budget(r: BenchResult): void {
  const single = DIRECTIONS.filter((d) => d !== "linked");
  const sat = (d: Direction) => r.directions[d]?.saturation;
  const minRate = Math.min(...single.map((d) => sat(d)?.perSecond ?? NaN).filter(Number.isFinite));
  const worstP99 = Math.max(...single.map((d) => r.directions[d]?.added.p99 ?? NaN).filter(Number.isFinite));
  const linked = r.directions.linked;
  // Transactions per relay: each saturation (linked per relay) and the latency run, where messages
  // come one at a time into quiet lanes (no batching helps there).
  const txs = [...DIRECTIONS.map((d) => (d === "linked" ? (sat(d)?.transactionsPerMessage ?? NaN) / 2 : sat(d)?.transactionsPerMessage ?? NaN)),
    r.latencyRun.transactionsPerRelay ?? NaN].filter(Number.isFinite);
  const worstTx = Math.max(...txs);
  const hsRatio = worstRatio(r.homeserver, 50);
  const hsTx = Math.max(...(r.homeserver?.runs ?? []).map((x) => x.transactionsPerMessage ?? NaN).filter(Number.isFinite));
  const hsIdleRss = Math.max(...(r.homeserver?.restRssMB?.tandem ?? []));
  const memRow = (re: RegExp, embedded = false) => Object.entries(r.memory).find(([k]) => re.test(k) && k.startsWith("embedded: ") === embedded)?.[1];
  const peak = memRow(/all active/);
  const operating = memRow(/in operation/);
  const settled = memRow(/after, GC/);
  const unforced = memRow(/after, no forced GC/);
  const worstAnswered = Math.max(...single.map((d) => r.directions[d]?.answered.p99 ?? NaN).filter(Number.isFinite));
  const fsyncOffP99 = r.fsyncOff ? Math.max(...single.map((d) => r.fsyncOff!.directions[d]?.added.p99 ?? NaN).filter(Number.isFinite)) : NaN;
  const ready10k = r.ready["10000 portals"];
  const em = r.embedded;
  const emMem = { peak: memRow(/all active/, true), operating: memRow(/in operation/, true), unforced: memRow(/after, no forced GC/, true) };
  const attackStall = r.attack ? Math.max(...Object.entries(r.attack).filter(([k]) => k !== VALID && k !== IDLE).map(([, a]) => a.stallMs)) : null;
  const big = !quick;
  const judge = (ok: boolean) => (big ? ok : null);
  const scale = `${SIZE.memory.portals} portals + ${SIZE.memory.ghosts} ghosts`;
  r.budget = [
    { what: "throughput at saturation, lowest of the four single directions", budget: ">= 500 msg/s", measured: `${minRate} msg/s`, ok: judge(minRate >= 500) },
    { what: "throughput, linked room (each message relayed twice)", budget: ">= 500 relays/s", measured: linked?.saturation ? `${linked.saturation.perSecond} msg/s = ${linked.saturation.perSecond * 2} relays/s` : "-", ok: linked?.saturation ? judge(linked.saturation.perSecond * 2 >= 500) : null },
    { what: `p99 bridge-added at ${r.latencyRun.ratePerSecond} msg/s over ${r.latencyRun.portals || SIZE.relay.slack + SIZE.relay.telegram + SIZE.relay.linked} portals, worst single direction`, budget: "<= 20 ms", measured: `${worstP99} ms`, ok: judge(worstP99 <= 20) },
    { what: "p99 bridge-added to the outgoing call's answer, same run, worst single direction", budget: "<= 20 ms", measured: `${worstAnswered} ms`, ok: judge(worstAnswered <= 20) },
    { what: "(not durable, for comparison) p99 bridge-added on an fsync-off Postgres, worst single direction", budget: "info", measured: `${fsyncOffP99} ms`, ok: null },
    { what: "p99 bridge-added, linked fan-out (two relays in sequence: Slack→Matrix, then Matrix→Telegram)", budget: "<= 40 ms (20 per relay)", measured: linked ? `${linked.added.p99} ms` : "-", ok: linked ? judge(linked.added.p99 <= 40) : null },
    { what: `RSS, ${scale}, caches full (settled, no forced GC)`, budget: "<= 150 MB", measured: unforced ? `${unforced.rssMB} MB` : "-", ok: unforced ? judge(unforced.rssMB <= 150) : null },
    { what: `RSS, ${scale}, caches full (after two forced GCs)`, budget: "<= 150 MB", measured: settled ? `${settled.rssMB} MB` : "-", ok: settled ? judge(settled.rssMB <= 150) : null },
    { what: `RSS, ${scale}, highest while they post again (in operation)`, budget: "<= 150 MB", measured: operating ? `${operating.rssMB} MB` : "-", ok: operating ? judge(operating.rssMB <= 150) : null },
    { what: `RSS, ${scale}, highest while every ghost is new (set-up storm)`, budget: "<= 150 MB", measured: peak ? `${peak.rssMB} MB` : "-", ok: peak ? judge(peak.rssMB <= 150) : null },
    { what: "start to ready, 10,000 portals (process start, Node's start-up included)", budget: "<= 3 s", measured: ready10k ? `${ready10k.processMs} ms (startBridge ${ready10k.startBridgeMs} ms)` : "-", ok: ready10k ? ready10k.processMs <= 3000 : null },
    { what: "embedded database: first start to ready (node dist/cli.js start, empty data_dir)", budget: "<= 5 s", measured: em?.firstStart ? `${em.firstStart.readyMs} ms (its CPU: ${em.firstStart.cpuAtReadyMs} ms)` : "-", ok: em?.firstStart ? em.firstStart.readyMs <= 5000 : null },
    { what: "embedded database: restart to ready (3 portals; median of the restarts measured)", budget: "<= 2 s", measured: em?.restart ? `${em.restart.readyMs} ms (its CPU: ${em.restart.cpuAtReadyMs} ms)${em.restart.runs ? `, median of ${em.restart.runs.length}` : ""}` : "-", ok: em?.restart ? em.restart.readyMs <= 2000 : null },
    { what: "embedded database: RSS with 3 portals, steady (highest under light load and idle, no forced GC)", budget: "<= 200 MB", measured: em?.threePortals ? `${em.threePortals.steadyMaxMB} MB` : "-", ok: em?.threePortals ? em.threePortals.steadyMaxMB <= 200 : null },
    { what: `embedded database: RSS, ${scale}, caches full (settled, no forced GC)`, budget: "<= 250 MB", measured: emMem.unforced ? `${emMem.unforced.rssMB} MB` : "-", ok: emMem.unforced ? judge(emMem.unforced.rssMB <= 250) : null },
    { what: `embedded database: RSS, ${scale}, highest while they post again (in operation)`, budget: "<= 250 MB", measured: emMem.operating ? `${emMem.operating.rssMB} MB` : "-", ok: emMem.operating ? judge(emMem.operating.rssMB <= 250) : null },
    { what: `embedded database: RSS, ${scale}, highest while every ghost is new (set-up storm)`, budget: "<= 250 MB", measured: emMem.peak ? `${emMem.peak.rssMB} MB` : "-", ok: emMem.peak ? judge(emMem.peak.rssMB <= 250) : null },
    { what: "longest event-loop stall under 19 MB hostile bodies to the appservice listener (attack phase)", budget: "< 100 ms", measured: attackStall === null ? "-" : `${attackStall} ms`, ok: attackStall === null ? null : attackStall < 100 },
    { what: `CPU at rest, ${r.rest?.portals ?? "-"} portals, ${r.rest?.logins ?? "-"} logins connected, nothing relayed (% of a core)`, budget: "<= 0.1 %", measured: r.rest ? `${r.rest.cpuPercent} %` : "-", ok: r.rest ? judge(r.rest.cpuPercent <= 0.1) : null },
    { what: "DB transactions (round trips) per relayed text message (worst of the latency run and each saturation; linked per relay)", budget: "<= 3", measured: String(round(worstTx, 2)), ok: judge(worstTx <= 3) },
    { what: "bridge CPU per message through a real homeserver, Tandem / null bridge, at 50 msg/s (worst of both directions and the repeats; homeserver phase)", budget: "<= 1.5", measured: hsRatio === null ? "-" : `${round(hsRatio, 2)}×`, ok: hsRatio === null ? null : judge(hsRatio <= 1.5) },
    { what: "DB transactions per relayed message through a real homeserver (worst run of the homeserver phase)", budget: "<= 3", measured: String(round(hsTx, 2)), ok: judge(hsTx <= 3) },
    { what: "RSS idle after login on Postgres (`tandem start` logged in to a Slack workspace, a minute at rest after its portals' warm-up; worst repeat of the homeserver phase)", budget: "<= 100 MB", measured: `${hsIdleRss} MB`, ok: judge(hsIdleRss <= 100) },
  ];
  // Phases left out (--only) measured nothing: say so rather than judge Infinity.
  for (const line of r.budget) {
    if (/(^|[^\d])(-?Infinity|NaN)/.test(line.measured)) Object.assign(line, { measured: "-", ok: null });
  }

  if (quick) notes.push("quick mode: smaller sizes; the budget is judged only on the full run.");
  if (r.machine.load1 > r.machine.cpus) notes.push(`the machine was busy at start (load ${r.machine.load1} on ${r.machine.cpus} CPUs): numbers are pessimistic.`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
