/**
 * Schema migrations: `migrations/NNN-name.sql`, applied in order, each in ONE transaction
 * together with its version bump in `tandem_schema`. The first line of each file is a
 * header comment `-- vN: what it does`, N matching the file number.
 *
 * Concurrent starts against one Postgres take an advisory lock inside each migration
 * transaction, so a migration is applied once. A database newer than this code is an error.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Db } from "./api.js";
import { StoreError } from "./db.js";

/** Where the migrations live: next to this module (src/store/migrations or dist/store/migrations). */
export const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations/", import.meta.url));

/** pg_advisory_xact_lock key: "tandem" as a number (any constant shared by all Tandem processes). */
const LOCK_KEY = 0x74616e64656d;

export interface Migration {
  version: number;
  file: string;
  description: string;
  sql: string;
}

export interface MigrateResult {
  from: number;
  to: number;
  applied: number[];
}

const FILE_RE = /^(\d{3})-[a-z0-9][a-z0-9_-]*\.sql$/;
const HEADER_RE = /^--\s*v(\d+):\s*(.+)$/;

/** Read and check the migration files of a folder (ignores files not named NNN-name.sql). */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new StoreError("store.migrate", `cannot read the migrations folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const out: Migration[] = [];
  for (const file of names.filter((n) => FILE_RE.test(n)).sort()) {
    const version = Number(file.slice(0, 3));
    const sql = fs.readFileSync(path.join(dir, file), "utf8");
    const header = HEADER_RE.exec(sql.split(/\r?\n/, 1)[0]!.trim());
    if (!header) throw new StoreError("store.migrate", `migration ${file}: the first line must be "-- v${version}: what it does"`);
    if (Number(header[1]) !== version) {
      throw new StoreError("store.migrate", `migration ${file}: header says v${header[1]} but the file is number ${version}`);
    }
    if (/^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION)\b/im.test(sql)) {
      throw new StoreError("store.migrate", `migration ${file}: must not contain BEGIN/COMMIT (each migration already runs in one transaction)`);
    }
    out.push({ version, file, description: header[2]!.trim(), sql });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StoreError("store.migrate", `migrations must be numbered 001, 002, … without gaps or duplicates; found ${m.file} at position ${i + 1}`);
    }
  });
  return out;
}

/** The applied schema version; 0 for an empty database. */
export async function schemaVersion(db: Db): Promise<number> {
  const [row] = await db.query<{ present: boolean }>("SELECT to_regclass('tandem_schema') IS NOT NULL AS present");
  return row!.present ? readVersion(db) : 0;
}

async function readVersion(db: Db): Promise<number> {
  const [row] = await db.query<{ v: number }>("SELECT coalesce(max(version), 0)::int AS v FROM tandem_schema");
  return row!.v;
}

async function lock(db: Db): Promise<void> {
  if (db.kind === "pg") await db.query("SELECT pg_advisory_xact_lock($1::bigint)", [LOCK_KEY]);
}

function exec(db: Db, sql: string): Promise<void> {
  if (!db.exec) throw new StoreError("store.migrate", "this Db cannot run SQL scripts (no exec)");
  return db.exec(sql);
}

function newerError(found: number, known: number): StoreError {
  return new StoreError(
    "store.migrate",
    `the database schema is v${found} but this Tandem only knows up to v${known}: it was used by a newer Tandem; upgrade Tandem (or restore a backup made before the upgrade)`,
  );
}

/**
 * Apply the pending migrations. Safe to call on every start and from concurrent processes.
 * `onApplied` hears each migration this call applied, as it commits (progress for the operator).
 */
export async function migrate(db: Db, migrations: Migration[] = loadMigrations(), onApplied?: (m: Migration, ms: number) => void): Promise<MigrateResult> {
  const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  const from = await db.tx(async (t) => {
    await lock(t);
    await exec(
      t,
      `CREATE TABLE IF NOT EXISTS tandem_schema (
         version int PRIMARY KEY,
         description text NOT NULL DEFAULT '',
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    return readVersion(t);
  });
  if (from > latest) throw newerError(from, latest);

  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= from) continue;
    const t0 = Date.now();
    const done = await db.tx(async (t) => {
      await lock(t);
      const current = await readVersion(t); // another process may have applied it meanwhile
      if (current >= m.version) return false;
      if (current !== m.version - 1) throw new StoreError("store.migrate", `cannot apply ${m.file}: the database is at v${current}`);
      try {
        await exec(t, m.sql);
      } catch (err) {
        throw new StoreError("store.migrate", `migration ${m.file} failed, nothing of it was applied: ${(err as Error).message}`, {
          cause: err,
          sqlState: (err as StoreError).sqlState,
        });
      }
      await t.query("INSERT INTO tandem_schema (version, description) VALUES ($1, $2)", [m.version, m.description]);
      return true;
    });
    if (done) {
      applied.push(m.version);
      onApplied?.(m, Date.now() - t0);
    }
  }
  return { from, to: Math.max(from, latest), applied };
}
