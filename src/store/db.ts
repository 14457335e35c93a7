/**
 * The Db port over pg.Pool (a real Postgres; PGlite is in pglite.ts), and what both share.
 * The same SQL with $1 parameters runs on both. Errors come out as StoreError with a
 * readable message (SQLSTATE, constraint, the statement's start), never with the password.
 */
import path from "node:path";
import pg from "pg";
import { TandemError } from "../core/errors.js";
import type { Db } from "./api.js";

/**
 * A storage failure. `code` is one of: store.connect (cannot reach / open the database),
 * store.locked (embedded database used by another process), store.conflict (unique violation),
 * store.query (other SQL errors), store.migrate, store.secrets, store.not-found, store.misuse.
 */
export class StoreError extends TandemError {
  readonly code: string;
  /** Postgres SQLSTATE (e.g. "23505") when the database reported the error. */
  readonly sqlState?: string;
  readonly constraint?: string;
  constructor(code: string, message: string, opts: { cause?: unknown; sqlState?: string; constraint?: string } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.sqlState = opts.sqlState;
    this.constraint = opts.constraint;
  }
}

export function isUniqueViolation(err: unknown): boolean {
  return err instanceof StoreError ? err.sqlState === "23505" : (err as { code?: unknown })?.code === "23505";
}

