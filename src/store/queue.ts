/**
 * The durable relay queue. Lanes are ordered: the head of a lane is its lowest pending id,
 * and only the head is ever handed out, so a head waiting for a retry holds its lane (but
 * no other lane). Done items stay until prune() so a redelivered source key is still a no-op.
 * Every method is one SQL statement.
 */
import type { Db, NewQueueItem, QueueItem, Store } from "./api.js";
import { insertMessagesSql, messageParams } from "./messages.js";

const COLS = `id, lane, source_key AS "sourceKey", payload, status, attempts, tries, next_attempt_at AS "nextAttemptAt",
  last_error AS "lastError", created_at AS "createdAt"`;

/** bigserial comes back as a string from pg and a number or bigint from PGlite. */
const toItem = (row: QueueItem): QueueItem => ({ ...row, id: Number(row.id) });

/** An item as handed out: `mapped` kept only where the statement answered it (see QueueItem). */
const toHandedOut = ({ mapped, ...row }: QueueItem & { mapped: boolean | null }): QueueItem =>
  mapped === null ? toItem(row) : { ...toItem(row), mapped };

/** A NewQueueItem's mapKey as stored in relay_queue.map_key (jsonb text), or null. */
const mapKeyJson = (i: NewQueueItem): string | null => (i.mapKey ? JSON.stringify(i.mapKey) : null);

/**
 * `mapped` for a relay_queue row `q` being handed out, from its stored map_key: whether the message map
 * holds rows for that key (see NewQueueItem.mapKey), NULL when it names none. `written`, a CTE of
 * message-map rows the same statement inserts, counts too: the statement's snapshot does not show them.
 */
function mappedSql(q: string, opts: { written?: string; handedOut?: string } = {}): string {
  const { written, handedOut } = opts;
  const byEvent = (t: string) => `${t}.event_id = ${q}.map_key->>'eventId' AND ${t}.network = ${q}.map_key->>'network' AND ${t}.chat = ${q}.map_key->>'chat'`;
  const byRemote = (t: string) => `${t}.network = ${q}.map_key->>'network' AND ${t}.remote_ref = ${q}.map_key->>'remoteRef'`;
  const either = (cond: (t: string) => string) =>
    `EXISTS (SELECT 1 FROM messages m WHERE ${cond("m")})${written ? ` OR EXISTS (SELECT 1 FROM ${written} w WHERE ${cond("w")})` : ""}`;
  // Stryker disable next-line StringLiteral: sparing the look-up for rows the statement does not return changes no answer.
  const notHandedOut = handedOut ? ` OR NOT (${handedOut})` : "";
  return `CASE WHEN ${q}.map_key IS NULL${notHandedOut} THEN NULL
               WHEN ${q}.map_key->>'eventId' IS NOT NULL THEN ${either(byEvent)}
               ELSE ${either(byRemote)} END AS mapped`;
}

/** `mapped` for the rows enqueueAndClaim inserts; NULL (no look-up) for those it does not hand out, which its SELECT drops. */
// Stryker disable next-line ObjectLiteral,StringLiteral: sparing those look-ups changes no answer.
const MAPPED_IF_HANDED_OUT = mappedSql("relay_queue", { handedOut: "relay_queue.tries = 1" });

/**
 * enqueueAndClaim: insert the new items; an idle lane's first is inserted already handed out
 * (tries = 1), with its duplicate check.
 */
const ENQUEUE_AND_CLAIM = `WITH ins AS (
           INSERT INTO relay_queue (lane, source_key, payload, next_attempt_at, tries, map_key)
           SELECT u.lane, u.source_key, u.payload::jsonb, $4,
                  CASE WHEN u.lane = ANY($5::text[]) AND u.ord = min(u.ord) OVER (PARTITION BY u.lane)
                        AND NOT EXISTS (SELECT 1 FROM relay_queue p WHERE p.lane = u.lane AND p.status = 'pending') THEN 1 ELSE 0 END,
                  u.map_key::jsonb
             FROM unnest($1::text[], $2::text[], $3::text[], $6::text[]) WITH ORDINALITY AS u(lane, source_key, payload, map_key, ord)
            ORDER BY u.ord
           ON CONFLICT (source_key) DO NOTHING
           RETURNING ${COLS}, ${MAPPED_IF_HANDED_OUT})
         SELECT * FROM ins WHERE ins.tries = 1 ORDER BY ins.id`;

