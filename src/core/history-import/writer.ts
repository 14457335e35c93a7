/**
 * Writes one event of a conversation's past into its Matrix room, with its original timestamp,
 * from its author's ghost. Every write is safe to repeat:
 * - a message already in the message map (imported before, or relayed live) is skipped;
 * - every Matrix send uses a txn id derived from the source event's key (`historyTxn`), so a
 *   send retried after a crash returns the event the first try made instead of a second one;
 * - a reaction already recorded is skipped.
 * Files come from the source (the network, or an export's folder), within bridge.max_file_size.
 */
import { createHash } from "node:crypto";
import { normalizeDoc, paragraph, plainText, type Doc } from "../../formatting/ast.js";
import type { Connection, NetworkConnector } from "../connector.js";
import type { CoreDeps } from "../context.js";
import { tooLargeNotice, uploadedFileContent } from "../file-content.js";
import type { GhostManager } from "../ghosts.js";
import type { HistoryEvent, HistorySource } from "../history-source.js";
import type { PortalDirectory } from "../portals.js";
import { renderCappedForMatrix } from "../render.js";
import type { FileRef, RemoteEvent } from "../types.js";

type Of<K extends RemoteEvent["kind"]> = Extract<HistoryEvent, { kind: K }>;

/** Txn id base of one source event: the same event always makes the same Matrix sends. */
export function historyTxn(network: string, key: string): string {
  return `tandem-h${createHash("sha256").update(`${network}\u0000${key}`).digest("hex").slice(0, 32)}`;
}

/** Where one conversation's past goes. */
export interface WriteTarget {
  roomId: string;
  network: string;
  connector: NetworkConnector;
  /** For ghost profiles: the live connection, or one made from the source (`sourceConnection`). */
  conn: Connection;
  source: HistorySource;
}

export type WriteOutcome = { kind: "message"; files: number } | { kind: "already-in" } | { kind: "other" } | { kind: "skipped" };

export class HistoryWriter {
  constructor(private readonly deps: CoreDeps, private readonly ghosts: GhostManager, private readonly portals: PortalDirectory) {}

  async write(t: WriteTarget, ev: HistoryEvent): Promise<WriteOutcome> {
    switch (ev.kind) {
      case "message": return this.message(t, ev);
      case "reaction": return ev.on ? this.reaction(t, ev) : { kind: "skipped" };
      case "membership": return this.membership(t, ev);
      case "chat-info": return this.chatInfo(t, ev);
      default: return { kind: "skipped" }; // sources give final texts: edits and deletions are already applied
    }
  }

  private async message(t: WriteTarget, ev: Of<"message">): Promise<WriteOutcome> {
    const { store, matrix, options } = this.deps;
    if ((await store.messages.byRemote(t.network, ev.ref)).length > 0) return { kind: "already-in" };
    // Who sends decides as in live relay: a mapped person's own account with double puppeting, else the ghost.
    const ghost = await this.ghosts.enter(t.roomId, await this.ghosts.senderFor(t.connector, t.conn, ev.sender));
    const txn = historyTxn(t.network, ev.key);
    const relation = await this.relation(t, ev);
    const rows: Parameters<typeof store.messages.insert>[0] = [];
    const send = async (content: Record<string, unknown>, part: number) => {
      const eventId = await matrix.sendEvent(t.roomId, ghost, "m.room.message", { ...content, ...relation.content }, `${txn}-p${part}`, ev.at);
      rows.push({
        roomId: t.roomId, eventId, network: t.network, chat: ev.chat, remoteRef: ev.ref, part, origin: "remote", senderMxid: ghost,
        threadRootEvent: relation.threadRootEvent ?? null, threadRootRemote: ev.msg.threadRoot ?? null, receivedAt: new Date(),
      });
    };
    let part = 0;
    if (ev.msg.doc.length > 0 || !ev.msg.files?.length) {
      const doc = ev.editedAt ? markEdited(ev.msg.doc) : ev.msg.doc;
      const { pieces, rest } = renderCappedForMatrix(doc, this.deps.connectors, matrix, this.portals, options.maxMessageParts ?? 10);
      for (const piece of pieces) {
        const edited = ev.editedAt ? { "net.tandem.edited_at": ev.editedAt } : {};
        await send({ msgtype: ev.msg.emote ? "m.emote" : ev.msg.notice ? "m.notice" : "m.text", ...piece, ...edited }, part++);
      }
      if (rest !== undefined) {
        const data = Buffer.from(rest);
        const url = await matrix.uploadMedia(data, "text/plain", "message-continued.txt");
        await send({ msgtype: "m.file", body: "message-continued.txt", url, info: { mimetype: "text/plain", size: data.length }, "m.mentions": {} }, part++);
      }
    }
    let files = 0;
    for (const file of ev.msg.files ?? []) {
      const content = await this.fileContent(t, file, ev.editedAt);
      if (content.url) files++;
      await send({ ...content, "m.mentions": {} }, part++);
    }
    await store.messages.insert(rows);
    return { kind: "message", files };
  }

