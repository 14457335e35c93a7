/**
 * Linking existing rooms and moving rooms through cutover phases: the logic behind the
 * `link` and `cutover` commands, kept out of the command values so it is testable and the
 * commands stay thin.
 */
import type { CutoverPhase, PortalLinkRow } from "../store/api.js";
import { StoreError } from "../store/db.js";
import type { Connection, NetworkConnector } from "./connector.js";
import type { CoreDeps } from "./context.js";
import { CommandError } from "./errors.js";
import type { LoginManager } from "./logins.js";
import type { PortalDirectory } from "./portals.js";
import { plainDoc } from "../formatting/ast.js";
import { errorFields } from "./log.js";

export class RoomLinker {
  /** Told in the chat's turn once a room was linked (the bridge starts its backfill); may throw. */
  onLinked?: (link: PortalLinkRow) => Promise<void>;

  constructor(private readonly deps: CoreDeps, private readonly portals: PortalDirectory, private readonly logins: LoginManager) {}

  async link(roomId: string, network: string, input: string, by: string, isAdmin: boolean): Promise<PortalLinkRow> {
    const connector = this.deps.connectors.get(network)!;
    const candidates = this.logins.all().filter((l) => l.network === network && (l.ownerMxid === by || isAdmin));
    const own = candidates.filter((l) => l.ownerMxid === by);
    const login = (own.length ? own : candidates)[0];
    if (!login) throw new CommandError(`You have no ${connector.displayName} login to link through. Log in first (in our private chat).`);
    const conn = this.logins.connection(login.id);
    if (!conn) throw new CommandError(`Your ${connector.displayName} login ${login.name} is not connected right now; try again shortly.`);
    const chat = await conn.resolveChat(input.trim());
    if (!chat) throw new CommandError(`${connector.displayName} has no chat "${input}" that ${login.name} can see.`);
    // In the chat's turn: a portal being made for it right now (the login's first sync, a live
    // message) is finished first, and then found here, instead of the chat ending up in two rooms.
    return this.portals.withChat(network, chat, async () => {
      const existing = this.portals.linkForChat(network, chat);
      if (existing) {
        if (existing.roomId === roomId) return existing;
        throw this.alreadyBridged(connector, existing);
      }
      if (this.portals.linksOfRoom(roomId).some((l) => l.network === network)) {
        throw new CommandError(`This room is already linked to a ${connector.displayName} chat; unlink ${network} first.`);
      }
      // Ghosts join a private room by the bot's invite: without that power the link would relay nothing.
      const botPower = await this.deps.matrix.powerLevel(roomId, this.deps.matrix.botMxid);
      if (botPower < 50) throw new CommandError(`I need power level 50 in this room to invite the ${connector.displayName} users' ghosts (I have ${botPower}). Raise it, then link again.`);
      const info = await conn.chatInfo(chat);
      if (!this.portals.portal(roomId)) {
        await this.portals.addPortal({ roomId, kind: "linked", ownerMxid: null, phase: "parallel", createdAt: new Date() });
      }
      let row: PortalLinkRow;
      try {
        row = await this.portals.addLink({ roomId, network, chat, loginId: login.id, name: info.name, alias: null });
      } catch (err) {
        // Another bridge process linked the chat meanwhile (the store's unique link said no).
        const theirs = err instanceof StoreError && err.code === "store.conflict" ? await this.deps.store.links.byChat(network, chat) : null;
        if (theirs) throw this.alreadyBridged(connector, theirs);
        throw err;
      }
      await this.portals.bridgeInfo?.write(row); // clients show the room as bridged (one entry per linked chat)
      await this.onLinked?.(row).catch((err) => this.deps.log.warn("backfill not started", { roomId, ...errorFields(err) }));
      return row;
    });
  }

  private alreadyBridged(connector: NetworkConnector, existing: PortalLinkRow): CommandError {
    return new CommandError(`That ${connector.displayName} chat is already bridged to ${existing.alias ?? existing.roomId}. Unlink it there first.`);
  }

  /** Change a room's phase and say so on both sides. Returns false when nothing changed. */
  async changePhase(roomId: string, phase: CutoverPhase, by: string, rollback: boolean): Promise<boolean> {
    const portal = this.portals.portal(roomId);
    if (!portal || portal.phase === phase) return false;
    await this.portals.setPhase(roomId, phase, by);
    const where = `https://matrix.to/#/${encodeURIComponent(this.portals.linksOfRoom(roomId).find((l) => l.alias)?.alias ?? roomId)}`;
    const remoteText =
      phase === "matrix-primary" ? `Matrix is now the primary channel: ${where}` :
      phase === "standby" ? `This chat is now on standby: messages here are no longer relayed. Please use Matrix: ${where}` :
      rollback ? "Cutover rolled back: this chat is relayed both ways again." : "This chat is relayed both ways again (parallel run).";
    for (const link of this.portals.linksOfRoom(roomId)) {
      const connector = this.deps.connectors.get(link.network);
      const conn = this.logins.connection(link.loginId);
      if (!connector || !conn) continue;
      await this.announce(connector, conn, link, remoteText, phase === "matrix-primary");
      if (phase === "parallel") await this.deps.store.kv.set(`standby-told:${link.network}:${link.chat}`, "");
    }
    const { matrix } = this.deps;
    await matrix.sendEvent(roomId, matrix.botMxid, "m.room.message",
      { msgtype: "m.notice", body: `Cutover: this room is now in phase ${phase}${rollback ? " (rolled back)" : ""}, set by ${by}.` },
      `tandem-cutover-${roomId}-${Date.now()}`);
    return true;
  }

  /** Post (and pin) a notice in a linked chat; failures are logged: the Matrix side goes on. */
  async announce(connector: NetworkConnector, conn: Connection, link: PortalLinkRow, text: string, pin: boolean): Promise<void> {
    try {
      const refs = await conn.send(link.chat, { doc: plainDoc(text), notice: true, sender: { name: "Tandem" }, sourceId: `cutover:${link.roomId}:${Date.now()}` });
      if (pin && refs[0] && conn.pin) await conn.pin(link.chat, refs[0]);
    } catch (err) {
      this.deps.log.warn("cutover notice not posted", { network: connector.network, chat: link.chat, ...errorFields(err) });
    }
  }
}
