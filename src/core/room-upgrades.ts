/**
 * Rooms upgraded in Matrix keep their links. On `m.room.tombstone` in a bridged room, the portal
 * and its links move to the replacement room (message-map rows stay with the old room: replies
 * to messages from before the upgrade are sent without the reply link), the space points at the
 * new room, and the bot joins it. The homeserver already checked the sender's power (the
 * tombstone needs 100 by default). If the bot cannot join yet (an invite-only room that did not
 * invite it), the old room is told to invite it: links are moved anyway, and the bot joins the
 * new room on that invite like any other.
 */
import { randomUUID } from "node:crypto";
import type { CoreDeps } from "./context.js";
import { errorFields } from "./log.js";
import type { MatrixInbound } from "./matrix-port.js";
import type { PortalDirectory } from "./portals.js";
import type { SpaceDirectory } from "./spaces.js";

export class RoomUpgrades {
  constructor(private readonly deps: CoreDeps, private readonly portals: PortalDirectory, private readonly spaces: SpaceDirectory) {}

  async onTombstone(ev: Extract<MatrixInbound, { kind: "tombstone" }>): Promise<void> {
    const { matrix, log } = this.deps;
    if (!this.portals.portal(ev.roomId) || ev.replacement === ev.roomId) return;
    const moved = await this.portals.moveRoom(ev.roomId, ev.replacement);
    if (moved.length === 0 && !this.portals.portal(ev.replacement)) return;
    log.info("bridged room upgraded; links moved", { from: ev.roomId, to: ev.replacement, links: moved.length });
    await this.spaces.moveRoom(ev.roomId, ev.replacement, moved.map((l) => l.loginId));
    try {
      await matrix.join(ev.replacement, matrix.botMxid);
    } catch (err) {
      log.warn("could not join the upgraded room yet", { roomId: ev.replacement, ...errorFields(err) });
      await this.say(ev.roomId, `This room was upgraded. Invite me (${matrix.botMxid}) to the new room so its links keep relaying.`);
      return;
    }
    await this.say(ev.replacement, "This room continues the upgraded one: its bridged chats are relayed here now.");
  }

  private async say(roomId: string, body: string): Promise<void> {
    const { matrix } = this.deps;
    await matrix.sendEvent(roomId, matrix.botMxid, "m.room.message", { msgtype: "m.notice", body }, `tandem-upgrade-${randomUUID()}`)
      .catch((err) => this.deps.log.warn("upgrade notice not sent", { roomId, ...errorFields(err) }));
  }
}
