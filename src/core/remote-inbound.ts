/**
 * Remote → Matrix: applies one queued remote event to its portal room. Runs inside the
 * portal's lane worker, so events of one chat are applied in order; every step is safe to
 * repeat (message-map check first, txnIds derived from the queue item), so a retry after a
 * crash cannot double a message.
 */
import type { NewMessageRow, NewQueueItem, PortalLinkRow, QueueItem } from "../store/api.js";
import { plainText } from "../formatting/ast.js";
import type { Connection, NetworkConnector } from "./connector.js";
import type { MatrixFileInfo } from "./matrix-port.js";
import type { CoreDeps } from "./context.js";
import { holdForLogin } from "./detached.js";
import { LinkedFanOut } from "./fan-out.js";
import { tooLargeNotice, uploadedFileContent } from "./file-content.js";
import { isRetryable, RemoteError, TandemError } from "./errors.js";
import type { GhostManager } from "./ghosts.js";
import type { LoginManager } from "./logins.js";
import { perTarget, type RelayTiming, type RemotePayload } from "./payloads.js";
import type { PortalDirectory } from "./portals.js";
import { reactionContent, type EmojiPacks } from "./emoji-packs.js";
import { recordMap } from "./relay-queue.js";
import { renderCappedForMatrix, withMention, type Mentions } from "./render.js";
import type { FileRef, RemoteEvent } from "./types.js";

/** The text past the last allowed event of a long message goes in a file of this name. */
const OVERFLOW_FILE_NAME = "message-continued.txt";

type Of<K extends RemoteEvent["kind"]> = Extract<RemoteEvent, { kind: K }>;

/**
 * Tries of one file download before its message is dead-lettered (with a notice in the room).
 * With the queue's backoff (0.5 s doubling) and the connectors' stall limits (30 s of silence), a
 * host that is down holds its chat's lane for a few minutes at most, not the queue's ~3 hours.
 */
export const DOWNLOAD_ATTEMPTS = 5;

/** A retryable download failure on its last try becomes permanent, saying what failed. */
function downloadGiveUp(err: unknown, file: FileRef, attempts: number): unknown {
  if (!isRetryable(err) || attempts + 1 < DOWNLOAD_ATTEMPTS) return err;
  const why = err instanceof TandemError && err.userMessage ? err.userMessage : err instanceof Error ? err.message : String(err);
  return new RemoteError("download_failed", `${file.name}: gave up after ${DOWNLOAD_ATTEMPTS} tries: ${err instanceof Error ? err.message : String(err)}`, {
    retryable: false, cause: err, userMessage: `the file ${file.name} could not be downloaded after ${DOWNLOAD_ATTEMPTS} tries (${why})`,
  });
}

export class RemoteInbound {
  /** Copies for the room's other links (a room linked to Slack and Telegram). */
  private readonly fan: LinkedFanOut;

  constructor(
    private readonly deps: CoreDeps,
    private readonly portals: PortalDirectory,
    private readonly ghosts: GhostManager,
    private readonly logins: LoginManager,
    private readonly enqueue: (items: NewQueueItem[]) => Promise<void>,
    private readonly onRelayed?: (timing: RelayTiming) => void,
  ) {
    this.fan = new LinkedFanOut(deps, portals, enqueue);
  }
  // Stryker disable next-line ArithmeticOperator: a default the bridge always overwrites with its configured wait.
  detachedWaitMs = 24 * 3600_000; // how long events of a detached chat wait for a new login (set by the bridge)
  emoji!: EmojiPacks; // the logins' custom emoji (set by the bridge)
  /** Set by the bridge, once the room exists: throws Deferred while the chat is held for its history (chat-holds.ts). */
  beforeLive?: (p: RemotePayload, ev: Of<"message">) => Promise<void>;
  /** Backfill: post one past message into its linked room, never fanned out; `id` makes its txnIds. */
  async importPast(p: RemotePayload, id: string): Promise<void> {
    const connector = this.deps.connectors.get(p.network);
    const conn = this.logins.connection(p.loginId);
    if (!connector || !conn) throw new RemoteError("not_connected", `login ${p.loginId} is not connected`, { retryable: true });
    if (p.event.kind !== "message" || !this.portals.linkForChat(p.network, p.event.chat)) return;
    await this.message({ id }, { ...p, backfill: true }, connector, conn, p.event);
  }

