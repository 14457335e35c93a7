/**
 * One Slack login: a Socket Mode connection for events and a WebClient for everything else.
 * - Each events_api envelope is converted (inbound.ts), pushed to the core, and acked only once
 *   the push resolved (durably queued); if it fails, Slack redelivers and the queue drops the duplicate.
 * - Envelopes are handled one after another (an edit never overtakes its message); those arriving
 *   while earlier ones are being queued go together, in order, in one push.
 * - The SDK's own reconnect is off (it retries bad tokens forever, can leak a rejection): this
 *   loop reconnects on refresh_requested, dropped sockets and errors with backoff, and stops for
 *   good on invalid_auth / token_revoked / account_inactive, reporting "bad-credentials".
 */
import { listCustomEmoji, workspaceIcon } from "./emoji.js";
import type { SocketModeClient } from "@slack/socket-mode";
import type { Connection, ConnectionStatus, DirectoryUser, EventSink, HistoryOptions, HistoryPage, LoginRecord, OutboundMessage } from "../../core/connector.js";
import { RemoteError } from "../../core/errors.js";
import type { Logger } from "../../core/log.js";
import type { ChatInfo, ChatRef, FileRef, MessageRef, RemoteEvent, UserInfo, UserRef } from "../../core/types.js";
import { SlackApi, sdkLogger, toRemoteError } from "./api.js";
import { SlackDirectory, type Identity } from "./directory.js";
import { SlackFiles } from "./files.js";
import type { HistorySource } from "../../core/history-source.js";
import { SlackHistory } from "./history.js";
import { SlackHistorySource } from "./history-source.js";
import { parseMessageRef, parseUserRef } from "./ids.js";
import { envelopeToEvents, mentionedIds, ownFileShare, userInfoFromSlack, type InboundContext } from "./inbound.js";
import { SlackOutbound } from "./outbound.js";
import * as people from "./people.js";
import { guardSocketMode } from "./socket-guard.js";
import { errorFields } from "../../core/log.js";
import type { SlackConnectionOptions } from "./connection-options.js";

export type { SlackConnectionOptions, SocketOptions } from "./connection-options.js";

interface EnvelopeArgs {
  ack: (response?: Record<string, unknown>) => Promise<void>;
  envelope_id: string;
  type: string;
  body: unknown;
  retry_num?: number;
  retry_reason?: string;
}

export class SlackConnection implements Connection {
  private readonly api: SlackApi;
  private readonly appToken: string;
  private readonly directory: SlackDirectory;
  private readonly files: SlackFiles;
  private readonly outbound: SlackOutbound;
  private readonly past: SlackHistory;
  private readonly log: Logger;
  private readonly team: string;
  private me: Identity | null = null;
  private client: SocketModeClient | null = null;
  private stopped = false;
  private bad = false;
  private wake: (() => void) | null = null;
  /** Envelopes are handled in arrival order. */
  private chain: Promise<void> = Promise.resolve();
  /** Envelopes received and not yet handled (handled as one batch). */
  private readonly waiting: EnvelopeArgs[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly login: LoginRecord, private readonly sink: EventSink, private readonly opts: SlackConnectionOptions) {
    this.log = opts.api.log;
    this.team = login.remoteId;
    const botToken = login.secrets.botToken ?? "";
    this.appToken = login.secrets.appToken ?? "";
    this.api = new SlackApi(botToken, opts.api, (err) => this.reportBadCredentials(err.message));
    this.directory = new SlackDirectory(this.api, this.team);
    this.files = new SlackFiles(this.api, botToken, { apiUrl: opts.api.apiUrl, maxFileSize: opts.maxFileSize, shareTimeoutMs: opts.shareTimeoutMs, trustedOrigins: opts.trustedOrigins });
    this.outbound = new SlackOutbound(this.api, this.files, this.team, opts.pacer, opts.maxMessageParts);
    this.past = new SlackHistory(this.api, this.directory, this.team, opts.history, opts.nameLookupMs);
  }

  /** Start connecting in the background; state is reported through the sink. */
  start(): void {
    this.running ??= this.run().catch((err) => {
      this.log.error("Slack connection loop failed", { ...errorFields(err) });
      this.status({ state: "error", message: "the Slack connection stopped unexpectedly; log in again or restart the bridge" });
    });
  }