/** "host:port/db" for messages; never the user or password. */
export function describeUri(uri: string): string {
  try {
    const u = new URL(uri);
    const host = u.hostname || u.searchParams.get("host") || "localhost";
    const db = decodeURIComponent(u.pathname.replace(/^\//, "")) || "(default db)";
    return `${host}:${u.port || "5432"}/${db}`;
  } catch {
    return "(unparsable database.uri)";
  }
}

/** The embedded database's folder inside data_dir. */
export function embeddedDbPath(dataDir: string): string {
  return path.join(dataDir, "pglite");
}

export interface DbErrorLike {
  message?: string;
  code?: unknown;
  severity?: unknown;
  constraint?: unknown;
  detail?: unknown;
  errors?: unknown;
}

export function isDbError(e: DbErrorLike): boolean {
  return typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === "string";
}

function networkReason(err: unknown): string {
  const e = err as DbErrorLike;
  if (typeof e?.code === "string" && e.code) return e.code;
  if (Array.isArray(e?.errors) && e.errors.length) return networkReason(e.errors[0]);
  return e?.message || String(err);
}

/** Turn a driver error into a StoreError (already-converted errors pass through). */
export function toStoreError(err: unknown, sql: string, where?: string): unknown {
  if (err instanceof TandemError) return err;
  const e = (err ?? {}) as DbErrorLike;
  if (isDbError(e)) {
    const sqlState = e.code as string;
    const constraint = typeof e.constraint === "string" ? e.constraint : undefined;
    const detail = typeof e.detail === "string" ? ` (${e.detail})` : "";
    const stmt = sql.replace(/\s+/g, " ").trim().slice(0, 80);
    const code = sqlState === "23505" ? "store.conflict" : sqlState.startsWith("08") || sqlState === "57P01" ? "store.connect" : "store.query";
    return new StoreError(code, `${e.message}${detail} [${sqlState}] in: ${stmt}`, { cause: err, sqlState, constraint });
  }
  if (where && typeof e.code === "string" && /^E[A-Z]+$/.test(e.code)) {
    return new StoreError("store.connect", `lost the connection to Postgres at ${where}: ${e.code}`, { cause: err });
  }
  if (err instanceof Error && /Connection terminated|connection ended|Client has encountered a connection error/i.test(err.message)) {
    return new StoreError("store.connect", `lost the connection to Postgres${where ? ` at ${where}` : ""}: ${err.message}`, { cause: err });
  }
  return err;
}

export interface Counter {
  /** Statements. */
  n: number;
  /** Transactions (top-level statements and tx() calls). */
  tx: number;
}

export abstract class BaseDb implements Db {
  abstract readonly kind: "pg" | "pglite";
  constructor(protected readonly counter: Counter) {}
  get statementCount(): number {
    return this.counter.n;
  }
  get transactionCount(): number {
    return this.counter.tx;
  }
  abstract query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  abstract exec(sql: string): Promise<void>;
  abstract tx<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  abstract close(): Promise<void>;
}

/** Nested transactions on a transaction-bound Db: SAVEPOINT / RELEASE / ROLLBACK TO. */
export async function savepoint<T>(db: Db, depth: number, fn: () => Promise<T>): Promise<T> {
  const name = `tandem_sp${depth}`;
  await db.query(`SAVEPOINT ${name}`);
  try {
    const out = await fn();
    await db.query(`RELEASE SAVEPOINT ${name}`);
    return out;
  } catch (err) {
    await db.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------- pg

/**
 * Statements with parameters run as named prepared statements (parsed and planned once per
 * connection, not on every call): a third of Postgres's CPU per statement in `npm run bench`.
 * The store's SQL is a fixed set of texts; past PREPARED_MAX distinct ones (SQL built at run
 * time), the rest run unnamed so no connection collects prepared statements without bound.
 * Statements without parameters (BEGIN, migrations' multi-statement scripts) always run unnamed.
 */
const PREPARED_MAX = 500;
const preparedNames = new Map<string, string>();

function prepared(sql: string, params?: unknown[]): pg.QueryConfig {
  if (!params || params.length === 0) return { text: sql };
  let name = preparedNames.get(sql);
  if (!name && preparedNames.size < PREPARED_MAX) {
    name = `tandem_${preparedNames.size}`;
    preparedNames.set(sql, name);
  }
  return name ? { name, text: sql, values: params } : { text: sql, values: params };
}

class PgClientDb extends BaseDb {
  readonly kind = "pg" as const;
  constructor(private readonly client: pg.PoolClient, counter: Counter, private readonly where: string, private readonly depth: number) {
    super(counter);
  }
  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    this.counter.n++;
    try {
      const res = await this.client.query(prepared(sql, params));
      return res.rows as T[];
    } catch (err) {
      throw toStoreError(err, sql, this.where);
    }
  }
  async exec(sql: string): Promise<void> {
    await this.query(sql);
  }
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const inner = new PgClientDb(this.client, this.counter, this.where, this.depth + 1);
    return savepoint(this, this.depth + 1, () => fn(inner));
  }
  async close(): Promise<void> {
    throw new StoreError("store.misuse", "close() called on a transaction's Db");
  }
}

export class PgDb extends BaseDb {
  readonly kind = "pg" as const;
  private constructor(private readonly pool: pg.Pool, readonly where: string) {
    super({ n: 0, tx: 0 });
  }

  /** Connects once to fail early with one clear line ("cannot connect to Postgres at h:p/db: ECONNREFUSED"). */
  static async open(uri: string, onError?: (err: Error) => void): Promise<PgDb> {
    const where = describeUri(uri);
    // Idle connections are kept 5 minutes, not pg's 10 s: at rest the health probe (every 20 s by
    // default) and the odd query would otherwise open a new connection each time (TCP, start-up and
    // authentication: most of an idle bridge's CPU).
    const pool = new pg.Pool({ connectionString: uri, application_name: "tandem", connectionTimeoutMillis: 15_000, idleTimeoutMillis: 5 * 60_000 });
    pool.on("error", (err) => onError?.(err));
    try {
      await pool.query("SELECT 1");
    } catch (err) {
      await pool.end().catch(() => undefined);
      const e = err as DbErrorLike;
      const reason = isDbError(e) ? `${e.message}` : networkReason(err);
      throw new StoreError("store.connect", `cannot connect to Postgres at ${where}: ${reason}`, { cause: err });
    }
    return new PgDb(pool, where);
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    this.counter.n++;
    this.counter.tx++;
    try {
      const res = await this.pool.query(prepared(sql, params));
      return res.rows as T[];
    } catch (err) {
      throw toStoreError(err, sql, this.where);
    }
  }

  async exec(sql: string): Promise<void> {
    await this.query(sql);
  }

  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    this.counter.tx++;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toStoreError(err, "BEGIN", this.where);
    }
    const db = new PgClientDb(client, this.counter, this.where, 0);
    let broken: Error | undefined;
    try {
      await db.query("BEGIN");
      const out = await fn(db);
      await db.query("COMMIT");
      return out;
    } catch (err) {
      await db.query("ROLLBACK").catch((e: Error) => {
        broken = e; // the connection is unusable: drop it instead of returning it to the pool
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  private closed = false;
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
