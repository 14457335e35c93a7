/**
 * Phase "rest": what an idle bridge costs. 1,000 portals in the store, 10 logins (5 Slack
 * workspaces, 5 Telegram bots) connected, nothing relayed: the bridge process's CPU over a window (as % of one core) and
 * its RSS. The bench child's own samplers (RSS every 250 ms, the event-loop monitor) are off for
 * this run, so the figure is the bridge's. The networks keep their connections alive meanwhile
 * (Telegram long polls, Slack Socket Mode pings): the phase counts those requests so the bridge's
 * share of them can be read separately (see docs/scaling.md).
 */
import path from "node:path";
import { BridgeProcess } from "./proc.js";
import type { BenchDatabases } from "./pg.js";
import { mb, round, type BenchResult } from "./report.js";
import { World, worldSpec } from "./world.js";

export interface RestOptions {
  quick: boolean;
  resultsDir: string;
  broken: string[];
  log: (s: string) => void;
  profileDir?: string;
}

export interface RestResult {
  portals: number;
  logins: number;
  windowSeconds: number;
  /** Bridge process CPU over the window, % of one core. */
  cpuPercent: number;
  rssMB: number;
  /** Garbage collections in the window, and their pause, ms. */
  gc: { count: number; ms: number };
  /** Requests the fakes served during the window: the networks' keep-alives and anything else. */
  requests: { homeserver: number; slack: number; telegram: number };
}

const PORTALS = 1000;
/** Issue 17's budget: 10 logins (5 Slack workspaces, 5 Telegram bots) and 1,000 portals. */
const LOGINS = 10;

export async function restPhase(dbs: BenchDatabases, result: BenchResult, o: RestOptions): Promise<void> {
  const db = await dbs.fresh("rest");
  const w = await World.start(db, "warn");
  let proc: BridgeProcess | null = null;
  try {
    const spec = worldSpec({ coldPortals: PORTALS, extraLogins: LOGINS - 2 });
    await w.seed(spec, db);
    const started = await BridgeProcess.start(w, { logFile: path.join(o.resultsDir, "bridge-rest.log"), profileDir: o.profileDir, quiet: true });
    proc = started.proc;
    if (!(await proc.connected(30_000))) o.broken.push("rest: the logins did not connect within 30 s");
    // Start-up work in the background (m.bridge state of every portal, the first probes) settles
    // first: until the homeserver saw no request for 5 s (at most 3 min).
    const count = () => ({ homeserver: w.hs.requests.length, slack: w.slack.calls.length, telegram: w.tg.requests.length });
    const settleBy = Date.now() + 180_000;
    for (let last = -1, quietSince = Date.now(); Date.now() - quietSince < 5_000 && Date.now() < settleBy;) {
      await new Promise((r) => setTimeout(r, 500));
      const n = count().homeserver;
      if (n !== last) [last, quietSince] = [n, Date.now()];
    }
    // Then V8's memory reducer: full GCs ("Mark-Compact (reduce)", 1-3 in a row) once V8 sees the
    // process idle, most of a minute's CPU when they fall in the window. A bridge at rest for hours
    // runs them once. When they come is V8's choice: 15-40 s after the start's work stopped, or (with
    // matrix-bot-sdk's unused dependencies no longer loaded, a smaller heap) over a minute, past a
    // 30 s quiet spell (--trace-gc: the only GCs of such a window were two "reduce_memory=1"
    // mark-compacts 67 s after the previous GC). So the window waits for a full GC after the
    // requests settled (at most 3 min), then for 30 s without any GC (at most 3 min).
    const majorsSettled = (await proc.stats(false)).gc.major;
    for (const by = Date.now() + 180_000; (await proc.stats(false)).gc.major === majorsSettled && Date.now() < by;) {
      await new Promise((r) => setTimeout(r, 2000));
    }
    for (let gcs = -1, quietSince = Date.now(), by = Date.now() + 180_000; Date.now() - quietSince < 30_000 && Date.now() < by;) {
      await new Promise((r) => setTimeout(r, 2000));
      const n = (await proc.stats(false)).gc.count;
      if (n !== gcs) [gcs, quietSince] = [n, Date.now()];
    }
    const windowMs = o.quick ? 15_000 : 60_000;
    const before = await proc.stats(true);
    const calls = count();
    o.log(`rest: measuring ${windowMs / 1000} s of an idle bridge with ${PORTALS} portals and ${LOGINS} logins`);
    await new Promise((r) => setTimeout(r, windowMs));
    const after = await proc.stats(true);
    const callsAfter = count();
    const rest: RestResult = {
      portals: PORTALS, logins: LOGINS, windowSeconds: windowMs / 1000,
      cpuPercent: round(((after.cpuMs - before.cpuMs) / windowMs) * 100, 3),
      rssMB: mb(after.mem.rss),
      gc: { count: after.gc.count - before.gc.count, ms: round(after.gc.ms - before.gc.ms, 1) },
      requests: {
        homeserver: callsAfter.homeserver - calls.homeserver, slack: callsAfter.slack - calls.slack, telegram: callsAfter.telegram - calls.telegram,
      },
    };
    result.rest = rest;
    o.log(`rest: CPU ${rest.cpuPercent} % of a core, RSS ${rest.rssMB} MB, ${rest.gc.count} GCs (${rest.gc.ms} ms), requests meanwhile ${JSON.stringify(rest.requests)}`);
    if (proc.error) o.broken.push(`rest: ${proc.error}`);
  } finally {
    await proc?.stop();
    await w.stop();
  }
}
