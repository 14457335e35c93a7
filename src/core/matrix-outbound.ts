/**
 * Matrix → remote: applies one queued Matrix event (or a fan-out of a remote message) to one
 * linked chat. Each (event, chat) is its own queue item in the chat's lane, so a target that
 * fails, is rate-limited or logged out holds only itself; the lane is the one the chat's own
 * events come in by, so a reply to a message just bridged from it always finds it mapped. A send is checked against the
 * message map first, so a retried or redelivered item never posts twice to a chat it already
 * reached, and the map is written as soon as the chat answers.
 */
import { EmojiPacks } from "./emoji-packs.js";
import type { Doc, Inline } from "../formatting/ast.js";
import { mapInlines } from "../formatting/ast.js";
import type { NewQueueItem, PortalLinkRow, QueueItem } from "../store/api.js";
import { ChangeAuthority } from "./authority.js";
import type { Connection, NetworkConnector, OutboundFile, OutboundMessage } from "./connector.js";
import type { CoreDeps } from "./context.js";
import { holdForLogin } from "./detached.js";
import { MatrixError, RemoteError } from "./errors.js";
import type { LoginManager } from "./logins.js";
import type { MatrixInbound } from "./matrix-port.js";
import { perTarget, type MatrixPayload, type RelayTiming } from "./payloads.js";
import type { Permissions } from "./permissions.js";
import type { PortalDirectory } from "./portals.js";
import { recordMap } from "./relay-queue.js";

type Of<K extends MatrixInbound["kind"]> = Extract<MatrixInbound, { kind: K }>;

interface Target {
  link: PortalLinkRow;
  connector: NetworkConnector;
  conn: Connection;
}

export interface MatrixOutboundOptions {
  /** Whether Matrix messages still go out to chats on standby. */
  relayDuringStandby: () => boolean;
  /** How long an item for a detached link (its login logged out) waits for a new login. */
  detachedWaitMs: number;
  /** Queue items (the split of an item queued before delivery per target). */
  enqueue: (items: NewQueueItem[]) => Promise<void>;
  onRelayed?: (timing: RelayTiming) => void;
}

export class MatrixOutbound {
  private readonly onRelayed?: (timing: RelayTiming) => void;
  private readonly authority: ChangeAuthority;
  /** The logins' custom emoji: a reaction keyed by one of their images goes out as `:name:` (set by the bridge). */
  emoji: EmojiPacks;

  constructor(
    private readonly deps: CoreDeps,
    private readonly portals: PortalDirectory,
    private readonly logins: LoginManager,
    private readonly permissions: Permissions,
    private readonly opts: MatrixOutboundOptions,
  ) {
    this.onRelayed = opts.onRelayed;
    this.emoji = new EmojiPacks(deps);
    this.authority = new ChangeAuthority(deps.store, deps.matrix, deps.log.child({ component: "authority" }));
  }

  async apply(item: QueueItem, p: MatrixPayload): Promise<void> {
    const ev = p.event;
    const isBridgeUser = this.deps.matrix.isBridgeUser(ev.sender);
    // Our own ghosts and bot only go out as explicit fan-out items, never from a transaction echo.
    if (isBridgeUser && !p.origin) return;
    // A fan-out (p.origin) may come from a person's own account (double puppeting): the bridge sent it.
    if (!isBridgeUser && !p.origin && !this.permissions.allows(ev.sender, "relay")) return this.refuse(ev);
    if (!p.target) return this.split(item, p);
    // Nobody changes someone else's message on the remote side (a fan-out was changed there by its author).
    if (!p.origin && (ev.kind === "edit" || ev.kind === "redaction")) {
      const refusal = await this.authority.refusal(ev);
      if (refusal) return this.authority.notify(ev, refusal);
    }
    const t = this.target(ev.roomId, p);
    if (!t) return;
    switch (ev.kind) {
      case "message": return this.message(t, ev, p, item);
      case "edit": return this.edit(t, ev, p);
      case "redaction": return this.redaction(t, ev);
      case "reaction": return this.reaction(t, ev);
      // Stryker disable next-line ConditionalExpression: unreachable, the four kinds above are all a MatrixInbound has.
      default: return;
    }
  }

  /** An item queued for the whole room (before delivery per target, e.g. across an upgrade): one item per linked chat now. */
  private async split(item: QueueItem, p: MatrixPayload): Promise<void> {
    await this.opts.enqueue(perTarget(this.portals.linksOfRoom(p.event.roomId), item.sourceKey, p));
  }

