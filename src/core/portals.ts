/**
 * The portal directory: which Matrix room stands for which remote chat(s), cached in
 * memory over the store (every relayed event asks, so it must not cost a query), and
 * portal-room creation.
 *
 * One room per chat: creating a portal, `link` and starting a backfill take the chat's turn
 * (`withChat`), and look again once they have it. Across processes the store's unique
 * (network, chat) link decides: the loser adopts the winner's room.
 */
import type { PortalLinkRow, PortalRow, Store } from "../store/api.js";
import { StoreError } from "../store/db.js";
import { describeLink, type BridgeInfoWriter } from "./bridge-info.js";
import { ChatTurns } from "./chat-turns.js";
import type { Connection, NetworkConnector } from "./connector.js";
import type { Logger } from "./log.js";
import type { MatrixPort } from "./matrix-port.js";
import type { ChatRef } from "./types.js";
import { errorFields } from "./log.js";

const chatKey = (network: string, chat: string) => `${network}\u0000${chat}`;
/** kv prefix of finished links: `finished:<network>:<chat>` → ISO time ("" once resumed). */
const FINISHED = "finished:";

export class PortalDirectory {
  private readonly portals = new Map<string, PortalRow>();
  private readonly byChatKey = new Map<string, PortalLinkRow>();
  private readonly byRoomId = new Map<string, PortalLinkRow[]>();
  private readonly turns = new ChatTurns();

  /** Told after a portal room was created (the bridge starts its backfill); failures are logged, not thrown. */
  onCreated?: (link: PortalLinkRow) => Promise<void>;
  /** The people made admins of every room the bridge creates (set by the bridge). */
  admins: () => string[] = () => [];
  /** Keeps each room's m.bridge state in step with its links (set by the bridge). */
  bridgeInfo?: BridgeInfoWriter;

  constructor(private readonly store: Store, private readonly matrix: MatrixPort, private readonly log: Logger) {}

  async load(): Promise<void> {
    for (const p of await this.store.portals.list()) this.portals.set(p.roomId, p);
    for (const l of await this.store.links.list()) this.cacheLink(l);
    for (const { key, value } of await this.store.kv.list(FINISHED)) {
      const [network, ...chat] = key.slice(FINISHED.length).split(":");
      const link = this.linkForChat(network!, chat.join(":"));
      if (link) link.finishedAt = new Date(value);
    }
  }

  /**
   * Mark a room's links finished (`cutover finish`: nothing relayed either way) or not (null: the
   * way back). Returns the links that changed.
   */
  async setFinished(roomId: string, at: Date | null): Promise<PortalLinkRow[]> {
    const changed = this.linksOfRoom(roomId).filter((l) => (l.finishedAt ? at === null : at !== null));
    for (const l of changed) {
      await this.store.kv.set(`${FINISHED}${l.network}:${l.chat}`, at ? at.toISOString() : "");
      l.finishedAt = at;
    }
    return changed;
  }

  /** The room was upgraded (m.room.tombstone): its portal and links now belong to `to`. */
  async moveRoom(from: string, to: string): Promise<PortalLinkRow[]> {
    const portal = this.portals.get(from);
    if (!portal || this.portals.has(to)) return [];
    await this.store.portals.moveRoom(from, to);
    this.portals.delete(from);
    this.portals.set(to, { ...portal, roomId: to });
    const links = this.linksOfRoom(from);
    this.byRoomId.delete(from);
    for (const l of links) l.roomId = to;
    this.byRoomId.set(to, links);
    for (const l of links) await this.bridgeInfo?.write(l);
    return links;
  }

  portal(roomId: string): PortalRow | undefined {
    return this.portals.get(roomId);
  }

  allPortals(): PortalRow[] {
    return [...this.portals.values()];
  }

  linkForChat(network: string, chat: ChatRef): PortalLinkRow | undefined {
    return this.byChatKey.get(chatKey(network, chat));
  }

  linksOfRoom(roomId: string): PortalLinkRow[] {
    return this.byRoomId.get(roomId) ?? [];
  }

