import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Db } from "../../../src/store/api.js";
import { StoreError } from "../../../src/store/db.js";
import { loadMigrations, migrate, MIGRATIONS_DIR, schemaVersion } from "../../../src/store/migrate.js";
import { openDb, openStore } from "../../../src/store/store.js";
import { describeEachBackend } from "../../support/db.js";

/** The shipped migrations: 1…LATEST. */
const ALL = loadMigrations().map((m) => m.version);
const LATEST = ALL.length;

const madeDirs: string[] = [];
afterAll(() => {
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function migrationsDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tandem-migrations-"));
  madeDirs.push(dir);
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

async function tables(db: Db): Promise<string[]> {
  const rows = await db.query<{ t: string }>(
    "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((r) => r.t);
}

describe("loadMigrations", () => {
  it("reads the shipped migrations with their headers", () => {
    const ms = loadMigrations(MIGRATIONS_DIR);
    expect(ms[0]).toMatchObject({ version: 1, file: "001-init.sql" });
    expect(ms[0]!.description).toMatch(/logins/);
  });

  it("rejects a bad header, a number mismatch, a gap and BEGIN/COMMIT", () => {
    expect(() => loadMigrations(migrationsDir({ "001-a.sql": "CREATE TABLE a (x int);" }))).toThrow(/first line must be "-- v1:/);
    expect(() => loadMigrations(migrationsDir({ "001-a.sql": "-- v2: a\nSELECT 1;" }))).toThrow(/header says v2/);
    expect(() => loadMigrations(migrationsDir({ "001-a.sql": "-- v1: a\n", "003-c.sql": "-- v3: c\n" }))).toThrow(/without gaps/);
    expect(() => loadMigrations(migrationsDir({ "001-a.sql": "-- v1: a\nBEGIN;\nSELECT 1;\nCOMMIT;" }))).toThrow(/BEGIN\/COMMIT/);
  });
});

describeEachBackend("migrations", (backend) => {
  const dbs: Db[] = [];
  afterEach(async () => {
    for (const db of dbs.splice(0)) await db.close().catch(() => undefined);
  });
  const open = async () => {
    const db = await openDb(await backend.open());
    dbs.push(db);
    return db;
  };

  it("apply once, then are skipped", async () => {
    const db = await open();
    expect(await schemaVersion(db)).toBe(0);
    expect(await migrate(db)).toEqual({ from: 0, to: LATEST, applied: ALL });
    expect(await schemaVersion(db)).toBe(LATEST);
    expect(await tables(db)).toEqual(
      expect.arrayContaining(["logins", "portals", "portal_links", "cutover_changes", "ghosts", "messages", "reactions", "relay_queue", "kv", "tandem_schema"]),
    );
    expect(await migrate(db)).toEqual({ from: LATEST, to: LATEST, applied: [] });
    const rows = await db.query<{ version: number; description: string }>("SELECT version, description FROM tandem_schema ORDER BY version");
    expect(rows.map((r) => r.version)).toEqual(ALL);
    expect(rows[0]).toEqual({ version: 1, description: expect.stringMatching(/logins/) });
  });

  it("concurrent runs apply each migration once", async () => {
    const db = await open();
    const results = await Promise.all([migrate(db), migrate(db), migrate(db)]);
    expect(results.flatMap((r) => r.applied).sort((x, y) => x - y)).toEqual(ALL);
    expect(await schemaVersion(db)).toBe(LATEST);
  });

  it("a failing migration rolls back together with its version bump", async () => {
    const db = await open();
    const dir = migrationsDir({
      "001-a.sql": "-- v1: table a\nCREATE TABLE a (x int);\nINSERT INTO a VALUES (1);",
      "002-b.sql": "-- v2: table b, then fails\nCREATE TABLE b (x int);\nINSERT INTO a VALUES (2);\nSELECT 1 / 0;",
    });
    const err = await migrate(db, loadMigrations(dir)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe("store.migrate");
    expect((err as Error).message).toMatch(/002-b\.sql failed.*division by zero/);
    expect(await schemaVersion(db)).toBe(1);
    const names = await tables(db);
    expect(names).toContain("a");
    expect(names).not.toContain("b");
    expect(await db.query("SELECT x FROM a")).toEqual([{ x: 1 }]);

    // fixed file: applies now
    fs.writeFileSync(path.join(dir, "002-b.sql"), "-- v2: table b\nCREATE TABLE b (x int);");
    expect((await migrate(db, loadMigrations(dir))).applied).toEqual([2]);
  });

  it("refuses a database newer than the code", async () => {
    const opts = await backend.open();
    const store = await openStore(opts);
    await store.db.query("INSERT INTO tandem_schema (version, description) VALUES (7, 'from the future')");
    await store.close();
    await expect(openStore(opts)).rejects.toThrow(new RegExp(`schema is v7 but this Tandem only knows up to v${LATEST}`));
  });
});
