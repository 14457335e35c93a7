/** openStore: connect (pg or embedded PGlite), migrate, and put the repos together. */
import type { Db, Store, StoreOptions } from "./api.js";
import { auditRepo } from "./audit.js";
import { ghostsRepo, kvRepo } from "./ghosts.js";
import { loginsRepo } from "./logins.js";
import { messagesRepo, reactionsRepo } from "./messages.js";
import { migrate, type Migration } from "./migrate.js";
import { linksRepo, portalsRepo } from "./portals.js";
import { mappingsRepo } from "./people.js";
import { queueRepo } from "./queue.js";
import type { PgDb } from "./pg-db.js";
import type { PGliteDb } from "./pglite.js";
import { SecretBox } from "./secrets.js";

/**
 * Open the database named by the options: pg when uri is set, else embedded PGlite in dataDir.
 * Each driver is loaded only when used: the embedded start never loads pg, nor a Postgres one PGlite.
 */
export async function openDb(opts: { uri: string; dataDir: string; onError?: (err: Error) => void; progress?: (message: string) => void }): Promise<PgDb | PGliteDb> {
  if (opts.uri) return (await import("./pg-db.js")).PgDb.open(opts.uri, opts.onError);
  return (await import("./pglite.js")).PGliteDb.open(opts.dataDir, opts.progress);
}

/** A Store over an open Db (no migration). `close` closes the Db. `notifyEnqueues`: StoreOptions'. */
export function makeStore(db: Db, box: SecretBox, opts: { notifyEnqueues?: boolean } = {}): Store {
  const store: Store = {
    db,
    logins: loginsRepo(db, box),
    portals: portalsRepo(db),
    links: linksRepo(db),
    ghosts: ghostsRepo(db),
    mappings: mappingsRepo(db),
    messages: messagesRepo(db),
    reactions: reactionsRepo(db),
    queue: queueRepo(db, { notify: opts.notifyEnqueues === true && db.kind === "pg" }),
    kv: kvRepo(db),
    audit: auditRepo(db),
    tx: (fn) => db.tx((t) => fn(makeStore(t, box, opts))),
    close: () => db.close(),
  };
  return store;
}

/**
 * Open the store named by the options and bring its schema up to date.
 * Throws StoreError: store.connect ("cannot connect to Postgres at host:port/db: ECONNREFUSED"),
 * store.locked (embedded database used by another process), store.migrate (e.g. database newer than the code).
 * The policy on unencrypted secrets (secretsPolicyError) is the caller's to enforce.
 */
export async function openStore(opts: StoreOptions & { migrations?: Migration[] }): Promise<Store> {
  // The key's scrypt runs on the thread pool while the database opens.
  const boxing = SecretBox.derive(opts.encryptionKey);
  boxing.catch(() => undefined); // awaited below, after the database; a failure is reported there
  const db = await openDb(opts);
  let box: SecretBox;
  try {
    const t0 = Date.now();
    const { from, to } = await migrate(db, opts.migrations,
      (m, ms) => opts.progress?.(`database: migration ${m.file} applied (v${m.version}: ${m.description}; ${ms} ms)`));
    if (to > from) opts.progress?.(`database: schema migrated from v${from} to v${to} (${Date.now() - t0} ms)`);
    box = await boxing;
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return makeStore(db, box, { notifyEnqueues: opts.notifyEnqueues });
}
