/** Ghosts (remote user → Matrix puppet, with the profile last set) and the small kv table. */
import type { Db, GhostRow, Store } from "./api.js";

const COLS = `mxid, network, user_ref AS "userRef", display_name AS "displayName",
  avatar_source AS "avatarSource", avatar_mxc AS "avatarMxc", updated_at AS "updatedAt"`;

export function ghostsRepo(db: Db): Store["ghosts"] {
  return {
    async get(mxid) {
      const [row] = await db.query<GhostRow>(`SELECT ${COLS} FROM ghosts WHERE mxid = $1`, [mxid]);
      return row ?? null;
    },
    /** Insert or update by mxid. */
    async put(row) {
      await db.query(
        `INSERT INTO ghosts (mxid, network, user_ref, display_name, avatar_source, avatar_mxc) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (mxid) DO UPDATE SET network = EXCLUDED.network, user_ref = EXCLUDED.user_ref,
           display_name = EXCLUDED.display_name, avatar_source = EXCLUDED.avatar_source,
           avatar_mxc = EXCLUDED.avatar_mxc, updated_at = now()`,
        [row.mxid, row.network, row.userRef, row.displayName, row.avatarSource, row.avatarMxc],
      );
    },
  };
}

export function kvRepo(db: Db): Store["kv"] {
  return {
    async list(prefix) {
      // LIKE with the prefix's own % and _ escaped: a key prefix is matched literally.
      const pattern = prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + "%";
      return db.query<{ key: string; value: string }>(`SELECT key, value FROM kv WHERE key LIKE $1 AND value <> '' ORDER BY key`, [pattern]);
    },
    async get(key) {
      const [row] = await db.query<{ value: string }>(`SELECT value FROM kv WHERE key = $1`, [key]);
      return row ? row.value : null;
    },
    async set(key, value) {
      await db.query(
        `INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [key, value],
      );
    },
  };
}
