// Test-side scenario of the fake Telegram: creating bots, users and chats, and what users do in
// them (post, edit, react, join, leave, rename, migrate), producing the updates Telegram would send.
import type { Chat, Message, MessageEntity, MessageOrigin, ReactionType, ReactionTypeEmoji, User } from "grammy/types";
import { detectEntities } from "./telegram-markup.js";
import { TelegramBotApi } from "./telegram-methods.js";
import {
  ALLOWED_REACTIONS, FULL_ADMIN_RIGHTS, type AdminRights, type BotHandle, type ChatRecord, type ChatType,
  type FileRecord, type MemberRecord, type MemberStatus, type StoredMessage,
} from "./telegram-world.js";


export interface CreateBotOptions {
  id: number;
  username: string;
  first_name: string;
  last_name?: string;
  /** Privacy mode off (getMe's can_read_all_group_messages). Default false = privacy mode on. */
  canReadAllGroupMessages?: boolean;
  canJoinGroups?: boolean;
  supportsInlineQueries?: boolean;
  /** Use this token instead of a generated "<id>:AA…" one. */
  token?: string;
}

export interface AddUserOptions {
  id: number;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
  is_premium?: true;
  /** Profile photo bytes (getUserProfilePhotos). */
  photo?: Buffer;
}

export type MemberSpec = number | { id: number; status?: MemberStatus; rights?: Partial<AdminRights> };

export interface AddChatOptions {
  id: number;
  type: ChatType;
  title?: string;
  username?: string;
  description?: string;
  is_forum?: boolean;
  photo?: Buffer;
  /** Bot and user ids (plain members), or {id, status, rights}. */
  members?: MemberSpec[];
  /** Shorthand: these ids become administrators with full rights. */
  admins?: number[];
  creator?: number;
  /** Messages sent before the bots came (ids 1..n, not stored: an export test has them): the chat's next message gets n + 1. */
  earlierMessages?: number;
}

export interface MediaInput {
  data: Buffer;
  file_name?: string;
  mime_type?: string;
  duration?: number;
  width?: number;
  height?: number;
  performer?: string;
  title?: string;
  emoji?: string;
}

export interface UserMessageContent {
  text?: string;
  /** Defaults to Telegram's auto-detected entities (commands, mentions, URLs, hashtags). */
  entities?: MessageEntity[];
  caption?: string;
  caption_entities?: MessageEntity[];
  /** message_id in the same chat to reply to. */
  reply_to?: number;
  message_thread_id?: number;
  media_group_id?: string;
  forward_origin?: MessageOrigin;
  photo?: Buffer;
  document?: MediaInput & { file_name: string };
  video?: Buffer | MediaInput;
  audio?: Buffer | MediaInput;
  voice?: Buffer | MediaInput;
  sticker?: Buffer | MediaInput;
  animation?: Buffer | MediaInput;
  video_note?: Buffer | MediaInput;
  location?: { latitude: number; longitude: number };
  contact?: { phone_number: string; first_name: string; last_name?: string; user_id?: number };
}

/** What failNext injects: a Bot API error, a raw HTTP status, or a dropped connection. */

type MediaKey = "photo" | "document" | "video" | "audio" | "voice" | "sticker" | "animation" | "video_note";
const MEDIA_KEYS: MediaKey[] = ["photo", "document", "video", "audio", "voice", "sticker", "animation", "video_note"];

export class TelegramScenario extends TelegramBotApi {
  // ---- setup ---------------------------------------------------------------------------------

  createBot(opts: CreateBotOptions): BotHandle {
    if (this.users.has(opts.id)) throw new Error(`FakeTelegram: id ${opts.id} already exists`);
    const user: User = {
      id: opts.id, is_bot: true, first_name: opts.first_name, ...(opts.last_name ? { last_name: opts.last_name } : {}), username: opts.username,
    };
    const handle: BotHandle = { id: opts.id, token: opts.token ?? this.newToken(opts.id), username: opts.username, user };
    const record = {
      handle, canJoinGroups: opts.canJoinGroups ?? true, canReadAllGroupMessages: opts.canReadAllGroupMessages ?? false,
      supportsInlineQueries: opts.supportsInlineQueries ?? false, revokedTokens: new Set<string>(), queue: [],
      nextUpdateId: (this.bots.size + 1) * 100_000 + 1, allowedUpdates: [], confirmedOffset: 0, commands: [],
    };
    this.bots.set(opts.id, record);
    this.tokens.set(handle.token, record);
    this.users.set(opts.id, { user, photos: [] });
    return handle;
  }

