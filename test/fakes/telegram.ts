// A protocol-faithful fake of the Telegram Bot API for tests, driven by the real grammY client:
//
//   const tg = await FakeTelegram.start();
//   const fleet = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet" });
//   const bot = new Bot(fleet.token, { client: { apiRoot: tg.apiRoot } });
//
// It serves /bot<token>/<method> (GET query, JSON, urlencoded or multipart bodies) and
// /file/bot<token>/<file_path>, answers {ok:true,result} or {ok:false,error_code,description,
// parameters?} with the matching HTTP status, and keeps per-bot update queues with getUpdates
// offset/long-poll/allowed_updates semantics, webhooks, privacy mode, 48 h delete window, HTML /
// MarkdownV2 parsing into UTF-16 entities, uploads and downloads with Telegram's size limits.
//
// Layers: telegram-http.ts (bodies, params, ApiError) -> telegram-markup.ts (HTML/MarkdownV2
// parsing, auto-detected entities) -> telegram-world.ts (state, update queues, long polling,
// webhook delivery) -> telegram-methods.ts (Bot API methods) -> telegram-scenario.ts (test-side
// setup and user actions) -> this file (HTTP server, inspection, fault injection).
//
// Known gaps (deliberate): no inline mode, callbacks, polls, media groups, forward/copy, stories,
// payments or business features; one private chat per user id (shared by every bot in it);
// file_ids work for every bot and across media types; photos are not re-encoded (one PhotoSize,
// original bytes); no real rate limiting (use failNext); a general /command reaches a
// privacy-mode bot only if it was the last bot to post in the group (or none has posted);
// webhooks only to loopback, one delivery at a time; MarkdownV2 follows TDLib's rules closely
// but not byte-for-byte in odd corner cases.
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";
import type { Chat, Message, ReactionType, Update } from "grammy/types";
import { ApiError, parseParams, readBody } from "./telegram-http.js";
import { TelegramScenario } from "./telegram-scenario.js";
import { MAX_UPLOAD, type MemberStatus } from "./telegram-world.js";

export type { AdminRights, BotHandle, ChatType, GetUpdatesCall, MemberStatus, UpdateType } from "./telegram-world.js";
export type {
  AddChatOptions, AddUserOptions, CreateBotOptions, MediaInput, MemberSpec, UserMessageContent,
} from "./telegram-scenario.js";
export { ALLOWED_REACTIONS } from "./telegram-world.js";
export { parseHtml, parseMarkdownV2 } from "./telegram-markup.js";

export type InjectedFailure =
  | { error_code: number; description?: string; retry_after?: number; migrate_to_chat_id?: number }
  | { status: number; body?: string; contentType?: string }
  | { network: "reset" };

export interface RecordedRequest {
  method: string;
  token: string;
  botId?: number;
  params: Record<string, unknown>;
  at: number;
}

export interface StoredFile {
  file_id: string;
  file_unique_id: string;
  file_path: string;
  data: Buffer;
  file_name?: string;
  mime_type?: string;
}

export class FakeTelegram extends TelegramScenario {
  /** "http://127.0.0.1:PORT" — pass as grammY's client.apiRoot. */
  apiRoot = "";
  /** Every Bot API request, in arrival order (file parts shown as "<file name, N bytes>"). */
  readonly requests: RecordedRequest[] = [];
  private server: Server | undefined;
  private failures: Array<{ method: string; remaining: number; failure: InjectedFailure; token?: string }> = [];

