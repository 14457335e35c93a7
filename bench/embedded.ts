/**
 * The embedded-database phase (`--only embedded`): the default deployment (PGlite in the bridge's
 * process, a fresh data directory) run exactly as an operator runs it (bench/operator.ts), against
 * the fakes of bench/world.ts. Issue 13's targets: first start to ready ≤ 5 s, restart ≤ 2 s,
 * steady RSS ≤ 200 MB with 3 portals (logins connected, messages relayed in every direction).
 *
 *   1. first start on an empty data_dir (the cluster is unpacked from the build's template,
 *      migrations run), no logins yet: spawn → ready, RSS at ready and idle; SIGTERM.
 *   2. the store is seeded while it is stopped (2 logins, a Slack, a Telegram and a linked portal);
 *   3. restart, 3 times (the median is judged; the last one stays up): spawn → ready, the logins
 *      connect, every direction relays, then a light steady load and an idle spell: RSS
 *      sampled from /proc throughout.
 */
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { registrationYaml } from "../src/config/index.js";
import { DIRECTIONS, Traffic, sleep, type Direction } from "./drive.js";
import { OPERATOR_FLAGS, OperatorBridge, type OperatorStart } from "./operator.js";
import type { BenchDatabases } from "./pg.js";
import { mb, round, type BenchResult, type EmbeddedResult } from "./report.js";
import { World, worldSpec } from "./world.js";

/**
 * The light steady load, per direction (messages/s): inside the pacing an operator's bridge
 * keeps (one Slack channel: 1 post/s; one Telegram group: 20 a minute), so nothing queues up.
 */
const STEADY_RATES: Record<Direction, number> = { "slack->matrix": 2, "telegram->matrix": 2, "matrix->slack": 0.5, "matrix->telegram": 0.25, linked: 0.25 };
const STEADY_TOTAL = Object.values(STEADY_RATES).reduce((a, b) => a + b, 0);
/** Restarts measured (median judged): one start is a few seconds, and a busy machine's noise is as large. */
const RESTARTS = 3;

export interface EmbeddedOptions {
  quick: boolean;
  resultsDir: string;
  /** --profile: CPU profiles of the operator-run bridge's starts. */
  profileDir?: string;
  broken: string[];
  log: (s: string) => void;
}

const startRow = (s: OperatorStart) => ({
  readyMs: round(s.readyMs, 0), cpuAtReadyMs: round(s.cpuAtReadyMs, 0), portMs: s.portMs === null ? null : round(s.portMs, 0), rssAtReadyMB: mb(s.rssAtReady),
  progress: s.progress.map((p) => `${p.ms} ms ${p.message}`),
});

export async function embeddedPhase(dbs: BenchDatabases, result: BenchResult, o: EmbeddedOptions): Promise<void> {
  const db = dbs.freshEmbedded("operator");
  const w = await World.start(db, "info");
  let bridge: OperatorBridge | null = null;
  try {
    // The operator's files: config (JSON is YAML), the registration the fake homeserver knows.
    const cfg = w.raw; // metrics on (World's default), as `tandem start` runs by default
    const configFile = path.join(w.dir, "bridge.yaml");
    fs.writeFileSync(configFile, JSON.stringify(cfg, null, 2));
    fs.writeFileSync(path.join(w.dir, "registration.yaml"), registrationYaml(w.registration), { mode: 0o600 });
    const asPort = Number(w.raw.appservice!.port);
    const logOf = (name: string) => path.join(o.resultsDir, `bridge-embedded-${name}.log`);
    const out: EmbeddedResult = { nodeFlags: OPERATOR_FLAGS.join(" "), firstStart: null, restart: null, threePortals: null };
    result.embedded = out;

    // 1. First start: a fresh data directory, nothing in it.
    const first = await OperatorBridge.start(configFile, asPort, logOf("first"), o.profileDir);
    bridge = first.bridge;
    o.log(`embedded: first start ready in ${round(first.start.readyMs, 0)} ms (CPU ${round(first.start.cpuAtReadyMs, 0)} ms) (port ${first.start.portMs === null ? "-" : round(first.start.portMs, 0)} ms), RSS ${mb(first.start.rssAtReady)} MB`);
    await sleep(o.quick ? 2000 : 5000);
    const idleFirst = bridge.rss();
    const stopMs = await bridge.stop();
    bridge = null;
    out.firstStart = { ...startRow(first.start), rssIdleMB: mb(idleFirst), stopMs: round(stopMs, 0) };

    // 2. Seed while it is stopped (the bench process opens the same data directory).
    const seeded = await w.seed(worldSpec({ slack: 1, telegram: 1, linked: 1, usersPerChat: 2 }), db);
    o.log(`embedded: 3 portals seeded in ${seeded} s`);

    // 3. Restart: the deployment as it runs from then on. A restart is short and the machine may
    // be busy: it is measured RESTARTS times (start, ready, SIGTERM; the last one stays up) and
    // the median judged, every run listed.
    const runs: OperatorStart[] = [];
    let again!: Awaited<ReturnType<typeof OperatorBridge.start>>;
    for (let i = 1; i <= RESTARTS; i++) {
      again = await OperatorBridge.start(configFile, asPort, logOf(`restart-${i}`), o.profileDir);
      bridge = again.bridge;
      runs.push(again.start);
      o.log(`embedded: restart ${i} ready in ${round(again.start.readyMs, 0)} ms (CPU ${round(again.start.cpuAtReadyMs, 0)} ms), RSS ${mb(again.start.rssAtReady)} MB`);
      if (i < RESTARTS) {
        await bridge.stop();
        bridge = null;
      }
    }
    const median = [...runs].sort((a, b) => a.readyMs - b.readyMs)[(RESTARTS - 1) >> 1]!;
    out.restart = { ...startRow(median), runs: runs.map((r) => ({ readyMs: round(r.readyMs, 0), cpuAtReadyMs: round(r.cpuAtReadyMs, 0) })) };
    bridge = again.bridge;
    const traffic = new Traffic(w);
    try {
      // Every user once in each direction: logins connected, ghosts joined, every path warm.
      const t0 = performance.now();
      for (const dir of DIRECTIONS) for (let u = 0; u < 2; u++) traffic.send(dir, 0, dir.startsWith("matrix->") ? 0 : u);
      if (!(await traffic.settle(60_000))) {
        o.broken.push(`embedded: ${traffic.pending} warm-up messages not relayed within 60 s (logins not connected?)`);
        return;
      }
      const warmMs = performance.now() - t0;
      bridge.takeMaxRss();
      const seconds = o.quick ? 5 : 20;
      await traffic.steady(STEADY_RATES, seconds * 1000);
      if (!(await traffic.settle(60_000))) o.broken.push(`embedded: ${traffic.pending} messages not relayed within 60 s`);
      const loadMax = bridge.takeMaxRss();
      await sleep(o.quick ? 3000 : 10_000);
      const idle = bridge.rss();
      const idleMax = bridge.takeMaxRss();
      out.threePortals = {
        warmUpMs: round(warmMs, 0), loadSeconds: seconds, loadRate: STEADY_TOTAL,
        loadMaxMB: mb(loadMax), idleMB: mb(idle), steadyMaxMB: mb(Math.max(loadMax, idleMax)),
      };
      o.log(`embedded: 3 portals: RSS ${mb(loadMax)} MB at most under ${STEADY_TOTAL} msg/s, ${mb(idle)} MB idle`);
    } finally {
      traffic.close();
    }
    if (!bridge.running) o.broken.push("embedded: the bridge exited");
  } finally {
    await bridge?.stop();
    await w.stop();
  }
}
