/**
 * Telegram Update → RemoteEvent[]. Pure: no I/O, no clock, no state; tested on documented
 * update shapes. Every event's key is derived from the update's content (chat, message id,
 * dates), never from update_id, so a replayed update, or the same message seen by two bots,
 * yields the same keys and the core drops the copy.
 *
 * Forum topics: a message in a topic (is_topic_message, message_thread_id) belongs to the Matrix
 * thread rooted at the topic's first message, the forum_topic_created service message, which we
 * bridge as a notice ("Topic: name") so the thread has a root. Replies to that root are just
 * "in the topic", not replies.
 */
import type { Chat, ChatMember, Message, MessageEntity, MessageReactionUpdated, ReactionType, Update, User } from "grammy/types";
import { normalizeDoc, plainDoc, type Block, type Doc } from "../../formatting/ast.js";
import { entitiesToDoc } from "../../formatting/telegram.js";
import type { ChatKind, CoreMessage, RemoteEvent } from "../../core/types.js";
import { chatRef, chatRefOf, displayName, messageRef, roomName, userRef } from "./ids.js";
import { updateProblem } from "./guard.js";
import { filesOf, textContentOf } from "./media.js";
import { toMatrixEmoji } from "./reactions.js";

export interface InboundContext {
  /** Our bot's user id: its own joins/leaves are not ghost memberships. */
  botId: number;
}

/** Converts one update; never throws (a malformed update gives []). */
export function updateToEvents(update: Update, ctx: InboundContext): RemoteEvent[] {
  try {
    return convertUpdate(update, ctx);
  } catch {
    return [];
  }
}

/** Converts one update; throws on a malformed one, naming the field (the connection logs why). */
export function convertUpdate(update: Update, ctx: InboundContext): RemoteEvent[] {
  const bad = updateProblem(update);
  if (bad) throw new TypeError(`malformed update: ${bad} is missing or of the wrong type`);
  if (update.message) return messageEvents(update.message, ctx);
  if (update.channel_post) return messageEvents(update.channel_post, ctx);
  if (update.edited_message) return editEvents(update.edited_message, ctx);
  if (update.edited_channel_post) return editEvents(update.edited_channel_post, ctx);
  if (update.message_reaction) return reactionEvents(update.message_reaction, ctx);
  if (update.chat_member) return memberEvents(update.chat_member.chat, update.chat_member.new_chat_member, update.chat_member.old_chat_member, update.chat_member.date, ctx);
  return []; // my_chat_member (the connection tracks chats itself), message_reaction_count, others
}

export function chatKindOf(chat: Pick<Chat, "type">): ChatKind {
  return chat.type === "private" ? "dm" : chat.type === "channel" ? "channel" : "group";
}

/** The chat's display title: its title, or the person's name in a private chat. */
export function chatTitle(chat: Chat): string {
  if (chat.type === "private") return displayName(chat);
  return chat.title || ("username" in chat && chat.username ? `@${chat.username}` : String(chat.id));
}

/** Who a message is from: the user, or the chat it was posted as (channel posts, anonymous admins). */
export function senderOf(msg: Message): string {
  if (msg.sender_chat) return userRef(msg.sender_chat.id);
  if (msg.from) return userRef(msg.from.id);
  return userRef(msg.chat.id);
}

/** Users and chats an update shows, with their names (the connection caches them for userInfo). */
export function peopleIn(update: Update): Array<User | Chat> {
  const out: Array<User | Chat> = [];
  if (updateProblem(update)) return out; // nothing trustworthy to remember
  const msg = update.message ?? update.channel_post ?? update.edited_message ?? update.edited_channel_post;
  if (msg) {
    if (msg.from) out.push(msg.from);
    if (msg.sender_chat) out.push(msg.sender_chat);
    if (msg.chat.type === "channel") out.push(msg.chat);
    out.push(...(msg.new_chat_members ?? []));
    if (msg.left_chat_member) out.push(msg.left_chat_member);
  }
  if (update.message_reaction?.user) out.push(update.message_reaction.user);
  if (update.chat_member) out.push(update.chat_member.new_chat_member.user);
  return out;
}

/** A short stable hash (FNV-1a, 32 bit) to tell apart two edits stamped in the same second. */
export function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

function docOf(text: string | undefined, entities: MessageEntity[] | undefined): Doc {
  return text ? entitiesToDoc(text, entities ?? []) : [];
}

function forwardLine(msg: Message): Block | null {
  const o = msg.forward_origin;
  if (!o) return null;
  let from: string;
  switch (o.type) {
    case "user": from = displayName(o.sender_user); break;
    case "hidden_user": from = o.sender_user_name; break;
    case "chat": from = chatTitle(o.sender_chat); break;
    case "channel": from = chatTitle(o.chat); break;
    default: from = "someone";
  }
  return { type: "paragraph", children: [{ type: "italic", children: [{ type: "text", text: `Forwarded from ${from}` }] }] };
}

function withPrefix(prefix: Block | null, doc: Doc): Doc {
  return prefix ? [prefix, ...doc] : doc;
}