/** claim: the lane's head if due, counted as handed out, with its duplicate check. */
const CLAIM = `UPDATE relay_queue SET tries = tries + 1
  WHERE id = (SELECT id FROM relay_queue WHERE lane = $1 AND status = 'pending' ORDER BY id LIMIT 1)
    AND next_attempt_at <= $2
  RETURNING ${COLS}, ${mappedSql("relay_queue")}`;

/**
 * doneAndClaim: item $3 done (with the map rows from $4 on, when it has any) and the lane's next
 * due item handed out. Built once: the hot path's every step runs one of the two.
 */
function doneAndClaimSql(withRows: boolean): string {
  const map = withRows ? `, map AS (${insertMessagesSql(4)} RETURNING event_id, network, chat, remote_ref)` : "";
  return `WITH fin AS (UPDATE relay_queue SET status = 'done', done_at = now() WHERE id = $3)${map}
   UPDATE relay_queue SET tries = tries + 1
    WHERE id = (SELECT id FROM relay_queue WHERE lane = $1 AND status = 'pending' AND id <> $3 ORDER BY id LIMIT 1)
      AND next_attempt_at <= $2
    RETURNING ${COLS}, ${mappedSql("relay_queue", withRows ? { written: "map" } : {})}`;
}
const DONE_AND_CLAIM = doneAndClaimSql(false);
const DONE_AND_CLAIM_WITH_ROWS = doneAndClaimSql(true);

/** The distinct lanes with pending items: a skip scan of relay_queue_lane_pending (cost per busy lane, not per item). */
const PENDING_LANES = `lanes(lane) AS (
   (SELECT lane FROM relay_queue WHERE status = 'pending' ORDER BY lane LIMIT 1)
   UNION ALL
   SELECT (SELECT r.lane FROM relay_queue r WHERE r.status = 'pending' AND r.lane > l.lane ORDER BY r.lane LIMIT 1)
     FROM lanes l WHERE l.lane IS NOT NULL)`;
/** Each of those lanes' head (lowest pending id), as `h`. */
const HEADS = `lanes l CROSS JOIN LATERAL (SELECT q.id, q.lane, q.next_attempt_at FROM relay_queue q
   WHERE q.lane = l.lane AND q.status = 'pending' ORDER BY q.id LIMIT 1) h`;

/** The channel other processes' enqueues are announced on; the payload is a lane. */
export const QUEUE_CHANNEL = "tandem_queue";

/**
 * `notify`: each enqueue sends one NOTIFY per lane it inserted into, in the insert's own statement
 * (so it goes out with the commit, never for a row that was not stored; Postgres merges duplicates).
 */
