/**
 * Matrix → remote: applies one queued Matrix event (or a fan-out of a remote message) to
 * every chat linked to the room, except the chat it came from. Each send is checked
 * against the message map first, so a retried item never posts twice to a chat it already
 * reached, and the map is written as soon as a chat answers.
 */
import type { Doc, Inline } from "../formatting/ast.js";
import { mapInlines } from "../formatting/ast.js";
import type { PortalLinkRow, QueueItem } from "../store/api.js";
import { ChangeAuthority } from "./authority.js";
import type { Connection, NetworkConnector, OutboundFile, OutboundMessage } from "./connector.js";
import type { CoreDeps } from "./context.js";
import { Deferred, MatrixError, RemoteError } from "./errors.js";
import type { LoginManager } from "./logins.js";
import type { MatrixInbound } from "./matrix-port.js";
import type { MatrixPayload, RelayTiming } from "./payloads.js";
import type { Permissions } from "./permissions.js";
import type { PortalDirectory } from "./portals.js";

/** How long a reply waits for the message it answers to be mapped (see awaitMapping). */
const REPLY_MAPPING_WAIT_MS = 3000;

type Of<K extends MatrixInbound["kind"]> = Extract<MatrixInbound, { kind: K }>;

interface Target {
  link: PortalLinkRow;
  connector: NetworkConnector;
  conn: Connection;
}

export class MatrixOutbound {
  private readonly authority: ChangeAuthority;

  constructor(
    private readonly deps: CoreDeps,
    private readonly portals: PortalDirectory,
    private readonly logins: LoginManager,
    private readonly permissions: Permissions,
    /** Whether Matrix messages still go out to chats on standby. */
    private readonly relayDuringStandby: () => boolean,
    private readonly onRelayed?: (timing: RelayTiming) => void,
    /** Whether a remote message of the room is being bridged in right now. */
    private readonly remoteBusy: (roomId: string) => boolean = () => false,
  ) {
    this.authority = new ChangeAuthority(deps.store, deps.matrix, deps.log.child({ component: "authority" }));
  }

  async apply(item: QueueItem, p: MatrixPayload): Promise<void> {
    const ev = p.event;
    const isBridgeUser = this.deps.matrix.isBridgeUser(ev.sender);
    // Our own ghosts and bot only go out as explicit fan-out items, never from a transaction echo.
    if (isBridgeUser && !p.origin) return;
    if (!isBridgeUser && !this.permissions.allows(ev.sender, "relay")) return this.refuse(ev);
    // Nobody changes someone else's message on the remote side (a fan-out was changed there by its author).
    if (!p.origin && (ev.kind === "edit" || ev.kind === "redaction")) {
      const refusal = await this.authority.refusal(ev);
      if (refusal) return this.authority.notify(ev, refusal);
    }
    const targets = this.targets(ev.roomId, p.origin);
    switch (ev.kind) {
      case "message": return this.message(targets, ev, p, item.tries > 1);
      case "edit": return this.edit(targets, ev, p);
      case "redaction": return this.redaction(targets, ev);
      case "reaction": return this.reaction(targets, ev);
      default: return;
    }
  }

  private targets(roomId: string, origin?: MatrixPayload["origin"]): Target[] {
    const portal = this.portals.portal(roomId);
    if (portal?.phase === "standby" && !this.relayDuringStandby()) return [];
    const out: Target[] = [];
    for (const link of this.portals.linksOfRoom(roomId)) {
      if (origin && link.network === origin.network && link.chat === origin.chat) continue;
      const connector = this.deps.connectors.get(link.network);
      const conn = this.logins.connection(link.loginId);
      if (!connector) continue;
      if (!conn) throw new RemoteError("not_connected", `login ${link.loginId} is not connected`, { retryable: true });
      out.push({ link, connector, conn });
    }
    return out;
  }

  private async message(targets: Target[], ev: Of<"message">, p: MatrixPayload, maybeSent: boolean): Promise<void> {
    if (targets.length === 0) return;
    const { store } = this.deps;
    const already = await store.messages.byEvent(ev.eventId);
    let files: OutboundFile[] | undefined;
    for (const t of targets) {
      if (already.some((r) => r.network === t.link.network && r.chat === t.link.chat)) continue;
      if (ev.file && !files) files = [await this.download(ev.file, t.connector)];
      const replyTo = await this.remoteOf(ev.replyTo, t.link);
      const threadRoot = await this.remoteOf(ev.threadRoot, t.link);
      this.awaitMapping(ev, p, (!!ev.replyTo && !replyTo) || (!!ev.threadRoot && !threadRoot));
      const msg: OutboundMessage = {
        doc: this.mapMentions(ev.doc, t.connector),
        emote: ev.msgtype === "emote",
        notice: ev.msgtype === "notice",
        replyTo,
        threadRoot,
        files: ev.file ? files : undefined,
        sender: await this.senderOf(ev.roomId, ev.sender, p.origin?.via),
        sourceId: ev.eventId,
        maybeSent,
        receivedAt: p.receivedAt,
      };
      const issuedAt = Date.now();
      const refs = await t.conn.send(t.link.chat, msg);
      this.onRelayed?.({ from: p.origin?.network ?? "matrix", to: t.link.network, receivedAt: p.receivedAt, issuedAt, doneAt: Date.now(), waitedMs: p.waitedMs });
      const threadRow = ev.threadRoot ? (await store.messages.byEvent(ev.threadRoot)).find((r) => r.network === t.link.network) : undefined;
      await store.messages.insert(refs.map((remoteRef, part) => ({
        roomId: ev.roomId, eventId: ev.eventId, network: t.link.network, chat: t.link.chat, remoteRef, part,
        origin: "matrix" as const, senderMxid: ev.sender,
        threadRootEvent: ev.threadRoot ?? null, threadRootRemote: threadRow?.remoteRef ?? null,
        receivedAt: new Date(p.receivedAt),
      })));
      this.deps.health.success(t.link.loginId, "fromMatrix", Date.now() - p.receivedAt);
    }
  }

