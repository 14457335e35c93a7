/**
 * Avatar images uploaded to Matrix once per content, not once per ghost or per room: many
 * people share a picture (a workspace's default avatar), and a remote avatar URL may change
 * while the bytes do not. The mxc is kept in the store by the bytes' SHA-256, so a restart
 * does not upload the same image again.
 */
import { createHash } from "node:crypto";
import type { Store } from "../store/api.js";
import type { MatrixPort } from "./matrix-port.js";

const KEY_PREFIX = "avatar-mxc:sha256:";

export class AvatarUploads {
  /** Uploads in flight by content hash: a second ghost with the same picture waits for the first upload. */
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly store: Store, private readonly matrix: MatrixPort) {}

  /** The mxc of these bytes: the one uploaded before, or a new upload. */
  mxcFor(data: Buffer, mime: string): Promise<string> {
    const hash = createHash("sha256").update(data).digest("hex");
    const running = this.inFlight.get(hash);
    if (running) return running;
    const task = this.lookUpOrUpload(hash, data, mime).finally(() => this.inFlight.delete(hash));
    this.inFlight.set(hash, task);
    return task;
  }

  private async lookUpOrUpload(hash: string, data: Buffer, mime: string): Promise<string> {
    const key = KEY_PREFIX + hash;
    const known = await this.store.kv.get(key);
    if (known) return known;
    const mxc = await this.matrix.uploadMedia(data, mime, "avatar");
    await this.store.kv.set(key, mxc);
    return mxc;
  }
}