  /** The chat this item goes to, or nothing when it no longer should (unlinked, standby, network off). */
  private target(roomId: string, p: MatrixPayload): Target | undefined {
    const { network, chat } = p.target!;
    const link = this.portals.linkForChat(network, chat);
    if (!link || link.roomId !== roomId || link.finishedAt) return undefined; // finished: the parallel run is over
    if (this.portals.portal(roomId)?.phase === "standby" && !this.opts.relayDuringStandby()) return undefined;
    const connector = this.deps.connectors.get(network);
    if (!connector) return undefined;
    if (link.detachedAt) holdForLogin(link, p.receivedAt, this.opts.detachedWaitMs, connector.displayName);
    const conn = this.logins.connection(link.loginId);
    if (!conn) throw new RemoteError("not_connected", `login ${link.loginId} is not connected`, { retryable: true });
    return { link, connector, conn };
  }

  private async message(t: Target, ev: Of<"message">, p: MatrixPayload, item: QueueItem): Promise<void> {
    const maybeSent = item.tries > 1;
    const { store } = this.deps;
    // Already sent to this chat (a retry after the map was written, or the event redelivered): never twice.
    // Answered by the insert that handed the item out when it could (no round trip), else looked up.
    const sent = item.mapped ?? (await store.messages.byEvent(ev.eventId)).some((r) => r.network === t.link.network && r.chat === t.link.chat);
    if (sent) return;
    const files = ev.file ? [await this.download(ev.file, t.connector)] : undefined;
    const replyTo = await this.remoteOf(ev.replyTo, t.link);
    const threadRoot = await this.remoteOf(ev.threadRoot, t.link);
    const msg: OutboundMessage = {
      doc: this.mapMentions(ev.doc, t.connector),
      emote: ev.msgtype === "emote",
      notice: ev.msgtype === "notice",
      replyTo,
      threadRoot,
      files,
      sender: await this.senderOf(ev.roomId, ev.sender, p.origin?.via),
      sourceId: ev.eventId,
      maybeSent,
      receivedAt: p.receivedAt,
    };
    const issuedAt = Date.now();
    const refs = await t.conn.send(t.link.chat, msg);
    this.onRelayed?.({ from: p.origin?.network ?? "matrix", to: t.link.network, receivedAt: p.receivedAt, issuedAt, doneAt: Date.now(), waitedMs: p.waitedMs });
    const threadRow = ev.threadRoot ? (await store.messages.byEvent(ev.threadRoot)).find((r) => r.network === t.link.network) : undefined;
    await recordMap(store, item, refs.map((remoteRef, part) => ({
      roomId: ev.roomId, eventId: ev.eventId, network: t.link.network, chat: t.link.chat, remoteRef, part,
      origin: "matrix" as const, senderMxid: ev.sender,
      threadRootEvent: ev.threadRoot ?? null, threadRootRemote: threadRow?.remoteRef ?? null,
      receivedAt: new Date(p.receivedAt),
    })));
    this.deps.health.success(t.link.loginId, "fromMatrix", Date.now() - p.receivedAt);
  }

  private async edit(t: Target, ev: Of<"edit">, p: MatrixPayload): Promise<void> {
    const rows = await this.deps.store.messages.byEvent(ev.target);
    const row = rows.find((r) => r.network === t.link.network && r.chat === t.link.chat && r.part === 0);
    if (!row || row.origin !== "matrix") return; // only what we posted can be edited
    await t.conn.edit(t.link.chat, row.remoteRef, {
      doc: this.mapMentions(ev.doc, t.connector), sender: await this.senderOf(ev.roomId, ev.sender, p.origin?.via), sourceId: ev.eventId,
    });
    this.deps.health.success(t.link.loginId, "fromMatrix");
  }

  private async redaction(t: Target, ev: Of<"redaction">): Promise<void> {
    const { store } = this.deps;
    const reaction = await store.reactions.byEvent(ev.target, t.link.network);
    if (reaction) return this.unreact(t, reaction.targetEventId, reaction.emoji, ev.target);
    const rows = await store.messages.byEvent(ev.target);
    for (const row of rows) {
      if (row.network !== t.link.network || row.chat !== t.link.chat || row.origin !== "matrix") continue;
      await t.conn.delete(t.link.chat, row.remoteRef);
    }
  }

  private async reaction(t: Target, ev: Of<"reaction">): Promise<void> {
    const { store } = this.deps;
    const rows = await store.messages.byEvent(ev.target);
    const row = rows.find((r) => r.network === t.link.network && r.chat === t.link.chat && r.part === 0);
    if (!row) return;
    const others = await store.reactions.forTarget(ev.target, ev.key);
    // Several Matrix users on one emoji are one remote reaction (the bot's): add it once.
    const first = !others.some((o) => o.network === t.link.network && o.origin === "matrix");
    if (first) await t.conn.react(t.link.chat, row.remoteRef, this.emoji.shortcodeOf(t.link.loginId, ev.key) ?? ev.key, true);
    await store.reactions.insert({
      roomId: ev.roomId, eventId: ev.eventId, targetEventId: ev.target, network: t.link.network, chat: t.link.chat,
      targetRemote: row.remoteRef, senderMxid: ev.sender, emoji: ev.key, origin: "matrix",
    });
  }

