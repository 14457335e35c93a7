/**
 * One logged-in bot: a grammY Bot (its Api pointed at telegram.api_root), updates by long
 * polling or webhook, and the Connection methods the core calls.
 *
 * Why our own polling loop instead of bot.start(): grammY's simple loop moves past an update
 * whose handler failed (after bot.catch) and, on stop(), confirms the last update it *tried*.
 * Both would drop an update that never reached the durable queue. Here the offset moves past an
 * update only after sink.push resolved; a failing push is retried (the bot waits, visibly in
 * `status`), and a crash or stop before that gets the update again from Telegram. An update we
 * cannot read is logged and skipped, so one bad update never stops the bot.
 *
 * Errors while polling: 401 → "bad-credentials" and polling stops (log in again); 409 (another
 * process polls this bot, or a webhook is set) → "error", retried with backoff; 429 → waits
 * retry_after; network trouble and 5xx → "transient-disconnect" with exponential backoff.
 */
import { createHash } from "node:crypto";
import type { Bot } from "grammy";
import type { Update } from "grammy/types";
import { grammy } from "./grammy.js";
import type { Connection, ConnectionState, EventSink, LoginRecord, OutboundMessage } from "../../core/connector.js";
import type { Logger } from "../../core/log.js";
import { RemoteError } from "../../core/errors.js";
import type { ChatInfo, ChatRef, FileRef, MessageRef, RemoteEvent, UserInfo, UserRef } from "../../core/types.js";
import { isGrammyError, networkReason, toRemoteError } from "./errors.js";
import { chatRef, chatRefOf } from "./ids.js";
import { answerClaim, startClaim } from "./claims.js";
import { convertUpdate, peopleIn, shortHash } from "./inbound.js";
import { TelegramLookups } from "./lookups.js";
import { TelegramOutbound } from "./outbound.js";
import type { WebhookHub, WebhookRoute } from "./webhook.js";
import type { Pacer } from "../pacing.js";
import { errorFields } from "../../core/log.js";

/** Update types we ask for. chat_member and message_reaction are only sent when asked for (and to admin bots). */
export const ALLOWED_UPDATES = [
  "message", "edited_message", "channel_post", "edited_channel_post", "message_reaction", "my_chat_member", "chat_member",
] as const;

export interface TelegramSettings {
  apiRoot: string;
  mode: "polling" | "webhook";
  /** Public base URL; each bot's webhook is <webhookUrl>/<bot id>. */
  webhookUrl: string;
  /** secret_token for setWebhook; "" derives one per bot from its token. */
  webhookSecret: string;
  maxDownloadSize: number;
  maxUploadSize: number;
  /** bridge.max_message_parts: most messages one message becomes. */
  maxMessageParts?: number;
  /** Long-poll timeout in seconds. Default 30. */
  pollTimeoutSeconds: number;
  /** Backoff between failed polls: doubles from initialMs up to maxMs. */
  backoff: { initialMs: number; maxMs: number };
  /** HTTP timeout of one Bot API call (uploads included), in seconds. */
  requestTimeoutSeconds: number;
  /** Outbound pacing to Telegram's send limits (pacing.ts). Default on; the benchmark turns it off to measure the bridge itself. */
  pacing?: boolean;
}

/** grammY types its signals with the abort-controller shim; Node's own AbortSignal works the same. */
type GrammySignal = Parameters<Bot["api"]["getMe"]>[0];
const grammySignal = (s: AbortSignal): GrammySignal => s as unknown as GrammySignal;

export class TelegramConnection implements Connection {
  readonly bot: Bot;
  readonly botId: number;
  private readonly lookups: TelegramLookups;
  private readonly outbound: TelegramOutbound;
  private readonly stopper = new AbortController();
  private readonly chats = new Map<string, number>();
  private state: ConnectionState | null = null;
  private stateMessage: string | undefined;
  /** The next update_id to ask for: only ever past updates that are durably queued. */
  private offset = 0;
  private running: Promise<void> | null = null;
  private route: WebhookRoute | null = null;

