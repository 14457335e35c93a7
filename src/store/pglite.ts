/**
 * The Db port over PGlite: embedded WASM Postgres in `<data_dir>/pglite`, one connection.
 * A lock file (`<data_dir>/pglite.lock`, holding the pid) keeps a second process (or a second
 * open in this process) off the folder: two PGlite instances on one folder corrupt it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import fs from "node:fs";
import path from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Db } from "./api.js";
import { BaseDb, type Counter, embeddedDbPath, savepoint, StoreError, toStoreError } from "./db.js";
import { TEMPLATE_DIR, embeddedStartParams, hasCluster, templateBlob, unpackTemplate } from "./pglite-template.js";

/** Marks the async context of an open PGlite transaction, to refuse outer-Db use inside it. */
interface TxMark {
  db: object;
  open: boolean;
}
const txContext = new AsyncLocalStorage<TxMark[]>();

class PGliteTxDb extends BaseDb {
  readonly kind = "pglite" as const;
  constructor(private readonly t: Transaction, counter: Counter, private readonly depth: number) {
    super(counter);
  }
  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    this.counter.n++;
    try {
      return (await this.t.query<T>(sql, params as unknown[] | undefined)).rows;
    } catch (err) {
      throw toStoreError(err, sql);
    }
  }
  async exec(sql: string): Promise<void> {
    this.counter.n++;
    try {
      await this.t.exec(sql);
    } catch (err) {
      throw toStoreError(err, sql);
    }
  }
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const inner = new PGliteTxDb(this.t, this.counter, this.depth + 1);
    return savepoint(this, this.depth + 1, () => fn(inner));
  }
  async close(): Promise<void> {
    throw new StoreError("store.misuse", "close() called on a transaction's Db");
  }
}

/** In-process registry of open embedded databases (two PGlite instances on one folder corrupt it). */
const openDirs = new Set<string>();

export class PGliteDb extends BaseDb {
  readonly kind = "pglite" as const;
  private constructor(private readonly pg: PGlite, private readonly dir: string | null) {
    super({ n: 0, tx: 0 });
  }

  /**
   * Opens (creating if needed) `<dataDir>/pglite`; "memory://" opens an in-memory database.
   * A new database is unpacked from the build's template (pglite-template.ts); `progress`
   * hears what takes time.
   */
  static async open(dataDir: string, progress: (message: string) => void = () => undefined, templateDir: string = TEMPLATE_DIR): Promise<PGliteDb> {
    const startParams = embeddedStartParams();
    if (dataDir === "memory://" || dataDir === "") {
      const mem = new PGlite({ startParams, loadDataDir: templateBlob() });
      await mem.waitReady;
      return new PGliteDb(mem, null);
    }
    const dir = path.resolve(embeddedDbPath(dataDir));
    acquireLock(dir);
    try {
      const t0 = Date.now();
      const fresh = !hasCluster(dir);
      if (fresh) {
        // Unpacked beside the folder and renamed into place: a crash midway leaves no half cluster.
        progress(`embedded database: setting up a new database in ${dir} (first start)…`);
        const staging = `${dir}.new`;
        fs.rmSync(staging, { recursive: true, force: true });
        if (await unpackTemplate(staging, templateDir)) {
          fs.rmSync(dir, { recursive: true, force: true });
          fs.renameSync(staging, dir);
          progress(`embedded database: created in ${dir} from the build's template (${Date.now() - t0} ms)`);
        } else {
          progress(`embedded database: creating a new cluster in ${dir} (initdb: no template in dist/; this takes 15-30 s, once)`);
        }
      }
      fs.mkdirSync(dir, { recursive: true });
      const db = new PGlite(dir, { startParams });
      await db.waitReady;
      progress(fresh ? `embedded database: set up, done in ${seconds(Date.now() - t0)}` : `embedded database: open (${Date.now() - t0} ms)`);
      return new PGliteDb(db, dir);
    } catch (err) {
      releaseLock(dir);
      throw new StoreError("store.connect", `cannot open the embedded database in ${dir}: ${(err as Error)?.message ?? err}`, { cause: err });
    }
  }

  private guard(): void {
    const marks = txContext.getStore();
    if (marks?.some((m) => m.open && m.db === this)) {
      throw new StoreError(
        "store.misuse",
        "the store was used directly inside one of its own transactions; use the Db/Store passed to tx() (on the embedded database this would deadlock)",
      );
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    this.guard();
    this.counter.n++;
    this.counter.tx++;
    try {
      return (await this.pg.query<T>(sql, params as unknown[] | undefined)).rows;
    } catch (err) {
      throw toStoreError(err, sql);
    }
  }

  async exec(sql: string): Promise<void> {
    this.guard();
    this.counter.n++;
    this.counter.tx++;
    try {
      await this.pg.exec(sql);
    } catch (err) {
      throw toStoreError(err, sql);
    }
  }

  /**
   * PGlite has one connection: its transaction() holds an exclusive mutex, so concurrent
   * transactions (and plain queries) wait for each other and never interleave.
   */
  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    this.guard();
    const mark: TxMark = { db: this, open: true };
    const marks = [...(txContext.getStore() ?? []), mark];
    this.counter.tx++;
    try {
      return await this.pg.transaction(async (t) => {
        this.counter.n++; // BEGIN
        try {
          return await txContext.run(marks, () => fn(new PGliteTxDb(t, this.counter, 0)));
        } finally {
          this.counter.n++; // COMMIT or ROLLBACK
        }
      });
    } catch (err) {
      throw toStoreError(err, "COMMIT");
    } finally {
      mark.open = false;
    }
  }

  async close(): Promise<void> {
    try {
      if (!this.pg.closed) await this.pg.close();
    } finally {
      if (this.dir) releaseLock(this.dir);
    }
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

// Lock file next to the embedded database: one process, one instance at a time.
function lockPath(dir: string): string {
  return `${dir}.lock`;
}

function acquireLock(dir: string): void {
  if (openDirs.has(dir)) {
    throw new StoreError("store.locked", `the embedded database in ${dir} is already open in this process`);
  }
  const file = lockPath(dir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    const holder = Number(fs.readFileSync(file, "utf8").trim());
    if (holder && holder !== process.pid && isAlive(holder)) {
      throw new StoreError(
        "store.locked",
        `the embedded database in ${dir} is in use by another process (pid ${holder}); stop it first, or use a postgres:// database.uri`,
      );
    }
  } catch (err) {
    if (err instanceof StoreError) throw err;
    // no lock file (or unreadable): take it
  }
  fs.writeFileSync(file, `${process.pid}\n`);
  openDirs.add(dir);
}

function releaseLock(dir: string): void {
  openDirs.delete(dir);
  try {
    if (Number(fs.readFileSync(lockPath(dir), "utf8").trim()) === process.pid) fs.unlinkSync(lockPath(dir));
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
