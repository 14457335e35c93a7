/** Person mappings (remote user → their own Matrix account) and the append-only trail of changes. */
import type { Db, MappingLogRow, MappingMethod, MappingRow, Store } from "./api.js";

const COLS = `network, user_ref AS "userRef", mxid, method, by_mxid AS "byMxid", created_at AS "createdAt"`;

export function mappingsRepo(db: Db): NonNullable<Store["mappings"]> {
  const log = (t: Db, row: { network: string; userRef: string; mxid: string; method: MappingMethod }, action: "map" | "unmap", by: string) =>
    t.query(`INSERT INTO person_mapping_log (network, user_ref, mxid, action, method, by_mxid) VALUES ($1, $2, $3, $4, $5, $6)`,
      [row.network, row.userRef, row.mxid, action, row.method, by]);
  return {
    async list() {
      return db.query<MappingRow>(`SELECT ${COLS} FROM person_mappings ORDER BY network, user_ref`);
    },
    /** Insert or replace the mapping of (network, userRef), logging it, in one transaction. */
    async put(row) {
      await db.tx(async (t) => {
        await t.query(
          `INSERT INTO person_mappings (network, user_ref, mxid, method, by_mxid) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (network, user_ref) DO UPDATE SET mxid = EXCLUDED.mxid, method = EXCLUDED.method,
             by_mxid = EXCLUDED.by_mxid, created_at = now()`,
          [row.network, row.userRef, row.mxid, row.method, row.byMxid]);
        await log(t, row, "map", row.byMxid);
      });
    },
    async remove(network, userRef, by) {
      return db.tx(async (t) => {
        const [gone] = await t.query<MappingRow>(`DELETE FROM person_mappings WHERE network = $1 AND user_ref = $2 RETURNING ${COLS}`, [network, userRef]);
        if (gone) await log(t, gone, "unmap", by);
        return gone ?? null;
      });
    },
    async history(limit) {
      return db.query<MappingLogRow>(
        `SELECT network, user_ref AS "userRef", mxid, action, method, by_mxid AS "byMxid", at
         FROM person_mapping_log ORDER BY id DESC LIMIT $1`, [limit]);
    },
  };
}