  addUser(opts: AddUserOptions): User {
    if (this.users.has(opts.id)) throw new Error(`FakeTelegram: id ${opts.id} already exists`);
    const { photo, ...fields } = opts;
    const user: User = { ...fields, is_bot: false };
    this.users.set(opts.id, { user, photos: photo ? [this.storeFile(photo, "profile_photo")] : [] });
    return structuredClone(user);
  }

  addChat(opts: AddChatOptions): Chat {
    if (this.chats.has(opts.id)) throw new Error(`FakeTelegram: chat ${opts.id} already exists`);
    if (opts.type === "private" && !this.users.has(opts.id)) throw new Error(`FakeTelegram: private chat ${opts.id} needs addUser({id: ${opts.id}})`);
    const chat: ChatRecord = {
      id: opts.id, type: opts.type, isForum: opts.is_forum === true && opts.type === "supergroup",
      members: new Map(), messages: new Map(), nextMessageId: (opts.earlierMessages ?? 0) + 1, pinned: [],
      ...(opts.title !== undefined ? { title: opts.title } : {}), ...(opts.username ? { username: opts.username } : {}),
      ...(opts.description !== undefined ? { description: opts.description } : {}),
    };
    if (opts.photo) chat.photo = this.chatPhotoFiles(opts.photo);
    const set = (id: number, rec: MemberRecord): void => {
      if (!this.users.has(id)) throw new Error(`FakeTelegram: member ${id} is neither a user nor a bot`);
      chat.members.set(id, rec);
    };
    for (const spec of opts.members ?? []) {
      if (typeof spec === "number") set(spec, { status: "member" });
      else set(spec.id, this.memberRecord(spec.status ?? "member", spec.rights));
    }
    for (const id of opts.admins ?? []) set(id, this.memberRecord("administrator"));
    if (opts.creator !== undefined) set(opts.creator, { status: "creator" });
    if (opts.type === "private" && !chat.members.has(opts.id)) chat.members.set(opts.id, { status: "member" });
    this.chats.set(chat.id, chat);
    return this.chatRef(chat);
  }

  private memberRecord(status: MemberStatus, rights?: Partial<AdminRights>): MemberRecord {
    return status === "administrator" ? { status, rights: { ...FULL_ADMIN_RIGHTS, ...rights } } : { status };
  }

  private chatPhotoFiles(data: Buffer): { small: FileRecord; big: FileRecord } {
    return { small: this.storeFile(data, "chat_photo"), big: this.storeFile(data, "chat_photo") };
  }

  // ---- user-side actions -----------------------------------------------------------------------

  /** The user who performs service actions when none is given: the creator, else the first user member. */
  private actor(chat: ChatRecord, by?: number): User {
    if (by !== undefined) return structuredClone(this.userRecord(by).user);
    const ids = [...chat.members.entries()].filter(([id]) => !this.bots.has(id));
    const creator = ids.find(([, m]) => m.status === "creator") ?? ids.find(([id]) => this.isActive(chat, id));
    if (!creator) throw new Error(`FakeTelegram: chat ${chat.id} has no user to act; pass { by }`);
    return structuredClone(this.userRecord(creator[0]).user);
  }

  private newMessage(chat: ChatRecord, from: User | undefined, fields: Partial<Message>): Message {
    return {
      message_id: chat.nextMessageId++,
      ...(chat.type === "channel" ? { sender_chat: this.chatRef(chat) } : { from }),
      chat: this.chatRef(chat), date: this.now(), ...fields,
    } as Message;
  }

