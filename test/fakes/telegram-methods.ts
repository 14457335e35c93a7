// Bot API methods of the fake Telegram, as a layer over TelegramWorld. Error texts follow what the
// real Bot API answers (see telegram.ts for the list and the known gaps).
import type {
  BotCommand, ChatFullInfo, InlineKeyboardMarkup, Message, MessageEntity, ReactionType, ReplyParameters,
  UserFromGetMe,
} from "grammy/types";
import { ApiError, badRequest, forbidden, type FileParam, type Params } from "./telegram-http.js";
import { checkEntities, EntityParseError, finalizeText, parseFormatted } from "./telegram-markup.js";
import {
  ALLOWED_REACTIONS, MAX_DOWNLOAD, MAX_UPLOAD, mimeFor, TelegramWorld, type BotRecord, type ChatRecord,
  type FileKind, type FileRecord, type StoredMessage,
} from "./telegram-world.js";

export interface MethodContext {
  bot: BotRecord;
  params: Params;
  /** Aborted when the client goes away (used to drop held long polls). */
  signal: AbortSignal;
  apiRoot: string;
}
export type MethodHandler = (ctx: MethodContext) => unknown;

const TEXT_LIMIT = 4096;
const CAPTION_LIMIT = 1024;
const DELETE_WINDOW = 48 * 3600;

type MediaField = "photo" | "document" | "video" | "audio" | "voice" | "animation" | "sticker" | "video_note";

export class TelegramBotApi extends TelegramWorld {
  /** Bot API methods by lower-case name (the Bot API treats method names case-insensitively). */
  protected readonly methods: Record<string, MethodHandler>;

  constructor() {
    super();
    const m: Record<string, MethodHandler> = {
      getMe: (c) => this.getMe(c),
      getUpdates: (c) => this.getUpdates(c.bot, {
        offset: c.params.int("offset"), limit: c.params.int("limit"), timeout: c.params.int("timeout"),
        allowed: c.params.json<string[]>("allowed_updates"),
      }, c.signal),
      setWebhook: (c) => this.setWebhook(c),
      deleteWebhook: (c) => this.deleteWebhook(c),
      getWebhookInfo: (c) => this.getWebhookInfo(c),
      sendMessage: (c) => this.sendMessage(c),
      editMessageText: (c) => this.editMessage(c, "text"),
      editMessageCaption: (c) => this.editMessage(c, "caption"),
      deleteMessage: (c) => this.deleteMessage(c),
      deleteMessages: (c) => this.deleteMessages(c),
      setMessageReaction: (c) => this.setMessageReaction(c),
      sendPhoto: (c) => this.sendMedia(c, "photo"),
      sendDocument: (c) => this.sendMedia(c, "document"),
      sendVideo: (c) => this.sendMedia(c, "video"),
      sendAudio: (c) => this.sendMedia(c, "audio"),
      sendVoice: (c) => this.sendMedia(c, "voice"),
      sendAnimation: (c) => this.sendMedia(c, "animation"),
      sendSticker: (c) => this.sendMedia(c, "sticker"),
      sendVideoNote: (c) => this.sendMedia(c, "video_note"),
      getFile: (c) => this.getFile(c),
      getChat: (c) => this.getChat(c),
      getChatMember: (c) => this.getChatMember(c),
      getChatAdministrators: (c) => this.getChatAdministrators(c),
      getChatMemberCount: (c) => {
        const chat = this.chatForBot(c.bot, c.params);
        return [...chat.members.keys()].filter((id) => this.isActive(chat, id)).length;
      },
      getUserProfilePhotos: (c) => this.getUserProfilePhotos(c),
      pinChatMessage: (c) => this.pinChatMessage(c),
      unpinChatMessage: (c) => this.unpinChatMessage(c),
      unpinAllChatMessages: (c) => { this.chatForBot(c.bot, c.params).pinned = []; return true; },
      leaveChat: (c) => this.leaveChat(c),
      sendChatAction: (c) => { this.chatForBot(c.bot, c.params, "send"); return true; },
      setMyCommands: (c) => { c.bot.commands = c.params.json<BotCommand[]>("commands") ?? []; return true; },
      getMyCommands: (c) => c.bot.commands,
      deleteMyCommands: (c) => { c.bot.commands = []; return true; },
    };
    this.methods = Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
  }

  // ---- shared helpers ----------------------------------------------------------------------

