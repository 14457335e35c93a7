/**
 * Login secrets at rest: AES-256-GCM over the secrets JSON, key derived from
 * `bridge.encryption_key` (env TANDEM_ENCRYPTION_KEY) with scrypt and a fixed app salt.
 *
 * Stored forms of `logins.secrets_enc`:
 *   "v1:<iv b64>:<tag b64>:<ciphertext b64>"  encrypted (random 12-byte IV per write)
 *   "plain:<json>"                             no key configured (embedded database only, see secretsPolicyError)
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt, scryptSync } from "node:crypto";
import type { StoreOptions } from "./api.js";
import { StoreError } from "./db.js";

const SALT = "tandem/login-secrets/v1";
const keyCache = new Map<string, Buffer>();

const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function deriveKey(material: string): Buffer {
  let key = keyCache.get(material);
  if (!key) {
    key = scryptSync(material, SALT, 32, SCRYPT);
    keyCache.set(material, key);
  }
  return key;
}

/**
 * The daemon refuses to keep secrets unencrypted in an external Postgres: returns the error
 * line when database.uri is set and the encryption key is empty, else null.
 */
export function secretsPolicyError(opts: Pick<StoreOptions, "uri" | "encryptionKey">): string | null {
  if (opts.uri && !opts.encryptionKey) {
    return "bridge.encryption_key (env TANDEM_ENCRYPTION_KEY) is empty: it is required with an external database.uri, so login tokens are not stored in clear text";
  }
  return null;
}

export class SecretBox {
  private readonly key: Buffer | null;
  constructor(encryptionKey: string) {
    this.key = encryptionKey ? deriveKey(encryptionKey) : null;
  }

  /**
   * The same box, its key derived on libuv's thread pool: scrypt costs ~100 ms of CPU, which
   * openStore overlaps with opening the database instead of blocking the start's main thread.
   */
  static async derive(encryptionKey: string): Promise<SecretBox> {
    if (encryptionKey && !keyCache.has(encryptionKey)) {
      const key = await new Promise<Buffer>((resolve, reject) =>
        scrypt(encryptionKey, SALT, 32, SCRYPT, (err, k) => (err ? reject(err) : resolve(k))));
      keyCache.set(encryptionKey, key);
    }
    return new SecretBox(encryptionKey);
  }

  get encrypted(): boolean {
    return this.key !== null;
  }

  seal(secrets: Record<string, string>): string {
    const json = JSON.stringify(secrets);
    if (!this.key) return `plain:${json}`;
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const ct = Buffer.concat([cipher.update(json, "utf8"), cipher.final()]);
    return `v1:${iv.toString("base64")}:${cipher.getAuthTag().toString("base64")}:${ct.toString("base64")}`;
  }

  /** `what` names the owner for errors, e.g. `login slack:T0001`. */
  open(stored: string, what: string): Record<string, string> {
    if (stored.startsWith("plain:")) return parse(stored.slice(6), what);
    const parts = stored.split(":");
    if (parts[0] !== "v1" || parts.length !== 4) {
      throw new StoreError("store.secrets", `the stored secrets of ${what} are in an unknown format`);
    }
    if (!this.key) {
      throw new StoreError(
        "store.secrets",
        `the secrets of ${what} are encrypted but no encryption key is configured: set bridge.encryption_key (env TANDEM_ENCRYPTION_KEY) to the key they were stored with`,
      );
    }
    const [, iv, tag, ct] = parts as [string, string, string, string];
    let json: string;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64"));
      decipher.setAuthTag(Buffer.from(tag, "base64"));
      json = Buffer.concat([decipher.update(Buffer.from(ct, "base64")), decipher.final()]).toString("utf8");
    } catch (err) {
      throw new StoreError(
        "store.secrets",
        `cannot decrypt the secrets of ${what}: the encryption key changed (bridge.encryption_key / TANDEM_ENCRYPTION_KEY is not the one they were stored with); restore it or log in again`,
        { cause: err },
      );
    }
    return parse(json, what);
  }
}

function parse(json: string, what: string): Record<string, string> {
  try {
    return JSON.parse(json) as Record<string, string>;
  } catch (err) {
    throw new StoreError("store.secrets", `the stored secrets of ${what} are corrupt`, { cause: err });
  }
}
