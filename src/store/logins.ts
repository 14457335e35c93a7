/** Login rows; secrets encrypted at rest (see secrets.ts). */
import type { Db, LoginRow, Store } from "./api.js";
import type { SecretBox } from "./secrets.js";

const COLS = `id, network, owner_mxid AS "ownerMxid", remote_id AS "remoteId", name,
  secrets_enc AS "secretsEnc", created_at AS "createdAt"`;

type Raw = Omit<LoginRow, "secrets"> & { secretsEnc: string };

export function loginsRepo(db: Db, box: SecretBox): Store["logins"] {
  const decode = ({ secretsEnc, ...row }: Raw): LoginRow => ({ ...row, secrets: box.open(secretsEnc, `login ${row.id}`) });
  return {
    async put(row) {
      await db.query(
        `INSERT INTO logins (id, network, owner_mxid, remote_id, name, secrets_enc)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET network = EXCLUDED.network, owner_mxid = EXCLUDED.owner_mxid,
           remote_id = EXCLUDED.remote_id, name = EXCLUDED.name, secrets_enc = EXCLUDED.secrets_enc, updated_at = now()`,
        [row.id, row.network, row.ownerMxid, row.remoteId, row.name, box.seal(row.secrets)],
      );
    },
    async get(id) {
      const [row] = await db.query<Raw>(`SELECT ${COLS} FROM logins WHERE id = $1`, [id]);
      return row ? decode(row) : null;
    },
    async list() {
      return (await db.query<Raw>(`SELECT ${COLS} FROM logins ORDER BY created_at, id`)).map(decode);
    },
    async listByOwner(ownerMxid) {
      return (await db.query<Raw>(`SELECT ${COLS} FROM logins WHERE owner_mxid = $1 ORDER BY created_at, id`, [ownerMxid])).map(decode);
    },
    async delete(id) {
      return (await db.query(`DELETE FROM logins WHERE id = $1 RETURNING 1`, [id])).length > 0;
    },
  };
}
