/**
 * Matrix → Telegram: OutboundMessage → Bot API calls (sendMessage / send<Media>,
 * editMessageText / editMessageCaption, deleteMessage, setMessageReaction), returning one
 * MessageRef per Telegram message. Failures become RemoteErrors (errors.ts) for the relay queue.
 *
 * Replies use reply_parameters with allow_sending_without_reply, so a deleted target does not
 * lose the message. A thread goes to its forum topic (message_thread_id) in forum supergroups,
 * elsewhere it is a reply to the thread root. A group that became a supergroup answers 400 with
 * migrate_to_chat_id: we tell the core (chat-moved) and send to the new chat.
 */
import type { Api } from "grammy";
import type { Message, ReplyParameters } from "grammy/types";
import { grammy } from "./grammy.js";
import type { OutboundMessage } from "../../core/connector.js";
import type { Logger } from "../../core/log.js";
import { RemoteError } from "../../core/errors.js";
import type { ChatRef, MessageRef } from "../../core/types.js";
import { Pacer, TELEGRAM_BOT, TELEGRAM_GROUP, type BucketSpec } from "../pacing.js";
import { isGrammyError, migratedTo, toRemoteError } from "./errors.js";
import { CAPTION_LIMIT, fieldFor, methodFor, planMessage, renderText } from "./format.js";
import { chatIdOf, chatRefOf, formatSize, messageRef, parseMessageRef } from "./ids.js";
import { ReactionStack, toTelegramEmoji } from "./reactions.js";
import { capParts, OVERFLOW_FILE_NAME } from "../overflow.js";

export interface OutboundDeps {
  api: Api;
  /** Our bot's id (private chat refs are scoped by it). */
  botId: number;
  log: Logger;
  maxUploadSize: number;
  /** Whether the chat is a forum supergroup (topics). */
  isForum(chatId: number): Promise<boolean>;
  /** A basic group became a supergroup: tell the core (idempotent). */
  onMoved(from: number, to: number): Promise<void>;
  /** Waits for Telegram's send limits (about 30 messages/s per bot, 20/min per group). */
  pacer?: Pacer;
  /** Most messages one message becomes (bridge.max_message_parts); the rest goes as a text file. */
  maxParts?: number;
}

type Placement = { reply_parameters?: ReplyParameters; message_thread_id?: number };

/** Retries in place for later parts of a split message, so a 429 does not resend earlier parts. */
const PART_RETRIES = 3;
const PART_RETRY_MAX_MS = 30_000;
/** Media refs remembered for edits (older ones are found out from Telegram's answer). */
const MAX_REMEMBERED = 10_000;

export class TelegramOutbound {
  /** Refs of messages we sent with media: their text is a caption (editMessageCaption). */
  private readonly media = new Set<string>();
  /** Basic groups known to have become supergroups. */
  private readonly moved = new Map<number, number>();
  private readonly reactions = new ReactionStack();

  constructor(private readonly deps: OutboundDeps) {}