  static async start(): Promise<FakeTelegram> {
    const tg = new FakeTelegram();
    const server = createServer((req, res) => {
      tg.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) tg.json(res, 500, { ok: false, error_code: 500, description: `Internal Server Error: ${String(err)}` });
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    tg.server = server;
    tg.apiRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    tg.runMethod = async (bot, method, params) => {
      const handler = tg.methods[method.toLowerCase()];
      if (!handler) throw new ApiError(404, "Not Found");
      const p = parseParams(new URL(tg.apiRoot), "application/json", Buffer.from(JSON.stringify(params)));
      return handler({ bot, params: p, signal: new AbortController().signal, apiRoot: tg.apiRoot });
    };
    return tg;
  }

  /** Answers held long polls, stops webhook delivery and closes the server and its connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.releasePolls();
    this.cancelTimers();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private json(res: ServerResponse, status: number, body: unknown): void {
    if (res.destroyed || res.writableEnded) return;
    const data = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
    res.end(data);
  }

  private fail(res: ServerResponse, err: ApiError): void {
    this.json(res, err.code, {
      ok: false, error_code: err.code, description: err.description, ...(err.parameters ? { parameters: err.parameters } : {}),
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.apiRoot);
    const body = await readBody(req, MAX_UPLOAD + 1024 * 1024);
    const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (file) {
      const bot = this.botByToken(decodeURIComponent(file[1]!));
      const rec = bot ? this.filesByPath.get(decodeURIComponent(file[2]!)) : undefined;
      if (!rec) { this.fail(res, new ApiError(404, "Not Found")); return; }
      res.writeHead(200, { "content-type": rec.mime_type ?? "application/octet-stream", "content-length": rec.data.length });
      res.end(rec.data);
      return;
    }
    const route = /^\/bot([^/]*)\/([A-Za-z0-9_]*)\/?$/.exec(url.pathname);
    if (!route) { this.fail(res, new ApiError(404, "Not Found")); return; }
    const token = decodeURIComponent(route[1]!);
    const method = route[2]!;
    const bot = this.botByToken(token);
    let params;
    try {
      params = parseParams(url, req.headers["content-type"], body.tooLarge ? Buffer.alloc(0) : body.data);
    } catch (err) {
      if (err instanceof ApiError) { this.fail(res, err); return; }
      throw err;
    }
    const logged: Record<string, unknown> = {};
    for (const name of params.names()) logged[name] = params.raw(name);
    for (const name of params.names()) {
      const f = params.raw(name);
      if (typeof f === "string" && f.startsWith("attach://")) {
        const fp = params.file(name);
        if (fp?.kind === "upload") logged[name] = `<file ${fp.file.filename}, ${fp.file.data.length} bytes>`;
      }
    }
    this.requests.push({ method, token, ...(bot ? { botId: bot.handle.id } : {}), params: logged, at: Date.now() });
    if (!bot) { this.fail(res, new ApiError(401, "Unauthorized")); return; }
    if (body.tooLarge) { this.fail(res, new ApiError(413, "Request Entity Too Large")); return; }
    const handler = this.methods[method.toLowerCase()];
    if (!handler) { this.fail(res, new ApiError(404, "Not Found")); return; }
    if (this.inject(method, token, res)) return;
    if (method.toLowerCase() === "getupdates") {
      const allowed = params.json<string[]>("allowed_updates");
      this.getUpdatesCalls.push({
        token, botId: bot.handle.id, at: Date.now(),
        ...(params.int("offset") !== undefined ? { offset: params.int("offset") } : {}),
        ...(params.int("limit") !== undefined ? { limit: params.int("limit") } : {}),
        ...(params.int("timeout") !== undefined ? { timeout: params.int("timeout") } : {}),
        ...(allowed !== undefined ? { allowed_updates: allowed } : {}),
      });
    }
    const abort = new AbortController();
    res.on("close", () => { if (!res.writableFinished) abort.abort(); });
    try {
      const result = await handler({ bot, params, signal: abort.signal, apiRoot: this.apiRoot });
      this.json(res, 200, { ok: true, result });
    } catch (err) {
      if (err instanceof ApiError) this.fail(res, err);
      else throw err;
    }
  }

  private inject(method: string, token: string, res: ServerResponse): boolean {
    const i = this.failures.findIndex((f) => (f.method === "*" || f.method === method.toLowerCase()) && (!f.token || f.token === token));
    if (i === -1) return false;
    const entry = this.failures[i]!;
    if (--entry.remaining <= 0) this.failures.splice(i, 1);
    const f = entry.failure;
    if ("network" in f) { res.destroy(); return true; }
    if ("status" in f) {
      if (f.body !== undefined) {
        res.writeHead(f.status, { "content-type": f.contentType ?? "text/html" });
        res.end(f.body);
      } else this.json(res, f.status, { ok: false, error_code: f.status, description: STATUS_CODES[f.status] ?? "Error" });
      return true;
    }
    const description = f.description ?? (f.error_code === 429
      ? `Too Many Requests: retry after ${f.retry_after ?? 5}`
      : f.error_code >= 500 ? STATUS_CODES[f.error_code] ?? "Internal Server Error" : `Error ${f.error_code}`);
    const parameters = {
      ...(f.error_code === 429 ? { retry_after: f.retry_after ?? 5 } : {}),
      ...(f.migrate_to_chat_id !== undefined ? { migrate_to_chat_id: f.migrate_to_chat_id } : {}),
    };
    this.fail(res, new ApiError(f.error_code, description, Object.keys(parameters).length ? parameters : undefined));
    return true;
  }

  // ---- inspection ----------------------------------------------------------------------------

  /** Everything in the chat (users', bots' and service messages), oldest first, minus deletions. */
  messages(chatId: number): Message[] {
    return [...this.chatRecord(chatId).messages.values()].map((s) => structuredClone(s.message));
  }

  message(chatId: number, messageId: number): Message | undefined {
    const s = this.chatRecord(chatId).messages.get(messageId);
    return s ? structuredClone(s.message) : undefined;
  }

  /** Current reactions on a message, per user or bot. */
  reactionsOf(chatId: number, messageId: number): Array<{ actorId: number; isBot: boolean; reaction: ReactionType[] }> {
    const s = this.storedMessage(this.chatRecord(chatId), messageId);
    return [...s.reactions].map(([actorId, reaction]) => ({ actorId, isBot: this.bots.has(actorId), reaction: structuredClone(reaction) }));
  }

  /** A stored file by file_id (uploads by bots, users' media, profile and chat photos). */
  file(fileId: string): StoredFile | undefined {
    const f = this.files.get(fileId);
    if (!f) return undefined;
    return {
      file_id: f.file_id, file_unique_id: f.file_unique_id, file_path: f.file_path, data: f.data,
      ...(f.file_name ? { file_name: f.file_name } : {}), ...(f.mime_type ? { mime_type: f.mime_type } : {}),
    };
  }

  /** Chat info as the fake holds it (members with statuses, pinned ids, migration). */
  chat(chatId: number): { chat: Chat; members: Array<{ id: number; status: MemberStatus }>; pinned: number[]; migratedTo?: number } {
    const c = this.chatRecord(chatId);
    return {
      chat: this.chatRef(c), members: [...c.members].map(([id, m]) => ({ id, status: m.status })), pinned: [...c.pinned],
      ...(c.migratedTo !== undefined ? { migratedTo: c.migratedTo } : {}),
    };
  }

  /** Requests made so far, optionally only for one method (case-insensitive). */
  /**
   * Deliver a raw update body to a bot as Telegram would (e.g. a redelivery or a malformed
   * update); returns false when the bot's allowed_updates filter drops it.
   */
  injectUpdate(botId: number, body: Record<string, unknown>): boolean {
    return this.enqueue(this.botRecord(botId), body as never);
  }

  calls(method?: string): RecordedRequest[] {
    return method ? this.requests.filter((r) => r.method.toLowerCase() === method.toLowerCase()) : [...this.requests];
  }

  /** Unconfirmed updates for a bot (by token or bot id). */
  pendingUpdates(bot: string | number): Update[] {
    return structuredClone(this.botRecord(bot).queue);
  }

  /** Highest offset the bot has confirmed with getUpdates (0 if none). */
  confirmedOffset(bot: string | number): number {
    return this.botRecord(bot).confirmedOffset;
  }

  // ---- fault injection -----------------------------------------------------------------------

  /**
   * The next `count` calls of `method` ("*" = any) fail as given, e.g.
   * { error_code: 429, retry_after: 1 }, { status: 502 }, { status: 502, body: "<html>…" },
   * { network: "reset" }. Optionally only for one token.
   */
  failNext(method: string, count = 1, failure: InjectedFailure = { error_code: 429, retry_after: 1 }, opts: { token?: string } = {}): void {
    this.failures.push({ method: method === "*" ? "*" : method.toLowerCase(), remaining: count, failure, ...(opts.token ? { token: opts.token } : {}) });
  }

  /** Revokes a token (it answers 401 from now on); returns the bot's new token. */
  revokeToken(token: string): string {
    const bot = this.botRecord(token);
    this.tokens.delete(token);
    bot.revokedTokens.add(token);
    bot.handle.token = this.newToken(bot.handle.id);
    this.tokens.set(bot.handle.token, bot);
    const poll = bot.poll;
    if (poll) {
      bot.poll = undefined;
      clearTimeout(poll.timer);
      poll.reject(new ApiError(401, "Unauthorized"));
    }
    return bot.handle.token;
  }

  /** Polls `pred` every 10 ms until it returns something truthy; throws after `timeoutMs`. */
  async waitFor<T>(pred: () => T | Promise<T>, timeoutMs = 5_000, what = "condition"): Promise<Exclude<T, false | null | undefined | 0 | "">> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await pred();
      if (value) return value as Exclude<T, false | null | undefined | 0 | "">;
      if (Date.now() > deadline) throw new Error(`FakeTelegram.waitFor: ${what} not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