  constructor(
    private readonly login: LoginRecord,
    private readonly sink: EventSink,
    private readonly settings: TelegramSettings,
    private readonly log: Logger,
    private readonly hub: WebhookHub | null,
    pacer?: Pacer,
  ) {
    const token = login.secrets.token ?? "";
    this.botId = Number(login.remoteId);
    this.bot = new (grammy().Bot)(token, { client: { apiRoot: settings.apiRoot, timeoutSeconds: settings.requestTimeoutSeconds } });
    // Only used if updates ever go through grammY's middleware; our loop has its own per-update guard.
    this.bot.catch((err) => this.log.warn("update handler failed", { error: err.message }));
    this.lookups = new TelegramLookups(this.bot.api, { apiRoot: settings.apiRoot, token, maxDownloadSize: settings.maxDownloadSize, botId: this.botId }, log);
    this.outbound = new TelegramOutbound({
      api: this.bot.api, botId: this.botId, log, maxUploadSize: settings.maxUploadSize, maxParts: settings.maxMessageParts,
      isForum: (id) => this.lookups.isForum(id),
      pacer,
      onMoved: (from, to) => this.sink.push([{ kind: "chat-moved", key: `moved:${from}:${to}`, chat: chatRef(from), at: Date.now(), to: chatRef(to) }]),
    });
  }

