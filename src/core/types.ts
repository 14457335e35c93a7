/**
 * The core's vocabulary. Everything here is network-neutral: refs are opaque strings
 * made and parsed only by each network's `ids.ts`; the core stores and compares them,
 * never looks inside.
 */
import type { Doc } from "../formatting/ast.js";

/** A network's short name, e.g. "slack", "telegram", "loopback". */
export type NetworkName = string;
/** Opaque reference to a remote chat (channel, group, DM). */
export type ChatRef = string;
/** Opaque reference to a remote user. */
export type UserRef = string;
/** Opaque reference to one remote message (or one part of it). */
export type MessageRef = string;

/** How a file is shown in Matrix. */
export type FileKind = "image" | "video" | "audio" | "voice" | "file" | "sticker";

/** A remote file the connector can download later with `Connection.download`. */
export interface FileRef {
  /** Opaque id the connector understands (Slack file id, Telegram file_id). */
  id: string;
  name: string;
  mime: string;
  kind: FileKind;
  size?: number;
  width?: number;
  height?: number;
  durationMs?: number;
  /** Caption that belongs to this file (Telegram), rendered as the file event's body. */
  caption?: Doc;
  /** A permalink to show when the file is too large to bridge. */
  link?: string;
}

/** A message as the core sees it, in either direction. */
export interface CoreMessage {
  /** The formatted text; may be empty when the message is only files. */
  doc: Doc;
  emote?: boolean;
  notice?: boolean;
  /** The message this one replies to. */
  replyTo?: MessageRef;
  /** The root of the thread this message belongs to. */
  threadRoot?: MessageRef;
  /** Files after the text, each bridged as its own part. */
  files?: FileRef[];
}

export interface UserInfo {
  name: string;
  /** A URL or connector-specific file id the connector can `downloadAvatar`. */
  avatar?: string;
  isBot?: boolean;
}

export type ChatKind = "channel" | "group" | "dm";

export interface ChatInfo {
  name: string;
  kind: ChatKind;
  topic?: string;
  avatar?: string;
  /** Localpart for the portal alias, e.g. "slack_acme_general" (made unique by the core). */
  aliasLocalpart: string;
  /** Room name shown in Matrix, e.g. "general (Slack)". */
  roomName: string;
  /** Remote members that should appear as ghosts at creation. */
  members?: UserRef[];
  archived?: boolean;
}

/** Common to every event a connector pushes. */
interface RemoteEventBase {
  /** Dedup key: the same logical event always has the same key (redelivery is a no-op). */
  key: string;
  chat: ChatRef;
  /** Milliseconds since epoch, as the remote network stamped it. */
  at: number;
}

export type RemoteEvent =
  | (RemoteEventBase & { kind: "message"; ref: MessageRef; sender: UserRef; msg: CoreMessage })
  | (RemoteEventBase & { kind: "edit"; target: MessageRef; sender: UserRef; msg: CoreMessage })
  | (RemoteEventBase & { kind: "delete"; target: MessageRef; sender?: UserRef })
  | (RemoteEventBase & { kind: "reaction"; target: MessageRef; sender: UserRef; emoji: string; on: boolean })
  | (RemoteEventBase & { kind: "chat-info"; info: Partial<Pick<ChatInfo, "name" | "topic" | "avatar" | "archived" | "roomName">> })
  | (RemoteEventBase & { kind: "membership"; user: UserRef; joined: boolean })
  | (RemoteEventBase & { kind: "user-info"; user: UserRef; info: UserInfo })
  | (RemoteEventBase & { kind: "chat-moved"; to: ChatRef });

export type RemoteEventKind = RemoteEvent["kind"];