  private serviceMessage(chat: ChatRecord, by: User, fields: Partial<Message>): Message {
    const msg = this.newMessage(chat, by, fields);
    this.deliverMessage(chat, this.storeMessage(chat, msg), true);
    return structuredClone(msg);
  }

  /**
   * A user posts in a chat: enqueues `message` (`channel_post` in channels) for every bot in the
   * chat that may see it (privacy mode: commands, mentions and replies to it, unless admin).
   */
  userSends(chatId: number, userId: number, content: UserMessageContent): number {
    const chat = this.chatRecord(chatId);
    if (chat.migratedTo !== undefined) throw new Error(`FakeTelegram: chat ${chatId} migrated to ${chat.migratedTo}`);
    const user = this.userRecord(userId).user;
    if (chat.type !== "channel" && !this.isActive(chat, userId)) throw new Error(`FakeTelegram: user ${userId} is not in chat ${chatId}`);
    const msg = this.newMessage(chat, structuredClone(user), {});
    if (content.reply_to !== undefined) {
      const target = chat.messages.get(content.reply_to);
      if (!target) throw new Error(`FakeTelegram: no message ${content.reply_to} in chat ${chatId}`);
      msg.reply_to_message = this.replyCopy(target.message) as never;
      if (chat.isForum && target.message.message_thread_id !== undefined) msg.message_thread_id = target.message.message_thread_id;
    }
    if (content.message_thread_id !== undefined && chat.isForum) msg.message_thread_id = content.message_thread_id;
    if (msg.message_thread_id !== undefined) msg.is_topic_message = true;
    if (content.forward_origin) msg.forward_origin = content.forward_origin;
    if (content.media_group_id) msg.media_group_id = content.media_group_id;
    if (content.text !== undefined) {
      msg.text = content.text;
      const entities = content.entities ?? detectEntities(content.text);
      if (entities.length) msg.entities = entities;
    }
    const m = msg as unknown as Record<string, unknown>;
    for (const key of MEDIA_KEYS) {
      const input = content[key];
      if (input === undefined) continue;
      const media: MediaInput = Buffer.isBuffer(input) ? { data: input } : input;
      const rec = this.storeFile(media.data, key, {
        ...(media.file_name ? { file_name: media.file_name } : {}), ...(media.mime_type ? { mime_type: media.mime_type } : {}),
      });
      m[key] = this.mediaObject(key, rec, media);
      if (key === "animation") m.document = this.mediaObject("document", rec, media);
    }
    if (content.caption !== undefined) {
      msg.caption = content.caption;
      const entities = content.caption_entities ?? detectEntities(content.caption);
      if (entities.length) msg.caption_entities = entities;
    }
    if (content.location) m.location = { ...content.location };
    if (content.contact) m.contact = { ...content.contact };
    this.deliverMessage(chat, this.storeMessage(chat, msg));
    return msg.message_id;
  }

  /** A user edits their message: `edited_message` / `edited_channel_post` to bots that got it. */
  userEdits(chatId: number, messageId: number, text: string, entities?: MessageEntity[]): Message {
    const chat = this.chatRecord(chatId);
    const stored = this.storedMessage(chat, messageId);
    if (stored.senderBotId !== undefined) throw new Error("FakeTelegram: users can't edit bot messages");
    const msg = stored.message;
    const field = msg.text !== undefined ? "text" : "caption";
    const ents = entities ?? detectEntities(text);
    msg[field] = text;
    if (ents.length) msg[field === "text" ? "entities" : "caption_entities"] = ents;
    else delete msg[field === "text" ? "entities" : "caption_entities"];
    msg.edit_date = this.now();
    const key = chat.type === "channel" ? "edited_channel_post" : "edited_message";
    for (const botId of stored.deliveredTo) {
      if (this.isActive(chat, botId)) this.enqueue(this.botRecord(botId), { [key]: msg });
    }
    return structuredClone(msg);
  }

  /** A user deletes a message. Telegram sends bots no update for this. */
  userDeletes(chatId: number, messageId: number): void {
    this.chatRecord(chatId).messages.delete(messageId);
  }

