/**
 * The store's public surface: what the core and the CLI may ask of Postgres.
 * Implemented over `pg` and over embedded PGlite with the same SQL (see db.ts).
 * Rows use camelCase; the SQL uses snake_case.
 */
import type { AuditRepo } from "./audit.js";

/** A minimal SQL port shared by pg.Pool and PGlite. */
export interface Db {
  readonly kind: "pg" | "pglite";
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Run fn in one transaction; commits when it resolves, rolls back when it throws.
   * Use only the Db passed to fn inside it: on PGlite (one connection) the outer Db
   * throws while a transaction of this task is open, instead of deadlocking.
   * Calling tx on that inner Db nests with a SAVEPOINT.
   */
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  /** Run a multi-statement SQL script without parameters (migrations, tests). */
  exec?(sql: string): Promise<void>;
  /**
   * Postgres only: LISTEN on `channel` on a connection of its own; `onPayload` hears each NOTIFY,
   * `onGap` that the connection dropped and listens again (what was sent meanwhile is lost).
   * Resolves once listening, to a function that stops.
   */
  listen?(channel: string, onPayload: (payload: string) => void, onGap: () => void): Promise<() => Promise<void>>;
  /** Statements executed since start (for the benchmark's statements-per-message), BEGIN/COMMIT included. */
  readonly statementCount: number;
  /**
   * Transactions since start: a statement outside tx() is one, a tx() is one however many it
   * holds. Each is a commit (a disk flush on a durable Postgres): the benchmark's cost per message.
   */
  readonly transactionCount: number;
  close(): Promise<void>;
}

export interface LoginRow {
  id: string;                 // e.g. "slack:T0001" / "telegram:7001"
  network: string;
  ownerMxid: string;
  remoteId: string;
  name: string;
  secrets: Record<string, string>; // decrypted in memory, encrypted at rest
  createdAt: Date;
}

export type CutoverPhase = "parallel" | "matrix-primary" | "standby";

export interface PortalRow {
  roomId: string;
  /** "portal": created by the bridge; "linked": an existing room linked by a user. */
  kind: "portal" | "linked";
  /** The Matrix user the portal was made for (invited at creation); null for linked rooms. */
  ownerMxid: string | null;
  phase: CutoverPhase;
  createdAt: Date;
}

export interface PortalLinkRow {
  roomId: string;
  network: string;
  chat: string;               // opaque ChatRef
  loginId: string;            // the login that relays this chat
  name: string;
  alias: string | null;
  createdAt: Date;
  /** Set while the login was logged out (`logout`): the link stays, nothing goes out until a new login. */
  detachedAt?: Date | null;
  /**
   * Set by `cutover finish`: the parallel run ended for this chat, nothing is relayed either way.
   * Kept in kv (`finished:<network>:<chat>`), not in the row; `cutover resume` clears it.
   */
  finishedAt?: Date | null;
}

export interface GhostRow {
  mxid: string;
  network: string;
  userRef: string;
  displayName: string | null;
  /** Remote avatar identity (url / file id) last uploaded, to skip redundant uploads. */
  avatarSource: string | null;
  avatarMxc: string | null;
  updatedAt: Date;
}

export type NewMessageRow = Omit<MessageRow, "createdAt">;

export interface MessageRow {
  roomId: string;
  eventId: string;
  network: string;
  chat: string;
  /** Opaque MessageRef of this part on the network. */
  remoteRef: string;
  /** Part index: 0 = text, 1.. = files, for messages split in several Matrix events / remote posts. */
  part: number;
  /** Where it was first written: a remote network message bridged in, or a Matrix event bridged out. */
  origin: "remote" | "matrix";
  senderMxid: string;
  threadRootEvent: string | null;
  threadRootRemote: string | null;
  /** When the bridge received the source event; null for rows written before it was known. */
  receivedAt?: Date | null;
  createdAt: Date;
}