  /**
   * Run `fn` in the chat's turn: nothing else that may create or link a room for this chat runs
   * meanwhile (portal creation, `link`, backfill start). Not re-entrant: `fn` must not call
   * createPortal for the same chat.
   */
  withChat<T>(network: string, chat: ChatRef, fn: () => Promise<T>): Promise<T> {
    return this.turns.run(network, chat, fn);
  }

  /** Turns running or waiting for this chat (1 while a portal is being made, more when others wait for it). */
  turnsFor(network: string, chat: ChatRef): number {
    return this.turns.pending(network, chat);
  }

  /**
   * The chat's room: the linked one, else a new portal room, made once however many callers
   * (a live event, `sync`, another login) ask at the same time. Invites the owner, records the
   * link, starts the backfill.
   */
  async createPortal(
    connector: NetworkConnector, connection: Connection, loginId: string, ownerMxid: string, chat: ChatRef,
    ghostMxids: string[] = [],
  ): Promise<PortalLinkRow> {
    return (await this.ensurePortal(connector, connection, loginId, ownerMxid, chat, ghostMxids)).link;
  }

  /** createPortal, also saying whether this call made the room (`sync` counts and invites by it). */
  ensurePortal(
    connector: NetworkConnector, connection: Connection, loginId: string, ownerMxid: string, chat: ChatRef,
    ghostMxids: string[] = [],
  ): Promise<{ link: PortalLinkRow; created: boolean }> {
    const existing = this.linkForChat(connector.network, chat);
    if (existing) return Promise.resolve({ link: existing, created: false });
    return this.withChat(connector.network, chat, async () => {
      const linked = this.linkForChat(connector.network, chat);
      if (linked) return { link: linked, created: false };
      return this.makePortal(connector, connection, loginId, ownerMxid, chat, ghostMxids);
    });
  }

  private async makePortal(
    connector: NetworkConnector, connection: Connection, loginId: string, ownerMxid: string, chat: ChatRef, ghostMxids: string[],
  ): Promise<{ link: PortalLinkRow; created: boolean }> {
    const info = await connection.chatInfo(chat);
    let avatarMxc: string | undefined;
    if (info.avatar) {
      try {
        const img = await connection.downloadAvatar(info.avatar);
        avatarMxc = await this.matrix.uploadMedia(img.data, img.mime, "avatar");
      } catch (err) {
        this.log.warn("portal avatar not bridged", { network: connector.network, ...errorFields(err) });
      }
    }
    const described = { network: connector.network, chat, loginId, name: info.name };
    const bridge = this.bridgeInfo?.infoFor(described) ?? describeLink(connector, this.matrix.botMxid, described);
    const { roomId, alias } = await this.matrix.createRoom({
      name: info.roomName,
      topic: info.topic,
      avatarMxc,
      aliasLocalpart: info.aliasLocalpart,
      invite: [ownerMxid, ...ghostMxids],
      isDirect: info.kind === "dm",
      stateKey: bridge.stateKey,
      bridgeInfo: bridge.content,
      admins: this.admins(),
    });
    await this.addPortal({ roomId, kind: "portal", ownerMxid, phase: "parallel", createdAt: new Date() });
    let link: PortalLinkRow;
    try {
      link = await this.addLink({ roomId, network: connector.network, chat, loginId, name: info.name, alias: alias ?? null });
    } catch (err) {
      const theirs = err instanceof StoreError && err.code === "store.conflict" ? await this.store.links.byChat(connector.network, chat) : null;
      if (!theirs) throw err;
      return { link: await this.adopt(theirs, roomId), created: false };
    }
    await this.bridgeInfo?.remember(roomId, bridge); // it went in with the room: the start-up check need not send it
    this.log.info("portal created", { network: connector.network, roomId, alias });
    await this.onCreated?.(link).catch((err) => this.log.warn("backfill not started", { roomId, ...errorFields(err) }));
    return { link, created: true };
  }