  async apply(item: QueueItem, p: RemotePayload): Promise<void> {
    if (this.portals.linkForChat(p.network, p.event.chat)?.finishedAt && p.event.kind !== "chat-moved") return; // cutover finished
    const connector = this.deps.connectors.get(p.network);
    const conn = this.logins.connection(p.loginId);
    if (!connector || !conn) {
      // Logged out: wait (bounded, no attempt counted) for a new login; not connected yet: retry later, never lose it.
      const link = this.portals.linkForChat(p.network, p.event.chat);
      if (connector && link?.detachedAt && link.loginId === p.loginId) holdForLogin(link, p.receivedAt, this.detachedWaitMs, connector.displayName);
      throw new RemoteError("not_connected", `login ${p.loginId} is not connected`, { retryable: true });
    }
    const ev = p.event;
    const phase = () => {
      const link = this.portals.linkForChat(p.network, ev.chat);
      return link ? this.portals.portal(link.roomId)?.phase : undefined;
    };
    if (ev.kind === "message" && phase() === "standby") return this.answerStandby(conn, ev, p);
    switch (ev.kind) {
      case "message": return this.message(item, p, connector, conn, ev);
      case "edit": return this.edit(item, p, connector, conn, ev);
      case "delete": return this.remove(item, p, ev);
      case "reaction": return this.reaction(item, p, connector, conn, ev);
      case "chat-info": return this.chatInfo(p, ev);
      case "membership": return this.membership(p, connector, conn, ev);
      case "user-info": {
        this.ghosts.invalidate(this.ghosts.mxidFor(connector, ev.user));
        await this.ghosts.ensure(connector, conn, ev.user, ev.info);
        return;
      }
      case "chat-moved": return this.portals.moveChat(p.network, ev.chat, ev.to);
    }
  }

  private async portalFor(p: RemotePayload, connector: NetworkConnector, conn: Connection, chat: string): Promise<PortalLinkRow> {
    const existing = this.portals.linkForChat(p.network, chat);
    if (existing) return existing;
    const login = this.logins.record(p.loginId);
    if (!login) throw new RemoteError("no_login", `login ${p.loginId} vanished`, { retryable: false });
    return this.portals.createPortal(connector, conn, login.id, login.ownerMxid, chat);
  }

  private async message(item: { id: number | string; attempts?: number; mapRows?: NewMessageRow[]; mapped?: boolean },
    p: RemotePayload, connector: NetworkConnector, conn: Connection, ev: Of<"message">): Promise<void> {
    const { store, matrix } = this.deps;
    if (conn.isOwnUser(ev.sender)) return; // our own post echoed back: the message map has it
    // A duplicate: answered by the insert that handed the item out when it could (no round trip), else looked up.
    if (item.mapped ?? (await store.messages.byRemote(p.network, ev.ref)).length > 0) return;
    const link = await this.portalFor(p, connector, conn, ev.chat);
    const roomId = link.roomId;
    // Older history first: the portal just made may be held for its backfill.
    // Stryker disable next-line OptionalChaining: the bridge sets beforeLive before any item is applied.
    if (!p.backfill) await this.beforeLive?.(p, ev);
    const ghost = await this.ghosts.enter(roomId, await this.ghosts.senderFor(connector, conn, ev.sender));

    const relation = await this.relationFor(p.network, roomId, ev.msg.replyTo, ev.msg.threadRoot);
    const rows: Parameters<typeof store.messages.insert>[0] = [];
    const sent: Array<{ eventId: string; file?: MatrixFileInfo; more?: boolean }> = [];
    const txn = (part: number) => `tandem-q${item.id}-p${part}`;
    const record = (eventId: string, part: number, file?: MatrixFileInfo, more = false) => {
      sent.push({ eventId, file, more });
      rows.push({
        roomId, eventId, network: p.network, chat: ev.chat, remoteRef: ev.ref, part, origin: "remote", senderMxid: ghost,
        threadRootEvent: relation.threadRootEvent ?? null, threadRootRemote: ev.msg.threadRoot ?? null,
        receivedAt: new Date(p.receivedAt),
      });
    };

    // A reply notifies whom it answers (no fallback quote carries their name any more), once: on the first event.
    let replyTo = relation.replySender !== ghost ? relation.replySender : undefined;
    const mentionsOf = (own: Mentions): Mentions => {
      const out = replyTo ? withMention(own, replyTo) : own;
      replyTo = undefined;
      return out;
    };
    let part = 1;
    let waitedMs = 0; // on the homeserver's answers (for the fan-out's timing)
    if (ev.msg.doc.length > 0 || !ev.msg.files?.length) {
      // Text too large for one Matrix event goes as several, in order (parts 0…n-1).
      // At most max_message_parts events: past that, the rest of the text is one text file.
      const { pieces, rest } = renderCappedForMatrix(this.emoji.fill(p.loginId, ev.msg.doc), this.deps.connectors, matrix, this.portals, this.deps.options.maxMessageParts ?? 10);
      for (const [i, piece] of pieces.entries()) {
        const content: Record<string, unknown> = {
          msgtype: ev.msg.emote ? "m.emote" : ev.msg.notice ? "m.notice" : "m.text", ...piece, ...relation.content,
          "m.mentions": mentionsOf(piece["m.mentions"]),
        };
        const issuedAt = Date.now();
        record(await matrix.sendEvent(roomId, ghost, "m.room.message", content, txn(i), ev.at), i, undefined, i > 0);
        const doneAt = Date.now();
        waitedMs += doneAt - issuedAt;
        if (i === 0) this.onRelayed?.({ from: p.network, to: "matrix", receivedAt: p.receivedAt, issuedAt, doneAt });
      }
      part = Math.max(1, pieces.length);
      if (rest !== undefined) {
        const data = Buffer.from(rest);
        const mxc = await matrix.uploadMedia(data, "text/plain", OVERFLOW_FILE_NAME);
        const content = {
          msgtype: "m.file", body: OVERFLOW_FILE_NAME, filename: OVERFLOW_FILE_NAME, url: mxc,
          info: { mimetype: "text/plain", size: data.length }, ...relation.content, "m.mentions": mentionsOf({}),
        };
        record(await matrix.sendEvent(roomId, ghost, "m.room.message", content, txn(part), ev.at), part, undefined, true);
        part++;
      }
    }
    for (const file of ev.msg.files ?? []) {
      const { content, info } = await this.fileContent(conn, file, connector.maxDownloadSize, item.attempts ?? 0);
      Object.assign(content, relation.content, { "m.mentions": mentionsOf({}) });
      record(await matrix.sendEvent(roomId, ghost, "m.room.message", content, txn(part), ev.at), part, info);
      part++;
    }
    await recordMap(store, item, rows);
    if (p.backfill) return; // history: not a relay, and never sent on to the room's other links
    this.deps.health.success(p.loginId, "toMatrix", Date.now() - p.receivedAt);
    await this.fan.message(roomId, p, connector, ev, ghost, sent, waitedMs);
  }

