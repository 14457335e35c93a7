/**
 * `cutover finish`: the end of the parallel run for a room. A last pinned notice on each linked
 * chat points at the Matrix room, the links are marked finished (kept, not deleted: nothing is
 * relayed either way and `cutover resume` is the way back), the people who will run the room get
 * power 100 and the bot steps down to the default level: it stays a plain member, so
 * `!tandem cutover resume` still reaches it, and ghosts stay as the authors of the history.
 */
import { CommandError } from "./errors.js";
import type { CoreDeps } from "./context.js";
import type { RoomLinker } from "./linking.js";
import type { LoginManager } from "./logins.js";
import type { PortalDirectory } from "./portals.js";

/** The power level a person needs in a room to be taken for one of its admins when none are named. */
const MODERATOR = 50;
const ADMIN = 100;

export interface FinishResult {
  /** Links that were still relaying and now are finished. */
  finished: number;
  /** People who now have power 100. */
  admins: string[];
  /** Why the power levels could not be changed as planned, when they could not. */
  powerNote?: string;
}

/**
 * The new power levels: `admins` at 100, the bot out of the users map (back to users_default),
 * everyone else as they were. Pure. Throws when the bot may not raise people that high.
 */
export function finishedPowerLevels(pl: Record<string, unknown>, bot: string, admins: readonly string[], creators: readonly string[] = []): Record<string, unknown> {
  const users = { ...((typeof pl.users === "object" && pl.users !== null ? pl.users : {}) as Record<string, number>) };
  const botLevel = creators.includes(bot) ? Infinity : users[bot] ?? (typeof pl.users_default === "number" ? pl.users_default : 0);
  // Creators of a room version 12 room outrank every level already, and may not be in the users map.
  const raise = admins.filter((a) => !creators.includes(a));
  if (raise.some((a) => (users[a] ?? 0) < ADMIN) && botLevel < ADMIN) {
    throw new CommandError(`I have power ${botLevel} in this room and cannot give anyone ${ADMIN}; give me ${ADMIN} first, or name people who have it already.`);
  }
  for (const a of raise) users[a] = ADMIN;
  delete users[bot];
  return { ...pl, users };
}

export class CutoverFinisher {
  constructor(
    private readonly deps: CoreDeps,
    private readonly portals: PortalDirectory,
    private readonly logins: LoginManager,
    private readonly linker: RoomLinker,
  ) {}

  /**
   * Finish one room. `named`: the people to make admins; absent: the room's joined people (not
   * the bot or ghosts) with power ≥ 50 already. Refuses when that leaves no one: the bot would
   * otherwise step down from a room with no admin. Returns null when the room was finished already.
   */
  async finish(roomId: string, by: string, named?: string[]): Promise<FinishResult | null> {
    const { matrix, store } = this.deps;
    const portal = this.portals.portal(roomId);
    if (!portal) throw new CommandError("This room is not bridged; use `cutover finish all` for every room.");
    const live = this.portals.linksOfRoom(roomId).filter((l) => !l.finishedAt);
    if (live.length === 0) return null;
    const pl = await matrix.powerLevels(roomId);
    const admins = named ?? await this.moderators(roomId, pl);
    if (admins.length === 0) {
      throw new CommandError(`No one in ${roomId} has power ${MODERATOR} or more to take over from me; name them: cutover finish --admins @a:example.org,@b:example.org`);
    }
    const creators = (await matrix.privilegedCreators?.(roomId)) ?? [];
    const levels = finishedPowerLevels(pl, matrix.botMxid, admins, creators); // checked before anything changes
    const where = `https://matrix.to/#/${encodeURIComponent(live.find((l) => l.alias)?.alias ?? await this.canonicalAlias(roomId) ?? roomId)}`;
    for (const link of live) {
      const connector = this.deps.connectors.get(link.network);
      const conn = this.logins.connection(link.loginId);
      if (connector && conn) await this.linker.announce(connector, conn, link, `This chat has moved to Matrix: ${where} . Messages here are no longer relayed.`, true);
    }
    await this.portals.setFinished(roomId, new Date());
    await store.portals.record(roomId, portal.phase, "finished", by);
    // A creator of a version 12 room stays its admin for good: the bot can only say so.
    let powerNote = creators.includes(matrix.botMxid) ? "I created this room (version 12) and stay one of its permanent admins; creators cannot step down" : undefined;
    await matrix.setState(roomId, matrix.botMxid, "m.room.power_levels", "", levels).catch((err: unknown) => {
      powerNote = `the power levels were not changed (${err instanceof Error ? err.message : String(err)})`;
      this.deps.log.warn("cutover finish: power levels not changed", { roomId, error: powerNote });
    });
    await matrix.sendEvent(roomId, matrix.botMxid, "m.room.message", {
      msgtype: "m.notice",
      body: `Cutover finished by ${by}: this room is no longer relayed. Admins: ${admins.join(", ")}. The bridge bot stepped down; \`!tandem cutover resume\` relays again.`,
    }, `tandem-finish-${roomId}-${Date.now()}`);
    return { finished: live.length, admins, ...(powerNote ? { powerNote } : {}) };
  }

  /** The way back: relay again. Power levels stay as finish left them (the bot needs 50 again to invite ghosts). */
  async resume(roomId: string, by: string): Promise<boolean> {
    const portal = this.portals.portal(roomId);
    if (!portal) return false;
    const changed = await this.portals.setFinished(roomId, null);
    if (changed.length === 0) return false;
    await this.deps.store.portals.record(roomId, "finished", "resumed", by);
    for (const link of changed) {
      const connector = this.deps.connectors.get(link.network);
      const conn = this.logins.connection(link.loginId);
      if (connector && conn) await this.linker.announce(connector, conn, link, "This chat is relayed to Matrix again.", false);
    }
    return true;
  }

  /** The room's published alias (a linked room's own name), for a link people can follow. */
  private async canonicalAlias(roomId: string): Promise<string | undefined> {
    const st = await this.deps.matrix.getState(roomId, "m.room.canonical_alias", "").catch(() => null);
    return typeof st?.alias === "string" ? st.alias : undefined;
  }

  private async moderators(roomId: string, pl: Record<string, unknown>): Promise<string[]> {
    const users = (typeof pl.users === "object" && pl.users !== null ? pl.users : {}) as Record<string, unknown>;
    const joined = new Set(await this.deps.matrix.joinedMembers(roomId));
    return Object.entries(users)
      .filter(([mxid, level]) => typeof level === "number" && level >= MODERATOR && joined.has(mxid) && !this.deps.matrix.isBridgeUser(mxid))
      .map(([mxid]) => mxid).sort();
  }
}

