/**
 * Matrix avatars at a signed, unguessable public URL. Slack fetches a message's `icon_url`
 * from the internet, and Matrix media now needs authentication, so the bridge serves the
 * avatar itself: `<public_url>/_tandem/avatar/<hmac>/<server>/<media id>`. The HMAC (keyed
 * from the as_token) makes the URL unforgeable, so the route cannot be used to read
 * arbitrary media from the homeserver.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Application, Request, Response } from "express";
import type { MatrixPort } from "../core/matrix-port.js";
import type { Logger } from "../core/log.js";
import { errorFields } from "../core/log.js";
import { AvatarCache } from "./avatar-cache.js";

const PATH = "/_tandem/avatar";
/** Avatars are small images; a larger file behind an avatar URL is not served (nor held in the cache). */
const MAX_AVATAR_BYTES = 5 * 1024 * 1024;
const MXC = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/;

export class AvatarProxy {
  private readonly key: Buffer;
  /** Served avatars, bounded in bytes (bridge.avatar_cache_bytes). */
  readonly cache: AvatarCache;

  constructor(secret: string, private readonly publicUrl: string, private readonly matrix: MatrixPort, private readonly log: Logger, cacheBytes: number) {
    this.cache = new AvatarCache(cacheBytes);
    this.key = createHmac("sha256", "tandem-avatar-url").update(secret).digest();
  }

  private sign(server: string, id: string): string {
    return createHmac("sha256", this.key).update(`${server}/${id}`).digest("base64url").slice(0, 32);
  }

  /** The public URL for an mxc avatar, or undefined when no public_url is configured. */
  urlFor(mxc: string): string | undefined {
    const m = MXC.exec(mxc);
    if (!this.publicUrl || !m) return undefined;
    return `${this.publicUrl}${PATH}/${this.sign(m[1]!, m[2]!)}/${encodeURIComponent(m[1]!)}/${m[2]}`;
  }

  mount(app: Application): void {
    app.get(`${PATH}/:sig/:server/:id`, (req: Request, res: Response) => void this.serve(req, res));
  }

  private async serve(req: Request, res: Response): Promise<void> {
    const { sig, server, id } = req.params as { sig: string; server: string; id: string };
    const expected = Buffer.from(this.sign(server, id));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.status(404).send("not found");
      return;
    }
    const mxc = `mxc://${server}/${id}`;
    try {
      let hit = this.cache.get(mxc);
      if (!hit || Date.now() - hit.at > 3600_000) {
        const dl = await this.matrix.downloadMedia(mxc, MAX_AVATAR_BYTES);
        if (!/^image\//.test(dl.mime)) { res.status(404).send("not an image"); return; }
        hit = { data: dl.data, mime: dl.mime, at: Date.now() };
        this.cache.set(mxc, hit);
      }
      // An image/svg+xml avatar opened directly must not run scripts on the bridge's public origin.
      res.set({
        "content-type": hit.mime, "cache-control": "public, max-age=86400", "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      }).send(hit.data);
    } catch (err) {
      this.log.warn("avatar not served", { ...errorFields(err) });
      res.status(502).send("unavailable");
    }
  }
}