function messageEvents(msg: Message, ctx: InboundContext): RemoteEvent[] {
  const chat = chatRefOf(msg.chat, ctx.botId);
  const at = msg.date * 1000;
  const base = { chat, at };
  if (msg.migrate_to_chat_id !== undefined) {
    return [{ ...base, kind: "chat-moved", key: `moved:${chat}:${msg.migrate_to_chat_id}`, to: chatRef(msg.migrate_to_chat_id) }];
  }
  if (msg.migrate_from_chat_id !== undefined) return []; // the new supergroup's first message: the move is already known
  if (msg.new_chat_members) {
    return msg.new_chat_members.filter((u) => u.id !== ctx.botId).map((u) => membership(chat, u.id, true, msg.date));
  }
  if (msg.left_chat_member) {
    return msg.left_chat_member.id === ctx.botId ? [] : [membership(chat, msg.left_chat_member.id, false, msg.date)];
  }
  if (msg.new_chat_title !== undefined) {
    return [{ ...base, kind: "chat-info", key: `title:${chat}:${msg.message_id}`, info: { name: msg.new_chat_title, roomName: roomName(msg.new_chat_title, chatKindOf(msg.chat)) } }];
  }
  if (msg.new_chat_photo && msg.new_chat_photo.length > 0) {
    const big = [...msg.new_chat_photo].sort((a, b) => (b.width * b.height) - (a.width * a.height))[0]!;
    return [{ ...base, kind: "chat-info", key: `photo:${chat}:${msg.message_id}`, info: { avatar: big.file_id } }];
  }
  const ref = messageRef(chat, msg.message_id);
  const sender = senderOf(msg);
  const threadRoot = threadRootOf(msg);
  if (msg.forum_topic_created) {
    const doc: Doc = plainDoc(`Topic: ${msg.forum_topic_created.name}`);
    return [{ ...base, kind: "message", key: `msg:${ref}`, ref, sender, msg: { doc, notice: true } }];
  }
  const core: CoreMessage = { doc: [] };
  const files = filesOf(msg, msg.caption !== undefined ? docOf(msg.caption, msg.caption_entities) : undefined);
  if (files.length > 0) core.files = files;
  else if (msg.text !== undefined) core.doc = docOf(msg.text, msg.entities);
  else {
    const other = textContentOf(msg);
    if (!other) return []; // service messages we do not mirror (pins, boosts, …) and unknown content
    core.doc = other;
  }
  core.doc = withPrefix(forwardLine(msg), core.doc);
  if (msg.author_signature && msg.chat.type === "channel") {
    core.doc = [...core.doc, { type: "paragraph", children: [{ type: "italic", children: [{ type: "text", text: `— ${msg.author_signature}` }] }] }];
  }
  const reply = msg.reply_to_message;
  if (reply && !(threadRoot && reply.message_id === msg.message_thread_id) && !reply.forum_topic_created) {
    core.replyTo = messageRef(chat, reply.message_id);
  }
  if (threadRoot) core.threadRoot = threadRoot;
  core.doc = normalizeDoc(core.doc); // names and poll texts may carry line breaks
  return [{ ...base, kind: "message", key: `msg:${ref}`, ref, sender, msg: core }];
}

/** The thread a forum-topic message belongs to (the General topic has none). */
function threadRootOf(msg: Message): string | undefined {
  const forum = msg.chat.type === "supergroup" && msg.chat.is_forum === true;
  if (!forum || !msg.is_topic_message || msg.message_thread_id === undefined) return undefined;
  if (msg.forum_topic_created || msg.message_thread_id === msg.message_id) return undefined; // the root itself
  return messageRef(msg.chat.id, msg.message_thread_id);
}

function editEvents(msg: Message, ctx: InboundContext): RemoteEvent[] {
  const edited = msg.edit_date ?? msg.date;
  const text = msg.text ?? msg.caption;
  if (text === undefined) return []; // media replaced without text: nothing we can show as an edit
  const doc = msg.text !== undefined ? docOf(msg.text, msg.entities) : docOf(msg.caption, msg.caption_entities);
  const chat = chatRefOf(msg.chat, ctx.botId);
  const ref = messageRef(chat, msg.message_id);
  return [{
    kind: "edit", key: `edit:${ref}:${edited}:${shortHash(text)}`, chat, at: edited * 1000,
    target: ref, sender: senderOf(msg), msg: { doc },
  }];
}

const emojiOf = (r: ReactionType): string | null => (r.type === "emoji" ? r.emoji : null);

function reactionEvents(r: MessageReactionUpdated, ctx: InboundContext): RemoteEvent[] {
  const who = r.user?.id ?? r.actor_chat?.id;
  if (who === undefined) return [];
  const before = new Set(r.old_reaction.map(emojiOf).filter((e): e is string => e !== null));
  const after = new Set(r.new_reaction.map(emojiOf).filter((e): e is string => e !== null));
  const chat = chatRefOf(r.chat, ctx.botId);
  const target = messageRef(chat, r.message_id);
  const out: RemoteEvent[] = [];
  const push = (emoji: string, on: boolean) => out.push({
    kind: "reaction", key: `react:${target}:${who}:${r.date}:${on ? "+" : "-"}${emoji}`, chat, at: r.date * 1000,
    target, sender: userRef(who), emoji: toMatrixEmoji(emoji), on,
  });
  for (const e of before) if (!after.has(e)) push(e, false);
  for (const e of after) if (!before.has(e)) push(e, true);
  return out;
}

const ACTIVE = new Set(["creator", "administrator", "member"]);
const isIn = (m: ChatMember): boolean => ACTIVE.has(m.status) || (m.status === "restricted" && m.is_member);

/** A chat_member update (admin bots get them): the same keys as the join/leave service message. */
function memberEvents(chat: Chat, now: ChatMember, before: ChatMember, date: number, ctx: InboundContext): RemoteEvent[] {
  // Channel subscribers are an audience, not members: no ghost per subscriber.
  if (now.user.id === ctx.botId || chat.type === "channel") return [];
  const was = isIn(before);
  const is = isIn(now);
  if (was === is) return [];
  return [membership(chatRefOf(chat, ctx.botId), now.user.id, is, date)];
}

function membership(chat: string, user: number, joined: boolean, date: number): RemoteEvent {
  return { kind: "membership", key: `member:${chat}:${user}:${joined ? "join" : "leave"}:${date}`, chat, at: date * 1000, user: userRef(user), joined };
}
