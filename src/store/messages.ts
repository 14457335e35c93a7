/** Message map ((network, remote ref, part, room) ↔ Matrix event id) and reactions. */
import type { Db, MessageRow, NewMessageRow, ReactionRow, Store } from "./api.js";

const MSG_COLS = `room_id AS "roomId", event_id AS "eventId", network, chat, remote_ref AS "remoteRef", part, origin,
  sender_mxid AS "senderMxid", thread_root_event AS "threadRootEvent", thread_root_remote AS "threadRootRemote",
  received_at AS "receivedAt", created_at AS "createdAt"`;
const REACTION_COLS = `room_id AS "roomId", event_id AS "eventId", target_event_id AS "targetEventId", network, chat,
  target_remote AS "targetRemote", sender_mxid AS "senderMxid", emoji, origin`;

/**
 * The insert of message-map rows, its parameters numbered from $first (so the queue can put it in
 * the statement that marks an item done); rows already present (same network, remoteRef, part, room)
 * are skipped.
 */
export function insertMessagesSql(first: number): string {
  const types = ["text", "text", "text", "text", "text", "int", "text", "text", "text", "text", "timestamptz"];
  return `INSERT INTO messages (room_id, event_id, network, chat, remote_ref, part, origin, sender_mxid, thread_root_event, thread_root_remote, received_at)
         SELECT * FROM unnest(${types.map((t, i) => `$${first + i}::${t}[]`).join(", ")})
         ON CONFLICT (network, remote_ref, part, room_id) DO NOTHING`;
}

/** The eleven column arrays insertMessagesSql takes. */
export function messageParams(rows: NewMessageRow[]): unknown[] {
  const col = <K extends keyof NewMessageRow>(k: K) => rows.map((r) => r[k] ?? null);
  return [
    col("roomId"), col("eventId"), col("network"), col("chat"), col("remoteRef"), col("part"), col("origin"),
    col("senderMxid"), col("threadRootEvent"), col("threadRootRemote"),
    rows.map((r) => (r.receivedAt ? r.receivedAt.toISOString() : null)),
  ];
}

const INSERT_MESSAGES = insertMessagesSql(1);

export function messagesRepo(db: Db): Store["messages"] {
  return {
    /** All rows in one statement. */
    async insert(rows) {
      if (rows.length === 0) return;
      await db.query(INSERT_MESSAGES, messageParams(rows));
    },
    async byRemote(network, remoteRef) {
      return db.query<MessageRow>(`SELECT ${MSG_COLS} FROM messages WHERE network = $1 AND remote_ref = $2 ORDER BY room_id, part`, [
        network,
        remoteRef,
      ]);
    },
    async byEvent(eventId) {
      return db.query<MessageRow>(`SELECT ${MSG_COLS} FROM messages WHERE event_id = $1 ORDER BY network, chat, part`, [eventId]);
    },
    async deleteByEvent(eventId) {
      await db.query(`DELETE FROM messages WHERE event_id = $1`, [eventId]);
    },
  };
}

export function reactionsRepo(db: Db): Store["reactions"] {
  return {
    /** A reaction event recorded twice is a no-op. */
    async insert(r) {
      await db.query(
        `INSERT INTO reactions (event_id, room_id, target_event_id, network, chat, target_remote, sender_mxid, emoji, origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id, network) DO NOTHING`,
        [r.eventId, r.roomId, r.targetEventId, r.network, r.chat, r.targetRemote, r.senderMxid, r.emoji, r.origin],
      );
    },
    async byEvent(eventId, network) {
      const [row] = await db.query<ReactionRow>(
        `SELECT ${REACTION_COLS} FROM reactions WHERE event_id = $1 AND ($2::text IS NULL OR network = $2) LIMIT 1`, [eventId, network ?? null]);
      return row ?? null;
    },
    async forTarget(targetEventId, emoji) {
      return db.query<ReactionRow>(
        `SELECT ${REACTION_COLS} FROM reactions WHERE target_event_id = $1 AND emoji = $2 ORDER BY created_at, event_id`,
        [targetEventId, emoji],
      );
    },
    async findRemote(targetRemote, senderMxid, emoji) {
      const [row] = await db.query<ReactionRow>(
        `SELECT ${REACTION_COLS} FROM reactions WHERE target_remote = $1 AND sender_mxid = $2 AND emoji = $3 ORDER BY created_at DESC LIMIT 1`,
        [targetRemote, senderMxid, emoji],
      );
      return row ?? null;
    },
    async deleteByEvent(eventId, network) {
      await db.query(`DELETE FROM reactions WHERE event_id = $1 AND ($2::text IS NULL OR network = $2)`, [eventId, network ?? null]);
    },
  };
}