  async send(chat: ChatRef, msg: OutboundMessage): Promise<MessageRef[]> {
    const chatId = this.current(chatIdOf(chat));
    if (Number.isNaN(chatId)) throw new RemoteError("bad_chat", `not a Telegram chat id: ${chat}`, { retryable: false, userMessage: "the Telegram chat id is not valid" });
    for (const f of msg.files ?? []) {
      if (f.data.length === 0) {
        throw new RemoteError("file_empty", `${f.name} is empty`, { retryable: false, userMessage: `the file ${f.name} is empty (0 bytes), and Telegram takes no empty files` });
      }
      if (f.data.length > this.deps.maxUploadSize) {
        throw new RemoteError("file_too_large", `${f.name} is ${f.data.length} bytes; telegram.max_upload_size is ${this.deps.maxUploadSize}`, {
          retryable: false, userMessage: `the file ${f.name} (${formatSize(f.data.length)}) is larger than the ${formatSize(this.deps.maxUploadSize)} Telegram takes from bots`,
        });
      }
    }
    const planned = planMessage(msg);
    const { captions } = planned;
    const { parts: texts, rest } = capParts(planned.texts, this.deps.maxParts ?? 10, "");
    const placement = await this.placement(chatId, msg);
    const refs: MessageRef[] = [];
    let target = chatId;
    const run = async (what: string, fn: (id: number) => Promise<Message>): Promise<void> => {
      const first = refs.length === 0;
      // Only the first part may be put back in the queue: a later one waits, or the parts already sent would go again.
      await this.pace(target, what, first);
      const sent = await this.withRetries(first ? 0 : PART_RETRIES, () => this.inChat(target, what, fn));
      target = sent.chat.id;
      const ref = messageRef(chatRefOf(sent.chat, this.deps.botId), sent.message_id);
      refs.push(ref);
      if (what !== "sendMessage") this.rememberMedia(ref);
    };
    for (const html of texts) {
      await run("sendMessage", (id) => this.deps.api.sendMessage(id, html, { parse_mode: "HTML", ...placement }));
    }
    if (rest !== undefined) {
      const file = new (grammy().InputFile)(Buffer.from(htmlToText(rest)), OVERFLOW_FILE_NAME);
      await run("sendDocument", (id) => this.deps.api.sendDocument(id, file, { caption: "The rest of the message", ...placement }));
    }
    for (const [i, f] of (msg.files ?? []).entries()) {
      const method = methodFor(f);
      const params = {
        [fieldFor(method)]: new (grammy().InputFile)(f.data, f.name),
        caption: captions[i], parse_mode: "HTML" as const, ...placement,
        ...(method === "sendVideo" || method === "sendAnimation" ? dims(f) : {}),
      };
      const raw = this.deps.api.raw as unknown as Record<string, (p: Record<string, unknown>) => Promise<Message>>;
      await run(method, (id) => raw[method]!({ chat_id: id, ...params }));
    }
    return refs;
  }

  async edit(chat: ChatRef, target: MessageRef, msg: OutboundMessage): Promise<void> {
    const t = this.parse(target);
    const isMedia = this.media.has(target);
    // A message split in parts is edited in its first part only (the core edits part 0).
    const text = renderText(msg)[0];
    const caption = renderText(msg, CAPTION_LIMIT)[0];
    if (text === undefined || caption === undefined) return;
    await this.pace(t.chatId, "edit", true);
    const asCaption = () => this.inChat(t.chatId, "editMessageCaption", (id) =>
      this.deps.api.editMessageCaption(id, t.messageId, { caption, parse_mode: "HTML" }));
    try {
      if (isMedia) await asCaption();
      else await this.inChat(t.chatId, "editMessageText", (id) => this.deps.api.editMessageText(id, t.messageId, text, { parse_mode: "HTML" }));
    } catch (err) {
      if (isGrammyError(causeOf(err), 400, /message is not modified/)) return;
      if (!isMedia && isGrammyError(causeOf(err), 400, /no text in the message/)) {
        this.rememberMedia(target);
        try {
          await asCaption();
        } catch (e) {
          if (isGrammyError(causeOf(e), 400, /message is not modified/)) return;
          throw e;
        }
        return;
      }
      throw err;
    }
    void chat;
  }

  async delete(chat: ChatRef, target: MessageRef): Promise<void> {
    const t = this.parse(target);
    try {
      await this.inChat(t.chatId, "deleteMessage", (id) => this.deps.api.deleteMessage(id, t.messageId));
    } catch (err) {
      if (isGrammyError(causeOf(err), 400, /message to delete not found/)) return; // already gone
      throw err;
    }
    void chat;
  }

  /**
   * A bot holds at most one reaction per message: the most recent Matrix reaction wins, and
   * removing it falls back to the newest one still there (see reactions.ts). Emoji Telegram does
   * not allow are skipped.
   */
  async react(chat: ChatRef, target: MessageRef, emoji: string, on: boolean): Promise<void> {
    const t = this.parse(target);
    const tg = toTelegramEmoji(emoji);
    if (!tg) {
      this.deps.log.debug("reaction not bridged: Telegram does not allow this emoji for bots", { emoji });
      return;
    }
    const before = this.reactions.current(target);
    const now = this.reactions.apply(target, tg, on);
    if (on === false && before !== null && before === now) return; // an older one was removed; the shown one stays
    try {
      await this.inChat(t.chatId, "setMessageReaction", (id) =>
        this.deps.api.setMessageReaction(id, t.messageId, now ? [{ type: "emoji", emoji: now }] : []));
    } catch (err) {
      if (isGrammyError(causeOf(err), 400, /reaction_invalid|reactions_too_many/)) {
        this.deps.log.debug("reaction not bridged: the chat does not allow it", { emoji });
        return;
      }
      throw err;
    }
    void chat;
  }

