/**
 * Telegram refs, made and parsed only here. The core stores and compares them as opaque strings.
 *
 * - ChatRef: the chat id as a decimal string ("-1001234567890"). A private chat's id is the user's
 *   id for every bot, and its message ids are counted per bot, so private chats are scoped by the
 *   bot: "42@7001" (user 42 with bot 7001). Two logged-in bots thus never share a DM portal.
 * - MessageRef: "<ChatRef>:<messageId>" (one Telegram message; every part of a split message has its own).
 * - UserRef: the user id as a decimal string. A channel posting in its own name (channel_post,
 *   sender_chat) is a "user" with the channel's negative id.
 * - Ghosts: @telegram_<userid> (negative ids keep their "-", which localparts allow).
 * - Portal aliases: #telegram_<username or id>, lowercase.
 */
import type { ChatDescription, LoginRecord } from "../../core/connector.js";
import type { ChatRef, MessageRef, UserRef } from "../../core/types.js";

export const GHOST_PREFIX = "telegram_";

/** The ref of a group, supergroup or channel. */
export function chatRef(id: number | string): ChatRef {
  return String(id);
}

/** The ref of any chat as this bot sees it (private chats scoped by the bot). */
export function chatRefOf(chat: { id: number; type?: string }, botId: number): ChatRef {
  return chat.type === "private" ? `${chat.id}@${botId}` : String(chat.id);
}

/** The numeric chat id of a ref, or NaN for something that is not one. */
export function chatIdOf(ref: ChatRef): number {
  const m = /^(-?\d+)(?:@\d+)?$/.exec(ref);
  return m ? Number(m[1]) : Number.NaN;
}

export function messageRef(chat: ChatRef | number, messageId: number): MessageRef {
  return `${chat}:${messageId}`;
}

export function parseMessageRef(ref: MessageRef): { chat: ChatRef; chatId: number; messageId: number } | null {
  const m = /^((-?\d+)(?:@\d+)?):(\d+)$/.exec(ref);
  return m ? { chat: m[1] as string, chatId: Number(m[2]), messageId: Number(m[3]) } : null;
}

export function userRef(id: number): UserRef {
  return String(id);
}

export function userIdOf(ref: UserRef): number | null {
  return /^-?\d+$/.test(ref) ? Number(ref) : null;
}

export function ghostLocalpart(user: UserRef): string {
  return GHOST_PREFIX + user.toLowerCase();
}

export function userFromGhostLocalpart(localpart: string): UserRef | null {
  const m = /^telegram_(-?\d+)$/.exec(localpart);
  return m ? (m[1] as string) : null;
}

/**
 * Alias localpart for a chat: its public @username when it has one, else its id. Only characters
 * Matrix allows in a localpart survive (Telegram usernames are [A-Za-z0-9_] anyway).
 */
export function aliasLocalpart(chatId: number | string, username?: string): string {
  const base = username ? username.toLowerCase() : String(chatId);
  return GHOST_PREFIX + base.replace(/[^a-z0-9._=\-]/g, "_");
}

/** "Fleet Ops (Telegram)" for groups and channels; a private chat is named after the person. */
export function roomName(title: string, kind: "dm" | "group" | "channel"): string {
  return kind === "dm" ? title : `${title} (Telegram)`;
}

/** First + last name; the @username, then the id, when the name is empty. */
export function displayName(u: { first_name?: string; last_name?: string; username?: string; id?: number }): string {
  const name = [u.first_name, u.last_name].filter((s) => s && s.trim() !== "").join(" ").trim();
  if (name) return name;
  if (u.username) return `@${u.username}`;
  return u.id !== undefined ? String(u.id) : "Telegram user";
}

/**
 * A link to a message, for "too large" notices: public chats by username, private supergroups
 * and channels by their internal id (members only). Basic groups and private chats have none.
 */
export function messageLink(chatId: number, messageId: number, username?: string): string | undefined {
  if (username) return `https://t.me/${username}/${messageId}`;
  const s = String(chatId);
  if (s.startsWith("-100")) return `https://t.me/c/${s.slice(4)}/${messageId}`;
  return undefined;
}

/** "20 MB", "1.5 MB", "12 KB": sizes in user-facing messages. */
export function formatSize(bytes: number): string {
  if (bytes >= 1048576) {
    const mb = bytes / 1048576;
    return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
  }
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/**
 * A chat for m.bridge: the bot it is bridged through is the network (a private chat's ref names
 * its bot, so that one is known even after a logout). Chat ids are not links; only the bot's
 * public username is.
 */
export function describeChat(chat: ChatRef, name: string, login?: LoginRecord): ChatDescription {
  const m = /^(-?\d+)(?:@(\d+))?$/.exec(chat);
  const chatId = m?.[1] ?? chat;
  const botId = login?.remoteId ?? m?.[2];
  const username = login?.name.startsWith("@") ? login.name.slice(1) : undefined;
  return {
    // A private chat is one per bot: "<bot>/<user>" keeps two bots' chats with one person apart.
    key: m?.[2] ? `${m[2]}/${chatId}` : encodeURIComponent(chatId),
    network: botId ? { id: botId, displayname: login?.name ?? botId, ...(username ? { external_url: `https://t.me/${username}` } : {}) } : undefined,
    channel: { id: chatId, displayname: name || chatId },
  };
}
