/**
 * Slack Events API payloads → RemoteEvent[]. Pure: no I/O, no clock, never throws. Every
 * field is checked, because the input is untrusted JSON and Slack adds shapes over time;
 * anything unknown or malformed becomes [] (nothing to bridge).
 *
 * The bridge's own posts come back over Socket Mode (before chat.postMessage even returns):
 * anything carrying our bot user, bot id or app id is dropped here, first.
 */
import { normalizeDoc, plainDoc, type Doc } from "../../formatting/ast.js";
import { hasRichText, mrkdwnToDoc, slackEmojiToUnicode, slackMessageToDoc, type SlackParseOptions } from "../../formatting/slack.js";
import type { FileKind, FileRef, RemoteEvent, UserInfo } from "../../core/types.js";
import { chatRef, fileRefId, messageRef, roomName, tsToMs, userRef } from "./ids.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
/** A size, dimension or duration: finite and not negative, else unknown. */
const count = (v: unknown): number | undefined => (num(v) !== undefined && (v as number) >= 0 ? (v as number) + 0 : undefined); // + 0: no -0
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Who "we" are in this workspace, and name lookups the caller resolved beforehand. */
export interface InboundContext {
  /** The login's team id: every ref is made with it. */
  team: string;
  botUserId?: string;
  botId?: string;
  /** Our app id (the envelope's api_app_id). */
  appId?: string;
  /** The envelope's event_id: part of dedup keys for events that carry no event_ts. */
  eventId?: string;
  /** The envelope's event_time, ms: the time of events that carry no event_ts. */
  eventTimeMs?: number;
  /** Display names for `<@U…>` mentions (the caller looks them up; default: the id). */
  userName?(userId: string): string | undefined;
  /** Channel names for `<#C…>` mentions. */
  chatName?(channelId: string): string | undefined;
}

/** Message subtypes that are someone saying something (others are system messages). */
const CONTENT_SUBTYPES = new Set([undefined, "bot_message", "me_message", "file_share", "thread_broadcast"]);

/** An events_api envelope's payload (type event_callback) → events. */
export function envelopeToEvents(payload: unknown, ctx: InboundContext): RemoteEvent[] {
  if (!isObj(payload) || payload.type !== "event_callback") return [];
  return eventToRemote(payload.event, { ...ctx, appId: ctx.appId ?? str(payload.api_app_id), eventId: ctx.eventId ?? str(payload.event_id),
    eventTimeMs: ctx.eventTimeMs ?? (count(payload.event_time) !== undefined ? count(payload.event_time)! * 1000 : undefined),
  });
}

/** One inner Events API event → events. */
export function eventToRemote(event: unknown, ctx: InboundContext): RemoteEvent[] {
  if (!isObj(event)) return [];
  try {
    switch (event.type) {
      case "message": return messageEvent(event, ctx);
      case "reaction_added": return reaction(event, ctx, true);
      case "reaction_removed": return reaction(event, ctx, false);
      case "channel_rename": case "group_rename": return rename(event, ctx);
      case "channel_archive": case "group_archive": return archived(event, ctx, true);
      case "channel_unarchive": case "group_unarchive": return archived(event, ctx, false);
      case "member_joined_channel": return membership(event, ctx, true);
      case "member_left_channel": return membership(event, ctx, false);
      case "user_change": return userChange(event, ctx);
      default: return [];
    }
  } catch {
    return []; // a shape we did not foresee: never let one event break the connection
  }
}

/** Whether a message (or bot) is the bridge's own app talking. */
export function isOwnMessage(m: Obj, ctx: InboundContext): boolean {
  return (!!ctx.botUserId && m.user === ctx.botUserId)
    || (!!ctx.botId && m.bot_id === ctx.botId)
    || (!!ctx.appId && m.app_id === ctx.appId);
}

/** Our own file upload, echoed: where it landed (so `send` can return its ts). */
export function ownFileShare(payload: unknown, ctx: InboundContext): { channel: string; ts: string; fileIds: string[] } | null {
  if (!isObj(payload) || !isObj(payload.event)) return null;
  const ev = payload.event;
  const appCtx = { ...ctx, appId: ctx.appId ?? str(payload.api_app_id) };
  if (ev.type !== "message" || ev.subtype === "message_changed" || !isOwnMessage(ev, appCtx)) return null;
  const channel = str(ev.channel);
  const ts = str(ev.ts);
  const fileIds = arr(ev.files).map((f) => (isObj(f) ? str(f.id) : undefined)).filter((x): x is string => !!x);
  return channel && ts && fileIds.length > 0 ? { channel, ts, fileIds } : null;
}

