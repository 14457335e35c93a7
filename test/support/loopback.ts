/**
 * A test-only network: an in-memory chat service with the same connector contract as
 * Slack and Telegram. It lets the core be tested end to end (portals, ghosts, queue,
 * message map, commands, restart) before and independently of the real connectors.
 */
import { plainDoc, plainText, type Doc } from "../../src/formatting/ast.js";
import type {
  Connection, DirectoryUser, EventSink, LoginFlow, LoginRecord, NetworkConnector, OutboundMessage,
} from "../../src/core/connector.js";
import { LoginError, RemoteError } from "../../src/core/errors.js";
import type { ChatInfo, FileRef, RemoteEvent } from "../../src/core/types.js";

export interface LoopbackMessage {
  ref: string;
  sender: string;
  text: string;
  doc: Doc;
  replyTo?: string;
  threadRoot?: string;
  senderName?: string;
  senderAvatarUrl?: string;
  files?: Array<{ name: string; size: number; mime: string }>;
  deleted?: boolean;
  pinned?: boolean;
  notice?: boolean;
  emote?: boolean;
  /** The bridge said an earlier try of this send may have gone out. */
  maybeSent?: boolean;
  reactions: Set<string>;
}

export class LoopbackNetwork {
  readonly tokens = new Map<string, { account: string; name: string }>();
  readonly users = new Map<string, { name: string }>();
  readonly chats = new Map<string, { name: string; messages: LoopbackMessage[] }>();
  readonly files = new Map<string, Buffer>();
  private readonly sinks = new Map<string, EventSink>();
  private seq = 0;
  /** Make the next N sends fail with this error (to test retries and dead letters). */
  failSends: Error[] = [];
  /** While set, every send fails with it (a network that is down, or a bug on its side of the bridge). */
  failAllSends: Error | null = null;
  /** While set, sends wait for it, then take their fault from failSends as usual. */
  holdSends: Promise<void> | null = null;
  /** While set, file downloads wait for it (keeps a remote chat's queue lane busy). */
  holdDownloads: Promise<void> | null = null;
  /** While set, every file download fails with this error (a file host that is down). */
  downloadFailure: RemoteError | null = null;
  /** Texts longer than this go out as several messages (as Telegram splits at 4,096 characters). */
  maxTextLength = Infinity;
  /** Every message the bridge deleted, in order ("ops/3"). */
  readonly deleteCalls: string[] = [];
  /** Sends asked for so far (failed ones included). */
  sendCalls = 0;
  /** File downloads asked for so far. */
  downloadCalls = 0;
  /** Every reaction the bridge added or removed, in order ("+👍 ops/3", "-👍 ops/3"): a network may refuse a doubled one. */
  readonly reactCalls: string[] = [];
  /** Users' e-mails as the network shows them to the bridge (listUsers). */
  readonly emails = new Map<string, string>();
  /** Private messages the bridge sent to users (sendDirect), oldest first. */
  readonly directs: Array<{ user: string; text: string }> = [];
  /** Like a Telegram bot: the bridge may not write to anyone first (no sendDirect); users bring codes (`claim`). */
  noDirect = false;

  addAccount(token: string, account: string, name: string): void {
    this.tokens.set(token, { account, name });
  }

  addChat(id: string, name: string): void {
    this.chats.set(id, { name, messages: [] });
  }

  addUser(id: string, name: string): void {
    this.users.set(id, { name });
  }

  attach(account: string, sink: EventSink): void {
    this.sinks.set(account, sink);
  }

  private sink(): EventSink {
    const s = [...this.sinks.values()][0];
    if (!s) throw new Error("no loopback login connected");
    return s;
  }

  nextRef(chat: string): string {
    return `${chat}/${++this.seq}`;
  }

  /** A remote user edits their message `ref`; resolves once the bridge has durably queued it. */
  async editPost(chat: string, user: string, ref: string, text: string): Promise<void> {
    await this.sink().push([{ kind: "edit", key: `edit:${ref}:${++this.seq}`, chat, at: Date.now(), target: ref, sender: user, msg: { doc: plainDoc(text) } }]);
  }

