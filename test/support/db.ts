/**
 * Database backends for tests. Every store suite runs on each of them:
 * - "pglite": always; a fresh embedded database in a temp folder per open() (copied from a
 *   template initialised once per process, since initdb takes seconds).
 * - "pg": when TANDEM_TEST_PG_URI is set (postgres://… of a server where the user may
 *   CREATE DATABASE, e.g. from scripts/pg-test-server.sh); a fresh, randomly named database
 *   per open(), dropped when the test file ends (best-effort). storeOpener reuses them within a
 *   test file, emptied between tests.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe } from "vitest";
import type { Store, StoreOptions } from "../../src/store/api.js";
import { embeddedDbPath } from "../../src/store/db.js";
import { openStore } from "../../src/store/store.js";
import { requireTool } from "./required-tools.js";

export interface TestBackend {
  name: "pglite" | "pg";
  /** Options for a fresh, empty database (not yet migrated). */
  open(): Promise<StoreOptions>;
}

/** The encryption key the backends hand out (tests of other keys override it). */
export const TEST_ENCRYPTION_KEY = "test-encryption-key";

const tempDirs: string[] = [];
let template: Promise<string> | null = null;

/**
 * A freshly initialised, closed PGlite folder, shared by all test processes through a cache
 * in the temp dir (keyed by the PGlite version; built in a temp folder, then renamed into place).
 */
function makeTemplate(): Promise<string> {
  template ??= (async () => {
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite"); // …/pglite/dist/index.cjs
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(entry), "..", "package.json"), "utf8")) as { version: string };
    const version = pkg.version;
    const dir = path.join(os.tmpdir(), `tandem-pglite-template-${version}`);
    if (fs.existsSync(path.join(embeddedDbPath(dir), "PG_VERSION"))) return dir;
    const building = fs.mkdtempSync(path.join(os.tmpdir(), "tandem-pglite-building-"));
    const db = new PGlite(embeddedDbPath(building));
    await db.waitReady;
    await db.close();
    try {
      fs.renameSync(building, dir);
    } catch {
      fs.rmSync(building, { recursive: true, force: true }); // another process won the race
    }
    return dir;
  })();
  return template;
}

const pglite: TestBackend = {
  name: "pglite",
  async open() {
    const tpl = await makeTemplate();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tandem-pglite-"));
    tempDirs.push(dir);
    fs.cpSync(tpl, dir, { recursive: true });
    return { uri: "", dataDir: dir, encryptionKey: TEST_ENCRYPTION_KEY };
  },
};

const PG_URI = process.env.TANDEM_TEST_PG_URI ?? "";
const createdDbs: string[] = [];

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URI });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function pgOptions(name: string): StoreOptions {
  const u = new URL(PG_URI);
  u.pathname = `/${name}`;
  return { uri: u.toString(), dataDir: "", encryptionKey: TEST_ENCRYPTION_KEY };
}

const postgres: TestBackend = {
  name: "pg",
  async open() {
    const name = `tandem_test_${randomBytes(6).toString("hex")}`;
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    createdDbs.push(name);
    return pgOptions(name);
  },
};

/**
 * Migrated Postgres databases whose stores a finished test closed, kept for the next test of
 * this file: CREATE DATABASE and the migrations cost 150-500 ms on a busy server, emptying the
 * tables ~5 ms, and the mutation run repeats every core test for each mutant.
 */
const spareDbs: string[] = [];

/** Cut what a test may have left (its sessions, setReadOnly) and keep the database for the next. */
async function keepSpare(name: string): Promise<void> {
  await admin(async (c) => {
    await c.query(`ALTER DATABASE ${name} RESET ALL`);
    await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]);
  });
  spareDbs.push(name);
}

const RESTART_SEQUENCES = `FOR r IN SELECT c.oid::regclass AS seq FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'S' AND n.nspname = 'public' LOOP PERFORM setval(r.seq, 1, false); END LOOP;`;
const TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'tandem_schema'";
// DELETE with the foreign-key triggers off (a superuser's session_replication_role) takes ~5 ms
// on a test's few rows, TRUNCATE ~70 ms (new files for every table): TRUNCATE only as fallback.
const DELETE_ALL = `BEGIN; SET LOCAL session_replication_role = replica;
  DO $$ DECLARE r record; BEGIN
    FOR r IN ${TABLES} LOOP EXECUTE format('DELETE FROM %I', r.tablename); END LOOP;
    ${RESTART_SEQUENCES}
  END $$; COMMIT;`;
