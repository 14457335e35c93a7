// State of the fake Telegram: bots, users, chats, messages, files, and the per-bot update queue
// with getUpdates long polling and webhook delivery. HTTP and the Bot API methods live in
// telegram.ts and telegram-methods.ts.
import { randomBytes } from "node:crypto";
import type {
  BotCommand, Chat, ChatMember, ChatPhoto, Message, PhotoSize, ReactionType, Update, User,
} from "grammy/types";
import { ApiError } from "./telegram-http.js";

export type UpdateType = Exclude<keyof Update, "update_id">;
export type ChatType = "private" | "group" | "supergroup" | "channel";
export type MemberStatus = "creator" | "administrator" | "member" | "restricted" | "left" | "kicked";
export type FileKind = "photo" | "document" | "video" | "audio" | "voice" | "animation" | "sticker" | "video_note" | "profile_photo" | "chat_photo";

/** Reactions a bot (or a non-premium user) may set: ReactionTypeEmoji["emoji"] in the Bot API. */
export const ALLOWED_REACTIONS: ReadonlySet<string> = new Set([
  "👍", "👎", "❤", "🔥", "🥰", "👏", "😁", "🤔", "🤯", "😱", "🤬", "😢", "🎉", "🤩", "🤮", "💩", "🙏", "👌", "🕊",
  "🤡", "🥱", "🥴", "😍", "🐳", "❤‍🔥", "🌚", "🌭", "💯", "🤣", "⚡", "🍌", "🏆", "💔", "🤨", "😐", "🍓", "🍾", "💋",
  "🖕", "😈", "😴", "😭", "🤓", "👻", "👨‍💻", "👀", "🎃", "🙈", "😇", "😨", "🤝", "✍", "🤗", "🫡", "🎅", "🎄", "☃",
  "💅", "🤪", "🗿", "🆒", "💘", "🙉", "🦄", "😘", "💊", "🙊", "😎", "👾", "🤷‍♂", "🤷", "🤷‍♀", "😡",
]);

/** Update types a bot gets with an empty allowed_updates list (the documented default). */
const NOT_BY_DEFAULT: ReadonlySet<string> = new Set(["chat_member", "message_reaction", "message_reaction_count"]);
const ACTIVE: ReadonlySet<MemberStatus> = new Set(["creator", "administrator", "member", "restricted"]);
export const MAX_UPLOAD = 50 * 1024 * 1024;
export const MAX_DOWNLOAD = 20 * 1024 * 1024;

export interface AdminRights {
  can_manage_chat: boolean; can_delete_messages: boolean; can_manage_video_chats: boolean;
  can_restrict_members: boolean; can_promote_members: boolean; can_change_info: boolean;
  can_invite_users: boolean; can_post_stories: boolean; can_edit_stories: boolean;
  can_delete_stories: boolean; can_post_messages?: boolean; can_edit_messages?: boolean;
  can_pin_messages?: boolean; can_manage_topics?: boolean;
}

export const FULL_ADMIN_RIGHTS: AdminRights = {
  can_manage_chat: true, can_delete_messages: true, can_manage_video_chats: true, can_restrict_members: true,
  can_promote_members: false, can_change_info: true, can_invite_users: true, can_post_stories: true,
  can_edit_stories: true, can_delete_stories: true, can_post_messages: true, can_edit_messages: true,
  can_pin_messages: true, can_manage_topics: true,
};

export interface MemberRecord { status: MemberStatus; rights?: AdminRights }

export interface FileRecord {
  file_id: string;
  file_unique_id: string;
  data: Buffer;
  file_path: string;
  kind: FileKind;
  file_name?: string;
  mime_type?: string;
}

export interface StoredMessage {
  message: Message;
  /** The bot that sent it, if a bot did. */
  senderBotId?: number;
  /** Bots that received it as an update (edits go to them). */
  deliveredTo: Set<number>;
  /** Current reactions per actor (user or bot id). */
  reactions: Map<number, ReactionType[]>;
}

