/**
 * The benchmark's database: a real Postgres from scripts/pg-test-server.sh (a throwaway cluster on
 * 127.0.0.1 with fsync off), one fresh database per scenario, dropped at the end. When no Postgres
 * can be started, the embedded PGlite is used instead, with a warning (its numbers are not the budget's).
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

  /** Start (or find) the test Postgres; null server means PGlite fallback. */
  static async open(): Promise<BenchDatabases> {
    const explicit = process.env.TANDEM_BENCH_PG_URI ?? process.env.TANDEM_TEST_PG_URI;
    const uri = explicit || (await startTestServer().catch((err: unknown) => {
      process.stderr.write(`bench: could not start Postgres: ${err instanceof Error ? err.message : String(err)}\n`);
      return null;
    }));
    if (uri) {
      try {
        const c = new pg.Client({ connectionString: uri });
        await c.connect();
        await c.end();
        return new BenchDatabases(uri, null);
      } catch (err) {
        process.stderr.write(`bench: Postgres at ${uri} is not usable: ${String(err)}\n`);
      }
    }
    const warning = "WARNING: no Postgres available; running on embedded PGlite. These numbers are not comparable with the budget (which is for Postgres).";
    process.stderr.write(`bench: ${warning}\n`);
    return new BenchDatabases(null, warning);
  }

  get kind(): "pg" | "pglite" {
    return this.serverUri ? "pg" : "pglite";
  }

  /** A fresh, empty database. */
  async fresh(label: string): Promise<DbTarget> {
    if (!this.serverUri) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-bench-${label}-`));
      this.dirs.push(dir);
      return { kind: "pglite", uri: "", dataDir: dir };
    }
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
function startTestServer(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("bash", [path.join(ROOT, "scripts", "pg-test-server.sh")], { timeout: 180_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr.trim().split("\n").slice(-3).join("\n")}`));
      const uri = stdout.trim().split("\n").pop() ?? "";
      if (!uri.startsWith("postgres")) return reject(new Error(`unexpected output: ${stdout.trim()}`));
      resolve(uri);
    });
  });
}