  /**
   * A user sets their reactions on a message (replacing earlier ones; [] removes them).
   * `message_reaction` goes to admin bots that asked for it in allowed_updates (channels:
   * anonymous `message_reaction_count`).
   */
  userReacts(chatId: number, messageId: number, userId: number, emojis: string[]): void {
    const chat = this.chatRecord(chatId);
    const stored = this.storedMessage(chat, messageId);
    const user = this.userRecord(userId).user;
    for (const e of emojis) if (!ALLOWED_REACTIONS.has(e)) throw new Error(`FakeTelegram: "${e}" is not an allowed reaction`);
    const old = stored.reactions.get(userId) ?? [];
    const next: ReactionType[] = emojis.map((emoji) => ({ type: "emoji", emoji } as ReactionTypeEmoji));
    if (next.length) stored.reactions.set(userId, next); else stored.reactions.delete(userId);
    for (const bot of this.bots.values()) {
      if (!this.isActive(chat, bot.handle.id) || (chat.type !== "private" && !this.isAdmin(chat, bot.handle.id))) continue;
      if (chat.type === "channel") {
        const counts = new Map<string, number>();
        for (const rs of stored.reactions.values()) for (const r of rs) if (r.type === "emoji") counts.set(r.emoji, (counts.get(r.emoji) ?? 0) + 1);
        this.enqueue(bot, {
          message_reaction_count: {
            chat: this.chatRef(chat), message_id: messageId, date: this.now(),
            reactions: [...counts].map(([emoji, total_count]) => ({ type: { type: "emoji", emoji } as ReactionTypeEmoji, total_count })),
          },
        });
      } else {
        this.enqueue(bot, {
          message_reaction: { chat: this.chatRef(chat), message_id: messageId, user: structuredClone(user), date: this.now(), old_reaction: old, new_reaction: next },
        });
      }
    }
  }

  /** Changes a member's status: my_chat_member to that bot, chat_member to admin bots. */
  setMemberStatus(chatId: number, memberId: number, status: MemberStatus, opts: { by?: number; rights?: Partial<AdminRights> } = {}): void {
    const chat = this.chatRecord(chatId);
    this.changeMember(chat, memberId, this.memberRecord(status, opts.rights), this.actor(chat, opts.by));
  }

  private changeMember(chat: ChatRecord, id: number, rec: MemberRecord, by: User): void {
    this.userRecord(id);
    const before = this.chatMember(chat, id);
    chat.members.set(id, rec);
    const body = { chat: this.chatRef(chat), from: by, date: this.now(), old_chat_member: before, new_chat_member: this.chatMember(chat, id) };
    const target = this.bots.get(id);
    if (target) this.enqueue(target, { my_chat_member: body });
    for (const bot of this.bots.values()) {
      if (bot !== target && this.isAdmin(chat, bot.handle.id)) this.enqueue(bot, { chat_member: body });
    }
  }

  /** A user joins: service message with new_chat_members (groups) and chat_member updates. */
  userJoins(chatId: number, userId: number, opts: { by?: number } = {}): void {
    const chat = this.chatRecord(chatId);
    const user = this.userRecord(userId).user;
    const by = opts.by !== undefined ? this.actor(chat, opts.by) : structuredClone(user);
    this.changeMember(chat, userId, { status: "member" }, by);
    if (chat.type === "group" || chat.type === "supergroup") this.serviceMessage(chat, by, { new_chat_members: [structuredClone(user)] });
  }

  /** A user leaves (or is removed `by` someone, which bans them): left_chat_member + chat_member. */
  userLeaves(chatId: number, userId: number, opts: { by?: number } = {}): void {
    const chat = this.chatRecord(chatId);
    const user = this.userRecord(userId).user;
    const by = opts.by !== undefined ? this.actor(chat, opts.by) : structuredClone(user);
    if (chat.type === "group" || chat.type === "supergroup") this.serviceMessage(chat, by, { left_chat_member: structuredClone(user) });
    this.changeMember(chat, userId, { status: opts.by !== undefined ? "kicked" : "left" }, by);
  }