export interface ChatRecord {
  id: number;
  type: ChatType;
  title?: string;
  username?: string;
  description?: string;
  isForum: boolean;
  photo?: { small: FileRecord; big: FileRecord };
  members: Map<number, MemberRecord>;
  messages: Map<number, StoredMessage>;
  nextMessageId: number;
  migratedTo?: number;
  pinned: number[];
  lastBotSender?: number;
}

export interface BotHandle {
  readonly id: number;
  /** Current token (changes after revokeToken). */
  token: string;
  readonly username: string;
  readonly user: User;
}

interface PendingPoll {
  limit: number;
  resolve: (updates: Update[]) => void;
  reject: (error: ApiError) => void;
  timer: NodeJS.Timeout;
}

export interface WebhookState {
  url: string;
  secretToken?: string;
  maxConnections: number;
  delivering: boolean;
  failures: number;
  lastErrorDate?: number;
  lastErrorMessage?: string;
}

export interface BotRecord {
  handle: BotHandle;
  canJoinGroups: boolean;
  canReadAllGroupMessages: boolean;
  supportsInlineQueries: boolean;
  revokedTokens: Set<string>;
  queue: Update[];
  nextUpdateId: number;
  allowedUpdates: string[];
  confirmedOffset: number;
  poll?: PendingPoll;
  webhook?: WebhookState;
  commands: BotCommand[];
}

export interface UserRecord { user: User; photos: FileRecord[] }

export interface GetUpdatesCall {
  token: string;
  botId: number;
  offset?: number;
  limit?: number;
  timeout?: number;
  allowed_updates?: string[];
  at: number;
}

// Real file_ids start with a type tag; bridges sometimes sniff it, so keep the shape.
const FILE_ID_PREFIX: Record<FileKind, string> = {
  photo: "AgAC", document: "BQAC", video: "BAAC", audio: "CQAC", voice: "AwAC", animation: "CgAC",
  sticker: "CAAC", video_note: "DQAC", profile_photo: "AgAC", chat_photo: "AQAD",
};

const clone = <T>(v: T): T => structuredClone(v);
const randomId = (bytes: number): string => randomBytes(bytes).toString("base64url");

/** Width/height from a PNG, GIF or JPEG header (0×0 when unknown). */
export function imageSize(data: Buffer): { width: number; height: number } {
  if (data.length >= 24 && data.readUInt32BE(0) === 0x89504e47) return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  if (data.length >= 10 && data.toString("latin1", 0, 3) === "GIF") return { width: data.readUInt16LE(6), height: data.readUInt16LE(8) };
  if (data.length >= 4 && data[0] === 0xff && data[1] === 0xd8) {
    let p = 2;
    while (p + 9 < data.length && data[p] === 0xff) {
      const marker = data[p + 1]!;
      const len = data.readUInt16BE(p + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: data.readUInt16BE(p + 7), height: data.readUInt16BE(p + 5) };
      }
      p += 2 + len;
    }
  }
  return { width: 0, height: 0 };
}

const EXT_MIME: Record<string, string> = {
  jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", webp: "image/webp",
  mp4: "video/mp4", webm: "video/webm", mov: "video/quicktime", mp3: "audio/mpeg", ogg: "audio/ogg",
  oga: "audio/ogg", m4a: "audio/mp4", pdf: "application/pdf", txt: "text/plain", json: "application/json",
  zip: "application/zip", html: "text/html", csv: "text/csv",
};
export const mimeFor = (fileName: string | undefined): string | undefined =>
  fileName ? EXT_MIME[fileName.split(".").pop()!.toLowerCase()] : undefined;