  /**
   * Another process linked the chat while this one made a room for it: theirs stands (the
   * store's unique link), ours is given up so nothing is ever relayed into it.
   */
  private async adopt(theirs: PortalLinkRow, ours: string): Promise<PortalLinkRow> {
    this.log.warn("portal made twice across processes; keeping the linked one", { network: theirs.network, roomId: theirs.roomId, dropped: ours });
    if (!this.portals.has(theirs.roomId)) {
      const portal = await this.store.portals.get(theirs.roomId);
      if (portal) this.portals.set(portal.roomId, portal);
    }
    this.cacheLink(theirs);
    if (this.linksOfRoom(ours).length === 0) {
      await this.store.portals.delete(ours);
      this.portals.delete(ours);
      await this.matrix.leave(ours, this.matrix.botMxid).catch((err) => this.log.warn("could not leave a dropped portal room", { roomId: ours, ...errorFields(err) }));
    }
    return theirs;
  }

  async addPortal(row: PortalRow): Promise<void> {
    if (this.portals.has(row.roomId)) return;
    await this.store.portals.create({ roomId: row.roomId, kind: row.kind, ownerMxid: row.ownerMxid, phase: row.phase });
    this.portals.set(row.roomId, row);
  }

  async addLink(row: Omit<PortalLinkRow, "createdAt">): Promise<PortalLinkRow> {
    await this.store.links.add(row);
    const full = { ...row, createdAt: new Date(), detachedAt: null };
    this.cacheLink(full);
    return full;
  }

  async removeLinks(roomId: string, network?: string): Promise<PortalLinkRow[]> {
    const gone = this.linksOfRoom(roomId).filter((l) => !network || l.network === network);
    await this.store.links.remove(roomId, network);
    for (const l of gone) this.byChatKey.delete(chatKey(l.network, l.chat));
    this.byRoomId.set(roomId, this.linksOfRoom(roomId).filter((l) => !gone.includes(l)));
    for (const l of gone) await this.bridgeInfo?.remove(l);
    return gone;
  }

  async moveChat(network: string, from: ChatRef, to: ChatRef): Promise<void> {
    const link = this.linkForChat(network, from);
    if (!link || this.linkForChat(network, to)) return;
    await this.store.links.moveChat(network, from, to);
    this.byChatKey.delete(chatKey(network, from));
    await this.bridgeInfo?.remove({ ...link }); // the old chat's entry, before the link points elsewhere
    link.chat = to;
    this.byChatKey.set(chatKey(network, to), link);
    await this.bridgeInfo?.write(link);
  }

  /** The remote chat was renamed: its link keeps the name (commands, m.bridge) current. */
  async renameChat(network: string, chat: ChatRef, name: string): Promise<void> {
    const link = this.linkForChat(network, chat);
    if (!link || link.name === name) return;
    await this.store.links.rename(network, chat, name);
    link.name = name;
    await this.bridgeInfo?.write(link);
  }

  /**
   * Detach every link of a login (`logout`: the links stay, nothing goes out) or re-attach them
   * (null: the same account logged in again). Returns the links that changed.
   */
  async setDetached(loginId: string, at: Date | null): Promise<PortalLinkRow[]> {
    const changed = await this.store.links.setDetached(loginId, at);
    for (const row of changed) {
      const cached = this.linkForChat(row.network, row.chat);
      if (cached) cached.detachedAt = at;
    }
    return changed;
  }

  async setPhase(roomId: string, phase: PortalRow["phase"], by: string): Promise<void> {
    await this.store.portals.setPhase(roomId, phase, by);
    const p = this.portals.get(roomId);
    if (p) p.phase = phase;
  }

  private cacheLink(l: PortalLinkRow): void {
    const old = this.byChatKey.get(chatKey(l.network, l.chat));
    if (old) this.byRoomId.set(old.roomId, this.linksOfRoom(old.roomId).filter((x) => x !== old));
    this.byChatKey.set(chatKey(l.network, l.chat), l);
    const list = this.byRoomId.get(l.roomId) ?? [];
    list.push(l);
    this.byRoomId.set(l.roomId, list);
  }
}
