/**
 * A remote event that reached a room linked to more than one chat goes on to the room's other links
 * (Slack → Matrix → Telegram): one queue item per (event, other link), delivered like a Matrix event
 * (core/matrix-outbound.ts), so each target is retried and dead-lettered on its own.
 */
import type { NewQueueItem } from "../store/api.js";
import { plainText } from "../formatting/ast.js";
import type { NetworkConnector } from "./connector.js";
import type { CoreDeps } from "./context.js";
import type { MatrixFileInfo } from "./matrix-port.js";
import { perTarget, type RemotePayload } from "./payloads.js";
import type { PortalDirectory } from "./portals.js";
import type { RemoteEvent } from "./types.js";

type Of<K extends RemoteEvent["kind"]> = Extract<RemoteEvent, { kind: K }>;

export class LinkedFanOut {
  constructor(
    private readonly deps: CoreDeps,
    private readonly portals: PortalDirectory,
    private readonly enqueue: (items: NewQueueItem[]) => Promise<void>,
  ) {}

  /** Queue the message's parts for the room's other links (a room linked to Slack and Telegram). */
  async message(
    roomId: string, p: RemotePayload, connector: NetworkConnector, ev: Of<"message">, ghost: string,
    all: Array<{ eventId: string; file?: MatrixFileInfo; more?: boolean }>, waitedMs: number,
  ): Promise<void> {
    const parts = all.filter((x) => !x.more); // the first text part carries the whole doc to the other links
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a short cut; with no parts or no other link, perTarget below makes no items.
    if (parts.length === 0 || this.portals.linksOfRoom(roomId).length < 2) return;
    const eventOf = async (ref?: string) =>
      ref ? (await this.deps.store.messages.byRemote(p.network, ref)).find((r) => r.roomId === roomId)?.eventId : undefined;
    const replyTo = await eventOf(ev.msg.replyTo);
    const threadRoot = await eventOf(ev.msg.threadRoot);
    const origin = { network: p.network, chat: ev.chat, via: connector.displayName };
    const textType = ev.msg.emote ? "emote" : ev.msg.notice ? "notice" : "text";
    await this.enqueue(parts.flatMap((part) => perTarget(this.portals.linksOfRoom(roomId), `fan:${part.eventId}`, {
      // Stryker disable next-line StringLiteral: the bridge tells payloads apart by t === "remote".
      t: "matrix", receivedAt: p.receivedAt, origin, waitedMs,
      event: {
        kind: "message", roomId, eventId: part.eventId, sender: ghost, ts: ev.at,
        // Stryker disable next-line StringLiteral: MatrixOutbound reads only "emote" and "notice" from a message's msgtype.
        msgtype: part.file ? "file" : textType,
        doc: part.file ? [] : ev.msg.doc, body: part.file ? part.file.name : plainText(ev.msg.doc),
        replyTo, threadRoot, file: part.file,
      },
    })));
  }

  async reaction(roomId: string, eventId: string, sender: string, target: string, key: string, p: RemotePayload, connector: NetworkConnector, chat: string): Promise<void> {
    // Stryker disable next-line ConditionalExpression: a short cut; with no other link, perTarget below makes no items.
    if (this.portals.linksOfRoom(roomId).length < 2) return;
    await this.enqueue(perTarget(this.portals.linksOfRoom(roomId), `fan:${eventId}`, {
      // Stryker disable next-line StringLiteral: the bridge tells payloads apart by t === "remote".
      t: "matrix", receivedAt: p.receivedAt, origin: { network: p.network, chat, via: connector.displayName },
      event: { kind: "reaction", roomId, eventId, sender, ts: Date.now(), target, key },
    }));
  }

  async redaction(roomId: string, target: string, p: RemotePayload, chat: string, sender?: string): Promise<void> {
    // Stryker disable next-line ConditionalExpression: a short cut; with no other link, perTarget below makes no items.
    if (this.portals.linksOfRoom(roomId).length < 2) return;
    await this.enqueue(perTarget(this.portals.linksOfRoom(roomId), `fan:redact:${target}`, {
      // Stryker disable next-line StringLiteral: t as above; a redaction names no sender on the remote side (via).
      t: "matrix", receivedAt: p.receivedAt, origin: { network: p.network, chat, via: "" },
      // Stryker disable next-line StringLiteral,LogicalOperator: MatrixOutbound redacts by target; a fan-out's event id and sender are not read for redactions.
      event: { kind: "redaction", roomId, eventId: `redact:${target}`, sender: sender ?? this.deps.matrix.botMxid, ts: Date.now(), target },
    }));
  }
}