  /** Resolves chat_id for a bot, with Telegram's errors for unknown, migrated and left chats. */
  protected chatForBot(bot: BotRecord, params: Params, purpose: "read" | "send" | "public" = "read", field = "chat_id"): ChatRecord {
    const ref = params.chatId(field);
    const chat = typeof ref === "number"
      ? this.chats.get(ref)
      : [...this.chats.values()].find((c) => c.username?.toLowerCase() === ref.slice(1).toLowerCase());
    if (!chat) {
      if (typeof ref === "number" && this.users.has(ref) && !this.bots.has(ref)) throw forbidden("bot can't initiate conversation with a user");
      throw badRequest("chat not found");
    }
    if (chat.migratedTo !== undefined) {
      throw badRequest("group chat was upgraded to a supergroup chat", { migrate_to_chat_id: chat.migratedTo });
    }
    const member = chat.members.get(bot.handle.id);
    if (purpose === "public" && chat.username && chat.type !== "private") return chat;
    if (!member) throw badRequest("chat not found");
    if (chat.type === "private" && member.status === "kicked") throw forbidden("bot was blocked by the user");
    if (member.status === "kicked") throw forbidden(`bot was kicked from the ${chat.type} chat`);
    if (member.status === "left") throw forbidden(`bot is not a member of the ${chat.type} chat`);
    if (purpose === "send" && chat.type === "channel" && !this.hasRight(chat, bot.handle.id, "can_post_messages")) {
      throw badRequest("need administrator rights in the channel chat");
    }
    return chat;
  }

  protected messageIn(chat: ChatRecord, params: Params, notFound: string): StoredMessage {
    const id = params.int("message_id");
    if (id === undefined) throw badRequest("message identifier is not specified");
    const stored = chat.messages.get(id);
    if (!stored) throw badRequest(notFound);
    return stored;
  }

  /** text/caption + parse_mode or explicit entities -> final text and entities. */
  protected formatted(params: Params, textField: string, entitiesField: string, modeField = "parse_mode"): { text: string; entities: MessageEntity[] } {
    const raw = params.str(textField) ?? "";
    const explicit = params.json<MessageEntity[]>(entitiesField);
    const mode = params.str(modeField);
    if (mode && !["html", "markdownv2", "markdown"].includes(mode.toLowerCase())) throw badRequest("unsupported parse_mode");
    try {
      if (explicit) {
        checkEntities(raw, explicit);
        return finalizeText(raw, explicit);
      }
      const parsed = parseFormatted(raw, mode, (id) => this.users.get(id)?.user);
      return finalizeText(parsed.text, parsed.entities);
    } catch (err) {
      if (err instanceof EntityParseError) throw badRequest(`can't parse entities: ${err.message}`);
      throw err;
    }
  }

  /** Common fields of a message a bot sends: id, sender, chat, date, thread, reply. */
  protected outgoingBase(bot: BotRecord, chat: ChatRecord, params: Params): Message {
    const base: Message = {
      message_id: 0,
      ...(chat.type === "channel" ? { sender_chat: this.chatRef(chat) } : { from: structuredClone(bot.handle.user) }),
      chat: this.chatRef(chat),
      date: this.now(),
    } as Message;
    let threadId = params.int("message_thread_id");
    const reply = params.json<ReplyParameters>("reply_parameters")
      ?? (params.has("reply_to_message_id")
        ? { message_id: params.int("reply_to_message_id"), allow_sending_without_reply: params.bool("allow_sending_without_reply") }
        : undefined);
    if (reply?.message_id !== undefined) {
      const external = reply.chat_id !== undefined && String(reply.chat_id) !== String(chat.id);
      const replyChat = external ? this.replyChat(bot, reply.chat_id!) : chat;
      const target = replyChat?.messages.get(reply.message_id);
      if (target && external) {
        const t = target.message;
        const origin = replyChat!.type === "channel"
          ? { type: "channel", chat: this.chatRef(replyChat!), message_id: t.message_id, date: t.date }
          : t.from ? { type: "user", sender_user: t.from, date: t.date } : { type: "chat", sender_chat: t.sender_chat, date: t.date };
        const media = Object.fromEntries(["photo", "document", "video", "audio", "voice", "animation", "sticker", "video_note", "location", "contact"]
          .filter((k) => k in t).map((k) => [k, structuredClone((t as unknown as Record<string, unknown>)[k])]));
        base.external_reply = { origin, chat: this.chatRef(replyChat!), message_id: t.message_id, ...media } as Message["external_reply"];
      } else if (target) {
        base.reply_to_message = this.replyCopy(target.message) as never;
        threadId ??= target.message.message_thread_id;
      } else if (!reply.allow_sending_without_reply) {
        throw badRequest("message to be replied not found");
      }
    }
    if (threadId !== undefined && chat.isForum) {
      base.message_thread_id = threadId;
      base.is_topic_message = true;
    }
    const markup = params.json<InlineKeyboardMarkup>("reply_markup");
    if (markup && Array.isArray(markup.inline_keyboard)) base.reply_markup = markup;
    if (params.bool("protect_content")) base.has_protected_content = true;
    base.message_id = chat.nextMessageId++;
    return base;
  }