  /** A bot is added (my_chat_member, plus new_chat_members service message in groups). */
  botAdded(chatId: number, botId: number, opts: { by?: number; status?: "member" | "administrator"; rights?: Partial<AdminRights> } = {}): void {
    const chat = this.chatRecord(chatId);
    const bot = this.botRecord(botId);
    const by = this.actor(chat, opts.by);
    this.changeMember(chat, botId, this.memberRecord(opts.status ?? "member", opts.rights), by);
    if (chat.type === "group" || chat.type === "supergroup") this.serviceMessage(chat, by, { new_chat_members: [structuredClone(bot.handle.user)] });
  }

  /** A bot is removed (kicked): left_chat_member message, then my_chat_member; sends get 403. */
  botRemoved(chatId: number, botId: number, opts: { by?: number } = {}): void {
    const chat = this.chatRecord(chatId);
    const bot = this.botRecord(botId);
    const by = this.actor(chat, opts.by);
    if (chat.type === "group" || chat.type === "supergroup") this.serviceMessage(chat, by, { left_chat_member: structuredClone(bot.handle.user) });
    this.changeMember(chat, botId, { status: "kicked" }, by);
  }

  /** The user blocks the bot in their private chat (sends then get 403 "bot was blocked by the user"). */
  blockBot(userId: number, botId: number): void {
    const chat = this.chatRecord(userId);
    this.changeMember(chat, botId, { status: "kicked" }, structuredClone(this.userRecord(userId).user));
  }

  setTitle(chatId: number, title: string, opts: { by?: number } = {}): void {
    const chat = this.chatRecord(chatId);
    chat.title = title;
    this.serviceMessage(chat, this.actor(chat, opts.by), { new_chat_title: title });
  }

  /** New chat photo (new_chat_photo), or undefined to remove it (delete_chat_photo). */
  setPhoto(chatId: number, photo: Buffer | undefined, opts: { by?: number } = {}): void {
    const chat = this.chatRecord(chatId);
    if (photo) {
      chat.photo = this.chatPhotoFiles(photo);
      this.serviceMessage(chat, this.actor(chat, opts.by), { new_chat_photo: this.photoSizes(chat.photo.big) });
    } else {
      delete chat.photo;
      this.serviceMessage(chat, this.actor(chat, opts.by), { delete_chat_photo: true });
    }
  }

  /** Changes the description (Telegram sends no update for this). */
  setDescription(chatId: number, description: string): void {
    this.chatRecord(chatId).description = description;
  }

  /**
   * Upgrades a basic group: migrate_to_chat_id in the old chat, migrate_from_chat_id in the new
   * supergroup; later calls with the old id answer 400 with parameters.migrate_to_chat_id.
   */
  migrateToSupergroup(groupId: number, opts: { newId?: number; by?: number } = {}): number {
    const old = this.chatRecord(groupId);
    if (old.type !== "group") throw new Error(`FakeTelegram: chat ${groupId} is not a basic group`);
    const newId = opts.newId ?? Number(`-100${Math.abs(groupId)}`);
    if (this.chats.has(newId)) throw new Error(`FakeTelegram: chat ${newId} already exists`);
    const chat: ChatRecord = {
      id: newId, type: "supergroup", isForum: false, members: new Map(old.members), messages: new Map(), nextMessageId: 1, pinned: [],
      ...(old.title !== undefined ? { title: old.title } : {}), ...(old.description !== undefined ? { description: old.description } : {}),
      ...(old.photo ? { photo: old.photo } : {}),
    };
    this.chats.set(newId, chat);
    const by = this.actor(old, opts.by);
    this.serviceMessage(old, by, { migrate_to_chat_id: newId });
    old.migratedTo = newId;
    this.serviceMessage(chat, by, { migrate_from_chat_id: groupId });
    return newId;
  }

  protected storedMessage(chat: ChatRecord, id: number): StoredMessage {
    const s = chat.messages.get(id);
    if (!s) throw new Error(`FakeTelegram: no message ${id} in chat ${chat.id}`);
    return s;
  }

}
