/**
 * What the two Db ports share (pg-db.ts: a real Postgres over pg.Pool; pglite.ts: embedded PGlite).
 * The same SQL with $1 parameters runs on both. Errors come out as StoreError with a
 * readable message (SQLSTATE, constraint, the statement's start), never with the password.
 */
import path from "node:path";
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
