/**
 * Which room a conversation's past goes into (Matrix can only append, so history must never land
 * after messages that are newer than it):
 * - the chat's portal when it has no messages yet, or this import made it, or an earlier run of
 *   an import already filled it (a rerun adds what is missing);
 * - no room yet: the portal is created here, exactly as live traffic would create it (the same
 *   PortalDirectory call, so live traffic then uses the same room);
 * - a room that already has messages (a linked `#ops`, a portal that relayed before the import):
 *   an archive room "<name> (<Network> history)". The live room exists already, so its
 *   m.room.create cannot name a predecessor; instead the archive gets an m.room.tombstone naming
 *   the live room (Element shows "this room has been replaced", with a link), and the live room
 *   a pinned notice linking the archive.
 * The choice is remembered in kv (`import-room:<network>:<chat>`), so a rerun writes to the same room.
 */
import type { Connection, NetworkConnector } from "../connector.js";
import type { CoreDeps } from "../context.js";
import type { HistoryConversation } from "../history-source.js";
import type { PortalDirectory } from "../portals.js";

export interface ChosenRoom {
  roomId: string;
  /** The live room this archive precedes (absent when the history goes into the live room). */
  archiveOf?: string;
}

const kvKey = (network: string, chat: string) => `import-room:${network}:${chat}`;

export class RoomChooser {
  constructor(private readonly deps: CoreDeps, private readonly portals: PortalDirectory) {}

  async remembered(network: string, chat: string): Promise<ChosenRoom | null> {
    const raw = await this.deps.store.kv.get(kvKey(network, chat));
    return raw ? JSON.parse(raw) as ChosenRoom : null;
  }

  async choose(conv: HistoryConversation, connector: NetworkConnector, conn: Connection, login: { id: string; ownerMxid: string }): Promise<ChosenRoom> {
    const before = await this.remembered(conv.network, conv.chat);
    if (before) return before;
    const { matrix, options } = this.deps;
    const link = this.portals.linkForChat(conv.network, conv.chat);
    let chosen: ChosenRoom;
    if (!link) {
      const made = await this.portals.createPortal(connector, conn, login.id, login.ownerMxid, conv.chat);
      chosen = { roomId: made.roomId };
    } else {
      const taken = matrix.hasMessages
        ? await matrix.hasMessages(link.roomId, (e) => e.sender === matrix.botMxid || e.body.trimStart().startsWith(options.commandPrefix))
        : true;
      chosen = taken ? { roomId: await this.makeArchive(conv, connector, link.roomId, login.ownerMxid), archiveOf: link.roomId } : { roomId: link.roomId };
    }
    await this.deps.store.kv.set(kvKey(conv.network, conv.chat), JSON.stringify(chosen));
    return chosen;
  }

  /** The live room links the archive (pinned), the archive names the live room as its successor. */
  async linkArchive(chosen: ChosenRoom, networkName: string): Promise<void> {
    if (!chosen.archiveOf) return;
    const { matrix } = this.deps;
    await matrix.setState(chosen.roomId, matrix.botMxid, "m.room.tombstone", "", {
      body: "The conversation continues in the live room", replacement_room: chosen.archiveOf,
    });
    const link = `https://matrix.to/#/${encodeURIComponent(chosen.roomId)}`;
    const eventId = await matrix.sendEvent(chosen.archiveOf, matrix.botMxid, "m.room.message",
      { msgtype: "m.notice", body: `Earlier ${networkName} history of this chat is in ${link}`, "m.mentions": {} }, `tandem-archive-link-${chosen.roomId}`);
    const pinned = (await matrix.getState(chosen.archiveOf, "m.room.pinned_events", ""))?.pinned;
    const list = Array.isArray(pinned) ? pinned.filter((x): x is string => typeof x === "string") : [];
    if (!list.includes(eventId)) await matrix.setState(chosen.archiveOf, matrix.botMxid, "m.room.pinned_events", "", { pinned: [...list, eventId] });
  }

  private async makeArchive(conv: HistoryConversation, connector: NetworkConnector, liveRoom: string, owner: string): Promise<string> {
    const invite = new Set([owner, ...await this.deps.matrix.joinedMembers(liveRoom).catch(() => [] as string[])]);
    const people = [...invite].filter((m) => !this.deps.matrix.isBridgeUser(m));
    const { roomId } = await this.deps.matrix.createRoom({
      name: `${conv.info.name} (${connector.displayName} history)`,
      topic: `Earlier history of ${conv.info.name}, imported from ${connector.displayName}`,
      aliasLocalpart: `${conv.info.aliasLocalpart}_history`,
      invite: people,
      bridgeInfo: { bridgebot: this.deps.matrix.botMxid, protocol: { id: conv.network, displayname: connector.displayName }, channel: { id: conv.chat, displayname: conv.info.name } },
      stateKey: `net.tandem.history:${conv.network}:${conv.chat}`,
    });
    this.deps.log.info("history archive room created", { network: conv.network, chat: conv.chat, roomId, liveRoom });
    return roomId;
  }
}