  /** A Matrix reaction was removed: this chat's row of it goes, and the bot's reaction unless someone still reacts. */
  private async unreact(t: Target, targetEvent: string, emoji: string, reactionEvent: string): Promise<void> {
    const { store } = this.deps;
    await store.reactions.deleteByEvent(reactionEvent, t.link.network);
    const remaining = await store.reactions.forTarget(targetEvent, emoji);
    if (remaining.some((r) => r.network === t.link.network && r.origin === "matrix")) return; // someone still reacts
    const rows = await store.messages.byEvent(targetEvent);
    const row = rows.find((r) => r.network === t.link.network && r.chat === t.link.chat && r.part === 0);
    if (row) await t.conn.react(t.link.chat, row.remoteRef, this.emoji.shortcodeOf(t.link.loginId, emoji) ?? emoji, false);
  }

  /** Pills to ghosts of the target network become native mentions; others stay names. */
  private mapMentions(doc: Doc, connector: NetworkConnector): Doc {
    const { matrix } = this.deps;
    return mapInlines(doc, (node: Inline): Inline => {
      if (node.type !== "mention" || node.target.kind !== "matrix") return node;
      const mxid = node.target.mxid;
      const localpart = mxid.slice(1, mxid.indexOf(":"));
      if (matrix.ghostMxid(localpart) === mxid) {
        const user = connector.userFromGhostLocalpart(localpart);
        if (user) return { ...node, target: { kind: "remote", network: connector.network, id: user } };
      }
      return node;
    });
  }

  private async remoteOf(eventId: string | undefined, link: PortalLinkRow): Promise<string | undefined> {
    // Stryker disable next-line ConditionalExpression: a short cut; the map has no rows for no event.
    if (!eventId) return undefined;
    const rows = await this.deps.store.messages.byEvent(eventId);
    return rows.find((r) => r.network === link.network && r.chat === link.chat && r.part === 0)?.remoteRef
      ?? rows.find((r) => r.network === link.network && r.chat === link.chat)?.remoteRef;
  }

  private async senderOf(roomId: string, mxid: string, via?: string) {
    const { matrix, options } = this.deps;
    const name = await matrix.displayName(roomId, mxid);
    // Stryker disable next-line ArrowFunction: null or undefined, both mean no avatar below.
    const avatar = await matrix.avatarOf(mxid).catch(() => null);
    const avatarUrl = avatar && options.publicAvatarUrl ? options.publicAvatarUrl(avatar) : undefined;
    return { name, avatarUrl, via: via || undefined };
  }

  private async download(file: NonNullable<Of<"message">["file"]>, connector: NetworkConnector): Promise<OutboundFile> {
    const limit = Math.min(this.deps.options.maxFileSize, connector.maxUploadSize);
    const tooLarge = (size?: number) => new RemoteError("file_too_large", `${file.name} is ${size !== undefined ? `${size} bytes` : `over ${limit} bytes`}; ${connector.displayName} takes at most ${limit}`,
      { retryable: false, userMessage: `The file ${file.name} is too large for ${connector.displayName} (limit ${Math.round(limit / 1048576)} MB).` });
    if (file.size !== undefined && file.size > limit) throw tooLarge(file.size);
    // info.size may be missing or wrong: the download itself stops at the limit.
    const dl = await this.deps.matrix.downloadMedia(file.mxc, limit).catch((err: unknown) => {
      throw err instanceof MatrixError && err.code === "M_TOO_LARGE" ? tooLarge() : err;
    });
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a guard for a port that does not keep MatrixPort's contract (past the limit it throws M_TOO_LARGE, handled above).
    if (dl.data.length > limit) throw tooLarge(dl.data.length);
    return { name: file.name, mime: file.mime || dl.mime, kind: file.kind, data: dl.data, width: file.width, height: file.height };
  }

  /** A sender below `relay` gets one notice per room instead of a silent drop. */
  private async refuse(ev: MatrixInbound): Promise<void> {
    if (ev.kind !== "message") return;
    const key = `refused:${ev.roomId}:${ev.sender}`;
    if (await this.deps.store.kv.get(key)) return;
    await this.deps.store.kv.set(key, "1");
    const { matrix } = this.deps;
    await matrix.sendEvent(ev.roomId, matrix.botMxid, "m.room.message",
      { msgtype: "m.notice", body: `${ev.sender}: you are not allowed to relay messages through this bridge, so your messages stay in Matrix.` },
      `tandem-refused-${ev.eventId}`);
  }
}
