// Fake Slack for tests: Web API (POST /api/<method>) and Socket Mode (ws://…/link/) on one 127.0.0.1 port,
// talked to by the real @slack/web-api WebClient (slackApiUrl) and @slack/socket-mode SocketModeClient
// (clientOptions.slackApiUrl). State changes made through the test API or the Web API emit the events
// real Slack emits, as events_api envelopes to the team's app; envelopes must be acked or are redelivered.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiError, type ApiContext, METHODS } from "./slack-api.js";
import {
  type Conversation, type Json, type SlackMessage, type SlackReaction, type SlackUser, type StoredFile,
  type Team, type TeamHandle, TINY_PNG, clone, imageSize, mimeFromName, fileTypeOf,
} from "./slack-model.js";
import { type AckRecord, type DisconnectReason, type EnvelopeRecord, type SentEnvelope, SocketHub, eventCallback } from "./slack-socket.js";
import { type NewChannel, type NewUser, type PostOptions, SlackStore } from "./slack-state.js";

export type { AckRecord, DisconnectReason, EnvelopeRecord, Json, NewChannel, NewUser, PostOptions, SentEnvelope, SlackMessage, SlackReaction, SlackUser, StoredFile, TeamHandle };
export type { NewFile } from "./slack-state.js";

export interface FakeSlackOptions {
  /** How long an envelope may stay unacked before it is redelivered (retry_reason "timeout"). Default 3000. */
  ackTimeoutMs?: number;
  /** Redeliveries before an envelope is given up. Default 3 (Slack's). */
  maxRetries?: number;
  /** Server pings on each socket (the SDK then expects one every serverPingTimeout). 0 = none. Default 5000. */
  pingIntervalMs?: number;
  /** After a `disconnect` frame, close the socket if the client has not within this time. Default 1000. */
  disconnectGraceMs?: number;
  /**
   * When a socket closes, redeliver its unacked envelopes at once, in order, ahead of newer events
   * (instead of when each ack timer fires). Real Slack documents retries but not their order. Default false.
   */
  redeliverOnClose?: boolean;
  /** Extra delay between writing a bot echo to the socket and writing the HTTP response. Default 20. */
  echoLeadMs?: number;
}

/** A team, by id or by anything with an id (the TeamHandle createTeam returns). */
export type TeamRef = string | { id: string };
/** A user or conversation, by id or object. */
export type IdRef = string | { id: string };

/** One Web API request as the fake saw it. */
export interface ApiCall {
  method: string;
  params: Json;
  tokenKind?: "bot" | "app";
  teamId?: string;
  status: number;
  ok: boolean;
  error?: string;
  at: number;
}

const idOf = (r: IdRef): string => (typeof r === "string" ? r : r.id);

/** Web API calls of one method held before they are answered (see FakeSlack.hold). */
export interface MethodHold {
  /** Resolves once `n` calls have arrived since the hold began. */
  arrived(n?: number): Promise<void>;
  /** Resolves once calls have arrived for `n` different values of `param` (e.g. channels: a client's retry of one call is not another call). */
  arrivedFor(param: string, n: number): Promise<void>;
  /** Answer the held calls (with the state as it is then) and stop holding. */
  release(): void;
}

export class FakeSlack {
  /** "http://127.0.0.1:PORT" */
  readonly baseUrl: string;
  /** "http://127.0.0.1:PORT/api/" — pass as WebClient `slackApiUrl`. */
  readonly apiUrl: string;
  /** Every Web API request, in order. */
  readonly calls: ApiCall[] = [];
  private readonly store: SlackStore;
  private readonly hub: SocketHub;
  private readonly rateLimits = new Map<string, { count: number; retryAfter: number }>();
  private readonly failures = new Map<string, { count: number; status: number }>();
  private tier: { maxPerCall: number; perWindow: number; windowMs: number; seen: Map<string, number[]> } | null = null;
  /** chat.postMessage's per-channel limit, when enforced (postLimit()): a token bucket per channel. */
  private postBucket: { perSecond: number; burst: number; channels: Map<string, { tokens: number; at: number }> } | null = null;
  private readonly echoLeadMs: number;
  private readonly holds = new Map<string, (call: ApiCall) => Promise<void>>();

