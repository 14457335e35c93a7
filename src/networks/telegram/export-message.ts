/**
 * Telegram Desktop's machine-readable export ("Export chat history", JSON) → the Bot API shapes
 * the live connector reads, so the live mapping (inbound.ts) turns them into events with the same
 * keys and refs. Pure.
 *
 * Ids: the export writes a supergroup's or channel's id without the Bot API's "-100" prefix
 * (Bot API -1001234567890 is export 1234567890) and a basic group's without its minus sign; a
 * "from_id" is "user<id>", "channel<bare id>" or "chat<bare id>". Both are mapped back here.
 * Text: `text_entities` is a flat list of {type, text} runs in order; concatenated they are the
 * message text, and each styled run is one Bot API entity at its UTF-16 offset.
 * Media: `photo` or `file` is a path relative to the export folder, or a "(File not included…)"
 * note when the export left it out.
 */
import type { Chat, Message, MessageEntity } from "grammy/types";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const nat = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined);

/** Prefix of FileRef ids that name a file inside the export folder. */
export const EXPORT_FILE_PREFIX = "export:";

export type ExportChatKind = "group" | "supergroup" | "channel";

/** The export's chat `type` → the Bot API chat type; null for chats a bot cannot have a portal of. */
export function exportChatType(type: string): ExportChatKind | null {
  switch (type) {
    case "private_group": return "group";
    case "private_supergroup": case "public_supergroup": return "supergroup";
    case "private_channel": case "public_channel": return "channel";
    default: return null; // personal_chat, bot_chat, saved_messages, …: a bot sees its own, other message ids
  }
}

/** The Bot API chat id of an exported chat: "-100" before a supergroup's or channel's id, "-" before a basic group's. */
export function exportChatId(id: number, kind: ExportChatKind): number {
  if (id < 0) return id; // already a Bot API id
  return kind === "group" ? -id : Number(`-100${id}`);
}

/** "user123" → 123, "channel456" → -100456, "chat789" → -789; undefined for anything else. */
export function exportPeerId(fromId: unknown): number | undefined {
  const m = typeof fromId === "string" ? /^(user|channel|chat)(\d+)$/.exec(fromId) : null;
  if (!m) return undefined;
  const n = Number(m[2]);
  return m[1] === "user" ? n : m[1] === "channel" ? Number(`-100${n}`) : -n;
}

const ENTITY_TYPES: Record<string, MessageEntity["type"]> = {
  bold: "bold", italic: "italic", underline: "underline", strikethrough: "strikethrough", spoiler: "spoiler",
  code: "code", pre: "pre", text_link: "text_link", mention: "mention", mention_name: "text_mention", link: "url",
  email: "email", phone: "phone_number", hashtag: "hashtag", cashtag: "cashtag", bot_command: "bot_command",
  blockquote: "blockquote", expandable_blockquote: "expandable_blockquote", custom_emoji: "custom_emoji",
};

/** `text_entities` (or `text` when it is the array form) → the text and its Bot API entities. */
export function exportText(m: Obj): { text: string; entities: MessageEntity[] } {
  const runs = Array.isArray(m.text_entities) ? m.text_entities : Array.isArray(m.text) ? m.text : [typeof m.text === "string" ? m.text : ""];
  let text = "";
  const entities: MessageEntity[] = [];
  for (const run of runs) {
    const part = typeof run === "string" ? run : isObj(run) && typeof run.text === "string" ? run.text : "";
    const type = isObj(run) && typeof run.type === "string" ? ENTITY_TYPES[run.type] : undefined;
    if (type && part.length > 0) {
      const e = { type, offset: text.length, length: part.length } as Record<string, unknown>;
      if (type === "pre" && str((run as Obj).language)) e.language = (run as Obj).language;
      if (type === "text_link") e.url = str((run as Obj).href) ?? part;
      if (type === "text_mention") e.user = { id: Number((run as Obj).user_id) || 0, is_bot: false, first_name: part };
      if (type === "custom_emoji") e.custom_emoji_id = String((run as Obj).document_id ?? "");
      entities.push(e as unknown as MessageEntity);
    }
    text += part;
  }
  return { text, entities };
}

/** Whether a `photo`/`file` value is a path (the export writes a parenthesised note when it left the file out). */
export function isExportedPath(v: unknown): v is string {
  return typeof v === "string" && v !== "" && !v.startsWith("(");
}

/** The exported file's media, in the Bot API field the live mapping reads; null when there is none. */
function media(m: Obj): Partial<Message> | null {
  const size = nat(m.file_size) ?? nat(m.photo_file_size);
  if (isExportedPath(m.photo)) {
    return { photo: [{ file_id: EXPORT_FILE_PREFIX + m.photo, file_unique_id: m.photo, width: nat(m.width) ?? 0, height: nat(m.height) ?? 0, file_size: size }] };
  }
  if (!isExportedPath(m.file)) return null;
  const f = {
    file_id: EXPORT_FILE_PREFIX + m.file, file_unique_id: m.file, file_name: str(m.file_name) ?? m.file.split("/").pop(),
    mime_type: str(m.mime_type), file_size: size, width: nat(m.width) ?? 0, height: nat(m.height) ?? 0, duration: nat(m.duration_seconds) ?? 0,
  };
  switch (m.media_type) {
    case "sticker": return { sticker: { ...f, type: "regular", emoji: str(m.sticker_emoji), is_animated: f.mime_type === "application/x-tgsticker", is_video: f.mime_type === "video/webm" } };
    case "animation": return { animation: f };
    case "video_file": return { video: f };
    case "video_message": return { video_note: { ...f, length: f.width } };
    case "voice_message": return { voice: f };
    case "audio_file": return { audio: { ...f, performer: str(m.performer), title: str(m.title) } };
    default: return { document: f };
  }
}

