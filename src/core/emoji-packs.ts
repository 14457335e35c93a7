/**
 * A login's custom emoji (Slack workspace emoji) as an MSC2545 image pack in its space, and the
 * look-ups the relay needs: `:partyparrot:` in a message gets the pack's image (an inline emote),
 * a reaction with it uses the image's mxc URI as key (as Element, Cinny and mautrix bridges do
 * for image-pack reactions) with the shortcode beside it, and a Matrix reaction whose key is one
 * of the pack's images goes back to the network as `:name:`.
 *
 * Each image is uploaded once per content (kv `media:sha256:<hex>` → mxc), so a workspace's
 * hundreds of aliases and a restart upload nothing twice. The pack is kept in kv (`emoji:<login>`
 * → {name: {mxc, src}}) and written to the space as both `m.room.image_pack` (Matrix 1.19) and
 * `im.ponies.room_emotes` (what current clients read), same content, state key "tandem".
 */
import { createHash } from "node:crypto";
import { mapInlines, type Doc } from "../formatting/ast.js";
import type { Connection, LoginRecord } from "./connector.js";
import type { CoreDeps } from "./context.js";
import { errorFields } from "./log.js";

export const PACK_STATE_TYPES = ["m.room.image_pack", "im.ponies.room_emotes"] as const;
export const PACK_STATE_KEY = "tandem";
/** MSC4027: the shortcode of an image reaction, for clients that show text. */
export const REACTION_SHORTCODE = "com.beeper.reaction.shortcode";

type Pack = Map<string, { mxc: string; src: string }>;

/** The images of a doc's custom emoji, from `lookup` (pure). */
export function fillEmoticons(doc: Doc, lookup: (name: string) => string | undefined): Doc {
  if (!doc.some((b) => JSON.stringify(b).includes('"emoticon"'))) return doc;
  return mapInlines(doc, (n) => (n.type === "emoticon" && !n.mxc && lookup(n.name) ? { ...n, mxc: lookup(n.name)! } : undefined));
}

/** The m.reaction content for a remote reaction: a custom emoji of the pack by its image, anything else as it is (pure). */
export function reactionContent(targetEventId: string, emoji: string, lookup: (name: string) => string | undefined): Record<string, unknown> {
  const name = /^:([^:\s]+):$/.exec(emoji)?.[1];
  const mxc = name ? lookup(name) : undefined;
  return {
    "m.relates_to": { rel_type: "m.annotation", event_id: targetEventId, key: mxc ?? emoji },
    ...(mxc ? { [REACTION_SHORTCODE]: emoji } : {}),
  };
}

/** The pack state content (MSC2545 / Matrix 1.19 image packs). Pure. */
export function packContent(displayName: string, images: ReadonlyMap<string, { mxc: string }>): Record<string, unknown> {
  const out: Record<string, { url: string; body: string }> = {};
  for (const [name, { mxc }] of [...images].sort(([a], [b]) => a.localeCompare(b))) out[name] = { url: mxc, body: `:${name}:` };
  return { pack: { display_name: displayName, usage: ["emoticon"] }, images: out };
}

export class EmojiPacks {
  private readonly packs = new Map<string, Pack>();
  private readonly names = new Map<string, Map<string, string>>(); // login → mxc → name

  constructor(private readonly deps: CoreDeps) {}

  async load(): Promise<void> {
    for (const { key, value } of await this.deps.store.kv.list("emoji:")) {
      try {
        this.remember(key.slice("emoji:".length), new Map(Object.entries(JSON.parse(value) as Record<string, { mxc: string; src: string }>)));
      } catch (err) {
        this.deps.log.warn("stored emoji pack unreadable; it is fetched again at the next sync", { key, ...errorFields(err) });
      }
    }
  }

  /** name → mxc for one login's emoji. */
  lookup(loginId: string): (name: string) => string | undefined {
    return (name) => this.packs.get(loginId)?.get(name)?.mxc;
  }

  fill(loginId: string, doc: Doc): Doc {
    return this.packs.has(loginId) ? fillEmoticons(doc, this.lookup(loginId)) : doc;
  }

  /** The shortcode (":name:") of one of the login's pack images, for a Matrix reaction keyed by its mxc URI. */
  shortcodeOf(loginId: string, key: string): string | undefined {
    const name = key.startsWith("mxc://") ? this.names.get(loginId)?.get(key) : undefined;
    return name ? `:${name}:` : undefined;
  }

  /**
   * Fetch the login's custom emoji, upload the new ones (once per content) and write the pack to
   * its space. Returns how many images the pack has. An image that fails is left out (logged).
   */
  async sync(login: LoginRecord, conn: Connection, spaceId: string | undefined): Promise<number> {
    if (!conn.customEmoji) return 0;
    const { store, matrix, log } = this.deps;
    const listed = await conn.customEmoji();
    const old = this.packs.get(login.id) ?? new Map();
    const pack: Pack = new Map();
    for (const { name, image } of listed) {
      const known = old.get(name);
      if (known && known.src === image) { pack.set(name, known); continue; }
      try {
        const img = await conn.downloadAvatar(image);
        const hashKey = `media:sha256:${createHash("sha256").update(img.data).digest("hex")}`;
        let mxc = await store.kv.get(hashKey);
        if (!mxc) {
          mxc = await matrix.uploadMedia(img.data, img.mime, name);
          await store.kv.set(hashKey, mxc);
        }
        pack.set(name, { mxc, src: image });
      } catch (err) {
        log.warn("custom emoji not bridged", { login: login.id, emoji: name, ...errorFields(err) });
      }
    }
    await store.kv.set(`emoji:${login.id}`, JSON.stringify(Object.fromEntries(pack)));
    this.remember(login.id, pack);
    if (spaceId) {
      const content = packContent(`${login.name} emoji`, pack);
      for (const type of PACK_STATE_TYPES) await matrix.setState(spaceId, matrix.botMxid, type, PACK_STATE_KEY, content);
    }
    return pack.size;
  }

  private remember(loginId: string, pack: Pack): void {
    this.packs.set(loginId, pack);
    // The first name of an image wins (the network lists originals before aliases).
    const names = new Map<string, string>();
    for (const [name, { mxc }] of pack) if (!names.has(mxc)) names.set(mxc, name);
    this.names.set(loginId, names);
  }
}