export interface ReactionRow {
  roomId: string;
  /** The Matrix m.reaction event id. */
  eventId: string;
  targetEventId: string;
  network: string;
  chat: string;
  targetRemote: string;
  /** Matrix sender (ghost or real user). */
  senderMxid: string;
  emoji: string;
  origin: "remote" | "matrix";
}

export type QueueStatus = "pending" | "done" | "dead";

export interface QueueItem<P = unknown> {
  id: number;
  /** Ordering key: one worker per lane, items applied in id order. */
  lane: string;
  /** Unique source id: enqueueing the same key twice is a no-op. */
  sourceKey: string;
  payload: P;
  status: QueueStatus;
  /** Failed attempts recorded. */
  attempts: number;
  /** Times the item was handed to a worker; more than attempts + 1 means a try was cut short (crash). */
  tries: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  /**
   * Not a column: message-map rows its handler produced, which the relay queue writes in the same
   * statement that marks the item done (one round trip, and the map and the done are one commit).
   */
  mapRows?: NewMessageRow[];
  /**
   * Not a column: set only on an item handed out (enqueueAndClaim, claim, doneAndClaim) whose
   * NewQueueItem had a `mapKey` (stored as relay_queue.map_key), to whether the message map held rows
   * for that key when the statement that handed it out ran, the rows that statement wrote included:
   * its duplicate check, answered in that round trip. Undefined otherwise (an item queued before
   * map_key was stored, a hand-written fake): the handler looks it up.
   */
  mapped?: boolean;
}

export interface NewQueueItem {
  lane: string;
  sourceKey: string;
  payload: unknown;
  /**
   * The message-map rows whose presence makes this item a no-op (stored with the item). A remote
   * message: any row of its (network, remoteRef), it is in Matrix already. A Matrix message for one
   * chat: a row of its eventId in that (network, chat), it was sent there already. The statements
   * that hand items out answer it as `mapped` (see QueueItem).
   */
  mapKey?: MapKey;
}

export type MapKey = { network: string; remoteRef: string } | { eventId: string; network: string; chat: string };

export interface CutoverChangeRow {
  roomId: string;
  /** A phase, or a cutover event: "finished" (cutover finish), "resumed" (its way back). */
  fromPhase: CutoverPhase | "finished";
  toPhase: CutoverPhase | "finished" | "resumed";
  byMxid: string;
  at: Date;
}

export type MappingMethod = "claim" | "admin" | "email" | "csv";

/** A remote user proven (or declared by an admin) to be a Matrix account of the homeserver. */
export interface MappingRow {
  network: string;
  userRef: string;
  mxid: string;
  method: MappingMethod;
  /** Who made the mapping: the claimant, or the admin. */
  byMxid: string;
  createdAt: Date;
}

export interface MappingLogRow {
  network: string;
  userRef: string;
  mxid: string;
  action: "map" | "unmap";
  method: MappingMethod;
  byMxid: string;
  at: Date;
}