  private async edit(targets: Target[], ev: Of<"edit">, p: MatrixPayload): Promise<void> {
    const rows = await this.deps.store.messages.byEvent(ev.target);
    for (const t of targets) {
      const row = rows.find((r) => r.network === t.link.network && r.chat === t.link.chat && r.part === 0);
      if (!row || row.origin !== "matrix") continue; // only what we posted can be edited
      await t.conn.edit(t.link.chat, row.remoteRef, {
        doc: this.mapMentions(ev.doc, t.connector), sender: await this.senderOf(ev.roomId, ev.sender, p.origin?.via), sourceId: ev.eventId,
      });
      this.deps.health.success(t.link.loginId, "fromMatrix");
    }
  }

  private async redaction(targets: Target[], ev: Of<"redaction">): Promise<void> {
    const { store } = this.deps;
    const reaction = await store.reactions.byEvent(ev.target);
    if (reaction) return this.unreact(targets, reaction.targetEventId, reaction.emoji, ev.target);
    const rows = await store.messages.byEvent(ev.target);
    for (const t of targets) {
      for (const row of rows) {
        if (row.network !== t.link.network || row.chat !== t.link.chat || row.origin !== "matrix") continue;
        await t.conn.delete(t.link.chat, row.remoteRef);
      }
    }
  }

  private async reaction(targets: Target[], ev: Of<"reaction">): Promise<void> {
    const { store } = this.deps;
    const rows = await store.messages.byEvent(ev.target);
    const others = await store.reactions.forTarget(ev.target, ev.key);
    for (const t of targets) {
      const row = rows.find((r) => r.network === t.link.network && r.chat === t.link.chat && r.part === 0);
      if (!row) continue;
      // Several Matrix users on one emoji are one remote reaction (the bot's): add it once.
      const first = !others.some((o) => o.network === t.link.network && o.origin === "matrix");
      if (first) await t.conn.react(t.link.chat, row.remoteRef, ev.key, true);
      await store.reactions.insert({
        roomId: ev.roomId, eventId: ev.eventId, targetEventId: ev.target, network: t.link.network, chat: t.link.chat,
        targetRemote: row.remoteRef, senderMxid: ev.sender, emoji: ev.key, origin: "matrix",
      });
    }
  }

  private async unreact(targets: Target[], targetEvent: string, emoji: string, reactionEvent: string): Promise<void> {
    const { store } = this.deps;
    await store.reactions.deleteByEvent(reactionEvent);
    const remaining = await store.reactions.forTarget(targetEvent, emoji);
    const rows = await store.messages.byEvent(targetEvent);
    for (const t of targets) {
      if (remaining.some((r) => r.network === t.link.network && r.origin === "matrix")) continue; // someone still reacts
      const row = rows.find((r) => r.network === t.link.network && r.chat === t.link.chat && r.part === 0);
      if (row) await t.conn.react(t.link.chat, row.remoteRef, emoji, false);
    }
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

  /**
   * A reply (or thread message) to an event with no message-map row yet, while a remote message of
   * the room is being bridged: that event may be it, sent to Matrix a moment before its row is
   * written (a Matrix bot answering a bridged message at once). Wait a little (Deferred: the
   * room's order holds, no attempt is counted), for at most REPLY_MAPPING_WAIT_MS; then it goes
   * out as a plain message, as a reply to a message that was never bridged does at once.
   */
  private awaitMapping(ev: Of<"message">, p: MatrixPayload, unmapped: boolean): void {
    // A fan-out's targets were looked up once the message was mapped: no race there.
    if (unmapped && !p.origin && Date.now() - p.receivedAt < REPLY_MAPPING_WAIT_MS && this.remoteBusy(ev.roomId)) {
      throw new Deferred(100, `the message ${ev.replyTo ?? ev.threadRoot} replied to is still being bridged`);
    }
  }

  private async remoteOf(eventId: string | undefined, link: PortalLinkRow): Promise<string | undefined> {
    if (!eventId) return undefined;
    const rows = await this.deps.store.messages.byEvent(eventId);
    return rows.find((r) => r.network === link.network && r.chat === link.chat && r.part === 0)?.remoteRef
      ?? rows.find((r) => r.network === link.network && r.chat === link.chat)?.remoteRef;
  }

  private async senderOf(roomId: string, mxid: string, via?: string) {
    const { matrix, options } = this.deps;
    const name = await matrix.displayName(roomId, mxid);
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