  private constructor(
    private readonly server: Server,
    port: number,
    opts: FakeSlackOptions,
    store: SlackStore,
    hub: SocketHub,
  ) {
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.baseUrl}/api/`;
    this.store = store;
    this.hub = hub;
    this.echoLeadMs = opts.echoLeadMs ?? 20;
  }

  static async start(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
    let base = "";
    const holder: { hub?: SocketHub } = {};
    const store = new SlackStore(
      () => base,
      (team, event) => holder.hub!.deliver(team.id, eventCallback(team, event)),
    );
    const hub = new SocketHub({
      ackTimeoutMs: opts.ackTimeoutMs ?? 3000,
      maxRetries: opts.maxRetries ?? 3,
      pingIntervalMs: opts.pingIntervalMs ?? 5000,
      disconnectGraceMs: opts.disconnectGraceMs ?? 1000,
      redeliverOnClose: opts.redeliverOnClose ?? false,
      resolveTicket: (ticket) => {
        const teamId = store.tickets.get(ticket);
        if (!teamId) return undefined;
        store.tickets.delete(ticket);
        return { teamId, appId: store.team(teamId).appId };
      },
    });
    holder.hub = hub;
    let fake: FakeSlack | undefined;
    const server = createServer((req, res) => {
      fake!.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(err));
      });
    });
    server.on("upgrade", (req, socket, head) => hub.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    fake = new FakeSlack(server, port, opts, store, hub);
    return fake;
  }

  async stop(): Promise<void> {
    await this.hub.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Hold every call of a Web API method until `release()`: a slow Slack, so that events can be
   * delivered on the socket while, say, conversations.list is still being answered (Slack sends
   * events as they happen, whatever the app is waiting for).
   */
  hold(method: string): MethodHold {
    if (this.holds.has(method)) throw new Error(`FakeSlack: ${method} is already held`);
    const gates: Array<() => void> = [];
    const watchers: Array<{ done: () => boolean; resolve: () => void }> = [];
    const held: ApiCall[] = [];
    this.holds.set(method, (call) => {
      held.push(call);
      for (const w of watchers.filter((x) => x.done())) w.resolve();
      return new Promise<void>((resolve) => gates.push(resolve));
    });
    const when = (done: () => boolean) => (done() ? Promise.resolve() : new Promise<void>((resolve) => watchers.push({ done, resolve })));
    return {
      arrived: (n = 1) => when(() => held.length >= n),
      arrivedFor: (param, n) => when(() => new Set(held.map((c) => JSON.stringify((c.params as Record<string, unknown>)[param]))).size >= n),
      release: () => {
        this.holds.delete(method);
        for (const open of gates.splice(0)) open();
      },
    };
  }

  // ================================================================ workspace setup
  /** A workspace with its app: bot token (xoxb-), app token (xapp-), bot user and bot id. */
  createTeam(opts: { id?: string; name?: string; domain?: string; botName?: string; botScopes?: string[] } = {}): TeamHandle {
    return this.store.createTeam(opts);
  }
  team(team: TeamRef): TeamHandle {
    return this.store.handle(this.store.team(idOf(team)));
  }
  addUser(team: TeamRef, user: NewUser): SlackUser {
    return this.store.addUser(idOf(team), user);
  }
  /** Change a user; emits user_change. */
  updateUser(team: TeamRef, user: IdRef, patch: Partial<NewUser>): SlackUser {
    return this.store.updateUser(idOf(team), idOf(user), patch);
  }
  user(team: TeamRef, user: IdRef): SlackUser {
    return clone(this.store.user(idOf(team), idOf(user)));
  }
  /** Add a conversation (channel, private channel, im or mpim). `announce` emits channel_created. */
  addChannel(team: TeamRef, ch: NewChannel): Json {
    const t = this.store.team(idOf(team));
    return this.store.conversationJson(t, this.store.addChannel(t.id, ch), { numMembers: true });
  }
  channel(team: TeamRef, channel: IdRef): Json {
    const t = this.store.team(idOf(team));
    return this.store.conversationJson(t, this.store.conv(t.id, idOf(channel)), { numMembers: true });
  }
  members(team: TeamRef, channel: IdRef): string[] {
    return [...this.store.conv(idOf(team), idOf(channel)).members];
  }
  /** Custom emoji for emoji.list: an image (served by the fake) or "alias:other". */
  addEmoji(team: TeamRef, name: string, image: Buffer | `alias:${string}` = TINY_PNG): void {
    const t = this.store.team(idOf(team));
    if (typeof image === "string") t.emoji.set(name, image);
    else {
      this.store.emojiImages.set(`${t.id}/${name}`, image);
      t.emoji.set(name, `${this.baseUrl}/emoji/${t.id}/${encodeURIComponent(name)}.png`);
    }
  }

  // ================================================================ people doing things (emit events)
  /** A user posts; returns the message ts. Options: thread_ts, broadcast, files, me, blocks, silent. */
  userPosts(team: TeamRef, channel: IdRef, user: IdRef, text: string, opts: PostOptions = {}): string {
    return this.store.userPosts(idOf(team), idOf(channel), idOf(user), text, opts);
  }
  /** The author edits a message (message_changed). */
  userEdits(team: TeamRef, channel: IdRef, ts: string, text: string, opts: { blocks?: Json[] } = {}): void {
    const c = this.conv(team, channel);
    const m = this.requireMessage(c, ts);
    const patch: Partial<SlackMessage> = { text };
    if (opts.blocks) patch.blocks = opts.blocks;
    this.store.edit(c, ts, patch, m.user ?? "");
  }
  /** The message is deleted (message_deleted, or a tombstone message_changed for a thread parent with replies). */
  userDeletes(team: TeamRef, channel: IdRef, ts: string): void {
    void this.store.remove(this.conv(team, channel), ts);
  }
  /** A user adds (on=true) or removes a reaction (name without colons); throws on Slack's error codes. */
  userReacts(team: TeamRef, channel: IdRef, ts: string, user: IdRef, name: string, on = true): void {
    const { error } = this.store.react(this.conv(team, channel), ts, idOf(user), name, on);
    if (error) throw new Error(`FakeSlack: userReacts: ${error}`);
  }
  renameChannel(team: TeamRef, channel: IdRef, name: string, by?: IdRef): void {
    const c = this.conv(team, channel);
    this.store.rename(c, name, by ? idOf(by) : c.creator);
  }
  archiveChannel(team: TeamRef, channel: IdRef, by?: IdRef): void {
    const c = this.conv(team, channel);
    this.store.setArchived(c, true, by ? idOf(by) : c.creator);
  }
  unarchiveChannel(team: TeamRef, channel: IdRef, by?: IdRef): void {
    const c = this.conv(team, channel);
    this.store.setArchived(c, false, by ? idOf(by) : c.creator);
  }
  /** Alias of unarchiveChannel. */
  unarchive(team: TeamRef, channel: IdRef, by?: IdRef): void {
    this.unarchiveChannel(team, channel, by);
  }
  /** A user (or the bot: pass team.botUserId) joins; member_joined_channel + a channel_join message. */
  userJoins(team: TeamRef, channel: IdRef, user: IdRef, inviter?: IdRef): void {
    this.store.join(this.conv(team, channel), idOf(user), inviter ? idOf(inviter) : undefined);
  }
  /** A user (or the bot) leaves; member_left_channel + a channel_leave message. */
  userLeaves(team: TeamRef, channel: IdRef, user: IdRef): void {
    this.store.leave(this.conv(team, channel), idOf(user));
  }

  // ================================================================ inspecting state
  /** All stored messages of a conversation in ts order, thread replies included. `_request` holds
   * what the client sent to chat.postMessage (username, icon_url, unfurl_*, ...). */
  messages(team: TeamRef, channel: IdRef): SlackMessage[] {
    return this.store.messagesOf(this.conv(team, channel));
  }
  message(team: TeamRef, channel: IdRef, ts: string): SlackMessage | undefined {
    const m = this.store.findMessage(this.conv(team, channel), ts);
    return m ? clone(m) : undefined;
  }
  /** Parent and replies of a thread, in order. */
  thread(team: TeamRef, channel: IdRef, threadTs: string): SlackMessage[] {
    return this.messages(team, channel).filter((m) => m.ts === threadTs || m.thread_ts === threadTs);
  }
  reactions(team: TeamRef, channel: IdRef, ts: string): SlackReaction[] {
    return clone(this.store.findMessage(this.conv(team, channel), ts)?.reactions ?? []);
  }
  /** A file with its bytes (`data`). */
  file(fileId: string): StoredFile | undefined {
    const f = this.store.files.get(fileId);
    return f ? { ...f, shares: [...f.shares] } : undefined;
  }
  files(): StoredFile[] {
    return [...this.store.files.values()].map((f) => ({ ...f, shares: [...f.shares] }));
  }

  // ================================================================ tokens, scopes, rate limits
  /** Every later call with this token fails with token_revoked (socket mode too). */
  revokeToken(token: string): void {
    this.tokenRecord(token).state = "revoked";
  }
  /** Every later call with this token fails with account_inactive. */
  deactivateToken(token: string): void {
    this.tokenRecord(token).state = "inactive";
  }
  restoreToken(token: string): void {
    this.tokenRecord(token).state = "active";
  }
  setScopes(token: string, scopes: string[]): void {
    this.tokenRecord(token).scopes = new Set(scopes);
  }
  scopes(token: string): string[] {
    return [...this.tokenRecord(token).scopes];
  }
  /** The next `count` calls of `method` answer HTTP `status` (a Slack outage: 500, 503). */
  failNext(method: string, count: number, status = 503): void {
    this.failures.set(method, { count, status });
  }
  /** The next `count` calls of `method` answer HTTP 429 with `Retry-After: retryAfterSec`. */
  rateLimitNext(method: string, count: number, retryAfterSec = 1): void {
    this.rateLimits.set(method, { count, retryAfter: retryAfterSec });
  }

  /**
   * Enforce a history rate tier on conversations.history and conversations.replies, per method
   * (all workspaces together), as Slack documents them (docs.slack.dev, "rate limits for non-Marketplace apps"):
   * at most `maxPerCall` messages per call whatever `limit` asks (15 for distributed apps outside
   * the Marketplace, 999 for Tier 3), and `perWindow` requests per `windowMs` (1 a minute, or 50+
   * a minute for Tier 3); a request over it answers HTTP 429 with Retry-After, counted as one.
   * Tests scale the window down. `null` turns it off.
   */
  historyTier(tier: { maxPerCall: number; perWindow: number; windowMs: number } | null): void {
    this.tier = tier ? { ...tier, seen: new Map() } : null;
  }

  /** Seconds to wait when this history read exceeds the tier; 0 = allowed (and counted). */
  private overHistoryTier(method: string, params: Json): number {
    const t = this.tier;
    if (!t || (method !== "conversations.history" && method !== "conversations.replies")) return 0;
    const asked = Number(params.limit ?? 100);
    params.limit = String(Math.min(Number.isFinite(asked) && asked > 0 ? asked : 100, t.maxPerCall));
    const now = Date.now();
    const recent = (t.seen.get(method) ?? []).filter((at) => now - at < t.windowMs);
    t.seen.set(method, recent);
    if (recent.length >= t.perWindow) return Math.max(1, Math.ceil((recent[0]! + t.windowMs - now) / 1000));
    recent.push(now);
    return 0;
  }

  /**
   * Enforce chat.postMessage's special limit: "1 message per second to a specific channel, with
   * short bursts above 1 allowed" (api.slack.com/methods/chat.postMessage). Posts beyond it
   * answer HTTP 429 `ratelimited` with Retry-After, as Slack does.
   */
  postLimit(perSecond: number, burst: number): void {
    this.postBucket = { perSecond, burst, channels: new Map() };
  }

  /** Seconds to wait when this post exceeds the channel's limit; 0 = allowed (and counted). */
  private overPostLimit(params: Json): number {
    const b = this.postBucket;
    if (!b || typeof params.channel !== "string") return 0;
    const now = Date.now();
    const c = b.channels.get(params.channel) ?? { tokens: b.burst, at: now };
    c.tokens = Math.min(b.burst, c.tokens + ((now - c.at) / 1000) * b.perSecond);
    c.at = now;
    b.channels.set(params.channel, c);
    if (c.tokens < 1) return Math.max(1, Math.ceil((1 - c.tokens) / b.perSecond));
    c.tokens -= 1;
    return 0;
  }

  // ================================================================ socket mode
  /** Send `{type:"disconnect", reason}` on every open socket (of one team, if given), then close them. */
  disconnect(reason: DisconnectReason = "refresh_requested", team?: TeamRef): Promise<void> {
    return this.hub.disconnect(reason, team === undefined ? undefined : idOf(team));
  }
  /** Close sockets abruptly, without a frame. */
  dropConnections(team?: TeamRef): void {
    this.hub.drop(team === undefined ? undefined : idOf(team));
  }
  /** WebSocket connections accepted so far. */
  get connectionsOpened(): number {
    return this.hub.connectionsOpened;
  }
  openConnections(team?: TeamRef): number {
    return this.hub.openConnectionCount(team === undefined ? undefined : idOf(team));
  }
  /** One record per event sent to an app (redeliveries update it). */
  get envelopes(): readonly EnvelopeRecord[] {
    return this.hub.envelopes;
  }
  /** Every envelope frame written to a socket, redeliveries included. */
  get envelopesSent(): readonly SentEnvelope[] {
    return this.hub.sent;
  }
  get acks(): readonly AckRecord[] {
    return this.hub.acks;
  }
  unackedEnvelopes(): EnvelopeRecord[] {
    return this.hub.envelopes.filter((e) => !e.acked);
  }
  /** Events waiting because the team's app had no open connection. */
  pendingEvents(team?: TeamRef): number {
    return this.hub.pendingCount(team === undefined ? undefined : idOf(team));
  }
  /** Drop events queued while no connection was open. */
  clearPendingEvents(team?: TeamRef): void {
    this.hub.clearPending(team === undefined ? undefined : idOf(team));
  }

  // ================================================================ waiting
  /** Poll `pred` until it returns something truthy (returned) or time out. */
  async waitFor<T>(pred: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`FakeSlack.waitFor: timed out after ${timeoutMs}ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  /** Wait for a stored message in a conversation matching `pred`. */
  waitForMessage(team: TeamRef, channel: IdRef, pred: (m: SlackMessage) => boolean, timeoutMs = 5000): Promise<SlackMessage> {
    return this.waitFor(() => this.messages(team, channel).find(pred), timeoutMs, "message");
  }
  /** Wait for an envelope whose event matches `pred` (and, if `acked`, that was acked). */
  waitForEnvelope(pred: (event: Json, env: EnvelopeRecord) => boolean, opts: { acked?: boolean; timeoutMs?: number } = {}): Promise<EnvelopeRecord> {
    return this.waitFor(
      () => this.hub.envelopes.find((e) => pred(e.event, e) && (!opts.acked || e.acked)),
      opts.timeoutMs ?? 5000,
      opts.acked ? "acked envelope" : "envelope",
    );
  }

