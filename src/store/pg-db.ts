/**
 * The Db port over pg.Pool: a real Postgres. Its own module so that the embedded database's
 * start never loads the pg driver (~100 ms of module loading, store.ts imports it on demand).
 */
import pg from "pg";
import type { Db } from "./api.js";
import { BaseDb, type Counter, type DbErrorLike, describeUri, isDbError, savepoint, StoreError, toStoreError } from "./db.js";

function networkReason(err: unknown): string {
  const e = err as DbErrorLike;
  if (typeof e?.code === "string" && e.code) return e.code;
  if (Array.isArray(e?.errors) && e.errors.length) return networkReason(e.errors[0]);
  return e?.message || String(err);
}

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

/** Longest wait before opening a dropped LISTEN connection again. */
const LISTEN_RETRY_MAX_MS = 30_000;

export class PgDb extends BaseDb {
  readonly kind = "pg" as const;
  /** The stop functions of open LISTEN connections (close() ends them). */
  private readonly listeners = new Set<() => Promise<void>>();
  private constructor(private readonly pool: pg.Pool, readonly where: string, private readonly uri: string, private readonly onError?: (err: Error) => void) {
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
    return new PgDb(pool, where, uri, onError);
  }

  /**
   * LISTEN on a connection of its own: a pooled one goes back to the pool and hears nothing. It
   * sits idle until a NOTIFY comes (no timer, no keep-alive query). When it drops (a restart of
   * Postgres, a cut session), it is opened again with backoff (1 s doubling to 30 s) and onGap
   * is told once it listens again, since what was sent meanwhile is lost.
   */
  async listen(channel: string, onPayload: (payload: string) => void, onGap: () => void): Promise<() => Promise<void>> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new StoreError("store.misuse", `not a channel name: ${channel}`);
    let client: pg.Client | null = null;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    let delay = 1000;
    const connect = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: this.uri, application_name: "tandem-listen", connectionTimeoutMillis: 15_000 });
      c.on("notification", (m) => { if (m.channel === channel) onPayload(m.payload ?? ""); });
      c.on("error", (err) => this.onError?.(err)); // an "end" follows, which reconnects
      c.on("end", () => {
        if (client !== c) return;
        client = null;
        reconnect();
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${channel}`);
      } catch (err) {
        await c.end().catch(() => undefined);
        throw toStoreError(err, `LISTEN ${channel}`, this.where);
      }
      if (stopped) await c.end().catch(() => undefined);
      else client = c;
    };
    const reconnect = (): void => {
      if (stopped) return;
      retry = setTimeout(() => {
        connect().then(() => {
          delay = 1000;
          if (!stopped) onGap();
        }, (err: Error) => {
          this.onError?.(err);
          delay = Math.min(LISTEN_RETRY_MAX_MS, delay * 2);
          reconnect();
        });
      }, delay);
      retry.unref();
    };
    await connect();
    const stop = async (): Promise<void> => {
      stopped = true;
      clearTimeout(retry);
      this.listeners.delete(stop);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    };
    this.listeners.add(stop);
    return stop;
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
    for (const stop of [...this.listeners]) await stop();
    await this.pool.end();
  }
}