export class TelegramWorld {
  protected readonly bots = new Map<number, BotRecord>();
  protected readonly tokens = new Map<string, BotRecord>();
  protected readonly users = new Map<number, UserRecord>();
  protected readonly chats = new Map<number, ChatRecord>();
  protected readonly files = new Map<string, FileRecord>();
  protected readonly filesByPath = new Map<string, FileRecord>();
  /** Every getUpdates call, in order. */
  readonly getUpdatesCalls: GetUpdatesCall[] = [];
  /** Milliseconds between webhook retries after a failed delivery (doubles, capped at 8×). */
  webhookRetryMs = 200;
  protected stopped = false;
  private fixedNow: number | undefined;
  private fileCounter = 0;
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  /** Set by FakeTelegram: runs a Bot API method as `bot` (used for webhook replies). */
  protected runMethod?: (bot: BotRecord, method: string, params: Record<string, unknown>) => Promise<unknown>;

  // ---- clock -------------------------------------------------------------------------------

  /** Current Unix time in seconds (fixed by setNow, else the wall clock). */
  now(): number {
    return this.fixedNow ?? Math.floor(Date.now() / 1000);
  }

  /** Fixes the clock at `seconds` (Unix time); undefined returns to the wall clock. */
  setNow(seconds: number | undefined): void {
    this.fixedNow = seconds;
  }

  /** Moves the clock forward by `seconds` (fixing it first if it follows the wall clock). */
  advance(seconds: number): void {
    this.fixedNow = this.now() + seconds;
  }

  // ---- lookups -----------------------------------------------------------------------------

  protected botByToken(token: string): BotRecord | undefined {
    return this.tokens.get(token);
  }

  protected botRecord(idOrToken: number | string): BotRecord {
    const bot = typeof idOrToken === "number" ? this.bots.get(idOrToken) : this.tokens.get(idOrToken);
    if (!bot) throw new Error(`FakeTelegram: unknown bot ${String(idOrToken)}`);
    return bot;
  }

  protected userRecord(id: number): UserRecord {
    const u = this.users.get(id);
    if (!u) throw new Error(`FakeTelegram: unknown user ${id} (addUser first)`);
    return u;
  }

  protected chatRecord(id: number): ChatRecord {
    const c = this.chats.get(id);
    if (!c) throw new Error(`FakeTelegram: unknown chat ${id} (addChat first)`);
    return c;
  }

  /** The short Chat object that messages and updates carry. */
  chatRef(chat: ChatRecord): Chat {
    if (chat.type === "private") {
      const u = this.users.get(chat.id)?.user;
      return {
        id: chat.id, type: "private", first_name: u?.first_name ?? chat.title ?? "User",
        ...(u?.last_name ? { last_name: u.last_name } : {}), ...(u?.username ? { username: u.username } : {}),
      };
    }
    if (chat.type === "group") return { id: chat.id, type: "group", title: chat.title ?? "" };
    if (chat.type === "supergroup") {
      return {
        id: chat.id, type: "supergroup", title: chat.title ?? "",
        ...(chat.username ? { username: chat.username } : {}), ...(chat.isForum ? { is_forum: true } : {}),
      };
    }
    return { id: chat.id, type: "channel", title: chat.title ?? "", ...(chat.username ? { username: chat.username } : {}) };
  }

  chatPhoto(chat: ChatRecord): ChatPhoto | undefined {
    if (!chat.photo) return undefined;
    return {
      small_file_id: chat.photo.small.file_id, small_file_unique_id: chat.photo.small.file_unique_id,
      big_file_id: chat.photo.big.file_id, big_file_unique_id: chat.photo.big.file_unique_id,
    };
  }

  isActive(chat: ChatRecord, id: number): boolean {
    const m = chat.members.get(id);
    return m !== undefined && ACTIVE.has(m.status);
  }

  isAdmin(chat: ChatRecord, id: number): boolean {
    const s = chat.members.get(id)?.status;
    return s === "creator" || s === "administrator";
  }

