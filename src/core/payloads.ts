/**
 * What is stored in the relay queue, and in which lane (docs/architecture.md has the model).
 * - `r:<network>:<chat>`: one lane per remote chat, both directions: the chat's events to
 *   Matrix, and Matrix events (and fan-out of the room's other links) going out to it, one item
 *   per (event, target chat). So each target is delivered, retried, paced and dead-lettered on
 *   its own (a failing or logged-out network never holds another), and what goes out to a chat
 *   is ordered after what came in from it before (a reply finds its message mapped).
 * - `m:<roomId>`: items queued before delivery per target (one item for all of a room's links);
 *   applying one splits it into per-chat items.
 */
import type { NewQueueItem, PortalLinkRow } from "../store/api.js";
import type { MatrixInbound } from "./matrix-port.js";
import type { RemoteEvent } from "./types.js";

export interface RemotePayload {
  t: "remote";
  loginId: string;
  network: string;
  /** When the bridge received it, for lag. */
  receivedAt: number;
  event: RemoteEvent;
  /** Imported from history (core/backfill.ts): never relayed to the room's other links. */
  backfill?: boolean;
}

export interface MatrixPayload {
  t: "matrix";
  receivedAt: number;
  event: MatrixInbound;
  /** Fan-out of a message that came from this network and chat: do not send it back there. */
  origin?: { network: string; chat: string; via: string };
  /**
   * Fan-out: ms the first hop spent waiting for the homeserver to answer its sends (the fan-out
   * needs their event ids). Not bridge-added time; the benchmark subtracts it.
   */
  waitedMs?: number;
  /** The one linked chat this item goes to (absent only in items queued before delivery per target). */
  target?: { network: string; chat: string };
}

export type QueuePayload = RemotePayload | MatrixPayload;

export const remoteLane = (network: string, chat: string) => `r:${network}:${chat}`;
export const matrixLane = (roomId: string) => `m:${roomId}`;

/**
 * One queue item per linked chat for a Matrix event (or a fan-out), except the chat it came
 * from. `key` is the event's source key; each target's item adds the chat to it, so a
 * redelivered event is still dropped by key, target by target.
 */
export function perTarget(links: readonly PortalLinkRow[], key: string, payload: MatrixPayload): NewQueueItem[] {
  const { origin } = payload;
  return links
    .filter((l) => !(origin && l.network === origin.network && l.chat === origin.chat))
    .map((l) => ({
      lane: remoteLane(l.network, l.chat),
      sourceKey: `${key}|${l.network}:${l.chat}`,
      payload: { ...payload, target: { network: l.network, chat: l.chat } } satisfies MatrixPayload,
      // A message already sent to this chat is a no-op: the queue can answer that in the insert that hands it out.
      ...(payload.event.kind === "message" ? { mapKey: { eventId: payload.event.eventId, network: l.network, chat: l.chat } } : {}),
    }));
}

/** When one message part went out: the benchmark's bridge-added latency (receivedAt → issuedAt). */
export interface RelayTiming {
  /** "slack", "telegram", … or "matrix". */
  from: string;
  to: string;
  /** When the bridge received the source event (ms since the epoch). */
  receivedAt: number;
  /** When the outgoing call (Matrix send, network send) was issued. */
  issuedAt: number;
  /** When it answered. */
  doneAt: number;
  /** Of receivedAt → issuedAt, ms spent waiting for other servers (a fan-out's first hop). */
  waitedMs?: number;
}