  /** A remote user posts; resolves once the bridge has durably queued it. */
  async post(chat: string, user: string, text: string, opts: { replyTo?: string; threadRoot?: string; file?: { name: string; data: Buffer; mime: string } } = {}): Promise<string> {
    const ref = this.nextRef(chat);
    const doc = text ? plainDoc(text) : [];
    this.chats.get(chat)!.messages.push({ ref, sender: user, text, doc, replyTo: opts.replyTo, threadRoot: opts.threadRoot, reactions: new Set() });
    let files: FileRef[] | undefined;
    if (opts.file) {
      const id = `file-${ref}`;
      this.files.set(id, opts.file.data);
      files = [{ id, name: opts.file.name, mime: opts.file.mime, kind: opts.file.mime.startsWith("image/") ? "image" : "file", size: opts.file.data.length }];
    }
    await this.sink().push([{ kind: "message", key: `msg:${ref}`, chat, at: Date.now(), ref, sender: user, msg: { doc, replyTo: opts.replyTo, threadRoot: opts.threadRoot, files } }]);
    return ref;
  }

  /** A user sends the bridge a one-time code on the network (Telegram's `/start CODE`); resolves to the answer. */
  claim(user: string, code: string): Promise<string> {
    return this.sink().claim!(user, code);
  }

  async push(events: RemoteEvent[]): Promise<void> {
    await this.sink().push(events);
  }

  sent(chat: string): LoopbackMessage[] {
    return this.chats.get(chat)!.messages.filter((m) => m.sender === "bridge");
  }
}

class LoopbackConnection implements Connection {
  constructor(private readonly net: LoopbackNetwork, private readonly login: LoginRecord, private readonly network: string, private readonly displayName: string) {}

  /** Absent while the network is `noDirect`, as on a network whose bots may not write first. */
  get sendDirect(): ((user: string, text: string) => Promise<void>) | undefined {
    const net = this.net;
    return net.noDirect ? undefined : async (user, text) => { net.directs.push({ user, text }); };
  }

  async listUsers(): Promise<DirectoryUser[]> {
    return [...this.net.users].map(([user, u]) => ({ user, name: u.name, ...(this.net.emails.has(user) ? { email: this.net.emails.get(user) } : {}) }));
  }

  async resolveUser(input: string): Promise<string | null> {
    return this.net.users.has(input) ? input : null;
  }

  async send(chat: string, msg: OutboundMessage): Promise<string[]> {
    this.net.sendCalls++;
    await this.net.holdSends;
    const failure = this.net.failSends.shift() ?? this.net.failAllSends;
    if (failure) throw failure;
    const c = this.net.chats.get(chat);
    if (!c) throw new RemoteError("chat_not_found", `no chat ${chat}`, { retryable: false, userMessage: "the chat does not exist" });
    const refs: string[] = [];
    const text = plainText(msg.doc);
    const max = this.net.maxTextLength;
    const pieces = text.length > max ? Array.from({ length: Math.ceil(text.length / max) }, (_, i) => text.slice(i * max, (i + 1) * max)) : [text];
    for (const [i, piece] of pieces.entries()) {
      const ref = this.net.nextRef(chat);
      c.messages.push({
        ref, sender: "bridge", text: piece, doc: pieces.length > 1 ? plainDoc(piece) : msg.doc, replyTo: msg.replyTo, threadRoot: msg.threadRoot,
        senderName: msg.sender.name + (msg.sender.via ? ` (${msg.sender.via})` : ""), senderAvatarUrl: msg.sender.avatarUrl,
        files: i === 0 ? msg.files?.map((f) => ({ name: f.name, size: f.data.length, mime: f.mime })) : undefined, notice: msg.notice, emote: msg.emote,
        maybeSent: msg.maybeSent, reactions: new Set(),
      });
      refs.push(ref);
    }
    return refs;
  }

  async edit(chat: string, target: string, msg: OutboundMessage): Promise<void> {
    const m = this.net.chats.get(chat)?.messages.find((x) => x.ref === target);
    if (!m) throw new RemoteError("message_not_found", "no such message", { retryable: false });
    m.text = plainText(msg.doc);
    m.doc = msg.doc;
  }