  /** Starts receiving updates in the background; never throws (state goes to the sink). */
  start(): void {
    this.running = this.run().catch((err) => {
      this.setState("error", networkReason(err));
      this.log.error("telegram connection stopped unexpectedly", { error: networkReason(err) });
    });
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  // ---- receiving ------------------------------------------------------------------------

  private async run(): Promise<void> {
    this.setState("connecting");
    const me = await this.retrying("getMe", () => this.bot.api.getMe(grammySignal(this.stopper.signal)));
    if (!me) return;
    this.bot.botInfo = me;
    if (me.id !== this.botId) this.log.warn("the token belongs to another bot than the login", { login: this.login.id, bot: me.id });
    if (this.settings.mode === "webhook") return this.runWebhook(me.username);
    // A webhook left from webhook mode would make getUpdates fail with 409; pending updates stay.
    if (!(await this.retrying("deleteWebhook", () => this.bot.api.deleteWebhook({}, grammySignal(this.stopper.signal))))) return;
    await this.poll(me.username);
  }

  private async poll(username: string): Promise<void> {
    const { initialMs, maxMs } = this.settings.backoff;
    let delay = initialMs;
    let first = true;
    while (!this.stopped) {
      let updates: Update[];
      try {
        updates = await this.bot.api.getUpdates({
          offset: this.offset || undefined,
          timeout: first ? 0 : this.settings.pollTimeoutSeconds,
          allowed_updates: [...ALLOWED_UPDATES],
        }, grammySignal(this.stopper.signal));
      } catch (err) {
        if (this.stopped) return;
        const wait = this.pollFailed(err, delay);
        if (wait === null) return;
        await this.sleep(wait);
        delay = Math.min(maxMs, delay * 2);
        continue;
      }
      first = false;
      delay = initialMs;
      this.setState("connected", `@${username}`);
      // The whole answer is queued in one push (one insert, not one round trip per update).
      const events: RemoteEvent[] = [];
      for (const update of updates) events.push(...(await this.eventsOf(update)));
      if (!(await this.queueEvents(events, updates.at(-1)?.update_id, true))) return; // stopped while queueing: not confirmed
      for (const update of updates) this.offset = Math.max(this.offset, update.update_id + 1); // never backwards, even for a stray old id
    }
  }

  /** Sets the state for a failed getUpdates; returns how long to wait, or null to stop polling. */
  private pollFailed(err: unknown, delay: number): number | null {
    if (isGrammyError(err, 401) || isGrammyError(err, 404)) {
      this.setState("bad-credentials", "Telegram rejected the bot token (revoked or regenerated in BotFather?)");
      return null;
    }
    const jitter = Math.random() * delay * 0.25;
    if (isGrammyError(err, 409)) {
      this.setState("error", "409 Conflict: another program is polling this bot or a webhook is set; stop it (retrying)");
      return delay + jitter;
    }
    if (isGrammyError(err, 429)) {
      const after = (err.parameters?.retry_after ?? 1) * 1000;
      this.log.warn("getUpdates rate limited", { retryAfterMs: after });
      return Math.max(after, delay);
    }
    this.setState("transient-disconnect", toRemoteError(err, "getUpdates").message);
    return delay + jitter;
  }

  /**
   * Converts and queues one update. Resolves true once its events are durably queued (or it had
   * none); false when stopped first. With `retry`, a failed push is retried until it works.
   */
  async handleUpdate(update: Update, retry: boolean): Promise<boolean> {
    return this.queueEvents(await this.eventsOf(update), update?.update_id, retry);
  }

  /** An update's events (with profile updates of renamed people first); none for one we cannot read. */
  private async eventsOf(update: Update): Promise<RemoteEvent[]> {
    let events: RemoteEvent[] = [];
    let renamed: number[] = [];
    const claim = startClaim(update);
    if (claim) return answerClaim(this.bot.api, this.sink, claim, this.log).then(() => []);
    try {
      events = convertUpdate(update, { botId: this.botId }); // first: it names the field of a malformed update
      renamed = this.track(update);
    } catch (err) {
      this.log.warn("skipping a Telegram update that could not be read", { update: update?.update_id, ...errorFields(err) });
      return [];
    }
    if (events.length > 0 && renamed.length > 0) events = [...(await this.profileEvents(renamed, events[0]!)), ...events];
    return events;
  }

  /** Queues events durably: true once they are (or there were none); false when stopped first. */
  private async queueEvents(events: RemoteEvent[], update: number | undefined, retry: boolean): Promise<boolean> {
    if (events.length === 0) return true;
    let delay = this.settings.backoff.initialMs;
    for (;;) {
      if (this.stopped) return false;
      try {
        await this.sink.push(events);
        if (this.state === "error" && this.stateMessage?.startsWith("could not queue")) this.setState("connected", this.stateMessage);
        return true;
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        this.log.error("could not queue a Telegram update; it will be retried", { update, error: why });
        if (!retry) throw err;
        this.setState("error", `could not queue updates: ${why}`);
        await this.sleep(delay);
        delay = Math.min(this.settings.backoff.maxMs, delay * 2);
      }
    }
  }

  /** Someone's name changed: their ghost is updated before the event that showed it. */
  private async profileEvents(users: number[], first: RemoteEvent): Promise<RemoteEvent[]> {
    const out: RemoteEvent[] = [];
    for (const id of users) {
      const info = await this.lookups.userInfo(String(id)).catch(() => null);
      if (!info) continue;
      out.push({ kind: "user-info", key: `user:${id}:${shortHash(`${info.name}|${info.avatar ?? ""}`)}`, chat: first.chat, at: first.at, user: String(id), info });
    }
    return out;
  }

  /** Remembers names, forum flags and the chats the bot is in (for listChats); returns who was renamed. */
  private track(update: Update): number[] {
    const renamed = this.lookups.remember(peopleIn(update));
    const msg = update.message ?? update.channel_post ?? update.edited_message ?? update.edited_channel_post;
    if (msg) {
      this.lookups.noteForum(msg.chat);
      this.chats.set(chatRefOf(msg.chat, this.botId), msg.date * 1000);
    }
    const mine = update.my_chat_member;
    if (mine) {
      const status = mine.new_chat_member.status;
      const gone = status === "left" || status === "kicked";
      if (gone) this.chats.delete(chatRefOf(mine.chat, this.botId));
      else this.chats.set(chatRefOf(mine.chat, this.botId), mine.date * 1000);
      this.log.info(gone ? "the bot was removed from a chat" : "the bot was added to a chat", { chat: mine.chat.id, status });
    }
    return renamed;
  }

  private async runWebhook(username: string): Promise<void> {
    if (!this.hub) return this.setState("error", "webhook mode without a webhook server");
    const secret = this.settings.webhookSecret || createHash("sha256").update(`tandem-webhook:${this.login.secrets.token}`).digest("base64url");
    const url = `${this.settings.webhookUrl.replace(/\/+$/, "")}/${this.botId}`;
    // max_connections 1: Telegram then sends one update at a time, keeping each chat in order.
    const set = await this.retrying("setWebhook", () => this.bot.api.setWebhook(url, {
      secret_token: secret, allowed_updates: [...ALLOWED_UPDATES], max_connections: 1,
    }, grammySignal(this.stopper.signal)));
    if (!set || this.stopped) return;
    this.setState("connected", `@${username} (webhook)`);
    this.route = {
      secret,
      handle: async (u) => {
        if (!(await this.handleUpdate(u, false))) throw new Error("stopping"); // not queued: Telegram sends it again
      },
    };
    try {
      await this.hub.add(String(this.botId), this.route);
    } catch (err) {
      this.setState("error", `cannot listen for Telegram webhooks: ${networkReason(err)}`);
    }
  }

  /** Runs a setup call until it works; null when stopped or the token is bad. */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
    let delay = this.settings.backoff.initialMs;
    while (!this.stopped) {
      try {
        return await fn();
      } catch (err) {
        if (this.stopped) return null;
        if (isGrammyError(err, 401) || isGrammyError(err, 404)) {
          this.setState("bad-credentials", "Telegram rejected the bot token (revoked or regenerated in BotFather?)");
          return null;
        }
        const e = toRemoteError(err, what);
        this.setState("transient-disconnect", e.message);
        await this.sleep(Math.max(delay, e.retryAfterMs ?? 0));
        delay = Math.min(this.settings.backoff.maxMs, delay * 2);
      }
    }
    return null;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.stopper.signal;
      if (signal.aborted) return resolve();
      const done = () => { clearTimeout(timer); signal.removeEventListener("abort", done); resolve(); };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private setState(state: ConnectionState, message?: string): void {
    if (this.state === state && this.stateMessage === message) return;
    this.state = state;
    this.stateMessage = message;
    this.sink.status(message === undefined ? { state } : { state, message });
  }

  // ---- the core's calls -----------------------------------------------------------------

  send(chat: ChatRef, msg: OutboundMessage): Promise<MessageRef[]> {
    return this.guard(this.outbound.send(chat, msg));
  }

  edit(chat: ChatRef, target: MessageRef, msg: OutboundMessage): Promise<void> {
    return this.guard(this.outbound.edit(chat, target, msg));
  }

  delete(chat: ChatRef, target: MessageRef): Promise<void> {
    return this.guard(this.outbound.delete(chat, target));
  }

  react(chat: ChatRef, target: MessageRef, emoji: string, on: boolean): Promise<void> {
    return this.guard(this.outbound.react(chat, target, emoji, on));
  }

  pin(chat: ChatRef, target: MessageRef): Promise<void> {
    return this.guard(this.outbound.pin(chat, target));
  }

  chatInfo(chat: ChatRef): Promise<ChatInfo> {
    return this.guard(this.lookups.chatInfo(chat));
  }

  userInfo(user: UserRef): Promise<UserInfo> {
    return this.guard(this.lookups.userInfo(user));
  }

  /** The bot's own profile photo, for its space. */
  accountAvatar = async (): Promise<string | undefined> => (await this.userInfo(String(this.botId))).avatar;

  download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }> {
    return this.guard(this.lookups.download(file));
  }