  /** Send a file into Matrix, or a notice with its name and link when it is too large. */
  private async fileContent(conn: Connection, file: FileRef, networkLimit: number | undefined, attempts: number): Promise<{ content: Record<string, unknown>; info?: MatrixFileInfo }> {
    const { matrix, options } = this.deps;
    const caption = file.caption && file.caption.length > 0 ? plainText(file.caption) : undefined;
    const limit = Math.min(options.maxFileSize, networkLimit ?? Infinity);
    if (file.size !== undefined && file.size > limit) {
      return { content: tooLargeNotice(file) };
    }
    const dl = await conn.download(file).catch((err: unknown) => { throw downloadGiveUp(err, file, attempts); });
    if (dl.data.length > limit) return { content: tooLargeNotice(file) };
    // Nothing to upload (and the media client refuses an empty body): say what it was.
    if (dl.data.length === 0) return { content: { msgtype: "m.notice", body: `File ${file.name} is empty (0 bytes)` } };
    const mime = dl.mime || file.mime;
    const mxc = await matrix.uploadMedia(dl.data, mime, file.name);
    const content = uploadedFileContent(file, { url: mxc, mime, size: dl.data.length }, caption);
    return { content, info: { mxc, name: file.name, mime, size: dl.data.length, kind: file.kind, width: file.width, height: file.height } };
  }

  private async relationFor(network: string, roomId: string, replyTo?: string, threadRoot?: string) {
    const { store } = this.deps;
    const rowOf = async (ref?: string) => {
      // Stryker disable next-line ConditionalExpression: a short cut; the map has no rows for no reference.
      if (!ref) return undefined;
      const rows = await store.messages.byRemote(network, ref);
      return rows.find((r) => r.roomId === roomId);
    };
    const threadRootEvent = (await rowOf(threadRoot))?.eventId;
    const reply = await rowOf(replyTo);
    const replyEvent = reply?.eventId;
    // Replies carry the relation only: no fallback quote in body or formatted_body (Matrix 1.13).
    if (threadRootEvent) {
      return {
        threadRootEvent, replySender: reply?.senderMxid,
        content: {
          "m.relates_to": {
            rel_type: "m.thread", event_id: threadRootEvent,
            is_falling_back: !replyEvent, "m.in_reply_to": { event_id: replyEvent ?? threadRootEvent },
          },
        },
      };
    }
    if (replyEvent) return { threadRootEvent: undefined, replySender: reply.senderMxid, content: { "m.relates_to": { "m.in_reply_to": { event_id: replyEvent } } } };
    // Stryker disable next-line ObjectLiteral: {} reads the same: no thread, no reply sender, and spreading undefined content adds nothing.
    return { threadRootEvent: undefined, replySender: undefined, content: {} };
  }