  /** True if the member is the creator or an administrator holding `right`. */
  hasRight(chat: ChatRecord, id: number, right: keyof AdminRights): boolean {
    const m = chat.members.get(id);
    return m?.status === "creator" || (m?.status === "administrator" && m.rights?.[right] === true);
  }

  chatMember(chat: ChatRecord, userId: number): ChatMember {
    const user = clone(this.userRecord(userId).user);
    const m = chat.members.get(userId) ?? { status: "left" as const };
    switch (m.status) {
      case "creator": return { status: "creator", user, is_anonymous: false };
      case "administrator": {
        const rights: Partial<AdminRights> = { ...(m.rights ?? FULL_ADMIN_RIGHTS) };
        if (chat.type !== "channel") { delete rights.can_post_messages; delete rights.can_edit_messages; }
        if (chat.type === "channel") delete rights.can_pin_messages;
        if (chat.type !== "supergroup" || !chat.isForum) delete rights.can_manage_topics;
        return { status: "administrator", user, can_be_edited: false, is_anonymous: false, ...rights } as ChatMember;
      }
      case "member": return { status: "member", user };
      case "restricted": return {
        status: "restricted", user, is_member: true, can_send_messages: false, can_send_audios: false,
        can_send_documents: false, can_send_photos: false, can_send_videos: false, can_send_video_notes: false,
        can_send_voice_notes: false, can_send_polls: false, can_send_other_messages: false,
        can_add_web_page_previews: false, can_react_to_messages: false, can_change_info: false,
        can_invite_users: false, can_edit_tag: false, can_pin_messages: false, can_manage_topics: false, until_date: 0,
      };
      case "left": return { status: "left", user };
      case "kicked": return { status: "kicked", user, until_date: 0 };
    }
  }

  // ---- files -------------------------------------------------------------------------------

  storeFile(data: Buffer, kind: FileKind, meta: { file_name?: string; mime_type?: string } = {}): FileRecord {
    const n = ++this.fileCounter;
    const dir: Record<FileKind, string> = {
      photo: "photos", document: "documents", video: "videos", audio: "music", voice: "voice",
      animation: "animations", sticker: "stickers", video_note: "video_notes", profile_photo: "profile_photos",
      chat_photo: "profile_photos",
    };
    const defaultExt: Record<FileKind, string> = {
      photo: "jpg", document: "dat", video: "mp4", audio: "mp3", voice: "oga", animation: "mp4",
      sticker: "webp", video_note: "mp4", profile_photo: "jpg", chat_photo: "jpg",
    };
    const fromName = meta.file_name && /\.([A-Za-z0-9]{1,8})$/.exec(meta.file_name)?.[1];
    const ext = kind === "photo" || kind === "voice" || kind === "profile_photo" || kind === "chat_photo" ? defaultExt[kind] : fromName || defaultExt[kind];
    const rec: FileRecord = {
      file_id: `${FILE_ID_PREFIX[kind]}${randomId(45)}`,
      file_unique_id: `AQAD${randomId(9)}`,
      data, kind, file_path: `${dir[kind]}/file_${n}.${ext}`,
      ...(meta.file_name ? { file_name: meta.file_name } : {}),
      ...(meta.mime_type ? { mime_type: meta.mime_type } : {}),
    };
    this.files.set(rec.file_id, rec);
    this.filesByPath.set(rec.file_path, rec);
    return rec;
  }

  photoSizes(rec: FileRecord): PhotoSize[] {
    const { width, height } = imageSize(rec.data);
    return [{ file_id: rec.file_id, file_unique_id: rec.file_unique_id, width, height, file_size: rec.data.length }];
  }

  // ---- messages ----------------------------------------------------------------------------

  protected storeMessage(chat: ChatRecord, message: Message, senderBotId?: number): StoredMessage {
    const stored: StoredMessage = { message, deliveredTo: new Set(), reactions: new Map(), ...(senderBotId !== undefined ? { senderBotId } : {}) };
    chat.messages.set(message.message_id, stored);
    if (senderBotId !== undefined) chat.lastBotSender = senderBotId;
    return stored;
  }