const TRUNCATE_ALL = `DO $$ DECLARE t text; BEGIN
  SELECT string_agg(format('%I', tablename), ', ') INTO t FROM (${TABLES}) tables;
  IF t IS NOT NULL THEN EXECUTE 'TRUNCATE ' || t || ' RESTART IDENTITY CASCADE'; END IF;
END $$`;

/** A spare database emptied to what the migrations leave (every table but the schema version, sequences restarted), or null. */
async function takeSpare(): Promise<StoreOptions | null> {
  const name = spareDbs.pop();
  if (!name) return null;
  const opts = pgOptions(name);
  const client = new pg.Client({ connectionString: opts.uri });
  await client.connect();
  try {
    await client.query(DELETE_ALL).catch(async () => {
      await client.query("ROLLBACK");
      await client.query(TRUNCATE_ALL);
    });
  } finally {
    await client.end();
  }
  return opts;
}

/** TANDEM_TEST_BACKENDS=pg (or pglite) narrows the run to one of them (mutation testing runs on pg: 8x faster). */
const ONLY = process.env.TANDEM_TEST_BACKENDS?.split(",").map((b) => b.trim());
export const backends: TestBackend[] = (PG_URI ? [pglite, postgres] : [pglite]).filter((b) => !ONLY || ONLY.includes(b.name));
if (backends.length === 0) throw new Error(`TANDEM_TEST_BACKENDS=${ONLY!.join(",")} selects no backend (pg needs TANDEM_TEST_PG_URI)`);

/** describe.each over the backends: titles "pglite: <name>" and "pg: <name>". */
export function describeEachBackend(name: string, fn: (backend: TestBackend) => void): void {
  requireTool("PostgreSQL for the store suites (TANDEM_TEST_PG_URI)", PG_URI !== "", "export TANDEM_TEST_PG_URI=$(scripts/pg-test-server.sh)");
  describe.each(backends.map((b) => [b.name, b] as const))(`%s: ${name}`, (_name, backend) => {
    if (backend.name === "pglite") beforeAll(makeTemplate); // first initdb takes seconds: do it under the hook timeout
    fn(backend);
  });
}

/**
 * A function opening migrated stores that are closed after each test:
 * `const open = storeOpener(); const store = await open(backend);`.
 */
export function storeOpener(): (backend: TestBackend, overrides?: Partial<StoreOptions>) => Promise<Store> {
  const opened: Store[] = [];
  const reusable: string[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    for (const name of reusable.splice(0)) await keepSpare(name).catch(() => undefined); // else it is dropped with the others
  });
  return async (backend, overrides = {}) => {
    // A Postgres store with the standard options reuses an emptied database (see spareDbs).
    const plain = backend.name === "pg" && Object.keys(overrides).length === 0;
    const opts = (plain ? await takeSpare() : null) ?? (await backend.open());
    const store = await openStore({ ...opts, ...overrides });
    opened.push(store);
    if (plain) reusable.push(decodeURIComponent(new URL(opts.uri).pathname.slice(1)));
    return store;
  };
}

/**
 * Make a test database refuse writes (reads still answer), or take them again: PGlite (one
 * session) with SET default_transaction_read_only; Postgres the way a failover to a read-only
 * server looks, the database's default changed and its sessions cut, so the pool reconnects.
 */
export async function setReadOnly(store: Store, uri: string, readOnly: boolean): Promise<void> {
  if (!uri) {
    await store.db.query(`SET default_transaction_read_only = ${readOnly ? "on" : "off"}`);
    return;
  }
  const name = decodeURIComponent(new URL(uri).pathname.slice(1));
  if (!/^tandem_test_[0-9a-f]+$/.test(name)) throw new Error(`setReadOnly: not a test database: ${name}`);
  await admin(async (c) => {
    await c.query(readOnly ? `ALTER DATABASE ${name} SET default_transaction_read_only = on` : `ALTER DATABASE ${name} RESET default_transaction_read_only`);
    await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]);
  });
}

/** Drop the databases and folders made so far (registered as afterAll of every importing test file). */
export async function cleanupBackends(): Promise<void> {
  spareDbs.length = 0;
  const dbs = createdDbs.splice(0);
  if (dbs.length) {
    await admin(async (c) => {
      for (const name of dbs) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    }).catch(() => undefined);
  }
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

afterAll(cleanupBackends);
process.once("exit", () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
