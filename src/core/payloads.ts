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
}

export interface MatrixPayload {
  t: "matrix";
  receivedAt: number;
  event: MatrixInbound;
  /** Fan-out of a message that came from this network and chat: do not send it back there. */
  origin?: { network: string; chat: string; via: string };
}

export type QueuePayload = RemotePayload | MatrixPayload;

export const remoteLane = (network: string, chat: string) => `r:${network}:${chat}`;
export const matrixLane = (roomId: string) => `m:${roomId}`;