  /** A message as reply_to_message: one level deep, never nested further. */
  protected replyCopy(message: Message): Message {
    const { reply_to_message: _nested, ...rest } = clone(message);
    return rest as Message;
  }

  /** Whether a (privacy-mode aware) bot gets a user's message in this chat. */
  protected botSees(bot: BotRecord, chat: ChatRecord, msg: Message, service: boolean): boolean {
    if (!this.isActive(chat, bot.handle.id)) return false;
    if (chat.type === "private") return true;
    if (chat.type === "channel") return this.isAdmin(chat, bot.handle.id);
    if (service || bot.canReadAllGroupMessages || this.isAdmin(chat, bot.handle.id)) return true;
    const username = bot.handle.username.toLowerCase();
    const text = msg.text ?? msg.caption ?? "";
    for (const e of msg.entities ?? msg.caption_entities ?? []) {
      const s = text.slice(e.offset, e.offset + e.length);
      if (e.type === "bot_command") {
        const at = s.indexOf("@");
        if (at !== -1 ? s.slice(at + 1).toLowerCase() === username : chat.lastBotSender === undefined || chat.lastBotSender === bot.handle.id) return true;
      }
      if (e.type === "mention" && s.slice(1).toLowerCase() === username) return true;
      if (e.type === "text_mention" && e.user.id === bot.handle.id) return true;
    }
    return msg.reply_to_message?.from?.id === bot.handle.id;
  }

  /** Delivers a new user message (or service message) to every bot that may see it. */
  protected deliverMessage(chat: ChatRecord, stored: StoredMessage, service = false): void {
    const key = chat.type === "channel" ? "channel_post" : "message";
    for (const bot of this.bots.values()) {
      if (!this.botSees(bot, chat, stored.message, service)) continue;
      if (this.enqueue(bot, { [key]: stored.message })) stored.deliveredTo.add(bot.handle.id);
    }
  }

  // ---- update queue ------------------------------------------------------------------------

  /** Queues an update for a bot unless its allowed_updates filter excludes it. */
  protected enqueue(bot: BotRecord, body: Partial<Omit<Update, "update_id">>): boolean {
    const type = Object.keys(body)[0]!;
    const allowed = bot.allowedUpdates.length > 0 ? bot.allowedUpdates.includes(type) : !NOT_BY_DEFAULT.has(type);
    if (!allowed) return false;
    bot.queue.push({ update_id: bot.nextUpdateId++, ...clone(body) } as Update);
    this.notify(bot);
    return true;
  }

  private notify(bot: BotRecord): void {
    if (bot.webhook) { this.kickWebhook(bot); return; }
    setImmediate(() => {
      const poll = bot.poll;
      if (!poll || bot.queue.length === 0) return;
      bot.poll = undefined;
      clearTimeout(poll.timer);
      poll.resolve(bot.queue.slice(0, poll.limit).map(clone));
    });
  }

  /** Confirms (forgets) updates as getUpdates' offset does. */
  protected confirm(bot: BotRecord, offset: number | undefined): void {
    if (offset === undefined || offset === 0) return;
    if (offset < 0) bot.queue = bot.queue.slice(offset);
    else bot.queue = bot.queue.filter((u) => u.update_id >= offset);
    bot.confirmedOffset = offset > 0 ? Math.max(bot.confirmedOffset, offset) : (bot.queue[0]?.update_id ?? bot.nextUpdateId);
  }

