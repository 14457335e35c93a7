/**
 * What is stored in the relay queue. Lanes: `r:<network>:<chat>` for remote events (one
 * ordered worker per remote chat, which exists before its portal does) and `m:<roomId>` for
 * Matrix events and fan-out (one ordered worker per room).
 */
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
}

export type QueuePayload = RemotePayload | MatrixPayload;

export const remoteLane = (network: string, chat: string) => `r:${network}:${chat}`;
export const matrixLane = (roomId: string) => `m:${roomId}`;

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
