/**
 * The Slack network connector: `login app` (a Slack app's bot token + app-level token),
 * Socket Mode for events, the Web API for everything else. One SlackConnection per login, so
 * several workspaces run side by side.
 */
import type { Config } from "../../config/index.js";
import type { ChatDescription, Connection, EventSink, LoginFlow, LoginRecord, NetworkConnector } from "../../core/connector.js";
import type { Logger } from "../../core/log.js";
import type { ChatRef, UserRef } from "../../core/types.js";
import type { ApiOptions } from "./api.js";
import { SlackConnection, type SocketOptions } from "./connection.js";
import { DEFAULT_HISTORY_PACE, type HistoryPace } from "./history.js";
import { describeChat, ghostLocalpart, userFromGhostLocalpart } from "./ids.js";
import { appLoginFlow } from "./login.js";
import { Pacer } from "../pacing.js";
import { parseOrigins } from "../guarded-fetch.js";

/** Tuning knobs; the defaults are for production, tests pass small timings. */
export interface SlackConnectorOptions {
  /** WebClient retries of network failures per call (rate limits go back to the relay queue). */
  webRetries?: number;
  /** Per-request timeout, ms. */
  requestTimeoutMs?: number;
  socket?: Partial<SocketOptions>;
  /** How long to look for the message an uploaded file landed in. */
  shareTimeoutMs?: number;
  /** How long to spend looking up mentioned users' names before bridging a message. */
  nameLookupMs?: number;
  /**
   * Pace of backfill reads; default from slack.history_page_size / history_interval_seconds,
   * which default to Slack's limits for apps outside the Marketplace: 15 messages per request,
   * 1 request per minute per method (internal and Marketplace apps may go faster, e.g.
   * { pageSize: 200, intervalMs: 1500 }).
   */
  history?: Partial<HistoryPace>;
  /** Outbound pacing (pacing.ts); default slack.outbound_pacing. The benchmark turns it off. */
  pacing?: boolean;
}

/**
 * The SDK pings Slack every clientPingTimeout / 3: with its 5 s default, every 1.7 s per workspace,
 * the most frequent wake-up of an idle bridge. Slack pings us too (serverPingTimeout notices a dead
 * socket within 30 s), so our own ping only needs to be rare: every 20 s, dropped after 60 s silent.
 */
export const DEFAULT_SOCKET: SocketOptions = {
  clientPingTimeoutMs: 60_000,
  serverPingTimeoutMs: 30_000,
  startTimeoutMs: 30_000,
  reconnectBaseMs: 1000,
  reconnectMaxMs: 60_000,
};

/** Slack accepts files up to 1 GB. */
const SLACK_MAX_UPLOAD = 1024 * 1024 * 1024;

export class SlackConnector implements NetworkConnector {
  readonly network = "slack";
  readonly displayName = "Slack";
  readonly externalUrl = "https://slack.com";
  readonly maxUploadSize = SLACK_MAX_UPLOAD;
  readonly limitations =
    "Slack has no replies, only threads: a Matrix reply is posted in the replied message's thread. " +
    "Matrix users appear as the bridge's Slack app with their name and avatar; files they send are posted by the app with their name in the comment. " +
    "Deleting a bridged copy of a Matrix message on Slack does not redact the Matrix original. " +
    "Slack takes about one post a second per channel: a faster Matrix room's messages wait in order and go out a second apart. " +
    "A new portal (or a newly linked room with no messages yet) gets the channel's last messages (slack.backfill_count), paced to Slack's history limits: " +
    "apps outside the Slack Marketplace may read 15 messages a minute, so a full backfill takes a few minutes (`status` shows it), and a message arriving meanwhile ends it early, because Matrix can only append. " +
    "Matrix avatars show on Slack only when bridge.public_url is set.";

  private readonly api: ApiOptions;
  /** Shared by all logins: buckets are keyed by team and channel. */
  private readonly pacer: Pacer | undefined;

  constructor(private readonly config: Config, private readonly log: Logger, private readonly opts: SlackConnectorOptions = {}) {
    this.api = {
      apiUrl: config.slack.api_url,
      log,
      retries: opts.webRetries ?? 2,
      timeoutMs: opts.requestTimeoutMs ?? 30_000,
    };
    this.pacer = (opts.pacing ?? config.slack.outbound_pacing) ? new Pacer() : undefined;
  }

  loginFlows(): LoginFlow[] {
    return [appLoginFlow(this.api)];
  }

  async connect(login: LoginRecord, sink: EventSink): Promise<Connection> {
    const conn = new SlackConnection(login, sink, {
      api: { ...this.api, log: this.log.child({ login: login.id }) },
      socket: { ...DEFAULT_SOCKET, ...this.opts.socket },
      maxFileSize: this.config.bridge.max_file_size,
      shareTimeoutMs: this.opts.shareTimeoutMs ?? 10_000,
      trustedOrigins: parseOrigins(this.config.bridge.download_allowed_origins),
      maxMessageParts: this.config.bridge.max_message_parts,
      nameLookupMs: this.opts.nameLookupMs ?? 2000,
      pacer: this.pacer,
      history: {
        ...DEFAULT_HISTORY_PACE,
        pageSize: this.config.slack.history_page_size ?? DEFAULT_HISTORY_PACE.pageSize,
        intervalMs: (this.config.slack.history_interval_seconds ?? DEFAULT_HISTORY_PACE.intervalMs / 1000) * 1000,
        ...this.opts.history,
      },
    });
    conn.start();
    return conn;
  }

  ghostLocalpart(user: UserRef): string {
    return ghostLocalpart(user);
  }

  userFromGhostLocalpart(localpart: string): UserRef | null {
    return userFromGhostLocalpart(localpart);
  }

  describeChat(chat: ChatRef, name: string, login?: LoginRecord): ChatDescription {
    return describeChat(chat, name, login);
  }
}

export function createSlackConnector(config: Config, log: Logger, opts: SlackConnectorOptions = {}): NetworkConnector {
  return new SlackConnector(config, log, opts);
}