  private status(s: ConnectionStatus): void {
    if (this.stopped && s.state !== "stopped") return;
    try {
      this.sink.status(s);
    } catch (err) {
      this.log.warn("status report failed", { ...errorFields(err) });
    }
  }

  private reportBadCredentials(message: string): void {
    if (this.bad || this.stopped) return;
    this.bad = true;
    this.log.warn("Slack credentials rejected; not reconnecting", { reason: message });
    this.status({ state: "bad-credentials", message });
    this.wake?.();
    void this.closeClient();
  }

  // ---- the Socket Mode loop ---------------------------------------------------------------

  private async run(): Promise<void> {
    let failures = 0;
    let retryAfterMs = 0;
    let connectedOnce = false;
    while (!this.stopped && !this.bad) {
      this.status(connectedOnce || failures > 0
        ? { state: failures >= 3 ? "error" : "transient-disconnect", message: "reconnecting to Slack" }
        : { state: "connecting", message: "connecting to Slack (Socket Mode)" });
      try {
        // auth.test on every attempt: a revoked bot token is found here, not only by the next send.
        this.me = await this.directory.identity(true).catch((err: unknown) => { throw toRemoteError(err, "auth.test"); });
        const { closed } = await this.openSocket();
        failures = 0;
        connectedOnce = true;
        this.log.info("Slack Socket Mode connected", { team: this.me.teamId });
        this.status({ state: "connected", message: `connected to ${this.me.teamName}` });
        await closed;
        if (this.stopped || this.bad) break;
        this.log.info("Slack Socket Mode connection closed; reconnecting", { team: this.team });
      } catch (err) {
        if (this.stopped || this.bad) break;
        const e = err instanceof RemoteError ? err : toRemoteError(err, "socket mode", "app-level token");
        if (e.badCredentials) {
          this.reportBadCredentials(e.message);
          break;
        }
        failures++;
        retryAfterMs = e.retryAfterMs ?? 0;
        this.log.warn("Slack connection attempt failed", { attempt: failures, error: e.message });
        this.status({ state: failures >= 3 ? "error" : "transient-disconnect", message: `cannot reach Slack: ${e.message}` });
      }
      const s = this.opts.socket;
      await this.sleep(failures === 0 ? 0 : Math.max(retryAfterMs, Math.min(s.reconnectMaxMs, s.reconnectBaseMs * 2 ** (failures - 1))));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() { clearTimeout(timer); resolve(); }
      this.wake = done;
    }).finally(() => { this.wake = null; });
  }

  /** One connection: resolves once Slack said hello, with a promise that resolves when it closes. */
  private async openSocket(): Promise<{ closed: Promise<void> }> {
    const { socket, api } = this.opts;
    const client = new (await import("@slack/socket-mode")).SocketModeClient({ // loaded here, not at start: ~0.2 s (undici)
      appToken: this.appToken,
      logger: sdkLogger(this.log),
      autoReconnectEnabled: false,
      clientPingTimeout: socket.clientPingTimeoutMs,
      serverPingTimeout: socket.serverPingTimeoutMs,
      clientOptions: { slackApiUrl: api.apiUrl, retryConfig: { retries: 0 }, timeout: api.timeoutMs, rejectRateLimitedCalls: true },
    });
    let onClosed!: () => void;
    const closed = new Promise<void>((resolve) => { onClosed = resolve; });
    client.on("error", (err: unknown) => this.log.warn("Slack Socket Mode error", { ...errorFields(err) }));
    client.on("disconnected", () => onClosed());
    client.on("slack_event", (args: EnvelopeArgs) => this.onEnvelope(client, args));
    guardSocketMode(client, this.log); // envelopes without an event must not crash the SDK's handler
    this.client = client;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.start().catch((err: unknown) => {
          if (err === undefined) throw new RemoteError("socket_closed", "the Socket Mode connection closed before Slack said hello", { retryable: true });
          const e = toRemoteError(err, "apps.connections.open", "app-level token");
          if (e.code === "not_allowed_token_type" || e.code === "missing_scope") {
            // A stored app token that cannot open Socket Mode will not start working by retrying.
            throw new RemoteError(e.code, `the app-level token cannot open Socket Mode (${e.code})`, { retryable: false, badCredentials: true, cause: err });
          }
          throw e;
        }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new RemoteError("timeout", `no Socket Mode hello within ${socket.startTimeoutMs} ms`, { retryable: true })), socket.startTimeoutMs);
        }),
      ]);
    } catch (err) {
      await this.closeClient(client);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (this.stopped || this.bad) await this.closeClient(client);
    return { closed };
  }

  private async closeClient(client: SocketModeClient | null = this.client): Promise<void> {
    if (!client) return;
    if (this.client === client) this.client = null;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.disconnect().catch(() => undefined),
      new Promise<void>((r) => { timer = setTimeout(r, 2000); timer.unref(); }),
    ]);
    clearTimeout(timer);
    client.emit("disconnected"); // wake anyone waiting on this socket, even if the SDK did not say so
    client.removeAllListeners();
    client.on("error", () => undefined);
  }

  // ---- envelopes --------------------------------------------------------------------------

  private context(body: unknown): InboundContext {
    const appId = typeof body === "object" && body !== null ? (body as { api_app_id?: unknown }).api_app_id : undefined;
    return {
      team: this.team, botUserId: this.me?.botUserId || undefined, botId: this.me?.botId || undefined,
      appId: typeof appId === "string" ? appId : undefined,
      userName: (id) => this.directory.userName(id), chatName: (id) => this.directory.channelName(id),
    };
  }

  private onEnvelope(client: SocketModeClient, args: EnvelopeArgs): void {
    if (client !== this.client) return;
    if (args.type !== "events_api") {
      void args.ack().catch(() => undefined); // interactivity/commands: nothing to bridge
      return;
    }
    // Our own upload echoes may arrive before completeUploadExternal returns: note them at once.
    const share = ownFileShare(args.body, this.context(args.body));
    if (share) this.files.noteShare(share.fileIds, share.ts);
    // Envelopes that arrive while earlier ones are being queued wait, and are then queued
    // together: one insert for many events instead of one round trip each (`npm run bench`).
    this.waiting.push(args);
    if (this.waiting.length === 1) this.chain = this.chain.then(() => this.drain()); // else a drain will take it
  }

  /** Handles the waiting envelopes in arrival order, up to 100 per batch. */
  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.slice(0, 100);
      await this.handle(batch).catch((err: unknown) => {
        this.log.warn("Slack event not bridged", { ...errorFields(err) });
      });
      this.waiting.splice(0, batch.length);
    }
  }

  private async handle(batch: EnvelopeArgs[]): Promise<void> {
    const events: RemoteEvent[] = [];
    const converted: EnvelopeArgs[] = [];
    for (const args of batch) {
      const body = args.body as { event?: Record<string, unknown> } | undefined;
      const event = body?.event;
      if (event?.type === "app_uninstalled" || (event?.type === "tokens_revoked" && this.botTokenRevoked(event))) {
        await this.queueAndAck(events.splice(0), converted.splice(0)); // what came before it still counts
        await args.ack().catch(() => undefined);
        this.reportBadCredentials(event.type === "app_uninstalled" ? "the Slack app was uninstalled from the workspace" : "the bot token was revoked (tokens_revoked)");
        continue;
      }
      if (event?.type === "user_change") {
        const info = userInfoFromSlack(event.user);
        const id = (event.user as { id?: unknown } | undefined)?.id;
        if (info && typeof id === "string") this.directory.noteUser(id, info);
      }
      await this.directory.prefetchNames(mentionedIds(body), this.opts.nameLookupMs);
      for (const ev of envelopeToEvents(body, this.context(body))) {
        events.push(ev);
        if (ev.kind !== "message" || !ev.msg.threadRoot) continue;
        const ts = parseMessageRef(ev.ref)?.ts;
        const root = parseMessageRef(ev.msg.threadRoot)?.ts;
        if (ts && root) this.outbound.noteThread(ts, root);
      }
      converted.push(args);
    }
    await this.queueAndAck(events, converted);
  }

  /** Queue the events durably, then ack their envelopes; on failure none is acked (Slack redelivers). */
  private async queueAndAck(events: RemoteEvent[], envelopes: EnvelopeArgs[]): Promise<void> {
    if (events.length > 0) {
      try {
        await this.sink.push(events);
      } catch (err) {
        // Not acked: Slack redelivers them (retry_num + 1) and the queue drops any duplicate.
        this.log.warn("could not queue Slack events; leaving them unacked for redelivery", {
          envelopes: envelopes.map((a) => a.envelope_id), ...errorFields(err),
        });
        return;
      }
    }
    for (const args of envelopes) await args.ack().catch((err: unknown) => this.log.debug("ack failed (Slack will redeliver)", { ...errorFields(err) }));
  }

  private botTokenRevoked(event: Record<string, unknown>): boolean {
    const bots = (event.tokens as { bot?: unknown } | undefined)?.bot;
    return Array.isArray(bots) && !!this.me && bots.includes(this.me.botUserId);
  }

  // ---- Connection -------------------------------------------------------------------------

  send(chat: ChatRef, msg: OutboundMessage): Promise<MessageRef[]> {
    return this.outbound.send(chat, msg);
  }

  edit(chat: ChatRef, target: MessageRef, msg: OutboundMessage): Promise<void> {
    return this.outbound.edit(chat, target, msg);
  }

  delete(chat: ChatRef, target: MessageRef): Promise<void> {
    return this.outbound.delete(chat, target);
  }

  react(chat: ChatRef, target: MessageRef, emoji: string, on: boolean): Promise<void> {
    return this.outbound.react(chat, target, emoji, on);
  }

  pin(chat: ChatRef, target: MessageRef): Promise<void> {
    return this.outbound.pin(chat, target);
  }

  chatInfo(chat: ChatRef): Promise<ChatInfo> {
    return this.directory.chatInfo(chat);
  }

  userInfo(user: UserRef): Promise<UserInfo> {
    return this.directory.userInfo(user);
  }

  download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }> {
    return this.files.download(file);
  }

  downloadAvatar(avatar: string): Promise<{ data: Buffer; mime: string }> {
    return this.files.downloadAvatar(avatar);
  }

  customEmoji = () => listCustomEmoji(this.api);
  accountAvatar = () => workspaceIcon(this.api);

  listChats(limit: number): Promise<ChatRef[]> {
    return this.directory.listChats(limit);
  }

  resolveChat(input: string): Promise<ChatRef | null> {
    return this.directory.resolveChat(input);
  }

  async history(chat: ChatRef, opts: HistoryOptions): Promise<HistoryPage> {
    const page = await this.past.page(chat, opts);
    // As for live replies: a Matrix reply to a backfilled thread reply goes into the root's thread.
    for (const ev of page.events) {
      const ts = ev.kind === "message" && ev.msg.threadRoot ? parseMessageRef(ev.ref)?.ts : undefined;
      const root = ev.kind === "message" && ev.msg.threadRoot ? parseMessageRef(ev.msg.threadRoot)?.ts : undefined;
      if (ts && root) this.outbound.noteThread(ts, root);
    }
    return page;
  }

  historyReadyAt(kind: "page" | "thread"): number {
    return this.past.readyAt(kind);
  }

  readonly historySource = (): HistorySource =>
    new SlackHistorySource({ api: this.api, directory: this.directory, team: this.team, download: (f) => this.files.download(f), nameLookupMs: this.opts.nameLookupMs });
  readonly sendDirect = (user: UserRef, text: string): Promise<void> => people.sendDirect(this.api, this.team, user, text);
  readonly listUsers = (): Promise<DirectoryUser[]> => people.listUsers(this.api, this.team);
  readonly resolveUser = (input: string): Promise<UserRef | null> => people.resolveUser(this.api, this.team, input);
  isOwnUser(user: UserRef): boolean {
    const p = parseUserRef(user);
    if (!p || p.team !== this.team || !this.me) return false;
    return p.user === this.me.botUserId || p.user === this.me.botId;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.closeClient();
    // A Web API call in flight (Slack unreachable) may take its full timeout: do not wait for it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running?.catch(() => undefined), new Promise<void>((r) => { timer = setTimeout(r, 3000); timer.unref(); })]);
    clearTimeout(timer);
  }
}