  async delete(chat: string, target: string): Promise<void> {
    this.net.deleteCalls.push(target);
    const m = this.net.chats.get(chat)?.messages.find((x) => x.ref === target);
    if (m) m.deleted = true;
  }

  async react(chat: string, target: string, emoji: string, on: boolean): Promise<void> {
    this.net.reactCalls.push(`${on ? "+" : "-"}${emoji} ${target}`);
    const m = this.net.chats.get(chat)?.messages.find((x) => x.ref === target);
    if (!m) return;
    if (on) m.reactions.add(emoji);
    else m.reactions.delete(emoji);
  }

  async chatInfo(chat: string): Promise<ChatInfo> {
    const c = this.net.chats.get(chat);
    if (!c) throw new RemoteError("chat_not_found", `no chat ${chat}`, { retryable: false });
    return { name: c.name, kind: "channel", topic: `Loopback chat ${c.name}`, aliasLocalpart: `${this.network}_${c.name}`, roomName: `${c.name} (${this.displayName})` };
  }

  async userInfo(user: string) {
    return { name: this.net.users.get(user)?.name ?? user };
  }

  async download(file: FileRef) {
    this.net.downloadCalls++;
    await this.net.holdDownloads;
    if (this.net.downloadFailure) throw this.net.downloadFailure;
    const data = this.net.files.get(file.id);
    if (!data) throw new RemoteError("file_not_found", "no such file", { retryable: false });
    return { data, mime: file.mime, name: file.name };
  }

  async downloadAvatar(): Promise<{ data: Buffer; mime: string }> {
    throw new RemoteError("no_avatar", "loopback users have no avatars", { retryable: false });
  }

  async listChats(limit: number): Promise<string[]> {
    return [...this.net.chats.keys()].slice(0, limit);
  }

  async resolveChat(input: string): Promise<string | null> {
    const id = input.replace(/^#/, "");
    if (this.net.chats.has(id)) return id;
    return [...this.net.chats.entries()].find(([, c]) => c.name === id)?.[0] ?? null;
  }

  isOwnUser(user: string): boolean {
    return user === "bridge";
  }

  async pin(chat: string, target: string): Promise<void> {
    const m = this.net.chats.get(chat)?.messages.find((x) => x.ref === target);
    if (m) m.pinned = true;
  }

  async stop(): Promise<void> {
    void this.login;
    void this.network;
  }
}

export class LoopbackConnector implements NetworkConnector {
  readonly displayName: string;
  readonly maxUploadSize = 10 * 1024 * 1024;
  readonly limitations = "A test network that lives in memory.";

  /** `network` lets a test run two loopback networks side by side (linked rooms, fan-out). */
  constructor(readonly net: LoopbackNetwork, readonly network = "loopback") {
    this.displayName = network === "loopback" ? "Loopback" : network[0]!.toUpperCase() + network.slice(1);
  }

  loginFlows(): LoginFlow[] {
    return [{
      id: this.network, help: "Log in to the loopback test network",
      steps: [{ key: "token", prompt: "Send your loopback token (lb-…).", secret: true, pattern: /^lb-/, patternHint: "Loopback tokens start with lb-." }],
      complete: async (values) => {
        const acct = this.net.tokens.get(values.token!);
        if (!acct) throw new LoginError("That loopback token is not valid.");
        return { remoteId: acct.account, name: acct.name, secrets: { token: values.token! }, reply: `Logged in to ${this.network} account ${acct.name}` };
      },
    }];
  }

  async connect(login: LoginRecord, sink: EventSink): Promise<Connection> {
    this.net.attach(login.remoteId, sink);
    sink.status({ state: "connected" });
    return new LoopbackConnection(this.net, login, this.network, this.displayName);
  }

  ghostLocalpart(user: string): string {
    return `${this.network}_${user.toLowerCase()}`;
  }

  userFromGhostLocalpart(localpart: string): string | null {
    return localpart.startsWith(`${this.network}_`) ? localpart.slice(this.network.length + 1) : null;
  }
}
