/** What a Slack connection is configured with: socket timings, API, limits and pacing (from bridge.yaml). */
import type { ApiOptions } from "./api.js";
import type { HistoryPace } from "./history.js";
import type { Pacer } from "../pacing.js";

export interface SocketOptions {
  /** How long to wait for a pong to our ping before dropping the socket (SDK clientPingTimeout). */
  clientPingTimeoutMs: number;
  /** How long without a ping from Slack before dropping the socket (SDK serverPingTimeout). */
  serverPingTimeoutMs: number;
  /** Give up on one connection attempt (apps.connections.open + WebSocket + hello) after this long. */
  startTimeoutMs: number;
  /** First reconnect delay after a failed attempt; doubles up to reconnectMaxMs. A clean drop reconnects at once. */
  reconnectBaseMs: number;
  reconnectMaxMs: number;
}

export interface SlackConnectionOptions {
  api: ApiOptions;
  socket: SocketOptions;
  maxFileSize: number;
  shareTimeoutMs: number;
  /** bridge.download_allowed_origins, parsed. */
  trustedOrigins: ReadonlySet<string>;
  /** bridge.max_message_parts: most posts one message becomes. */
  maxMessageParts: number;
  /** How long to spend looking up mention names before converting a message. */
  nameLookupMs: number;
  /** Pace of backfill reads (conversations.history / conversations.replies). */
  history: HistoryPace;
  /** Outbound pacing of posts, shared by all logins (keyed by team and channel); none = off. */
  pacer?: Pacer;
}