  downloadAvatar(avatar: string): Promise<{ data: Buffer; mime: string }> {
    return this.guard(this.lookups.downloadAvatar(avatar));
  }

  /**
   * Bots cannot list their chats: these are the chats this connection has seen updates from since
   * it started (newest first). Portals are made on a chat's first message anyway.
   */
  async listChats(limit: number): Promise<ChatRef[]> {
    return [...this.chats.entries()].sort((a, b) => b[1] - a[1]).slice(0, Math.max(0, limit)).map(([c]) => c);
  }

  resolveChat(input: string): Promise<ChatRef | null> {
    return this.guard(this.lookups.resolveChat(input));
  }

  isOwnUser(user: UserRef): boolean {
    return user === String(this.botId);
  }

  /**
   * Stops polling (or leaves the webhook server) and confirms the updates already queued. The
   * webhook itself stays set, so Telegram keeps updates for the next start.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopper.abort();
    if (this.route && this.hub) await this.hub.remove(String(this.botId), this.route);
    // A push may never settle (doctor's probe): do not wait for the loop forever.
    await Promise.race([this.running, new Promise((r) => setTimeout(r, 2000))]);
    if (this.settings.mode === "polling" && this.offset > 0 && this.state !== "bad-credentials") {
      await this.bot.api.getUpdates({ offset: this.offset, limit: 1, timeout: 0 }, grammySignal(AbortSignal.timeout(3000))).catch(() => undefined);
    }
    this.setState("stopped");
  }

  /** Reports a rejected token as the connection's state as well as to the caller. */
  private async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      const e = err instanceof RemoteError ? err : toRemoteError(err, "call");
      if (e.badCredentials) this.setState("bad-credentials", "Telegram rejected the bot token (revoked or regenerated in BotFather?)");
      throw e;
    }
  }
}