  /** Pins a message (the cutover notice); the bot needs the pin right in groups. */
  async pin(chat: ChatRef, target: MessageRef): Promise<void> {
    const t = this.parse(target);
    await this.inChat(t.chatId, "pinChatMessage", (id) => this.deps.api.pinChatMessage(id, t.messageId));
    void chat;
  }

  private rememberMedia(ref: MessageRef): void {
    this.media.add(ref);
    if (this.media.size > MAX_REMEMBERED) this.media.delete(this.media.values().next().value as string);
  }

  /** The chat a basic group moved to, if we know it moved. */
  current(chatId: number): number {
    return this.moved.get(chatId) ?? chatId;
  }

  /** Wait for a send slot; when `mayDefer` and the slot is far, throw Deferred (pacing.ts) instead. */
  private async pace(chatId: number, what: string, mayDefer: boolean): Promise<void> {
    if (!this.deps.pacer) return;
    const limits: Array<[string, BucketSpec]> = [[`tg:${this.deps.botId}`, TELEGRAM_BOT]];
    if (chatId < 0) limits.push([`tg:${this.deps.botId}:${this.current(chatId)}`, TELEGRAM_GROUP]);
    if (mayDefer) await this.deps.pacer.pace(limits, what);
    else await this.deps.pacer.take(limits);
  }

  private parse(ref: MessageRef): { chatId: number; messageId: number } {
    const t = parseMessageRef(ref);
    if (!t) throw new RemoteError("bad_ref", `not a Telegram message ref: ${ref}`, { retryable: false });
    return t;
  }

  /** Where the message goes: as a reply, and/or into a forum topic. */
  private async placement(chatId: number, msg: OutboundMessage): Promise<Placement> {
    const reply = msg.replyTo ? parseMessageRef(msg.replyTo) : null;
    const root = msg.threadRoot ? parseMessageRef(msg.threadRoot) : null;
    const same = (r: { chatId: number } | null) => r !== null && this.current(r.chatId) === chatId;
    const out: Placement = {};
    if (same(root) && (await this.deps.isForum(chatId).catch(() => false))) out.message_thread_id = root!.messageId;
    const replyTo = same(reply) ? reply : out.message_thread_id === undefined && same(root) ? root : null;
    if (replyTo && replyTo.messageId !== out.message_thread_id) {
      out.reply_parameters = { message_id: replyTo.messageId, allow_sending_without_reply: true };
    }
    return out;
  }

  /** Runs a call against a chat; a migrated basic group is followed once to its supergroup. */
  private async inChat<T>(chatId: number, what: string, fn: (id: number) => Promise<T>): Promise<T> {
    const id = this.current(chatId);
    try {
      return await fn(id);
    } catch (err) {
      const to = migratedTo(err);
      if (to === undefined) throw toRemoteError(err, what);
      this.moved.set(id, to);
      await this.deps.onMoved(id, to);
      try {
        return await fn(to);
      } catch (again) {
        throw toRemoteError(again, what);
      }
    }
  }

  private async withRetries<T>(retries: number, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const re = err instanceof RemoteError ? err : toRemoteError(err, "call");
        if (attempt >= retries || !re.retryable || re.badCredentials) throw re;
        const wait = Math.min(PART_RETRY_MAX_MS, re.retryAfterMs ?? 500 * 2 ** attempt);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}

/** The Bot API error behind a RemoteError made by inChat. */
function causeOf(err: unknown): unknown {
  return err instanceof RemoteError ? err.cause : err;
}

function dims(f: { width?: number; height?: number }): Record<string, number> {
  return { ...(f.width ? { width: f.width } : {}), ...(f.height ? { height: f.height } : {}) };
}

/** A part's Telegram HTML as the plain text it shows (for the overflow file). */
function htmlToText(html: string): string {
  return html.replace(/<[^>]*>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");
}