  private async edit(item: QueueItem, p: RemotePayload, connector: NetworkConnector, conn: Connection, ev: Of<"edit">): Promise<void> {
    const { store, matrix } = this.deps;
    if (conn.isOwnUser(ev.sender)) return;
    const rows = await store.messages.byRemote(p.network, ev.target);
    const link = this.portals.linkForChat(p.network, ev.chat);
    // A captioned file has no text part: its caption lives on the first file part.
    const inRoom = rows.filter((r) => r.roomId === (link?.roomId ?? rows[0]?.roomId)).sort((a, b) => a.part - b.part);
    const original = inRoom[0];
    if (!original) return; // edit of a message we never bridged
    const ghost = await this.ghosts.editorOf(original.roomId, original.senderMxid, await this.ghosts.senderFor(connector, conn, ev.sender));
    // An edit is one event: the first piece of a text too long for one (the rest is cut, with a mark).
    const { pieces, rest } = renderCappedForMatrix(this.emoji.fill(p.loginId, ev.msg.doc), this.deps.connectors, matrix, this.portals, 2, 25_000);
    const rendered = pieces.length > 1 || rest !== undefined ? { ...pieces[0]!, body: `${pieces[0]!.body} […]` } : pieces[0]!;
    const content = {
      msgtype: "m.text",
      body: `* ${rendered.body}`,
      ...(rendered.formatted_body ? { format: rendered.format, formatted_body: `* ${rendered.formatted_body}` } : {}),
      // The new text's mentions go in m.new_content; the edit itself notifies no one (the top level is
      // for mentions new in this edit, and neither Slack nor Telegram notifies anyone of an edit).
      "m.mentions": {},
      "m.new_content": { msgtype: "m.text", ...rendered },
      "m.relates_to": { rel_type: "m.replace", event_id: original.eventId },
    };
    const eventId = await matrix.sendEvent(original.roomId, ghost, "m.room.message", content, `tandem-q${item.id}-edit`, ev.at);
    this.deps.health.success(p.loginId, "toMatrix", Date.now() - p.receivedAt);
    await this.enqueue(perTarget(this.portals.linksOfRoom(original.roomId), `fan:${eventId}`, {
      t: "matrix", receivedAt: p.receivedAt, origin: { network: p.network, chat: ev.chat, via: connector.displayName },
      event: { kind: "edit", roomId: original.roomId, eventId, sender: ghost, ts: ev.at, target: original.eventId, doc: ev.msg.doc, body: rendered.body },
    }));
  }

  private async remove(item: QueueItem, p: RemotePayload, ev: Of<"delete">): Promise<void> {
    const { store, matrix } = this.deps;
    const rows = await store.messages.byRemote(p.network, ev.target);
    for (const row of rows) {
      await matrix.redact(row.roomId, this.ghosts.redactorOf(row.senderMxid), row.eventId, `tandem-q${item.id}-r${row.part}-${row.roomId}`, "Deleted on the remote side");
      if (row.part === 0) await this.fan.redaction(row.roomId, row.eventId, p, ev.chat);
    }
  }