  /** Thread replies as m.thread (their root is earlier, so already in); plain replies as m.in_reply_to. */
  private async relation(t: WriteTarget, ev: Of<"message">): Promise<{ threadRootEvent?: string; content: Record<string, unknown> }> {
    const eventOf = async (ref?: string) =>
      ref ? (await this.deps.store.messages.byRemote(t.network, ref)).filter((r) => r.roomId === t.roomId).sort((a, b) => a.part - b.part)[0]?.eventId : undefined;
    const root = await eventOf(ev.msg.threadRoot);
    const reply = await eventOf(ev.msg.replyTo);
    if (root) {
      return { threadRootEvent: root, content: { "m.relates_to": { rel_type: "m.thread", event_id: root, is_falling_back: !reply, "m.in_reply_to": { event_id: reply ?? root } } } };
    }
    return { content: reply ? { "m.relates_to": { "m.in_reply_to": { event_id: reply } } } : {} };
  }

  private async fileContent(t: WriteTarget, file: FileRef, editedAt?: number): Promise<Record<string, unknown>> {
    const limit = Math.min(this.deps.options.maxFileSize, t.connector.maxDownloadSize ?? Infinity);
    if (file.size !== undefined && file.size > limit) return tooLargeNotice(file);
    const dl = await t.source.download(file);
    if (dl.data.length > limit) return tooLargeNotice(file, dl.data.length);
    if (dl.data.length === 0) return { msgtype: "m.notice", body: `File ${file.name} is empty (0 bytes)` };
    const mime = dl.mime || file.mime;
    const url = await this.deps.matrix.uploadMedia(dl.data, mime, file.name);
    // As the live relay sends it: a captioned file (Telegram) has no text part, its caption is the body.
    // An edited caption is the message's edited text: marked as such, like a text part.
    const caption = file.caption && file.caption.length > 0 ? plainText(editedAt ? markEdited(file.caption) : file.caption) : undefined;
    return {
      ...uploadedFileContent(file, { url, mime, size: dl.data.length }, caption),
      ...(caption && editedAt ? { "net.tandem.edited_at": editedAt } : {}),
    };
  }

  private async reaction(t: WriteTarget, ev: Of<"reaction">): Promise<WriteOutcome> {
    const { store, matrix } = this.deps;
    const rows = (await store.messages.byRemote(t.network, ev.target)).filter((r) => r.roomId === t.roomId);
    const target = rows.find((r) => r.part === 0) ?? rows[0];
    if (!target) return { kind: "skipped" };
    const sender = await this.ghosts.senderFor(t.connector, t.conn, ev.sender);
    const ghost = sender.mxid;
    if (await store.reactions.findRemote(ev.target, ghost, ev.emoji)) return { kind: "already-in" };
    await this.ghosts.enter(t.roomId, sender);
    const content = { "m.relates_to": { rel_type: "m.annotation", event_id: target.eventId, key: ev.emoji } };
    const eventId = await matrix.sendEvent(t.roomId, ghost, "m.reaction", content, `${historyTxn(t.network, ev.key)}-react`, ev.at);
    await store.reactions.insert({
      roomId: t.roomId, eventId, targetEventId: target.eventId, network: t.network, chat: ev.chat,
      targetRemote: ev.target, senderMxid: ghost, emoji: ev.emoji, origin: "remote",
    });
    return { kind: "other" };
  }

  /** Joins make the ghost a member (Matrix stamps them now); a leave is a dated notice, as live. */
  private async membership(t: WriteTarget, ev: Of<"membership">): Promise<WriteOutcome> {
    const sender = await this.ghosts.senderFor(t.connector, t.conn, ev.user);
    const ghost = sender.mxid;
    if (ev.joined) {
      await this.ghosts.enter(t.roomId, sender);
      return { kind: "other" };
    }
    const name = await this.deps.matrix.displayName(t.roomId, ghost);
    await this.notice(t, ev, `${name} left the ${t.connector.displayName} chat`);
    return { kind: "other" };
  }

  /** A past topic change is a dated notice: room state cannot be backdated, and the room's topic is already the current one. */
  private async chatInfo(t: WriteTarget, ev: Of<"chat-info">): Promise<WriteOutcome> {
    if (ev.info.topic === undefined) return { kind: "skipped" };
    await this.notice(t, ev, ev.info.topic ? `The topic was changed to: ${ev.info.topic}` : "The topic was cleared");
    return { kind: "other" };
  }

  private async notice(t: WriteTarget, ev: HistoryEvent, body: string): Promise<void> {
    const { matrix } = this.deps;
    await matrix.sendEvent(t.roomId, matrix.botMxid, "m.room.message", { msgtype: "m.notice", body, "m.mentions": {} }, `${historyTxn(t.network, ev.key)}-notice`, ev.at);
  }
}

/** The final text of an edited message, marked as edited the way Slack shows it. */
export function markEdited(doc: Doc): Doc {
  const mark = { type: "italic" as const, children: [{ type: "text" as const, text: "(edited)" }] };
  const last = doc.at(-1);
  if (last?.type === "paragraph") return normalizeDoc([...doc.slice(0, -1), { ...last, children: [...last.children, { type: "text", text: " " }, mark] }]);
  return normalizeDoc([...doc, paragraph(mark)]);
}
