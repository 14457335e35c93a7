/**
 * The workspace's custom emoji (`emoji.list`, scope `emoji:read`) and its icon (`team.info`,
 * scope `team:read`), for the workspace's space. Both scopes are optional: without one the
 * space has no emoji pack or no icon, and nothing else changes.
 */
import type { RemoteError } from "../../core/errors.js";
import type { SlackApi } from "./api.js";

/** How many `alias:` hops are followed (Slack allows one; more is a loop or a broken list). */
const MAX_ALIAS_HOPS = 3;

/**
 * `emoji.list`'s map (name → image URL, or `alias:other`) as name → image, aliases resolved to
 * their target's image. An alias of a standard emoji (`alias:thumbsup`) has no image of its own
 * and is left out: it already reads as that emoji. Originals come before aliases. Pure.
 */
export function resolveEmojiList(list: Record<string, unknown>): Array<{ name: string; image: string }> {
  const originals: Array<{ name: string; image: string }> = [];
  const aliases: Array<{ name: string; image: string }> = [];
  for (const name of Object.keys(list).sort()) {
    let value = list[name];
    const alias = typeof value === "string" && value.startsWith("alias:");
    for (let hop = 0; typeof value === "string" && value.startsWith("alias:") && hop < MAX_ALIAS_HOPS; hop++) value = list[value.slice("alias:".length)];
    if (typeof value === "string" && /^https?:\/\//.test(value)) (alias ? aliases : originals).push({ name, image: value });
  }
  return [...originals, ...aliases]; // originals first: an image's name on the way back is its own, not an alias

}

const isMissingScope = (err: unknown) => (err as RemoteError | undefined)?.code === "missing_scope";

export async function listCustomEmoji(api: SlackApi): Promise<Array<{ name: string; image: string }>> {
  try {
    const r = await api.read<{ emoji?: Record<string, unknown> }>("emoji.list");
    return resolveEmojiList(r.emoji ?? {});
  } catch (err) {
    if (isMissingScope(err)) return []; // emoji:read not granted: no pack
    throw err;
  }
}

/** The workspace icon's largest size, or undefined when the workspace has the default icon (or team:read is missing). */
export async function workspaceIcon(api: SlackApi): Promise<string | undefined> {
  try {
    const r = await api.read<{ team?: { icon?: Record<string, unknown> } }>("team.info");
    const icon = r.team?.icon ?? {};
    if (icon.image_default === true) return undefined;
    const best = ["image_230", "image_132", "image_102", "image_88", "image_68"].map((k) => icon[k]).find((v) => typeof v === "string" && v !== "");
    return best as string | undefined;
  } catch (err) {
    if (isMissingScope(err)) return undefined;
    throw err;
  }
}