/** What an exported file that the export left out was ("photo", "voice_message", a file name). */
export function missingMedia(m: Obj): string | undefined {
  if (typeof m.photo === "string" && !isExportedPath(m.photo)) return "photo";
  if (typeof m.file === "string" && !isExportedPath(m.file)) return str(m.file_name) ?? str(m.media_type) ?? "file";
  return undefined;
}

/** Content that is text in the Bot API (location, poll, contact) from the export's fields. */
function other(m: Obj): Partial<Message> {
  if (isObj(m.location_information)) {
    const l = m.location_information;
    if (typeof l.latitude === "number" && typeof l.longitude === "number") return { location: { latitude: l.latitude, longitude: l.longitude } };
  }
  if (isObj(m.poll) && typeof m.poll.question === "string" && Array.isArray(m.poll.answers)) {
    const options = m.poll.answers.filter(isObj).map((a) => ({ text: String(a.text ?? ""), voter_count: nat(a.voters) ?? 0 }));
    return { poll: { id: "", question: m.poll.question, options, total_voter_count: 0, is_closed: true, is_anonymous: true, type: "regular", allows_multiple_answers: false } as unknown as Message["poll"] };
  }
  if (isObj(m.contact_information)) {
    const c = m.contact_information;
    return { contact: { first_name: String(c.first_name ?? ""), last_name: str(c.last_name), phone_number: String(c.phone_number ?? "") } };
  }
  return {};
}

/** The sender as the Bot API names it: a user in `from`, a channel or group in `sender_chat`. */
function sender(peer: number | undefined, name: string | undefined): Partial<Message> {
  if (peer === undefined) return {};
  if (peer > 0) return { from: { id: peer, is_bot: false, first_name: name ?? "" } };
  const chat = (String(peer).startsWith("-100") ? { id: peer, type: "channel", title: name ?? "" } : { id: peer, type: "group", title: name ?? "" }) as Chat;
  return { sender_chat: chat } as Partial<Message>;
}

/** When the message was sent, seconds since epoch (date_unixtime; older exports only have the local `date`). */
export function exportDate(m: Obj): number | undefined {
  const unix = Number(m.date_unixtime);
  if (Number.isSafeInteger(unix) && unix > 0) return unix;
  const parsed = typeof m.date === "string" ? Date.parse(m.date) : Number.NaN;
  return Number.isFinite(parsed) ? Math.floor(parsed / 1000) : undefined;
}

/**
 * One exported message → a Bot API Message, or null when it has nothing the live mapping shows
 * (service actions other than joins, leaves, title changes and topics). `chat` is the Bot API chat.
 */
export function exportToMessage(m: Obj, chat: Chat, date: number): Message | null {
  const base = { message_id: m.id as number, date, chat } as Message;
  if (m.type === "service") {
    const actor = exportPeerId(m.actor_id);
    const user = actor !== undefined && actor > 0 ? { id: actor, is_bot: false, first_name: str(m.actor) ?? "" } : undefined;
    switch (m.action) {
      case "join_group_by_link": case "join_group_by_request":
        return user ? { ...base, from: user, new_chat_members: [user] } as Message : null;
      case "invite_members": {
        // Only the inviter's id is exported: members are names. A person adding themselves is a join.
        const names = Array.isArray(m.members) ? m.members : [];
        return user && names.length === 1 && names[0] === m.actor ? { ...base, from: user, new_chat_members: [user] } as Message : null;
      }
      case "remove_members": {
        const names = Array.isArray(m.members) ? m.members : [];
        return user && names.length === 1 && names[0] === m.actor ? { ...base, from: user, left_chat_member: user } as Message : null;
      }
      case "edit_group_title":
        return typeof m.title === "string" ? { ...base, ...(user ? { from: user } : {}), new_chat_title: m.title } as Message : null;
      case "topic_created":
        return { ...base, ...(user ? { from: user } : {}), forum_topic_created: { name: String(m.title ?? ""), icon_color: 0 } } as Message;
      default:
        return null;
    }
  }
  const { text, entities } = exportText(m);
  const file = media(m);
  const out = { ...base, ...sender(exportPeerId(m.from_id), str(m.from)), ...(file ?? other(m)) } as Message & Record<string, unknown>;
  if (file) {
    if (text) { out.caption = text; if (entities.length) out.caption_entities = entities; }
  } else if (text || !out.location && !out.poll && !out.contact) {
    out.text = text;
    if (entities.length) out.entities = entities;
  }
  if (typeof m.reply_to_message_id === "number") out.reply_to_message = { message_id: m.reply_to_message_id, date: 0, chat } as unknown as Message["reply_to_message"];
  const forwarded = str(m.forwarded_from);
  if (forwarded) out.forward_origin = { type: "hidden_user", sender_user_name: forwarded, date };
  const author = str(m.author);
  if (author && chat.type === "channel") out.author_signature = author;
  return out;
}
