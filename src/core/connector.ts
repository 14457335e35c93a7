/**
 * The one interface every network connector implements (Slack, Telegram, the test
 * loopback). Connectors translate and transport; the core decides order, retries and
 * what is stored. A connector never talks to Matrix or the database.
 */
import type { Doc } from "../formatting/ast.js";
import type {
  ChatInfo, ChatRef, FileKind, FileRef, MessageRef, NetworkName, RemoteEvent, UserInfo, UserRef,
} from "./types.js";

/** A stored login as the connector needs it. Secrets are already decrypted. */
export interface LoginRecord {
  id: string;
  network: NetworkName;
  ownerMxid: string;
  /** The remote account id (Slack team id, Telegram bot id). */
  remoteId: string;
  name: string;
  secrets: Record<string, string>;
}

/** One value a login flow asks for. */
export interface LoginStep {
  key: string;
  prompt: string;
  /** The message carrying it is redacted from the room after use. */
  secret: boolean;
  /** Quick shape check before anything is sent to the network. */
  pattern?: RegExp;
  /** Said when the pattern does not match. */
  patternHint?: string;
}

/** What a successful login produces; the core stores it and connects. */
export interface LoginResult {
  remoteId: string;
  name: string;
  secrets: Record<string, string>;
  /** The reply to the user, e.g. "Logged in to Slack workspace Acme". */
  reply: string;
  /** Extra advice (privacy mode, missing optional scopes). */
  warnings?: string[];
}

export interface LoginFlow {
  /** The words after `login`, e.g. "app" or "telegram". */
  id: string;
  help: string;
  steps: LoginStep[];
  /** Validate the values against the network. Throws LoginError with a user-facing message. */
  complete(values: Record<string, string>): Promise<LoginResult>;
}

export type ConnectionState =
  | "connecting" | "connected" | "transient-disconnect" | "bad-credentials" | "error" | "stopped";

export interface ConnectionStatus {
  state: ConnectionState;
  /** Human-readable reason, never containing a secret. */
  message?: string;
}

/** The only way a connector talks to the core. */
export interface EventSink {
  /** Resolves once the events are durably queued: only then ack the remote side. */
  push(events: RemoteEvent[]): Promise<void>;
  status(s: ConnectionStatus): void;
  /**
   * A remote user sent the bridge a one-time code on the network (Telegram: `/start CODE` to the
   * bot, which may not message first). Resolves to the answer to give them there.
   */
  claim?(user: UserRef, code: string): Promise<string>;
}

/** A remote user as a directory lists them, for mapping people by e-mail. */
export interface DirectoryUser {
  user: UserRef;
  name: string;
  /** Only when the network shares it with the bridge (Slack: scope users:read.email). */
  email?: string;
}

/** Who a relayed Matrix message is from, for "Name: text" or username/icon overrides. */
export interface OutboundSender {
  name: string;
  /** Public https URL of the avatar (the bridge serves it), when known. */
  avatarUrl?: string;
  /** Set when the message was relayed from another network (fan-out), e.g. "Slack". */
  via?: string;
}

export interface OutboundFile {
  name: string;
  mime: string;
  kind: FileKind;
  data: Buffer;
  width?: number;
  height?: number;
}

export interface OutboundMessage {
  doc: Doc;
  emote?: boolean;
  notice?: boolean;
  replyTo?: MessageRef;
  threadRoot?: MessageRef;
  files?: OutboundFile[];
  sender: OutboundSender;
  /** Stable id of the source (Matrix event id); connectors may attach it for idempotency. */
  sourceId: string;
  /**
   * An earlier try of this send may have reached the network (the bridge crashed or the
   * call failed ambiguously): a connector that can, checks before posting again.
   */
  maybeSent?: boolean;
  /**
   * When the bridge received the source event (ms since the epoch): the earliest time an
   * earlier try can have posted it, so a look-up for it (maybeSent) need not search further back.
   */
  receivedAt?: number;
}

/** What `Connection.history` is asked for. */
export interface HistoryOptions {
  /** At most this many messages (the connector may return fewer: its page size, or the start of the chat). */
  limit: number;
  /** From a previous page's `cursor`: the next (older) page, or the thread's next (newer) replies. */
  cursor?: string;
  /** Only messages strictly older than this (ms since epoch): the backfill's fixed upper edge. */
  before?: number;
  /** Fetch this thread's replies (oldest first, without the root) instead of the chat's top level. */
  thread?: MessageRef;
}

/** One page of history. */
export interface HistoryPage {
  /** Oldest first. Only `message` events (edits are already applied to what the network returns). */
  events: RemoteEvent[];
  /** Pass back for the next page; absent when there is no more (start of the chat, end of the thread). */
  cursor?: string;
  /** Messages in `events` that have thread replies not included: fetch them with `{ thread }`. */
  threads?: MessageRef[];
}

