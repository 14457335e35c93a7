/**
 * Ghosts: the Matrix users that stand for remote users. Set up once per person, not once per
 * room: one set-up in flight per ghost (the lanes of every room the person posts in wait for
 * it), the profile set only when it changed (the avatar uploaded once per image, see
 * avatar-uploads.ts), then joined to each room once and left alone (no leave/join churn).
 * A profile change costs the homeserver a member event in every room the ghost is in, so a
 * set-up repeated per room grows with rooms × rooms.
 */
import type { Store } from "../store/api.js";
import { AvatarUploads } from "./avatar-uploads.js";
import type { Connection, NetworkConnector } from "./connector.js";
import type { Logger } from "./log.js";
import type { MatrixPort } from "./matrix-port.js";
import type { PeopleDirectory } from "./people.js";
import type { UserInfo, UserRef } from "./types.js";
import { errorFields } from "./log.js";

/**
 * Who a remote user's events are sent as: `mxid` is their own Matrix account when they are mapped
 * and double puppeting is loaded (`puppet`), else their ghost. `ghost` is always the ghost.
 */
export interface RoomSender {
  mxid: string;
  ghost: string;
  puppet: boolean;
}

/** Re-read a remote profile at most this often when no user_change event tells us. */
const PROFILE_TTL_MS = 24 * 3600_000;
/**
 * (room, ghost) pairs remembered as joined. A bridge with 100,000 portals would otherwise keep
 * every pair it ever joined; a forgotten pair costs one join call (answered at once: already joined).
 */
const JOINED_MAX = 200_000;

export class GhostManager {
  /** mxid → time the profile was last confirmed. */
  private readonly fresh = new Map<string, number>();
  private readonly joined = new Set<string>();
  /** mxid → the set-up running for it. */
  private readonly settingUp = new Map<string, Promise<string>>();
  private readonly avatars: AvatarUploads;
  /** Ghosts whose profile must be set again though fresh (their person was mapped or unmapped). */
  private readonly stale = new Set<string>();
  /** Set by the bridge: the person mappings (without it, every remote user is a ghost). */
  people?: PeopleDirectory;

  constructor(private readonly store: Store, private readonly matrix: MatrixPort, private readonly log: Logger) {
    this.avatars = new AvatarUploads(store, matrix);
  }

  /**
   * The one decision of who sends for a remote user, for live relay and history imports alike:
   * the person's own account when mapped and the homeserver lets the bridge act for it (double
   * puppeting), else the ghost, set up as `ensure` does. Follow with `enter` before sending in a room.
   */
  async senderFor(connector: NetworkConnector, conn: Connection, user: UserRef): Promise<RoomSender> {
    const ghost = this.mxidFor(connector, user);
    const person = this.people?.mxidOf(connector.network, user);
    if (person && this.matrix.canPuppet?.(person)) return { mxid: person, ghost, puppet: true };
    return { mxid: await this.ensure(connector, conn, user), ghost, puppet: false };
  }

  /**
   * Join the sender to the room and return who sends; for a person's own account, their ghost then
   * leaves the room (once per process).
   */
  async enter(roomId: string, sender: RoomSender): Promise<string> {
    await this.ensureJoined(roomId, sender.mxid);
    if (!sender.puppet) return sender.mxid;
    const key = `${roomId}\u0000${sender.ghost}\u0000left`;
    if (this.joined.has(key)) return sender.mxid;
    // The ghost may never have been in the room; leaving is then refused, which changes nothing.
    await this.matrix.leave(roomId, sender.ghost).catch((err) => this.log.debug("ghost not in room", { roomId, ...errorFields(err) }));
    this.joined.delete(`${roomId}\u0000${sender.ghost}`);
    this.joined.add(key);
    return sender.mxid;
  }

  /**
   * Who edits a message `author` sent: clients only apply an edit from the original sender, so a
   * message bridged by the ghost before its person was mapped is edited by the ghost.
   */
  async editorOf(roomId: string, author: string, sender: RoomSender): Promise<string> {
    if (author !== sender.ghost || author === sender.mxid) return sender.mxid;
    await this.ensureJoined(roomId, author);
    return author;
  }

  /** Who removes a bridged message deleted on the remote side: a person their own (double puppeting), else the bot. */
  redactorOf(author: string): string {
    return this.matrix.canPuppet?.(author) ? author : this.matrix.botMxid;
  }