  // ================================================================ HTTP
  private conv(team: TeamRef, channel: IdRef): Conversation {
    return this.store.conv(idOf(team), idOf(channel));
  }
  private requireMessage(c: Conversation, ts: string): SlackMessage {
    const m = this.store.findMessage(c, ts);
    if (!m) throw new Error(`FakeSlack: no message ${ts} in ${c.id}`);
    return m;
  }
  private tokenRecord(token: string) {
    const r = this.store.tokens.get(token);
    if (!r) throw new Error("FakeSlack: unknown token");
    return r;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.baseUrl);
    const path = url.pathname;
    if (path.startsWith("/api/")) return this.handleApi(req, res, url, decodeURIComponent(path.slice(5)));
    if (path.startsWith("/upload/v1/") && req.method === "POST") return this.handleUpload(req, res, path.slice(11));
    if (path.startsWith("/files-pri/")) return this.handleFileDownload(req, res, url);
    let m = /^\/avatars\/([^/]+)\/([^/]+)\/([^_]+)_\w+\.png$/.exec(path);
    if (m) return this.sendBytes(res, this.store.avatars.get(`${m[1]}/${m[2]}/${m[3]}`), "image/png");
    m = /^\/emoji\/([^/]+)\/(.+)\.png$/.exec(path);
    if (m) return this.sendBytes(res, this.store.emojiImages.get(`${m[1]}/${decodeURIComponent(m[2]!)}`), "image/png");
    if (path === "/" || path === "/signin") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end("<!DOCTYPE html><html><head><title>Slack</title></head><body><h1>Sign in to Slack</h1></body></html>");
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("Not Found");
  }

  private sendBytes(res: ServerResponse, data: Buffer | undefined, type: string): void {
    if (!data) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not Found");
      return;
    }
    res.writeHead(200, { "content-type": type, "content-length": data.length });
    res.end(data);
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    const raw = await readBody(req);
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
    const call: ApiCall = { method, params: {}, status: 200, ok: false, at: Date.now() };
    this.calls.push(call);
    const reply = (status: number, body: Json): void => {
      call.status = status;
      call.ok = body.ok === true;
      if (typeof body.error === "string") call.error = body.error;
      res.writeHead(status, headers);
      res.end(JSON.stringify(body));
    };

    const failure = this.failures.get(method);
    if (failure && failure.count > 0) {
      failure.count -= 1;
      return reply(failure.status, { ok: false, error: "service_unavailable" });
    }
    const limit = this.rateLimits.get(method);
    if (limit && limit.count > 0) {
      limit.count -= 1;
      headers["retry-after"] = String(limit.retryAfter);
      return reply(429, { ok: false, error: "ratelimited" });
    }

    let params: Json;
    try {
      params = await parseParams(req, url, raw);
    } catch {
      return reply(200, { ok: false, error: "invalid_json" });
    }
    const isJson = (req.headers["content-type"] ?? "").includes("application/json");
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const tokenStr = bearer ?? (isJson ? undefined : (params.token as string | undefined));
    const { token: _t, ...shown } = params;
    call.params = shown;
    const tierWait = this.overHistoryTier(method, params);
    if (tierWait > 0) {
      headers["retry-after"] = String(tierWait);
      return reply(429, { ok: false, error: "ratelimited" });
    }
    if (method === "chat.postMessage") {
      const wait = this.overPostLimit(params);
      if (wait > 0) {
        headers["retry-after"] = String(wait);
        return reply(429, { ok: false, error: "ratelimited" });
      }
    }

    const def = METHODS[method];
    if (!def) return reply(200, { ok: false, error: "unknown_method", req_method: method });
    if (!tokenStr) return reply(200, { ok: false, error: "not_authed" });
    const token = this.store.tokens.get(tokenStr);
    if (!token) return reply(200, { ok: false, error: "invalid_auth" });
    call.tokenKind = token.kind;
    call.teamId = token.teamId;
    if (token.state === "revoked") return reply(200, { ok: false, error: "token_revoked" });
    if (token.state === "inactive") return reply(200, { ok: false, error: "account_inactive" });
    headers["x-oauth-scopes"] = [...token.scopes].join(",");
    if (!(def.tokens ?? ["bot"]).includes(token.kind)) return reply(200, { ok: false, error: "not_allowed_token_type" });

    await this.holds.get(method)?.(call);
    const ctx: ApiContext = {
      store: this.store, team: this.store.team(token.teamId), token, params, accepted: [],
      wsUrl: this.baseUrl.replace(/^http/, "ws"), echoLeadMs: this.echoLeadMs,
    };
    try {
      if (def.scope) {
        ctx.accepted.push(def.scope);
        if (!token.scopes.has(def.scope)) throw new ApiError("missing_scope", { needed: def.scope, provided: [...token.scopes].join(",") });
      }
      const body = await def.run(ctx);
      headers["x-accepted-oauth-scopes"] = ctx.accepted.join(",");
      reply(200, { ok: true, ...body });
    } catch (err) {
      headers["x-accepted-oauth-scopes"] = ctx.accepted.join(",");
      if (err instanceof ApiError) return reply(200, { ok: false, error: err.error, ...err.extra });
      reply(200, { ok: false, error: "fatal_error", fake_exception: String(err) });
    }
  }

  private async handleUpload(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const raw = await readBody(req);
    const fileId = this.store.uploads.get(key);
    const f = fileId ? this.store.files.get(fileId) : undefined;
    if (!f || f.completed) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not Found");
      return;
    }
    const ct = req.headers["content-type"] ?? "";
    let data = raw;
    if (ct.startsWith("multipart/form-data")) {
      const form = await new Response(raw, { headers: { "content-type": ct } }).formData();
      let picked: Blob | undefined;
      for (const [, v] of form.entries()) if (typeof v !== "string" && !picked) picked = v;
      if (picked) data = Buffer.from(await picked.arrayBuffer());
    }
    f.data = data;
    f.size = data.length;
    f.uploaded = true;
    f.mimetype = mimeFromName(f.name);
    f.filetype = fileTypeOf(f.mimetype)[0];
    const dims = imageSize(data);
    f.width = dims?.width;
    f.height = dims?.height;
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.end(`OK - ${data.length}`);
  }

  private handleFileDownload(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const m = /^\/files-pri\/([^-/]+)-([^/]+)\//.exec(url.pathname);
    const f = m ? this.store.files.get(m[2]!) : undefined;
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const token = bearer ? this.store.tokens.get(bearer) : undefined;
    const authorized = !!token && token.state === "active" && token.kind === "bot" && !!f && token.teamId === f.teamId && token.scopes.has("files:read");
    if (!authorized || !f || !f.completed) {
      // Slack sends unauthenticated file requests to the sign-in page (HTML with status 200 after the redirect).
      const team: Team | undefined = m ? this.store.teams.get(m[1]!) : undefined;
      res.writeHead(302, { location: `${this.baseUrl}/signin?redir=${encodeURIComponent(url.pathname)}${team ? `&team=${team.id}` : ""}` });
      res.end();
      return;
    }
    const headers: Record<string, string | number> = { "content-type": f.mimetype, "content-length": f.data.length };
    if (url.pathname.includes("/download/")) headers["content-disposition"] = `attachment; filename="${encodeURIComponent(f.name)}"`;
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : f.data);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function parseParams(req: IncomingMessage, url: URL, raw: Buffer): Promise<Json> {
  const params: Json = Object.fromEntries(url.searchParams);
  const ct = req.headers["content-type"] ?? "";
  if (raw.length === 0) return params;
  if (ct.includes("application/json")) {
    const body = JSON.parse(raw.toString("utf8")) as unknown;
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error("bad json");
    return { ...params, ...(body as Json) };
  }
  if (ct.startsWith("multipart/form-data")) {
    const form = await new Response(raw, { headers: { "content-type": ct } }).formData();
    for (const [k, v] of form.entries()) if (typeof v === "string") params[k] = v;
    return params;
  }
  for (const [k, v] of new URLSearchParams(raw.toString("utf8"))) params[k] = v;
  return params;
}