  private async reaction(item: QueueItem, p: RemotePayload, connector: NetworkConnector, conn: Connection, ev: Of<"reaction">): Promise<void> {
    const { store, matrix } = this.deps;
    if (conn.isOwnUser(ev.sender)) return;
    const rows = await store.messages.byRemote(p.network, ev.target);
    // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator,ArrowFunction: byRemote returns a chat's rows by room and part, so part 0 is rows[0] (one room per chat).
    const target = rows.find((r) => r.part === 0) ?? rows[0];
    if (!target) return;
    const who = await this.ghosts.senderFor(connector, conn, ev.sender);
    const ghost = who.mxid;
    if (ev.on) {
      if (await store.reactions.findRemote(ev.target, ghost, ev.emoji)) return;
      await this.ghosts.enter(target.roomId, who);
      const content = reactionContent(target.eventId, ev.emoji, this.emoji.lookup(p.loginId)); // a custom emoji by its image
      const eventId = await matrix.sendEvent(target.roomId, ghost, "m.reaction", content, `tandem-q${item.id}-react`, ev.at);
      await store.reactions.insert({
        roomId: target.roomId, eventId, targetEventId: target.eventId, network: p.network, chat: ev.chat,
        targetRemote: ev.target, senderMxid: ghost, emoji: ev.emoji, origin: "remote",
      });
      await this.fan.reaction(target.roomId, eventId, ghost, target.eventId, ev.emoji, p, connector, ev.chat);
    } else {
      const existing = await store.reactions.findRemote(ev.target, ghost, ev.emoji) ?? await store.reactions.findRemote(ev.target, who.ghost, ev.emoji); // made before the mapping
      if (!existing) return;
      await matrix.redact(existing.roomId, existing.senderMxid, existing.eventId, `tandem-q${item.id}-unreact`);
      await store.reactions.deleteByEvent(existing.eventId, p.network); // this network's row: the fan-out removes the others' rows
      await this.fan.redaction(existing.roomId, existing.eventId, p, ev.chat, existing.senderMxid);
    }
    this.deps.health.success(p.loginId, "toMatrix", Date.now() - p.receivedAt);
  }

  private async chatInfo(p: RemotePayload, ev: Of<"chat-info">): Promise<void> {
    const { matrix } = this.deps;
    const link = this.portals.linkForChat(p.network, ev.chat);
    if (!link) return;
    if (ev.info.name !== undefined) await this.portals.renameChat(p.network, ev.chat, ev.info.name); // m.bridge too, linked rooms included
    const portal = this.portals.portal(link.roomId);
    // A linked room belongs to its Matrix users: remote renames do not rename it.
    if (portal?.kind !== "portal") return;
    if (ev.info.roomName !== undefined) await matrix.setState(link.roomId, matrix.botMxid, "m.room.name", "", { name: ev.info.roomName });
    if (ev.info.topic !== undefined) await matrix.setState(link.roomId, matrix.botMxid, "m.room.topic", "", { topic: ev.info.topic });
    if (ev.info.archived !== undefined) {
      const text = ev.info.archived ? "This chat was archived on the remote side." : "This chat was unarchived on the remote side.";
      await matrix.sendEvent(link.roomId, matrix.botMxid, "m.room.message", { msgtype: "m.notice", body: text }, `tandem-${ev.key}`);
    }
    if (ev.info.avatar !== undefined) {
      const conn = this.logins.connection(p.loginId);
      if (conn && ev.info.avatar) {
        const img = await conn.downloadAvatar(ev.info.avatar);
        const mxc = await matrix.uploadMedia(img.data, img.mime, "avatar");
        await matrix.setState(link.roomId, matrix.botMxid, "m.room.avatar", "", { url: mxc });
      }
    }
  }

  private async membership(p: RemotePayload, connector: NetworkConnector, conn: Connection, ev: Of<"membership">): Promise<void> {
    const link = this.portals.linkForChat(p.network, ev.chat);
    if (!link) return;
    const who = await this.ghosts.senderFor(connector, conn, ev.user);
    // Joins are mirrored (a mapped person's own account, with double puppeting); leaves are not acted
    // on, to avoid join/leave churn that bloats homeserver state. They are shown as a notice instead.
    if (ev.joined) await this.ghosts.enter(link.roomId, who);
    else {
      const name = await this.deps.matrix.displayName(link.roomId, who.mxid);
      await this.deps.matrix.sendEvent(link.roomId, this.deps.matrix.botMxid, "m.room.message",
        { msgtype: "m.notice", body: `${name} left the ${connector.displayName} chat` }, `tandem-${ev.key}`);
    }
  }

  /** A message in a standby chat is not bridged; the sender is pointed at Matrix once per chat. */
  private async answerStandby(conn: Connection, ev: Of<"message">, p: RemotePayload): Promise<void> {
    if (conn.isOwnUser(ev.sender)) return;
    const link = this.portals.linkForChat(p.network, ev.chat);
    if (!link) return;
    const key = `standby-told:${p.network}:${ev.chat}`;
    if (await this.deps.store.kv.get(key)) return;
    const where = link.alias ?? link.roomId;
    await conn.send(ev.chat, {
      doc: [{ type: "paragraph", children: [{ type: "text", text: `This chat is on standby: please use the Matrix room ${where} (https://matrix.to/#/${encodeURIComponent(where)}).` }] }],
      notice: true, sender: { name: "Tandem" }, sourceId: `standby:${ev.key}`,
    });
    await this.deps.store.kv.set(key, new Date().toISOString());
  }
}
