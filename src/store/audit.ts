/**
 * Read-only queries for the parity audit and the operator views (/metrics, /status).
 *
 * Everything here is read from the message map (`messages`) and the relay queue
 * (`relay_queue`), never from counters kept on the side: a source message counts as
 * delivered to a chat only when the map has a row for it there.
 *
 * What is counted: message sources only (remote `message` events and Matrix `message`
 * events, files included), never reactions, edits, redactions or membership. A message
 * split in several parts (text + files) counts once.
 * - to_matrix (remote → Matrix), per linked chat: the key is the remote message ref. Queue
 *   items of lane `r:<network>:<chat>` with event kind "message", plus map rows with origin
 *   'remote'. A remote message whose ref the map has with origin 'matrix' is the network
 *   echoing our own post back, and is not counted.
 * - from_matrix (Matrix → remote), per linked chat: the key is the Matrix event id. Queue
 *   items (payload t 'matrix') of the chat's lane `r:<network>:<chat>` (one per event and target chat) with event
 *   kind "message" received after the link was made, plus map rows with origin 'matrix'.
 *   (Items of a room lane `m:<roomId>`, queued before delivery per target, are split into
 *   per-chat items when applied; while pending they are not counted.)
 * Each source is classified once, best first: delivered (a map row in that room/chat) >
 * pending (its queue item is pending) > failed (dead-lettered) > skipped (the queue item is
 * done but the map has no row: not relayed by design, e.g. standby, a sender without relay
 * permission, or the bridge's own post echoed by the network).
 * The window is on receipt: queue items created, and map rows whose source was received,
 * at or after `since`.
 */
import type { Db } from "./api.js";

export type AuditDirection = "to_matrix" | "from_matrix";
export type ParityClass = "delivered" | "pending" | "failed" | "skipped";

/** How many sources of one class (and, for failed, one reason) a linked chat had in a direction. */
export interface ParityCountRow {
  roomId: string;
  network: string;
  chat: string;
  direction: AuditDirection;
  class: ParityClass;
  /** For failed: the failure reason (the error code, or the error's first words); else null. */
  reason: string | null;
  count: number;
}