  /** getUpdates: confirm, remember allowed_updates, answer at once or hold until an update/timeout. */
  protected getUpdates(bot: BotRecord, p: { offset?: number; limit?: number; timeout?: number; allowed?: string[] }, signal: AbortSignal): Promise<Update[]> {
    if (bot.webhook) {
      throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const previous = bot.poll;
    if (previous) {
      bot.poll = undefined;
      clearTimeout(previous.timer);
      previous.reject(new ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"));
    }
    this.confirm(bot, p.offset);
    if (p.allowed !== undefined) bot.allowedUpdates = [...p.allowed];
    const limit = Math.min(Math.max(p.limit ?? 100, 1), 100);
    const timeout = Math.max(p.timeout ?? 0, 0);
    if (bot.queue.length > 0 || timeout === 0 || this.stopped) return Promise.resolve(bot.queue.slice(0, limit).map(clone));
    return new Promise<Update[]>((resolve, reject) => {
      const poll: PendingPoll = {
        limit, resolve, reject,
        timer: setTimeout(() => {
          if (bot.poll === poll) { bot.poll = undefined; resolve([]); }
        }, timeout * 1000),
      };
      bot.poll = poll;
      signal.addEventListener("abort", () => {
        if (bot.poll === poll) { bot.poll = undefined; clearTimeout(poll.timer); resolve([]); }
      }, { once: true });
    });
  }

  /** Answers held long polls (one bot's, or every bot's) with []. */
  protected releasePolls(only?: BotRecord): void {
    for (const bot of only ? [only] : this.bots.values()) {
      const poll = bot.poll;
      if (!poll) continue;
      bot.poll = undefined;
      clearTimeout(poll.timer);
      poll.resolve([]);
    }
  }

  // ---- webhook delivery --------------------------------------------------------------------

  protected kickWebhook(bot: BotRecord): void {
    const wh = bot.webhook;
    if (!wh || wh.delivering || this.stopped || bot.queue.length === 0) return;
    wh.delivering = true;
    void this.deliverLoop(bot, wh).finally(() => { wh.delivering = false; });
  }

  private async deliverLoop(bot: BotRecord, wh: WebhookState): Promise<void> {
    while (bot.webhook === wh && bot.queue.length > 0 && !this.stopped) {
      const update = bot.queue[0]!;
      let reply: unknown;
      let ok = false;
      try {
        const res = await fetch(wh.url, {
          method: "POST",
          headers: { "content-type": "application/json", ...(wh.secretToken ? { "x-telegram-bot-api-secret-token": wh.secretToken } : {}) },
          body: JSON.stringify(update),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        if (res.ok) {
          ok = true;
          try { reply = JSON.parse(text); } catch { reply = undefined; }
        } else wh.lastErrorMessage = `Wrong response from the webhook: ${res.status} ${res.statusText}`;
      } catch (err) {
        wh.lastErrorMessage = /ECONNREFUSED|fetch failed/.test(String((err as Error).cause ?? err)) ? "Connection refused" : `Connection error: ${(err as Error).message}`;
      }
      if (ok) {
        wh.failures = 0;
        if (bot.queue[0] === update) bot.queue.shift();
        const r = reply as { method?: unknown } | undefined;
        if (r && typeof r === "object" && typeof r.method === "string" && this.runMethod) {
          const { method, ...params } = r as Record<string, unknown>;
          await this.runMethod(bot, method as string, params).catch(() => undefined);
        }
      } else {
        wh.lastErrorDate = this.now();
        wh.failures++;
        await this.sleep(this.webhookRetryMs * Math.min(2 ** (wh.failures - 1), 8));
      }
    }
  }

  protected sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = { timer: setTimeout(() => { this.timers.delete(entry); resolve(); }, ms), resolve };
      this.timers.add(entry);
    });
  }

  protected cancelTimers(): void {
    for (const t of this.timers) { clearTimeout(t.timer); t.resolve(); }
    this.timers.clear();
  }

  // ---- bot / token helpers -----------------------------------------------------------------

  protected newToken(id: number): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    const rnd = randomBytes(33);
    return `${id}:AA${[...rnd].map((b) => alphabet[b % 64]).join("")}`;
  }
}
