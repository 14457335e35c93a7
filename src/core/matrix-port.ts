/**
 * What the core needs from Matrix, and what Matrix hands the core. The core codes
 * against these; src/matrix implements them with matrix-appservice-bridge.
 */
import type { Doc } from "../formatting/ast.js";
import type { FileKind } from "./types.js";

export interface MatrixFileInfo {
  mxc: string;
  name: string;
  mime: string;
  size?: number;
  kind: FileKind;
  width?: number;
  height?: number;
}

/**
 * Content key of every event the bridge sends as a person's own account (double puppeting), with
 * the value "tandem": the event came from the remote side, so it is never relayed back there.
 */
export const PUPPET_MARK = "net.tandem.double_puppet_source";

interface InboundBase {
  roomId: string;
  eventId: string;
  sender: string;
  ts: number;
  /** Sent by the bridge as a person's own account (it carried PUPPET_MARK): an echo, never relayed. */
  puppeted?: boolean;
}

/** A Matrix event, already parsed into network-neutral terms (src/matrix/events.ts). */
export type MatrixInbound =
  | (InboundBase & {
      kind: "message";
      msgtype: "text" | "notice" | "emote" | "file";
      doc: Doc;
      /** Plain body with reply fallback removed, for commands. */
      body: string;
      replyTo?: string;
      threadRoot?: string;
      file?: MatrixFileInfo;
    })
  | (InboundBase & { kind: "edit"; target: string; doc: Doc; body: string })
  | (InboundBase & { kind: "redaction"; target: string })
  | (InboundBase & { kind: "reaction"; target: string; key: string })
  | (InboundBase & { kind: "invite"; target: string; isDirect: boolean })
  | (InboundBase & { kind: "membership"; target: string; membership: string })
  /** The room was upgraded (`m.room.tombstone`): it continues in `replacement`. */
  | (InboundBase & { kind: "tombstone"; replacement: string });

export interface CreateRoomOptions {
  name: string;
  topic?: string;
  avatarMxc?: string;
  /** Desired alias localpart; the port makes it unique on collision (M_ROOM_IN_USE). */
  aliasLocalpart?: string;
  invite: string[];
  isDirect?: boolean;
  /** MSC2346 m.bridge content (absent for rooms that bridge nothing themselves, e.g. a space). */
  bridgeInfo?: Record<string, unknown>;
  stateKey?: string;
  /** "m.space" makes a space (creation_content.type). */
  roomType?: "m.space";
  /** More state to create the room with. */
  initialState?: Array<{ type: string; stateKey: string; content: Record<string, unknown> }>;
  /**
   * People who must be admins of the room, so the bot is never its only one: additional creators
   * where the server's default room version makes creators permanent admins (12), else power 100.
   */
  admins?: string[];
}

/** Matrix operations, always as a given identity (the bot or a ghost). */
export interface MatrixPort {
  readonly botMxid: string;
  readonly domain: string;
  ghostMxid(localpart: string): string;
  isBridgeUser(mxid: string): boolean;
  /** Register the ghost (if needed) and set its profile. */
  ensureGhost(localpart: string, profile: { displayName?: string; avatarMxc?: string }): Promise<string>;
  uploadMedia(data: Buffer, mime: string, name: string): Promise<string>;
  /** The bytes of an mxc URI; over `maxBytes` it stops reading and throws MatrixError M_TOO_LARGE (not retryable). */
  downloadMedia(mxc: string, maxBytes?: number): Promise<{ data: Buffer; mime: string }>;
  createRoom(opts: CreateRoomOptions): Promise<{ roomId: string; alias?: string }>;
  invite(roomId: string, mxid: string): Promise<void>;
  join(roomId: string, mxid: string): Promise<void>;
  leave(roomId: string, mxid: string): Promise<void>;
  /** Send as `sender` (joining first if needed). `txnId` makes retries idempotent. `ts` backdates (appservice only). */
  sendEvent(roomId: string, sender: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<string>;
  redact(roomId: string, sender: string, eventId: string, txnId: string, reason?: string): Promise<void>;
  setState(roomId: string, sender: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void>;
  getState(roomId: string, type: string, stateKey: string): Promise<Record<string, unknown> | null>;
  /** Display name of a member in a room (falls back to the global profile, then the mxid). */
  displayName(roomId: string, mxid: string): Promise<string>;
  avatarOf(mxid: string): Promise<string | null>;
  joinedMembers(roomId: string): Promise<string[]>;
  powerLevel(roomId: string, mxid: string): Promise<number>;
  /**
   * The room's privileged creators (room version 12+: the create event's sender and its
   * `additional_creators`, who rank above every power level); [] on older room versions.
   */
  privilegedCreators?(roomId: string): Promise<string[]>;
  /** The room's m.room.power_levels content ({} when unreadable as an object). */
  powerLevels(roomId: string): Promise<Record<string, unknown>>;
  /**
   * Whether the room has any m.room.message (or sticker, or encrypted) event other than those
   * `ignore` says to skip, read back through the room's history (/messages). Backfill only fills
   * rooms without any, since Matrix can only append. Ports that cannot tell omit it (no backfill).
   */
  /**
   * Double puppeting: whether the bridge may send as this (real, local) user, through the second
   * registration. Ports without one omit it or answer false; events sent so carry PUPPET_MARK.
   */
  canPuppet?(mxid: string): boolean;
  /**
   * The homeserver's local users with their e-mail addresses, for mapping people by e-mail. Throws
   * MatrixError with a user-facing message when the bridge may not read them. Ports that cannot, omit it.
   */
  usersWithEmails?(): Promise<Array<{ mxid: string; emails: string[] }>>;
  hasMessages?(roomId: string, ignore?: (ev: { sender: string; body: string }) => boolean): Promise<boolean>;
}