/** User and channel ids mentioned in a payload, so the caller can look up their names first. */
export function mentionedIds(payload: unknown): { users: string[]; channels: string[] } {
  const users = new Set<string>();
  const channels = new Set<string>();
  const visit = (v: unknown, depth: number): void => {
    if (depth > 12) return;
    if (Array.isArray(v)) { for (const x of v) visit(x, depth + 1); return; }
    if (!isObj(v)) return;
    if (v.type === "user" && str(v.user_id)) users.add(v.user_id as string);
    if (v.type === "channel" && str(v.channel_id)) channels.add(v.channel_id as string);
    if (typeof v.text === "string") {
      for (const m of v.text.matchAll(/<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g)) users.add(m[1]!);
      for (const m of v.text.matchAll(/<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>/g)) channels.add(m[1]!);
    }
    for (const [k, x] of Object.entries(v)) if (k === "blocks" || k === "elements" || k === "message" || k === "event") visit(x, depth + 1);
  };
  visit(payload, 0);
  return { users: [...users], channels: [...channels] };
}

/** users.info / user_change `user` object → UserInfo: display_name, else real_name, else name. */
export function userInfoFromSlack(u: unknown): UserInfo | null {
  if (!isObj(u)) return null;
  const profile = isObj(u.profile) ? u.profile : {};
  const name = str(profile.display_name) ?? str(profile.real_name) ?? str(u.real_name) ?? str(u.name) ?? str(u.id);
  if (!name) return null;
  const avatar = str(profile.image_512) ?? str(profile.image_192) ?? str(profile.image_72);
  return { name, avatar, isBot: u.is_bot === true };
}

/** What tells two otherwise equal events apart: event_ts, else the envelope's event_id. */
function eventStamp(ev: Obj, ctx: InboundContext): string {
  return str(ev.event_ts) ?? ctx.eventId ?? "0";
}

function atOf(ev: Obj, ctx: InboundContext): number {
  return tsToMs(str(ev.event_ts)) || ctx.eventTimeMs || 0;
}

// ---- messages ---------------------------------------------------------------------------

function parseOpts(ctx: InboundContext): SlackParseOptions {
  return {
    userRef: (id) => userRef(ctx.team, id),
    chatRef: (id) => chatRef(ctx.team, id),
    userName: ctx.userName,
    chatName: ctx.chatName,
  };
}

function messageEvent(ev: Obj, ctx: InboundContext): RemoteEvent[] {
  const channel = str(ev.channel);
  if (!channel) return [];
  const subtype = str(ev.subtype);
  const chat = chatRef(ctx.team, channel);
  switch (subtype) {
    case "message_changed": return changed(ev, ctx, channel);
    case "message_deleted": return deleted(ev, ctx, channel);
    case "channel_topic": case "group_topic":
      return topic(ev, ctx, chat, typeof ev.topic === "string" ? ev.topic : undefined);
    case "channel_purpose": case "group_purpose":
      return topic(ev, ctx, chat, typeof ev.purpose === "string" ? ev.purpose : undefined);
    default:
      if (!CONTENT_SUBTYPES.has(subtype)) return [];
      return newMessage(ev, ctx, channel);
  }
}

function newMessage(ev: Obj, ctx: InboundContext, channel: string): RemoteEvent[] {
  if (isOwnMessage(ev, ctx)) return [];
  const ts = str(ev.ts);
  const sender = str(ev.user) ?? str(ev.bot_id);
  if (!ts || !sender) return [];
  const emote = ev.subtype === "me_message";
  const { files, extra } = filesOf(ev.files);
  const doc = normalizeDoc([...docOf(ev, ctx, emote), ...extra]);
  if (doc.length === 0 && files.length === 0) return [];
  const threadTs = str(ev.thread_ts);
  const threadRoot = threadTs && threadTs !== ts ? messageRef(ctx.team, channel, threadTs) : undefined;
  return [{
    kind: "message", key: `msg:${ctx.team}:${channel}:${ts}`, chat: chatRef(ctx.team, channel), at: tsToMs(ts),
    ref: messageRef(ctx.team, channel, ts), sender: userRef(ctx.team, sender),
    msg: { doc, ...(emote ? { emote } : {}), ...(threadRoot ? { threadRoot } : {}), ...(files.length ? { files } : {}) },
  }];
}

/**
 * Slack caps a message at 40,000 characters. A longer text (a misbehaving app, an emulator) is not
 * parsed as mrkdwn: parsing 10 MB held the event loop for 6-8 s before the envelope's ack, and
 * Socket Mode dropped the connection. It arrives as plain text.
 */
const MAX_PARSED_TEXT = 200_000;

