/**
 * What the core's parts share. Built once by Bridge; each part takes only the pieces it
 * uses, so no part reaches into a god object.
 */
import type { Store } from "../store/api.js";
import type { NetworkConnector } from "./connector.js";
import type { HealthBoard } from "./health.js";
import type { Logger } from "./log.js";
import type { MatrixPort } from "./matrix-port.js";
import type { Level } from "./permissions.js";

export interface CoreOptions {
  commandPrefix: string;
  permissions: Record<string, Exclude<Level, "none">>;
  /** Largest file bridged in either direction, bytes. */
  maxFileSize: number;
  /** Most Matrix events one remote message becomes; the rest of its text goes as a text file. Default 10. */
  maxMessageParts?: number;
  /** Multi-step command prompts expire after this long. */
  promptTimeoutMs: number;
  /** Chats turned into portals at login / `sync`, per network. */
  initialChatCount: Record<string, number>;
  /** Past messages imported into a new portal or a newly linked empty room, per network (absent or 0: off). */
  backfillCount?: Record<string, number>;
  /** Whether Matrix messages still go out to remote chats in the standby phase. Default true. */
  standbyRelaysMatrix?: boolean;
  /** How long Matrix messages for a chat whose login was logged out wait for a new login. Default 24 h. */
  detachedWaitMs?: number;
  /** Conversations a history import writes at the same time (history-import/importer.ts). Default 3. */
  importConversationsAtOnce?: number;
  /** Public, signed URL for a Matrix avatar (for Slack icon_url); undefined when not served. */
  publicAvatarUrl?: (mxc: string) => string | undefined;
  /** What network credentials look like: a Matrix message carrying one is redacted, never relayed (token-guard.ts). */
  tokenShapes?: readonly RegExp[];
}

export interface CoreDeps {
  store: Store;
  matrix: MatrixPort;
  log: Logger;
  options: CoreOptions;
  connectors: ReadonlyMap<string, NetworkConnector>;
  health: HealthBoard;
}
