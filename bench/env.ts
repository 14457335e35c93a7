/**
 * How busy the machine is, in the units the bridge's latency is made of: a trivial Postgres round
 * trip and a trivial HTTP round trip to the fake homeserver, one every 10 ms, measured right before
 * the latency run (on a loaded machine the wake-ups, not the work, make them slow).
 * The bridge makes three database round trips between receiving a message and sending it on, so
 * when these are slow (other processes competing for the CPUs), bridge-added latency is too.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { performance } from "node:perf_hooks";
import os from "node:os";
import pg from "pg";
import { pcts, round, type Pcts } from "./report.js";
import type { DbTarget } from "./pg.js";

export interface Environment {
  load1: number;
  pgRoundTripMs: Pcts | null;
  httpRoundTripMs: Pcts;
  /** One 8 kB write + fdatasync in the temp folder (where the durable Postgres keeps its WAL): the floor of a durable commit. */
  diskSyncMs: Pcts;
}

/** What a durable commit waits for at least: an 8 kB write made durable, `n` times. */
export function measureDiskSync(n = 50): Pcts {
  const file = path.join(os.tmpdir(), `tandem-bench-fsync-${process.pid}`);
  const fd = fs.openSync(file, "w");
  const block = Buffer.alloc(8192, 1);
  const t: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      fs.writeSync(fd, block, 0, block.length, 0);
      fs.fdatasyncSync(fd);
      t.push(performance.now() - s);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return rounded(pcts(t));
}

/** One round trip every 10 ms, as the bridge makes them under moderate load (back to back they are faster). */
const GAP_MS = 10;
const pause = () => new Promise((r) => setTimeout(r, GAP_MS));

export async function measureEnvironment(db: DbTarget, homeserverUrl: string, n = 200): Promise<Environment> {
  let pgRt: Pcts | null = null;
  if (db.uri) {
    const c = new pg.Client({ connectionString: db.uri });
    await c.connect();
    const t: number[] = [];
    for (let i = 0; i < n; i++) {
      await pause();
      const s = performance.now();
      await c.query("SELECT 1");
      t.push(performance.now() - s);
    }
    await c.end();
    pgRt = rounded(pcts(t));
  }
  const agent = new http.Agent({ keepAlive: true });
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    await pause();
    const s = performance.now();
    await new Promise<void>((resolve, reject) => {
      http.get(`${homeserverUrl}/_matrix/client/versions`, { agent }, (res) => {
        res.resume();
        res.on("end", resolve);
      }).on("error", reject);
    });
    t.push(performance.now() - s);
  }
  agent.destroy();
  return { load1: round(os.loadavg()[0]!, 2), pgRoundTripMs: pgRt, httpRoundTripMs: rounded(pcts(t)), diskSyncMs: measureDiskSync() };
}

const rounded = (p: Pcts): Pcts => ({ n: p.n, p50: round(p.p50, 2), p95: round(p.p95, 2), p99: round(p.p99, 2), max: round(p.max, 2) });