  /** The chat of reply_parameters.chat_id, if the bot is in it. */
  private replyChat(bot: BotRecord, ref: number | string): ChatRecord | undefined {
    const chat = typeof ref === "number" || /^-?\d+$/.test(ref)
      ? this.chats.get(Number(ref))
      : [...this.chats.values()].find((c) => c.username?.toLowerCase() === ref.replace(/^@/, "").toLowerCase());
    return chat && this.isActive(chat, bot.handle.id) ? chat : undefined;
  }

  protected finishSend(bot: BotRecord, chat: ChatRecord, message: Message): Message {
    this.storeMessage(chat, message, bot.handle.id);
    return structuredClone(message);
  }

  // ---- methods -----------------------------------------------------------------------------

  private getMe({ bot }: MethodContext): UserFromGetMe {
    return {
      ...structuredClone(bot.handle.user), is_bot: true, username: bot.handle.username,
      can_join_groups: bot.canJoinGroups, can_read_all_group_messages: bot.canReadAllGroupMessages,
      supports_inline_queries: bot.supportsInlineQueries, can_connect_to_business: false,
      has_main_web_app: false, has_topics_enabled: false, allows_users_to_create_topics: false,
      can_manage_bots: false, supports_join_request_queries: false,
    };
  }

  private setWebhook({ bot, params }: MethodContext): true {
    const url = params.str("url") ?? "";
    const allowed = params.json<string[]>("allowed_updates");
    if (allowed !== undefined) bot.allowedUpdates = [...allowed];
    if (params.bool("drop_pending_updates")) bot.queue = [];
    if (url === "") { bot.webhook = undefined; return true; }
    let parsed: URL;
    try { parsed = new URL(url); } catch { throw badRequest("bad webhook: Failed to resolve host: Name or service not known"); }
    if (!["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname)) {
      throw badRequest("bad webhook: the fake Telegram only delivers to loopback addresses");
    }
    const secret = params.str("secret_token");
    if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw badRequest("secret token contains unallowed characters");
    this.releasePolls(bot);
    bot.webhook = {
      url, maxConnections: params.int("max_connections") ?? 40, delivering: false, failures: 0,
      ...(secret ? { secretToken: secret } : {}),
    };
    this.kickWebhook(bot);
    return true;
  }

  private deleteWebhook({ bot, params }: MethodContext): true {
    bot.webhook = undefined;
    if (params.bool("drop_pending_updates")) bot.queue = [];
    return true;
  }

  private getWebhookInfo({ bot }: MethodContext): unknown {
    const wh = bot.webhook;
    return {
      url: wh?.url ?? "", has_custom_certificate: false, pending_update_count: bot.queue.length,
      ...(wh ? { max_connections: wh.maxConnections, ip_address: "127.0.0.1" } : {}),
      ...(wh?.lastErrorDate ? { last_error_date: wh.lastErrorDate, last_error_message: wh.lastErrorMessage } : {}),
      ...(bot.allowedUpdates.length ? { allowed_updates: [...bot.allowedUpdates] } : {}),
    };
  }

  private sendMessage({ bot, params }: MethodContext): Message {
    const chat = this.chatForBot(bot, params, "send");
    if (!params.has("text")) throw badRequest("message text is empty");
    const { text, entities } = this.formatted(params, "text", "entities");
    if (text.length === 0) throw badRequest("message text is empty");
    if (text.length > TEXT_LIMIT) throw badRequest("message is too long");
    const message = this.outgoingBase(bot, chat, params);
    message.text = text;
    if (entities.length) message.entities = entities;
    const preview = params.json<Message["link_preview_options"]>("link_preview_options");
    if (preview) message.link_preview_options = preview;
    return this.finishSend(bot, chat, message);
  }

  private editMessage({ bot, params }: MethodContext, field: "text" | "caption"): Message {
    if (params.has("inline_message_id")) throw badRequest("MESSAGE_ID_INVALID");
    const chat = this.chatForBot(bot, params);
    const stored = this.messageIn(chat, params, "message to edit not found");
    const msg = stored.message;
    const mayEdit = stored.senderBotId === bot.handle.id || (chat.type === "channel" && this.hasRight(chat, bot.handle.id, "can_edit_messages"));
    if (!mayEdit) throw badRequest("message can't be edited");
    const entitiesKey = field === "text" ? "entities" : "caption_entities";
    if (field === "text" && msg.text === undefined) throw badRequest("there is no text in the message to edit");
    const hasMedia = ["photo", "document", "video", "audio", "voice", "animation"].some((k) => k in msg);
    if (field === "caption" && !hasMedia) throw badRequest("there is no caption in the message to edit");
    const { text, entities } = this.formatted(params, field, field === "text" ? "entities" : "caption_entities");
    if (field === "text" && text.length === 0) throw badRequest("message text is empty");
    if (text.length > (field === "text" ? TEXT_LIMIT : CAPTION_LIMIT)) throw badRequest(field === "text" ? "message is too long" : "message caption is too long");
    const markup = params.json<InlineKeyboardMarkup>("reply_markup");
    const same = (msg[field] ?? "") === text
      && JSON.stringify(msg[entitiesKey] ?? []) === JSON.stringify(entities)
      && JSON.stringify(msg.reply_markup) === JSON.stringify(markup ?? msg.reply_markup);
    if (same) {
      throw badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message");
    }
    if (text) msg[field] = text; else delete msg[field];
    if (entities.length) msg[entitiesKey] = entities; else delete msg[entitiesKey];
    if (markup) msg.reply_markup = markup;
    msg.edit_date = this.now();
    return structuredClone(msg);
  }

  private canDelete(bot: BotRecord, chat: ChatRecord, stored: StoredMessage): "ok" | "rights" | "age" {
    const id = bot.handle.id;
    const own = stored.senderBotId === id;
    let allowed: boolean;
    let unlimited = false;
    if (chat.type === "private") allowed = true;
    else if (chat.type === "group") allowed = own || this.isAdmin(chat, id);
    else if (chat.type === "supergroup") {
      unlimited = this.hasRight(chat, id, "can_delete_messages");
      allowed = own || unlimited;
    } else {
      unlimited = this.hasRight(chat, id, "can_delete_messages");
      allowed = unlimited || (own && this.hasRight(chat, id, "can_post_messages"));
    }
    if (!allowed) return "rights";
    if (!unlimited && this.now() - stored.message.date >= DELETE_WINDOW) return "age";
    return "ok";
  }

  private deleteMessage({ bot, params }: MethodContext): true {
    const chat = this.chatForBot(bot, params);
    const stored = this.messageIn(chat, params, "message to delete not found");
    const verdict = this.canDelete(bot, chat, stored);
    if (verdict === "rights") throw badRequest("message can't be deleted");
    if (verdict === "age") throw badRequest("message can't be deleted for everyone");
    chat.messages.delete(stored.message.message_id);
    return true;
  }

  private deleteMessages({ bot, params }: MethodContext): true {
    const chat = this.chatForBot(bot, params);
    const ids = params.json<number[]>("message_ids") ?? [];
    if (ids.length === 0 || ids.length > 100) throw badRequest("message identifiers are not specified");
    for (const id of ids) {
      const stored = chat.messages.get(id);
      if (stored && this.canDelete(bot, chat, stored) === "ok") chat.messages.delete(id);
    }
    return true;
  }

  private setMessageReaction({ bot, params }: MethodContext): true {
    const chat = this.chatForBot(bot, params);
    const stored = this.messageIn(chat, params, "MESSAGE_ID_INVALID");
    const reaction = params.json<ReactionType[]>("reaction") ?? [];
    if (!Array.isArray(reaction)) throw badRequest("REACTION_INVALID");
    if (reaction.length > 1) throw badRequest("REACTIONS_TOO_MANY");
    for (const r of reaction) {
      const ok = (r.type === "emoji" && ALLOWED_REACTIONS.has(r.emoji)) || (r.type === "custom_emoji" && /^\d+$/.test(r.custom_emoji_id));
      if (!ok) throw badRequest("REACTION_INVALID");
    }
    if (reaction.length) stored.reactions.set(bot.handle.id, structuredClone(reaction));
    else stored.reactions.delete(bot.handle.id);
    return true;
  }

  /** Resolves a file parameter; fresh uploads are stored under `kind`. */
  protected resolveFile(fp: FileParam, kind: FileKind, apiRoot: string): FileRecord {
    if (fp.kind === "upload") {
      if (fp.file.data.length > MAX_UPLOAD) throw new ApiError(413, "Request Entity Too Large");
      if (fp.file.data.length === 0) throw badRequest("file must be non-empty");
      const name = kind === "photo" || kind === "voice" || kind === "sticker" || kind === "video_note" ? undefined : fp.file.filename;
      const mime = fp.file.contentType !== "application/octet-stream" ? fp.file.contentType : mimeFor(fp.file.filename);
      return this.storeFile(fp.file.data, kind, { ...(name ? { file_name: name } : {}), ...(mime ? { mime_type: mime } : {}) });
    }
    if (fp.kind === "id") {
      const rec = this.files.get(fp.fileId);
      if (!rec) throw badRequest("wrong file identifier/HTTP URL specified");
      return rec;
    }
    // The fake never fetches remote URLs; it only understands its own file download URLs.
    const own = `${apiRoot}/file/bot`;
    if (fp.url.startsWith(own)) {
      const path = fp.url.slice(own.length).replace(/^[^/]+\//, "");
      const rec = this.filesByPath.get(path);
      if (rec) return rec;
    }
    throw badRequest("failed to get HTTP URL content");
  }

  /** The media object a message carries for `field`. */
  protected mediaObject(field: MediaField, rec: FileRecord, extra: { duration?: number; width?: number; height?: number; performer?: string; title?: string; emoji?: string; length?: number }): unknown {
    const base = { file_id: rec.file_id, file_unique_id: rec.file_unique_id, file_size: rec.data.length };
    const named = { ...(rec.file_name ? { file_name: rec.file_name } : {}), ...(rec.mime_type ? { mime_type: rec.mime_type } : {}) };
    const dims = { width: extra.width ?? 0, height: extra.height ?? 0 };
    switch (field) {
      case "photo": return this.photoSizes(rec);
      case "document": return { ...base, ...named };
      case "video": return { ...base, ...dims, duration: extra.duration ?? 0, ...named, mime_type: rec.mime_type ?? "video/mp4" };
      case "animation": return { ...base, ...dims, duration: extra.duration ?? 0, ...named, mime_type: rec.mime_type ?? "video/mp4" };
      case "audio": return {
        ...base, duration: extra.duration ?? 0, ...(extra.performer ? { performer: extra.performer } : {}),
        ...(extra.title ? { title: extra.title } : {}), ...named, mime_type: rec.mime_type ?? "audio/mpeg",
      };
      case "voice": return { ...base, duration: extra.duration ?? 0, mime_type: "audio/ogg" };
      case "video_note": return { ...base, length: extra.length ?? 240, duration: extra.duration ?? 0 };
      case "sticker": return {
        ...base, type: "regular", width: 512, height: 512, is_animated: false, is_video: false,
        ...(extra.emoji ? { emoji: extra.emoji } : {}),
      };
    }
  }

  private sendMedia({ bot, params, apiRoot }: MethodContext, field: MediaField): Message {
    const chat = this.chatForBot(bot, params, "send");
    const fp = params.file(field);
    if (!fp) throw badRequest(`there is no ${field} in the request`);
    const captionable = field !== "sticker" && field !== "video_note";
    const caption = captionable ? this.formatted(params, "caption", "caption_entities") : { text: "", entities: [] };
    if (caption.text.length > CAPTION_LIMIT) throw badRequest("message caption is too long");
    const rec = this.resolveFile(fp, field, apiRoot);
    const message = this.outgoingBase(bot, chat, params);
    const extra = {
      duration: params.int("duration"), width: params.int("width"), height: params.int("height"),
      performer: params.str("performer"), title: params.str("title"), emoji: params.str("emoji"), length: params.int("length"),
    };
    const m = message as unknown as Record<string, unknown>;
    m[field] = this.mediaObject(field, rec, extra);
    if (field === "animation") m.document = this.mediaObject("document", rec, extra);
    if (caption.text) message.caption = caption.text;
    if (caption.entities.length) message.caption_entities = caption.entities;
    if (params.bool("has_spoiler")) message.has_media_spoiler = true;
    return this.finishSend(bot, chat, message);
  }

  private getFile({ params }: MethodContext): unknown {
    const id = params.str("file_id");
    if (!id) throw badRequest("file_id is empty");
    const rec = this.files.get(id);
    if (!rec) throw badRequest("invalid file_id");
    if (rec.data.length > MAX_DOWNLOAD) throw badRequest("file is too big");
    return { file_id: rec.file_id, file_unique_id: rec.file_unique_id, file_size: rec.data.length, file_path: rec.file_path };
  }

  private getChat({ bot, params }: MethodContext): ChatFullInfo {
    const chat = this.chatForBot(bot, params, "public");
    const pinnedId = chat.pinned[chat.pinned.length - 1];
    const pinned = pinnedId !== undefined ? chat.messages.get(pinnedId)?.message : undefined;
    const photo = this.chatPhoto(chat);
    return {
      ...this.chatRef(chat),
      ...(chat.description !== undefined && chat.type !== "private" ? { description: chat.description } : {}),
      ...(chat.description !== undefined && chat.type === "private" ? { bio: chat.description } : {}),
      ...(photo ? { photo } : {}),
      ...(pinned ? { pinned_message: this.replyCopy(pinned) } : {}),
      accent_color_id: 0, max_reaction_count: 11,
      accepted_gift_types: { unlimited_gifts: false, limited_gifts: false, unique_gifts: false, premium_subscription: false, gifts_from_channels: false },
    } as ChatFullInfo;
  }

  private getChatMember({ bot, params }: MethodContext): unknown {
    const chat = this.chatForBot(bot, params);
    const userId = params.int("user_id");
    if (userId === undefined || !this.users.has(userId)) throw badRequest("PARTICIPANT_ID_INVALID");
    return this.chatMember(chat, userId);
  }

  private getChatAdministrators({ bot, params }: MethodContext): unknown {
    const chat = this.chatForBot(bot, params);
    if (chat.type === "private") throw badRequest("there are no administrators in the private chat");
    return [...chat.members.keys()].filter((id) => this.isAdmin(chat, id)).map((id) => this.chatMember(chat, id));
  }

  private getUserProfilePhotos({ params }: MethodContext): unknown {
    const userId = params.int("user_id");
    const rec = userId === undefined ? undefined : this.users.get(userId);
    if (!rec) throw badRequest("user not found");
    const offset = params.int("offset") ?? 0;
    const limit = Math.min(Math.max(params.int("limit") ?? 100, 1), 100);
    return { total_count: rec.photos.length, photos: rec.photos.slice(offset, offset + limit).map((f) => this.photoSizes(f)) };
  }

  private pinRights(bot: BotRecord, chat: ChatRecord): void {
    const id = bot.handle.id;
    const ok = chat.type === "private"
      || (chat.type === "group" && this.isAdmin(chat, id))
      || (chat.type === "supergroup" && this.hasRight(chat, id, "can_pin_messages"))
      || (chat.type === "channel" && this.hasRight(chat, id, "can_edit_messages"));
    if (!ok) throw badRequest("not enough rights to manage pinned messages in the chat");
  }

  private pinChatMessage({ bot, params }: MethodContext): true {
    const chat = this.chatForBot(bot, params);
    this.pinRights(bot, chat);
    const stored = this.messageIn(chat, params, "message to pin not found");
    const id = stored.message.message_id;
    chat.pinned = [...chat.pinned.filter((p) => p !== id), id];
    if (chat.type !== "private" && !params.bool("disable_notification")) {
      const service = {
        message_id: chat.nextMessageId++, ...(chat.type === "channel" ? { sender_chat: this.chatRef(chat) } : { from: structuredClone(bot.handle.user) }),
        chat: this.chatRef(chat), date: this.now(), pinned_message: this.replyCopy(stored.message),
      } as Message;
      this.storeMessage(chat, service, bot.handle.id);
    }
    return true;
  }

  private unpinChatMessage({ bot, params }: MethodContext): true {
    const chat = this.chatForBot(bot, params);
    this.pinRights(bot, chat);
    const id = params.int("message_id");
    if (id === undefined) chat.pinned.pop();
    else if (chat.pinned.includes(id)) chat.pinned = chat.pinned.filter((p) => p !== id);
    else throw badRequest("message to unpin not found");
    return true;
  }

  private leaveChat({ bot, params }: MethodContext): true {
    const chat = this.chatForBot(bot, params);
    if (chat.type === "private") throw badRequest("chat member status can't be changed in private chats");
    const old = this.chatMember(chat, bot.handle.id);
    chat.members.set(bot.handle.id, { status: "left" });
    this.enqueue(bot, {
      my_chat_member: { chat: this.chatRef(chat), from: structuredClone(bot.handle.user), date: this.now(), old_chat_member: old, new_chat_member: this.chatMember(chat, bot.handle.id) },
    });
    return true;
  }
}