/** rich_text blocks when present, else the mrkdwn text, else what bots put in other blocks and attachments. */
function docOf(m: Obj, ctx: InboundContext, emote = false): Doc {
  const opts = parseOpts(ctx);
  const raw = str(m.text) ?? "";
  if (raw.length > MAX_PARSED_TEXT && !hasRichText(m.blocks)) {
    return plainDoc(raw.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"));
  }
  const doc = emote ? mrkdwnToDoc(str(m.text) ?? "", opts) : slackMessageToDoc({ text: str(m.text), blocks: m.blocks }, opts);
  if (doc.length > 0) return doc;
  const parts: string[] = [];
  for (const b of arr(m.blocks)) {
    if (!isObj(b)) continue;
    if (isObj(b.text) && str(b.text.text)) parts.push(b.text.text as string);
    for (const f of arr(b.fields)) if (isObj(f) && str(f.text)) parts.push(f.text as string);
    if (b.type === "context") for (const e of arr(b.elements)) if (isObj(e) && str(e.text)) parts.push(e.text as string);
  }
  for (const a of arr(m.attachments)) {
    if (!isObj(a)) continue;
    const text = [str(a.pretext), str(a.title), str(a.text)].filter(Boolean).join("\n") || str(a.fallback);
    if (text) parts.push(text);
  }
  return parts.length ? mrkdwnToDoc(parts.join("\n\n"), opts) : [];
}

function fileKind(mime: string): FileKind {
  if (mime.startsWith("image/")) return "image";
  if (mime.startsWith("video/")) return "video";
  if (mime.startsWith("audio/")) return "audio";
  return "file";
}

/** Slack `files` → FileRefs; external and hidden files become a line of text instead. */
function filesOf(list: unknown): { files: FileRef[]; extra: Doc } {
  const files: FileRef[] = [];
  const extra: Doc = [];
  for (const f of arr(list)) {
    if (!isObj(f)) continue;
    const id = str(f.id);
    if (!id || f.mode === "tombstone") continue;
    const name = str(f.name) ?? str(f.title) ?? id;
    const link = str(f.permalink);
    if (f.mode === "hidden_by_limit" || f.is_external === true || f.mode === "external") {
      const url = str(f.url_private) ?? link;
      if (url) extra.push({ type: "paragraph", children: [{ type: "link", url, children: [{ type: "text", text: name }] }] });
      continue;
    }
    const mime = str(f.mimetype) ?? "application/octet-stream";
    const ref: FileRef = { id: fileRefId(id, str(f.url_private_download) ?? str(f.url_private)), name, mime, kind: fileKind(mime) };
    const size = count(f.size);
    const width = count(f.original_w);
    const height = count(f.original_h);
    const durationMs = count(f.duration_ms);
    if (size !== undefined) ref.size = size;
    if (width !== undefined) ref.width = width;
    if (height !== undefined) ref.height = height;
    if (durationMs !== undefined) ref.durationMs = durationMs;
    if (link) ref.link = link;
    files.push(ref);
  }
  return { files, extra };
}

function sameContent(a: Obj, b: Obj): boolean {
  return a.text === b.text && JSON.stringify(a.blocks ?? null) === JSON.stringify(b.blocks ?? null)
    && arr(a.files).length === arr(b.files).length;
}

function changed(ev: Obj, ctx: InboundContext, channel: string): RemoteEvent[] {
  const m = ev.message;
  if (!isObj(m)) return [];
  const ts = str(m.ts);
  if (!ts || isOwnMessage(m, ctx)) return [];
  const chat = chatRef(ctx.team, channel);
  const at = tsToMs(str(ev.event_ts) ?? str(ev.ts) ?? ts);
  if (m.subtype === "tombstone") {
    // A thread parent with replies was deleted: Slack keeps a tombstone so the thread survives.
    return [{ kind: "delete", key: `del:${ctx.team}:${channel}:${ts}`, chat, at, target: messageRef(ctx.team, channel, ts) }];
  }
  // Slack also sends message_changed when only unfurls, reply counts or metadata changed.
  if (isObj(ev.previous_message) && sameContent(m, ev.previous_message)) return [];
  const editor = (isObj(m.edited) ? str(m.edited.user) : undefined) ?? str(m.user) ?? str(m.bot_id);
  if (!editor) return [];
  const emote = m.subtype === "me_message";
  const doc = docOf(m, ctx, emote);
  if (doc.length === 0) return [];
  const editTs = (isObj(m.edited) ? str(m.edited.ts) : undefined) ?? str(ev.event_ts) ?? str(ev.ts) ?? "0";
  return [{
    kind: "edit", key: `edit:${ctx.team}:${channel}:${ts}:${editTs}`, chat, at,
    target: messageRef(ctx.team, channel, ts), sender: userRef(ctx.team, editor), msg: { doc, ...(emote ? { emote } : {}) },
  }];
}

function deleted(ev: Obj, ctx: InboundContext, channel: string): RemoteEvent[] {
  const ts = str(ev.deleted_ts);
  if (!ts) return [];
  const prev = isObj(ev.previous_message) ? ev.previous_message : undefined;
  // Our own posts are Matrix messages: a Slack-side delete of the copy does not redact the original.
  if (prev && isOwnMessage(prev, ctx)) return [];
  const sender = prev ? str(prev.user) : undefined;
  return [{
    kind: "delete", key: `del:${ctx.team}:${channel}:${ts}`, chat: chatRef(ctx.team, channel),
    at: tsToMs(str(ev.event_ts) ?? str(ev.ts) ?? ts), target: messageRef(ctx.team, channel, ts),
    ...(sender ? { sender: userRef(ctx.team, sender) } : {}),
  }];
}

function topic(ev: Obj, ctx: InboundContext, chat: string, value: string | undefined): RemoteEvent[] {
  const ts = str(ev.ts);
  if (value === undefined || !ts) return [];
  return [{ kind: "chat-info", key: `topic:${chat}:${ts}`, chat, at: tsToMs(ts), info: { topic: value } }];
}

// ---- reactions, channels, members, users -------------------------------------------------

function reaction(ev: Obj, ctx: InboundContext, on: boolean): RemoteEvent[] {
  const item = isObj(ev.item) ? ev.item : undefined;
  const user = str(ev.user);
  const name = str(ev.reaction);
  const channel = item ? str(item.channel) : undefined;
  const ts = item ? str(item.ts) : undefined;
  if (!item || item.type !== "message" || !user || !name || !channel || !ts) return [];
  if (user === ctx.botUserId) return [];
  const emoji = slackEmojiToUnicode(name) ?? `:${name}:`;
  const eventTs = eventStamp(ev, ctx);
  return [{
    kind: "reaction", key: `react:${ctx.team}:${channel}:${ts}:${user}:${name}:${on ? "add" : "remove"}:${eventTs}`,
    chat: chatRef(ctx.team, channel), at: atOf(ev, ctx), target: messageRef(ctx.team, channel, ts),
    sender: userRef(ctx.team, user), emoji, on,
  }];
}

function rename(ev: Obj, ctx: InboundContext): RemoteEvent[] {
  const ch = isObj(ev.channel) ? ev.channel : undefined;
  const id = ch ? str(ch.id) : undefined;
  const name = ch ? str(ch.name) : undefined;
  if (!id || !name) return [];
  const eventTs = eventStamp(ev, ctx);
  const chat = chatRef(ctx.team, id);
  return [{ kind: "chat-info", key: `rename:${chat}:${eventTs}`, chat, at: atOf(ev, ctx), info: { name, roomName: roomName("channel", name) } }];
}

function archived(ev: Obj, ctx: InboundContext, value: boolean): RemoteEvent[] {
  const id = str(ev.channel);
  if (!id) return [];
  const eventTs = eventStamp(ev, ctx);
  const chat = chatRef(ctx.team, id);
  return [{ kind: "chat-info", key: `${value ? "archive" : "unarchive"}:${chat}:${eventTs}`, chat, at: atOf(ev, ctx), info: { archived: value } }];
}

function membership(ev: Obj, ctx: InboundContext, joined: boolean): RemoteEvent[] {
  const user = str(ev.user);
  const channel = str(ev.channel);
  if (!user || !channel || user === ctx.botUserId) return [];
  const eventTs = eventStamp(ev, ctx);
  return [{
    kind: "membership", key: `${joined ? "join" : "leave"}:${ctx.team}:${channel}:${user}:${eventTs}`,
    chat: chatRef(ctx.team, channel), at: atOf(ev, ctx), user: userRef(ctx.team, user), joined,
  }];
}

/** user_change belongs to no chat; it goes to the workspace's own lane ("<team>:<team>"). */
function userChange(ev: Obj, ctx: InboundContext): RemoteEvent[] {
  const u = isObj(ev.user) ? ev.user : undefined;
  const id = u ? str(u.id) : undefined;
  const info = userInfoFromSlack(u);
  if (!u || !id || !info || id === ctx.botUserId) return [];
  const eventTs = str(ev.event_ts) ?? String(num(ev.cache_ts) ?? num(u.updated) ?? 0);
  return [{
    kind: "user-info", key: `user:${ctx.team}:${id}:${eventTs}`, chat: chatRef(ctx.team, ctx.team), at: atOf(ev, ctx),
    user: userRef(ctx.team, id), info,
  }];
}
