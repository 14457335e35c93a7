/** Portals (bridged Matrix rooms), their cutover history, and links (room <-> remote chat, many per room). */
import type { CutoverChangeRow, Db, PortalLinkRow, PortalRow, Store } from "./api.js";
import { StoreError } from "./db.js";

const PORTAL_COLS = `room_id AS "roomId", kind, owner_mxid AS "ownerMxid", phase, created_at AS "createdAt"`;
const LINK_COLS = `room_id AS "roomId", network, chat, login_id AS "loginId", name, alias, created_at AS "createdAt", detached_at AS "detachedAt"`;
const CHANGE_COLS = `room_id AS "roomId", from_phase AS "fromPhase", to_phase AS "toPhase", by_mxid AS "byMxid", at`;

export function portalsRepo(db: Db): Store["portals"] {
  return {
    /** Idempotent: an existing row for the room is kept as it is. */
    async create(row) {
      await db.query(
        `INSERT INTO portals (room_id, kind, owner_mxid, phase) VALUES ($1, $2, $3, $4)
         ON CONFLICT (room_id) DO NOTHING`,
        [row.roomId, row.kind, row.ownerMxid, row.phase ?? "parallel"],
      );
    },
    async get(roomId) {
      const [row] = await db.query<PortalRow>(`SELECT ${PORTAL_COLS} FROM portals WHERE room_id = $1`, [roomId]);
      return row ?? null;
    },
    async list() {
      return db.query<PortalRow>(`SELECT ${PORTAL_COLS} FROM portals ORDER BY created_at, room_id`);
    },
    /** One statement: reads the old phase, updates it and records the change. Throws store.not-found. */
    async setPhase(roomId, phase, byMxid) {
      const rows = await db.query(
        `WITH old AS (SELECT phase FROM portals WHERE room_id = $1 FOR UPDATE),
              upd AS (UPDATE portals SET phase = $2 WHERE room_id = $1 RETURNING room_id)
         INSERT INTO cutover_changes (room_id, from_phase, to_phase, by_mxid)
         SELECT $1, old.phase, $2, $3 FROM old, upd RETURNING 1`,
        [roomId, phase, byMxid],
      );
      if (rows.length === 0) throw new StoreError("store.not-found", `no portal for room ${roomId}`);
    },
    async history(roomId) {
      return db.query<CutoverChangeRow>(`SELECT ${CHANGE_COLS} FROM cutover_changes WHERE room_id = $1 ORDER BY id`, [roomId]);
    },
    async record(roomId, from, to, byMxid) {
      await db.query(`INSERT INTO cutover_changes (room_id, from_phase, to_phase, by_mxid) VALUES ($1, $2, $3, $4)`, [roomId, from, to, byMxid]);
    },
    async moveRoom(fromRoomId, toRoomId) {
      await db.tx(async (t) => {
        const moved = await t.query(
          `INSERT INTO portals (room_id, kind, owner_mxid, phase, created_at)
           SELECT $2, kind, owner_mxid, phase, created_at FROM portals WHERE room_id = $1
           ON CONFLICT (room_id) DO NOTHING RETURNING 1`, [fromRoomId, toRoomId]);
        if (moved.length === 0 && (await t.query(`SELECT 1 FROM portals WHERE room_id = $1`, [fromRoomId])).length === 0) return;
        await t.query(`UPDATE portal_links SET room_id = $2 WHERE room_id = $1`, [fromRoomId, toRoomId]);
        await t.query(`DELETE FROM portals WHERE room_id = $1`, [fromRoomId]);
      });
    },
    /** Deletes the portal and its links (ON DELETE CASCADE); the cutover history is kept. */
    async delete(roomId) {
      await db.query(`DELETE FROM portals WHERE room_id = $1`, [roomId]);
    },
  };
}

export function linksRepo(db: Db): Store["links"] {
  return {
    /**
     * Adding the same (network, chat) to the same room again updates loginId/name/alias.
     * Linked to another room: throws StoreError "store.conflict". The portal row must exist.
     */
    async add(row) {
      const done = await db.query(
        `INSERT INTO portal_links (room_id, network, chat, login_id, name, alias) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (network, chat) DO UPDATE SET login_id = EXCLUDED.login_id, name = EXCLUDED.name, alias = EXCLUDED.alias, detached_at = NULL
         WHERE portal_links.room_id = EXCLUDED.room_id
         RETURNING 1`,
        [row.roomId, row.network, row.chat, row.loginId, row.name, row.alias],
      );
      if (done.length === 0) {
        const [other] = await db.query<{ roomId: string }>(`SELECT room_id AS "roomId" FROM portal_links WHERE network = $1 AND chat = $2`, [
          row.network,
          row.chat,
        ]);
        throw new StoreError("store.conflict", `${row.network} chat ${row.chat} is already linked to room ${other?.roomId ?? "(another room)"}`, {
          sqlState: "23505",
          constraint: "portal_links_chat",
        });
      }
    },
    async byChat(network, chat) {
      const [row] = await db.query<PortalLinkRow>(`SELECT ${LINK_COLS} FROM portal_links WHERE network = $1 AND chat = $2`, [network, chat]);
      return row ?? null;
    },
    async byRoom(roomId) {
      return db.query<PortalLinkRow>(`SELECT ${LINK_COLS} FROM portal_links WHERE room_id = $1 ORDER BY created_at, network, chat`, [roomId]);
    },
    async byLogin(loginId) {
      return db.query<PortalLinkRow>(`SELECT ${LINK_COLS} FROM portal_links WHERE login_id = $1 ORDER BY created_at, network, chat`, [loginId]);
    },
    async list() {
      return db.query<PortalLinkRow>(`SELECT ${LINK_COLS} FROM portal_links ORDER BY created_at, network, chat`);
    },
    async remove(roomId, network) {
      const rows = await db.query(
        `DELETE FROM portal_links WHERE room_id = $1 AND ($2::text IS NULL OR network = $2) RETURNING 1`,
        [roomId, network ?? null],
      );
      return rows.length;
    },
    async setDetached(loginId, at) {
      return db.query<PortalLinkRow>(
        `UPDATE portal_links SET detached_at = $2 WHERE login_id = $1 AND (detached_at IS NULL) = ($2::timestamptz IS NOT NULL) RETURNING ${LINK_COLS}`,
        [loginId, at],
      );
    },
    /** Telegram group → supergroup: the link keeps its room. Throws store.conflict if `toChat` is linked already. */
    async moveChat(network, fromChat, toChat) {
      await db.query(`UPDATE portal_links SET chat = $3 WHERE network = $1 AND chat = $2`, [network, fromChat, toChat]);
    },
    async rename(network, chat, name) {
      await db.query(`UPDATE portal_links SET name = $3 WHERE network = $1 AND chat = $2`, [network, chat, name]);
    },
  };
}