/** Delivery latency (map created_at − received_at, per source message) of one linked chat and direction. */
export interface LatencyRow {
  roomId: string;
  network: string;
  chat: string;
  direction: AuditDirection;
  samples: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** The latest delivery of a linked chat in a direction, from the message map. */
export interface LastDeliveryRow {
  roomId: string;
  network: string;
  chat: string;
  direction: AuditDirection;
  at: Date;
  /** created_at − received_at of that delivery; null when the receipt time is unknown. */
  lagMs: number | null;
}

/** Pending relay-queue items by direction: "remote" (remote events to Matrix) and "matrix" (to the networks, fan-out included). */
export interface LaneDepthRow {
  laneKind: "remote" | "matrix";
  pending: number;
  oldestAt: Date | null;
}

/** Dead-lettered queue items (every kind, not only messages) by direction and reason. */
export interface DeadReasonRow {
  direction: AuditDirection;
  reason: string;
  count: number;
}

export interface AuditRepo {
  /** Source counts per linked chat, direction, class (and reason) since `since`; all rooms when roomIds is omitted. */
  parity(since: Date, roomIds?: string[]): Promise<ParityCountRow[]>;
  /** Latency percentiles (nearest rank) per linked chat and direction since `since`. */
  latency(since: Date, roomIds?: string[]): Promise<LatencyRow[]>;
  /** The last delivery per linked chat and direction (index walk per link: cheap enough to scrape). */
  lastDeliveries(): Promise<LastDeliveryRow[]>;
  laneDepths(): Promise<LaneDepthRow[]>;
  deadByReason(): Promise<DeadReasonRow[]>;
}

/**
 * The failure reason of a dead item: the error code the relay queue writes before the
 * message ("chat_not_found: …"), else the first three words of the error, at most 60 chars.
 */
export const REASON_SQL = (col: string) => `left(coalesce(
  substring(${col} from '^([A-Za-z][A-Za-z0-9_.-]*): '),
  nullif(array_to_string((regexp_split_to_array(btrim(${col}), '\\s+'))[1:3], ' '), ''),
  'unknown'), 60)`;

const LINKS = `SELECT room_id, network, chat, created_at FROM portal_links WHERE $2::text[] IS NULL OR room_id = ANY($2::text[])`;
const RANKS = ["delivered", "pending", "failed", "skipped"] as const;

const CLASSIFY = (delivered: string, echo: string) => `
  cls AS (
    SELECT s.room_id, s.network, s.chat, s.k, s.last_error,
      CASE WHEN EXISTS (${delivered}) THEN 0
           WHEN ${echo} THEN 9
           WHEN s.status = 'pending' THEN 1
           WHEN s.status = 'dead' THEN 2
           ELSE 3 END AS rank
      FROM src s),
  best AS (
    SELECT DISTINCT ON (room_id, network, chat, k) room_id, network, chat, rank, last_error
      FROM cls ORDER BY room_id, network, chat, k, rank)
  SELECT room_id AS "roomId", network, chat, rank, CASE WHEN rank = 2 THEN ${REASON_SQL("last_error")} END AS reason, count(*)::int AS count
    FROM best WHERE rank < 9 GROUP BY 1, 2, 3, 4, 5`;

const TO_MATRIX = `
  WITH l AS (${LINKS}),
  src AS (
    SELECT l.room_id, l.network, l.chat, q.payload->'event'->>'ref' AS k, q.status, q.last_error
      FROM relay_queue q JOIN l ON q.lane = 'r:' || l.network || ':' || l.chat
     WHERE q.created_at >= $1 AND q.payload->>'t' = 'remote' AND q.payload->'event'->>'kind' = 'message'
    UNION ALL
    SELECT m.room_id, m.network, m.chat, m.remote_ref, 'done', NULL
      FROM messages m JOIN l ON m.room_id = l.room_id AND m.network = l.network AND m.chat = l.chat
     WHERE m.origin = 'remote' AND m.created_at >= $1 AND coalesce(m.received_at, m.created_at) >= $1),
  ${CLASSIFY(
    `SELECT 1 FROM messages m WHERE m.network = s.network AND m.remote_ref = s.k AND m.room_id = s.room_id AND m.origin = 'remote'`,
    `EXISTS (SELECT 1 FROM messages m WHERE m.network = s.network AND m.remote_ref = s.k AND m.origin = 'matrix')`,
  )}`;

const FROM_MATRIX = `
  WITH l AS (${LINKS}),
  src AS (
    SELECT l.room_id, l.network, l.chat, q.payload->'event'->>'eventId' AS k, q.status, q.last_error
      FROM relay_queue q JOIN l ON q.lane = 'r:' || l.network || ':' || l.chat
     WHERE q.created_at >= $1 AND q.created_at >= l.created_at
       AND q.payload->>'t' = 'matrix' AND q.payload->'event'->>'kind' = 'message'
    UNION ALL
    SELECT m.room_id, m.network, m.chat, m.event_id, 'done', NULL
      FROM messages m JOIN l ON m.room_id = l.room_id AND m.network = l.network AND m.chat = l.chat
     WHERE m.origin = 'matrix' AND m.created_at >= $1 AND coalesce(m.received_at, m.created_at) >= $1),
  ${CLASSIFY(
    `SELECT 1 FROM messages m WHERE m.event_id = s.k AND m.network = s.network AND m.chat = s.chat AND m.origin = 'matrix'`,
    `false`,
  )}`;

const LATENCY = `
  WITH l AS (${LINKS}),
  per AS (
    SELECT m.room_id, m.network, m.chat, m.origin,
           greatest(0, extract(epoch FROM max(m.created_at) - min(m.received_at)) * 1000)::float8 AS ms
      FROM messages m JOIN l ON m.room_id = l.room_id AND m.network = l.network AND m.chat = l.chat
     WHERE m.received_at IS NOT NULL AND m.received_at >= $1 AND m.created_at >= $1
     GROUP BY m.room_id, m.network, m.chat, m.origin, CASE WHEN m.origin = 'remote' THEN m.remote_ref ELSE m.event_id END)
  SELECT room_id AS "roomId", network, chat, origin, count(*)::int AS samples,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
         percentile_disc(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
         max(ms) AS mx
    FROM per GROUP BY 1, 2, 3, 4`;

const LAST_DELIVERIES = `
  SELECT l.room_id AS "roomId", l.network, l.chat, d.origin, m.created_at AS at,
         CASE WHEN m.received_at IS NULL THEN NULL
              ELSE greatest(0, extract(epoch FROM m.created_at - m.received_at) * 1000)::float8 END AS lag
    FROM portal_links l
   CROSS JOIN (VALUES ('remote'), ('matrix')) AS d(origin)
   CROSS JOIN LATERAL (
     SELECT created_at, received_at FROM messages m
      WHERE m.room_id = l.room_id AND m.network = l.network AND m.chat = l.chat AND m.origin = d.origin
      ORDER BY m.created_at DESC LIMIT 1) m`;

const direction = (origin: string): AuditDirection => (origin === "remote" ? "to_matrix" : "from_matrix");

export function auditRepo(db: Db): AuditRepo {
  const rooms = (roomIds?: string[]) => (roomIds ? roomIds : null);
  return {
    async parity(since, roomIds) {
      const out: ParityCountRow[] = [];
      for (const [dir, sql] of [["to_matrix", TO_MATRIX], ["from_matrix", FROM_MATRIX]] as const) {
        const rows = await db.query<{ roomId: string; network: string; chat: string; rank: number; reason: string | null; count: number }>(
          sql, [since, rooms(roomIds)]);
        for (const r of rows) {
          out.push({ roomId: r.roomId, network: r.network, chat: r.chat, direction: dir, class: RANKS[r.rank]!, reason: r.reason, count: Number(r.count) });
        }
      }
      return out;
    },
    async latency(since, roomIds) {
      const rows = await db.query<{ roomId: string; network: string; chat: string; origin: string; samples: number; p50: number; p95: number; mx: number }>(
        LATENCY, [since, rooms(roomIds)]);
      return rows.map((r) => ({
        roomId: r.roomId, network: r.network, chat: r.chat, direction: direction(r.origin),
        samples: Number(r.samples), p50Ms: Number(r.p50), p95Ms: Number(r.p95), maxMs: Number(r.mx),
      }));
    },
    async lastDeliveries() {
      const rows = await db.query<{ roomId: string; network: string; chat: string; origin: string; at: Date; lag: number | null }>(LAST_DELIVERIES);
      return rows.map((r) => ({
        roomId: r.roomId, network: r.network, chat: r.chat, direction: direction(r.origin), at: new Date(r.at),
        lagMs: r.lag === null ? null : Number(r.lag),
      }));
    },
    async laneDepths() {
      const rows = await db.query<{ kind: "remote" | "matrix"; n: number; oldest: Date | null }>(
        `SELECT CASE WHEN payload->>'t' = 'remote' THEN 'remote' ELSE 'matrix' END AS kind, count(*)::int AS n, min(created_at) AS oldest
           FROM relay_queue WHERE status = 'pending' GROUP BY 1`);
      return (["remote", "matrix"] as const).map((laneKind) => {
        const r = rows.find((x) => x.kind === laneKind);
        return { laneKind, pending: r ? Number(r.n) : 0, oldestAt: r?.oldest ? new Date(r.oldest) : null };
      });
    },
    async deadByReason() {
      const rows = await db.query<{ dir: string; reason: string; n: number }>(
        `SELECT CASE WHEN payload->>'t' = 'remote' THEN 'remote' ELSE 'matrix' END AS dir, ${REASON_SQL("last_error")} AS reason, count(*)::int AS n
           FROM relay_queue WHERE status = 'dead' GROUP BY 1, 2 ORDER BY 1, 2`);
      return rows.map((r) => ({ direction: direction(r.dir), reason: r.reason, count: Number(r.n) }));
    },
  };
}