  /** The ghost's profile is set again at its next use (its person was mapped or unmapped). */
  restyle(mxid: string): void {
    this.stale.add(mxid);
    this.fresh.delete(mxid);
  }

  mxidFor(connector: NetworkConnector, user: UserRef): string {
    return this.matrix.ghostMxid(connector.ghostLocalpart(user));
  }

  /**
   * Make sure the ghost exists with a current profile; returns its mxid. Callers that need the
   * same ghost meanwhile share the set-up in flight (and its failure: their items retry). A
   * `known` profile (a user_change) is applied after the one in flight, never dropped.
   */
  async ensure(connector: NetworkConnector, conn: Connection, user: UserRef, known?: UserInfo): Promise<string> {
    const mxid = this.mxidFor(connector, user);
    const checked = this.fresh.get(mxid);
    if (!known && checked && Date.now() - checked < PROFILE_TTL_MS && !this.stale.has(mxid)) return mxid;
    const running = this.settingUp.get(mxid);
    if (running && !known) return running;
    const after = running ? running.catch(() => undefined) : Promise.resolve();
    const task = after.then(() => this.setUp(connector, conn, user, mxid, known));
    this.settingUp.set(mxid, task);
    try {
      return await task;
    } finally {
      if (this.settingUp.get(mxid) === task) this.settingUp.delete(mxid);
    }
  }

  private async setUp(connector: NetworkConnector, conn: Connection, user: UserRef, mxid: string, known?: UserInfo): Promise<string> {
    const row = await this.store.ghosts.get(mxid);
    const restyle = this.stale.delete(mxid);
    if (!known && !restyle && row && Date.now() - row.updatedAt.getTime() < PROFILE_TTL_MS) {
      this.fresh.set(mxid, Date.now());
      return mxid;
    }
    let info = known;
    if (!info) {
      try {
        info = await conn.userInfo(user);
      } catch (err) {
        this.log.warn("user info unavailable; ghost keeps its old profile", { network: connector.network, ...errorFields(err) });
        info = { name: row?.displayName ?? user };
      }
    }
    // Without double puppeting a mapped person keeps a ghost; its name says whose it is.
    const person = this.people?.mxidOf(connector.network, user);
    if (person && !this.matrix.canPuppet?.(person) && !info.name.endsWith(` (${person})`)) info = { ...info, name: `${info.name} (${person})` };
    let avatarMxc = row?.avatarMxc ?? null;
    const avatarSource = info.avatar ?? null;
    if (avatarSource && avatarSource !== row?.avatarSource) {
      try {
        const img = await conn.downloadAvatar(avatarSource);
        avatarMxc = await this.avatars.mxcFor(img.data, img.mime);
      } catch (err) {
        this.log.warn("ghost avatar not bridged", { network: connector.network, ...errorFields(err) });
      }
    }
    const nameChanged = row?.displayName !== info.name;
    const avatarChanged = (row?.avatarMxc ?? null) !== avatarMxc;
    if (!row || nameChanged || avatarChanged) {
      await this.matrix.ensureGhost(connector.ghostLocalpart(user), {
        displayName: nameChanged || !row ? info.name : undefined,
        avatarMxc: avatarChanged && avatarMxc ? avatarMxc : undefined,
      });
    }
    await this.store.ghosts.put({
      mxid, network: connector.network, userRef: user, displayName: info.name,
      avatarSource: avatarMxc ? avatarSource : null, avatarMxc,
    });
    this.fresh.set(mxid, Date.now());
    return mxid;
  }

  /** Join the ghost to the room once per process; the homeserver keeps it joined after that. */
  async ensureJoined(roomId: string, mxid: string): Promise<void> {
    const key = `${roomId}\u0000${mxid}`;
    if (this.joined.has(key)) return;
    await this.matrix.join(roomId, mxid);
    this.joined.add(key);
    if (this.joined.size > JOINED_MAX) {
      for (const k of this.joined) {
        this.joined.delete(k);
        if (this.joined.size <= JOINED_MAX * 0.9) break;
      }
    }
  }

  /** Forget the cached profile so the next message re-reads it (user_change). */
  invalidate(mxid: string): void {
    this.fresh.delete(mxid);
  }
}