export function queueRepo(db: Db, opts: { notify?: boolean } = {}): Store["queue"] {
  return {
    async enqueue(items) {
      if (items.length === 0) return 0;
      // One item and nobody to tell (no NOTIFY): the plain insert.
      if (!opts.notify) {
        // Stryker disable next-line ConditionalExpression,BlockStatement: the batch form below gives the same result for one item, only slower.
        if (items.length === 1) {
          // The common case (one remote event): a plain insert costs half the batch form's time on PGlite.
          const [item] = items as [(typeof items)[number]];
          const rows = await db.query(
            `INSERT INTO relay_queue (lane, source_key, payload, next_attempt_at, map_key) VALUES ($1, $2, $3::jsonb, $4, $5::jsonb)
             ON CONFLICT (source_key) DO NOTHING RETURNING 1`,
            [item.lane, item.sourceKey, JSON.stringify(item.payload ?? null), new Date(), mapKeyJson(item)],
          );
          return rows.length;
        }
      }
      // The batch form; with `notify`, one NOTIFY per lane it inserted into goes out in the same statement.
      const wake = opts.notify
        ? `, (SELECT count(*)::int FROM (SELECT pg_notify('${QUEUE_CHANNEL}', d.lane) FROM (SELECT DISTINCT lane FROM ins) d) x) AS woke`
        : "";
      const [row] = await db.query<{ n: number }>(
        `WITH ins AS (
           INSERT INTO relay_queue (lane, source_key, payload, next_attempt_at, map_key)
           SELECT u.lane, u.source_key, u.payload::jsonb, $4, u.map_key::jsonb
             FROM unnest($1::text[], $2::text[], $3::text[], $5::text[]) WITH ORDINALITY AS u(lane, source_key, payload, map_key, ord)
            ORDER BY u.ord
           ON CONFLICT (source_key) DO NOTHING
           RETURNING lane)
         SELECT (SELECT count(*)::int FROM ins) AS n${wake}`,
        [
          items.map((i) => i.lane),
          items.map((i) => i.sourceKey),
          items.map((i) => JSON.stringify(i.payload ?? null)),
          new Date(),
          items.map(mapKeyJson),
        ],
      );
      return row!.n;
    },
    async enqueueAndClaim(items, claimLanes) {
      // Stryker disable next-line ConditionalExpression,ArrayDeclaration: a short cut; the insert of no items hands out none.
      if (items.length === 0) return [];
      // An idle lane's first item is inserted already handed out (tries = 1): the worker that would
      // otherwise claim it in a round trip of its own gets it from here. Only where the lane had no
      // pending item, so a head waiting for a retry keeps its place.
      // The handed-out item's duplicate check rides on the insert: the message map as it was before this
      // statement, which is as its handler would read it (the lane is the caller's, nothing else applies to it).
      const rows = await db.query<QueueItem & { mapped: boolean | null }>(
        ENQUEUE_AND_CLAIM,
        [
          items.map((i) => i.lane),
          items.map((i) => i.sourceKey),
          items.map((i) => JSON.stringify(i.payload ?? null)),
          new Date(),
          claimLanes,
          items.map(mapKeyJson),
        ],
      );
      return rows.map(toHandedOut);
    },
    ...(db.listen ? {
      listen: (onLanes: (lanes: string[]) => void, onGap: () => void) => db.listen!(QUEUE_CHANNEL, (lane) => onLanes(lane ? [lane] : []), onGap),
    } : {}),
    async readyLanes(limit, now = new Date()) {
      // Takes each busy lane's head and keeps the due ones: the cost grows with the number of busy
      // lanes, not with the backlog (scanning pending items for heads took 40 ms at 2,000 pending on PGlite).
      const rows = await db.query<{ lane: string }>(
        `WITH RECURSIVE ${PENDING_LANES}
         SELECT h.lane FROM ${HEADS}
          WHERE l.lane IS NOT NULL AND h.next_attempt_at <= $1
          ORDER BY h.id LIMIT $2`,
        [now, limit],
      );
      return rows.map((r) => r.lane);
    },
    async nextDueAt(now = new Date()) {
      const [row] = await db.query<{ due: Date | string | null }>(
        `WITH RECURSIVE ${PENDING_LANES}
         SELECT min(h.next_attempt_at) AS due FROM ${HEADS}
          WHERE l.lane IS NOT NULL AND h.next_attempt_at > $1`,
        [now],
      );
      // Stryker disable next-line OptionalChaining: an aggregate without GROUP BY always returns its one row.
      return row?.due == null ? null : new Date(row.due);
    },
    async head(lane) {
      const [row] = await db.query<QueueItem>(`SELECT ${COLS} FROM relay_queue WHERE lane = $1 AND status = 'pending' ORDER BY id LIMIT 1`, [lane]);
      return row ? toItem(row) : null;
    },
    async claim(lane, now = new Date()) {
      // One statement: hand out the lane's head if it is due, counting the hand-out first,
      // so a worker can tell that an earlier try may have reached the network (crash).
      const [row] = await db.query<QueueItem & { mapped: boolean | null }>(CLAIM, [lane, now]);
      return row ? toHandedOut(row) : null;
    },
    async done(id, messages = []) {
      // Stryker disable next-line ConditionalExpression,BlockStatement: a short cut; the statement with the map inserts no rows for none.
      if (messages.length === 0) {
        await db.query(`UPDATE relay_queue SET status = 'done', done_at = now() WHERE id = $1`, [id]);
        return;
      }
      await db.query(`WITH map AS (${insertMessagesSql(2)}) UPDATE relay_queue SET status = 'done', done_at = now() WHERE id = $1`, [
        id,
        ...messageParams(messages),
      ]);
    },
    async doneAndClaim(id, lane, now = new Date(), messages = []) {
      // done(id) and claim(lane) in one statement (a worker's every step), with the map rows the item
      // produced. The CTEs and the claim read the same snapshot, in which item `id` is still pending:
      // the claim skips it by id.
      // Stryker disable next-line ConditionalExpression,EqualityOperator: a short cut; the statement with the map inserts no rows for none.
      const [row] = messages.length > 0
        ? await db.query<QueueItem & { mapped: boolean | null }>(DONE_AND_CLAIM_WITH_ROWS, [lane, now, id, ...messageParams(messages)])
        : await db.query<QueueItem & { mapped: boolean | null }>(DONE_AND_CLAIM, [lane, now, id]);
      return row ? toHandedOut(row) : null;
    },
    async retry(id, error, nextAttemptAt) {
      await db.query(`UPDATE relay_queue SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1`, [
        id,
        error,
        nextAttemptAt,
      ]);
    },
    async defer(id, nextAttemptAt) {
      await db.query(`UPDATE relay_queue SET tries = greatest(tries - 1, 0), next_attempt_at = $2 WHERE id = $1`, [id, nextAttemptAt]);
    },
    async dead(id, error) {
      await db.query(`UPDATE relay_queue SET status = 'dead', attempts = attempts + 1, last_error = $2, done_at = now() WHERE id = $1`, [
        id,
        error,
      ]);
    },
    async depth() {
      const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM relay_queue WHERE status = 'pending'`);
      return row!.n;
    },
    async pendingIn(lanes) {
      // Stryker disable next-line ConditionalExpression: a short cut; the query finds nothing for no lanes too.
      if (lanes.length === 0) return [];
      const rows = await db.query<{ lane: string; n: number; oldest: Date | string }>(
        `SELECT lane, count(*)::int AS n, min(created_at) AS oldest FROM relay_queue
          WHERE lane = ANY($1::text[]) AND status = 'pending' GROUP BY lane ORDER BY lane`,
        [lanes],
      );
      return rows.map((r) => ({ lane: r.lane, pending: Number(r.n), oldestAt: new Date(r.oldest) }));
    },
    async wake(lanes) {
      // Stryker disable next-line ConditionalExpression: a short cut; the update touches nothing for no lanes too.
      if (lanes.length === 0) return;
      await db.query(`UPDATE relay_queue SET next_attempt_at = $2 WHERE lane = ANY($1::text[]) AND status = 'pending' AND next_attempt_at > $2`, [lanes, new Date()]);
    },
    async deadItems(limit) {
      return (await db.query<QueueItem>(`SELECT ${COLS} FROM relay_queue WHERE status = 'dead' ORDER BY id DESC LIMIT $1`, [limit])).map(toItem);
    },
    /** Deletes done items finished before the cutoff; dead items are kept for the operator. */
    async prune(olderThan) {
      const [row] = await db.query<{ n: number }>(
        `WITH d AS (DELETE FROM relay_queue WHERE status = 'done' AND done_at < $1 RETURNING 1) SELECT count(*)::int AS n FROM d`,
        [olderThan],
      );
      return row!.n;
    },
  };
}
