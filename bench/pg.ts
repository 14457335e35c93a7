/**
 * The benchmark's databases: a real, durable Postgres (commits wait for the disk, as in
 * production) from scripts/pg-test-server.sh with PGTEST_DURABLE=1 on its own port
 * (BENCH_PG_PORT, default 55433; or TANDEM_BENCH_PG_URI), one fresh database per scenario, dropped
 * at the end. A second, fsync-off cluster (TANDEM_TEST_PG_URI or the script's default) serves only
 * the labelled "fsync off" comparison line. When no Postgres can be started, the embedded PGlite
 * is used instead, with a warning (its numbers are not the budget's). The embedded phase always
 * gets PGlite data directories (freshEmbedded).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

export interface DbTarget {
  kind: "pg" | "pglite";
  /** postgres:// URI of the fresh database, or "" for PGlite. */
  uri: string;
  /** PGlite data_dir ("" for pg). */
  dataDir: string;
}

/** USER_HZ: Linux reports /proc CPU times in 1/100 s on every platform Node runs on. */
const CLOCK_TICKS = 100;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export class BenchDatabases {
  private readonly created: string[] = [];
  private readonly dirs: string[] = [];

  private constructor(readonly serverUri: string | null, readonly warning: string | null) {}

  /** Start (or find) the durable Postgres; null server means PGlite fallback. */
  static async open(): Promise<BenchDatabases> {
    const uri = process.env.TANDEM_BENCH_PG_URI || (await startTestServer({ PGTEST_DURABLE: "1", PGTEST_PORT: process.env.BENCH_PG_PORT ?? "55433", PGTEST_DIR: "/tmp/tandem-pg-bench" }).catch((err: unknown) => {
      process.stderr.write(`bench: could not start Postgres: ${err instanceof Error ? err.message : String(err)}\n`);
      return null;
    }));
    const usable = uri ? await BenchDatabases.usable(uri) : null;
    if (usable) return new BenchDatabases(usable, null);
    const warning = "WARNING: no Postgres available; running on embedded PGlite. These numbers are not comparable with the budget (which is for Postgres).";
    process.stderr.write(`bench: ${warning}\n`);
    return new BenchDatabases(null, warning);
  }

  /** The fsync-off cluster for the labelled comparison line (null when none can be had). */
  static async openFsyncOff(): Promise<BenchDatabases | null> {
    const uri = process.env.TANDEM_TEST_PG_URI || (await startTestServer({}).catch(() => null));
    const usable = uri ? await BenchDatabases.usable(uri) : null;
    return usable ? new BenchDatabases(usable, null) : null;
  }

  private static async usable(uri: string): Promise<string | null> {
    try {
      const c = new pg.Client({ connectionString: uri });
      await c.connect();
      await c.end();
      return uri;
    } catch (err) {
      process.stderr.write(`bench: Postgres at ${uri} is not usable: ${String(err)}\n`);
      return null;
    }
  }

  /** Whether commits wait for the disk: "fsync on, synchronous_commit on" or what differs. */
  async durability(): Promise<string> {
    if (!this.serverUri) return "PGlite";
    return this.admin(async (c) => {
      const r = (await c.query<{ f: string; s: string }>("SELECT current_setting('fsync') AS f, current_setting('synchronous_commit') AS s")).rows[0]!;
      return `fsync ${r.f}, synchronous_commit ${r.s}`;
    });
  }

  /** A fresh, empty PGlite data directory (the embedded database, whatever the server). */
  freshEmbedded(label: string): DbTarget {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-bench-${label}-`));
    this.dirs.push(dir);
    return { kind: "pglite", uri: "", dataDir: path.join(dir, "data") };
  }

  get kind(): "pg" | "pglite" {
    return this.serverUri ? "pg" : "pglite";
  }

  /** A fresh, empty database. */
  async fresh(label: string): Promise<DbTarget> {
    if (!this.serverUri) return this.freshEmbedded(label);
    const name = `tandem_bench_${label.replace(/\W/g, "_")}_${randomBytes(4).toString("hex")}`;
    await this.admin((c) => c.query(`CREATE DATABASE ${name}`));
    this.created.push(name);
    const u = new URL(this.serverUri);
    u.pathname = `/${name}`;
    return { kind: "pg", uri: u.toString(), dataDir: "" };
  }

  /** Server version string, for the report. */
  async version(): Promise<string> {
    if (!this.serverUri) return "PGlite (embedded)";
    return this.admin(async (c) => String((await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? "?"));
  }

  /**
   * CPU time (user + system, ms) used so far by the Postgres backends serving `target`'s database,
   * read from /proc (the server runs on this machine). null when not measurable (PGlite, no /proc).
   */
  async backendCpuMs(target: DbTarget): Promise<number | null> {
    if (!this.serverUri || !target.uri) return null;
    const name = new URL(target.uri).pathname.slice(1);
    const pids = await this.admin(async (c) => (await c.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1", [name])).rows.map((r) => r.pid));
    let ticks = 0;
    for (const pid of pids) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
      } catch {
        return null;
      }
    }
    return (ticks * 1000) / CLOCK_TICKS;
  }

  async cleanup(): Promise<void> {
    for (const name of this.created.splice(0)) {
      await this.admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    }
    for (const dir of this.dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  }

  private async admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: this.serverUri! });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }
}

/** Runs scripts/pg-test-server.sh (idempotent: prints the URI of the running cluster). */
function startTestServer(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("bash", [path.join(ROOT, "scripts", "pg-test-server.sh")], { timeout: 180_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr.trim().split("\n").slice(-3).join("\n")}`));
      const uri = stdout.trim().split("\n").pop() ?? "";
      if (!uri.startsWith("postgres")) return reject(new Error(`unexpected output: ${stdout.trim()}`));
      resolve(uri);
    });
  });
}