export interface Store {
  readonly db: Db;
  logins: {
    put(row: Omit<LoginRow, "createdAt">): Promise<void>;   // insert or update by id
    get(id: string): Promise<LoginRow | null>;
    list(): Promise<LoginRow[]>;
    listByOwner(ownerMxid: string): Promise<LoginRow[]>;
    delete(id: string): Promise<boolean>;
  };
  portals: {
    create(row: Omit<PortalRow, "createdAt" | "phase"> & { phase?: CutoverPhase }): Promise<void>;
    get(roomId: string): Promise<PortalRow | null>;
    list(): Promise<PortalRow[]>;
    setPhase(roomId: string, phase: CutoverPhase, byMxid: string): Promise<void>; // also records a CutoverChangeRow
    history(roomId: string): Promise<CutoverChangeRow[]>;
    /** Record a cutover event that is not a phase (e.g. "finished", "resumed") in the room's history. */
    record(roomId: string, from: string, to: string, byMxid: string): Promise<void>;
    /**
     * The room was upgraded: the portal (kind, owner, phase) and all its links move to `toRoomId`
     * in one transaction; the old room's cutover history stays under its id. No-op without a portal.
     */
    moveRoom(fromRoomId: string, toRoomId: string): Promise<void>;
    delete(roomId: string): Promise<void>;
  };
  links: {
    add(row: Omit<PortalLinkRow, "createdAt">): Promise<void>;  // unique (network, chat): throws if linked elsewhere
    byChat(network: string, chat: string): Promise<PortalLinkRow | null>;
    byRoom(roomId: string): Promise<PortalLinkRow[]>;
    byLogin(loginId: string): Promise<PortalLinkRow[]>;
    list(): Promise<PortalLinkRow[]>;
    remove(roomId: string, network?: string): Promise<number>;
    moveChat(network: string, fromChat: string, toChat: string): Promise<void>; // Telegram group → supergroup
    /** Detach (a time) or re-attach (null) every link of a login; returns the links changed. */
    setDetached(loginId: string, at: Date | null): Promise<PortalLinkRow[]>;
    rename(network: string, chat: string, name: string): Promise<void>; // the remote chat was renamed
  };
  ghosts: {
    get(mxid: string): Promise<GhostRow | null>;
    put(row: Omit<GhostRow, "updatedAt">): Promise<void>;
  };
  /** Person mappings (people.ts); every change is also appended to the mapping log. Optional for hand-written fakes. */
  mappings?: {
    list(): Promise<MappingRow[]>;
    put(row: Omit<MappingRow, "createdAt">): Promise<void>;
    /** The removed mapping, or null when there was none. */
    remove(network: string, userRef: string, byMxid: string): Promise<MappingRow | null>;
    /** The latest changes, newest first. */
    history(limit: number): Promise<MappingLogRow[]>;
  };
  messages: {
    insert(rows: Omit<MessageRow, "createdAt">[]): Promise<void>;  // ignores exact duplicates
    byRemote(network: string, remoteRef: string): Promise<MessageRow[]>;   // all rooms, all parts
    byEvent(eventId: string): Promise<MessageRow[]>;                       // every network it went to
    deleteByEvent(eventId: string): Promise<void>;
  };
  reactions: {
    insert(row: ReactionRow): Promise<void>;
    /** One of the rows of a Matrix reaction event (it has one per network it reached), or its row for one network. */
    byEvent(eventId: string, network?: string): Promise<ReactionRow | null>;
    /** Matrix reaction events for one remote message + emoji (several Matrix users → one Slack reaction). */
    forTarget(targetEventId: string, emoji: string): Promise<ReactionRow[]>;
    /** The reaction a remote user made, to redact it when removed. */
    findRemote(targetRemote: string, senderMxid: string, emoji: string): Promise<ReactionRow | null>;
    /** Every row of the reaction event, or only its row for one network. */
    deleteByEvent(eventId: string, network?: string): Promise<void>;
  };
  queue: {
    /** Inserts the items that are new (by sourceKey) in one transaction; returns how many were new. */
    enqueue(items: NewQueueItem[]): Promise<number>;
    /**
     * enqueue(), and in the same statement hand out (claim, counting the try) the first new item
     * of each lane in `claimLanes` that had no pending item: the items handed out. The caller must
     * own those lanes (no worker of them runs). Optional so hand-written fakes need not provide it.
     * An item handed out whose NewQueueItem had a `mapKey` comes with `mapped` (see QueueItem), as
     * from claim and doneAndClaim.
     */
    enqueueAndClaim?(items: NewQueueItem[], claimLanes: string[]): Promise<QueueItem[]>;
    /**
     * Be woken by other processes' enqueues (Postgres LISTEN/NOTIFY on `tandem_queue`): `onLanes`
     * with the lanes they enqueued to, `onGap` when notifications may have been lost (the listening
     * connection dropped and is back). Resolves once listening, to a function that stops. Absent on
     * the embedded PGlite (no other process can open its database) and in hand-written fakes.
     */
    listen?(onLanes: (lanes: string[]) => void, onGap: () => void): Promise<() => Promise<void>>;
    /**
     * Lanes whose head (lowest pending id) is due (nextAttemptAt <= now), oldest head first.
     * A lane whose head waits for a retry is not returned even if later items are due.
     * `now` defaults to the process clock (the same clock retry() times are computed with).
     */
    readyLanes(limit: number, now?: Date): Promise<string[]>;
    /**
     * When the earliest lane head that is not due yet (nextAttemptAt > now) comes due; null when
     * no head waits. The relay queue arms one timer for it instead of polling. Optional so
     * hand-written fakes need not provide it (the queue then relies on its safety sweep).
     */
    nextDueAt?(now?: Date): Promise<Date | null>;
    /** The first pending item of a lane (lowest id), whether due or not; null if none. */
    head(lane: string): Promise<QueueItem | null>;
    /** Hand out the lane's head if it is due (counting the try); null if none is due. */
    claim(lane: string, now?: Date): Promise<QueueItem | null>;
    /** Mark the item done, writing `messages` (the map rows it produced) in the same statement. */
    done(id: number, messages?: NewMessageRow[]): Promise<void>;
    /**
     * done(id), then claim(lane), in one statement: `id` must be the lane's head (the item just
     * applied). Optional so hand-written fakes need not provide it; the real store does.
     */
    doneAndClaim?(id: number, lane: string, now?: Date, messages?: NewMessageRow[]): Promise<QueueItem | null>;
    /** Record a failure and schedule the next attempt. */
    retry(id: number, error: string, nextAttemptAt: Date): Promise<void>;
    /**
     * Put a claimed item back untried until `nextAttemptAt` (outbound pacing): no attempt is
     * counted and its hand-out is taken back, since nothing reached the network.
     */
    defer(id: number, nextAttemptAt: Date): Promise<void>;
    /** Give up on an item (permanent failure). */
    dead(id: number, error: string): Promise<void>;
    /** Pending items (due or waiting), all lanes. */
    depth(): Promise<number>;
    /** Pending items and the oldest one's creation time, for each of these lanes that has any. */
    pendingIn(lanes: string[]): Promise<Array<{ lane: string; pending: number; oldestAt: Date }>>;
    /** Make these lanes' heads due now (a waiting login came back). */
    wake(lanes: string[]): Promise<void>;
    /** Dead-lettered items, most recent first. */
    deadItems(limit: number): Promise<QueueItem[]>;
    /** Delete done items older than the cutoff (they are kept for a while for dedup). */
    prune(olderThan: Date): Promise<number>;
  };
  kv: {
    get(key: string): Promise<string | null>;
    set(key: string, value: string): Promise<void>;
    /** Every non-empty entry whose key starts with `prefix` (e.g. "space:"), by key. */
    list(prefix: string): Promise<Array<{ key: string; value: string }>>;
  };
  /** Read-only parity-audit and operator queries over the message map and the queue (audit.ts). Optional for hand-written fakes. */
  audit?: AuditRepo;
  /**
   * Run fn with a Store whose repos all use one transaction (e.g. mark a queue item done and
   * record the message map atomically). Optional so hand-written fakes need not provide it;
   * the real store (openStore) always does.
   */
  tx?<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres:// URI; empty = embedded PGlite in dataDir. */
  uri: string;
  /** The embedded database lives in `<dataDir>/pglite` ("memory://" = in memory, for tests). */
  dataDir: string;
  /** Key material for secrets at rest; empty = stored with a marker saying they are unencrypted. */
  encryptionKey: string;
  /** pg only: errors of idle pooled connections (the pool reconnects on next use). Default: ignored. */
  onError?: (err: Error) => void;
  /** Hears the steps that take time at open (creating the embedded database, migrations). */
  progress?: (message: string) => void;
  /**
   * pg only: each enqueue also sends NOTIFY tandem_queue (one per lane, in the insert's statement),
   * which wakes the workers of the bridge process that listens (queue.listen). For a process that
   * writes the queue of a bridge running elsewhere (the CLI, a second process). Default off: the
   * bridge's own enqueues wake its lanes in-process, and a notification to itself would cost every
   * message a round trip.
   */
  notifyEnqueues?: boolean;
}