/** One live login. Every method does remote I/O and returns remote refs; the core stores them. */
export interface Connection {
  /** Returns one ref per part sent, text first, then files, in order. */
  send(chat: ChatRef, msg: OutboundMessage): Promise<MessageRef[]>;
  edit(chat: ChatRef, target: MessageRef, msg: OutboundMessage): Promise<void>;
  delete(chat: ChatRef, target: MessageRef): Promise<void>;
  react(chat: ChatRef, target: MessageRef, emoji: string, on: boolean): Promise<void>;
  chatInfo(chat: ChatRef): Promise<ChatInfo>;
  userInfo(user: UserRef): Promise<UserInfo>;
  download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }>;
  /** Fetch an avatar given by UserInfo.avatar / ChatInfo.avatar. */
  downloadAvatar(avatar: string): Promise<{ data: Buffer; mime: string }>;
  /** Chats to turn into portals at login and on `sync`, most recently active first. */
  listChats(limit: number): Promise<ChatRef[]>;
  /** Turn what a user typed (`#general`, `C123`, `@name`, `-100…`) into a chat ref, or null. */
  resolveChat(input: string): Promise<ChatRef | null>;
  /** The account's own picture (workspace icon, bot photo) for its space, as `downloadAvatar` takes it; none: undefined. */
  accountAvatar?(): Promise<string | undefined>;
  /**
   * The account's custom emoji (Slack workspace emoji), aliases resolved to their image: `image`
   * as `downloadAvatar` takes it. Networks without any a bot can list omit it.
   */
  customEmoji?(): Promise<Array<{ name: string; image: string }>>;
  /** Pin a message (used for the cutover notice); networks that cannot, omit it. */
  pin?(chat: ChatRef, target: MessageRef): Promise<void>;
  /**
   * Backfill: one page of a chat's past (or, with `opts.thread`, of one thread's replies), as
   * the same RemoteEvents live traffic produces (same keys, so a message seen both ways is
   * bridged once). Paced by the connector to the network's limits: a call made before
   * `historyReadyAt` waits. Networks without a history API (Telegram bots) omit it.
   */
  history?(chat: ChatRef, opts: HistoryOptions): Promise<HistoryPage>;
  /** When the next `history` call of this kind can go out without waiting (ms since epoch; <= now: at once). */
  historyReadyAt?(kind: "page" | "thread"): number;
  /** Send one remote user a private message from the bridge (claim codes). Networks where a bot may not write first omit it. */
  sendDirect?(user: UserRef, text: string): Promise<void>;
  /** Every user of the account with their e-mail where the network gives it (bulk mapping). */
  listUsers?(): Promise<DirectoryUser[]>;
  /** Turn what an admin typed (`U123`, a numeric id) into this login's user ref, or null when no such user. */
  resolveUser?(input: string): Promise<UserRef | null>;
  /** Whether a remote user is this login's own account (its messages are echoes). */
  isOwnUser(user: UserRef): boolean;
  stop(): Promise<void>;
}

/** One bridged chat as the room's MSC2346 `m.bridge` state describes it (src/core/bridge-info.ts). */
export interface ChatDescription {
  /** Names the chat within the network for as long as it exists: the state key's path, e.g. "T0001/C0001". */
  key: string;
  /** The workspace or account the chat is reached through, when there is one. */
  network?: { id: string; displayname: string; external_url?: string };
  channel: { id: string; displayname: string; external_url?: string };
}

/** One per process per network. Makes connections; owns no Matrix or database access. */
export interface NetworkConnector {
  readonly network: NetworkName;
  /** "Slack", "Telegram": used in room names and relay attribution. */
  readonly displayName: string;
  loginFlows(): LoginFlow[];
  /** Open one login's connection. Must not throw on network trouble: report via sink.status. */
  connect(login: LoginRecord, sink: EventSink): Promise<Connection>;
  /** Ghost localpart for a remote user, lowercase, e.g. "slack_t0001_u0001". */
  ghostLocalpart(user: UserRef): string;
  /** The inverse of ghostLocalpart, for Matrix pills back to native mentions. */
  userFromGhostLocalpart(localpart: string): UserRef | null;
  /** Largest file this network can take from us, in bytes. */
  readonly maxUploadSize: number;
  /** Largest file the bridge can fetch from this network (Telegram's Bot API: 20 MB); unlimited when absent. */
  readonly maxDownloadSize?: number;
  /** What this network cannot do, shown by `help <network>`. */
  readonly limitations?: string;
  /** The network's own web address (m.bridge `protocol.external_url`). */
  readonly externalUrl?: string;
  /**
   * Describe a bridged chat for m.bridge from what the bridge stores: no I/O. `login` is the
   * login it is bridged through, when that is still logged in. Absent: the chat ref and the login's name.
   */
  describeChat?(chat: ChatRef, name: string, login?: LoginRecord): ChatDescription;
}
