/**
 * One Matrix space per login (a Slack workspace, a Telegram bot), holding that login's rooms:
 * `m.space.child` (with `via`) in the space, `m.space.parent` in each room. Made at login, and
 * once at start for logins that have none yet; a room created or linked later joins its space;
 * `space add` adds a linked room by hand. Logout leaves the space (and its children) in place:
 * the same account logging in again finds it. Which space belongs to which login is kept in kv
 * (`space:<login id>` → room id).
 */
import type { PortalLinkRow } from "../store/api.js";
import type { Connection, LoginRecord } from "./connector.js";
import type { CoreDeps } from "./context.js";
import { errorFields } from "./log.js";
import type { EmojiPacks } from "./emoji-packs.js";
import type { PortalDirectory } from "./portals.js";

const SPACE = "space:";

/**
 * Who is invited to a login's space besides its owner: the Matrix accounts mapped to users whose
 * ghosts are in the login's rooms (People.membersOf).
 */
export type SpaceMembers = (login: LoginRecord) => Promise<string[]>;

export class SpaceDirectory {
  private readonly byLogin = new Map<string, string>();
  /** One space creation per login at a time (login and start-up may ask together). */
  private readonly making = new Map<string, Promise<string>>();
  /** The login's custom emoji, synced into its space by `refresh`. */
  emoji?: EmojiPacks;
  /** Extra people to invite (mapped accounts); only the owner when unset. */
  members?: SpaceMembers;

  constructor(
    private readonly deps: CoreDeps,
    private readonly portals: PortalDirectory,
    /** The bridge admins named in the config (full MXIDs), made admins of every space. */
    private readonly admins: () => string[],
  ) {}

  async load(): Promise<void> {
    for (const { key, value } of await this.deps.store.kv.list(SPACE)) this.byLogin.set(key.slice(SPACE.length), value);
  }

  spaceOf(loginId: string): string | undefined {
    return this.byLogin.get(loginId);
  }

  /** The login's space, made (with every room of the login as a child) when it has none. */
  ensure(login: LoginRecord, conn: Connection | undefined): Promise<string> {
    const known = this.byLogin.get(login.id);
    if (known) return Promise.resolve(known);
    let pending = this.making.get(login.id);
    if (!pending) {
      pending = this.make(login, conn).finally(() => this.making.delete(login.id));
      this.making.set(login.id, pending);
    }
    return pending;
  }

  private async make(login: LoginRecord, conn: Connection | undefined): Promise<string> {
    const { matrix, store, log } = this.deps;
    const connector = this.deps.connectors.get(login.network);
    const invite = [...new Set([login.ownerMxid, ...((await this.members?.(login)) ?? [])])].filter((m) => m !== matrix.botMxid);
    const { roomId } = await matrix.createRoom({
      name: `${login.name} (${connector?.displayName ?? login.network})`,
      topic: `Rooms bridged from ${connector?.displayName ?? login.network} ${login.name}`,
      avatarMxc: await this.avatar(login, conn),
      invite, roomType: "m.space", admins: this.admins(),
    });
    await store.kv.set(`${SPACE}${login.id}`, roomId);
    this.byLogin.set(login.id, roomId);
    log.info("space created", { login: login.id, roomId });
    const rooms = new Set(this.portals.allPortals().flatMap((p) => this.portals.linksOfRoom(p.roomId)).filter((l) => l.loginId === login.id).map((l) => l.roomId));
    for (const room of rooms) await this.addChild(roomId, room);
    return roomId;
  }

  /** The workspace icon or bot picture, uploaded; none when the network has none or it fails (the space still stands). */
  private async avatar(login: LoginRecord, conn: Connection | undefined): Promise<string | undefined> {
    try {
      const ref = await conn?.accountAvatar?.();
      if (!ref || !conn) return undefined;
      const img = await conn.downloadAvatar(ref);
      return await this.deps.matrix.uploadMedia(img.data, img.mime, "space-avatar");
    } catch (err) {
      this.deps.log.warn("space avatar not bridged", { login: login.id, ...errorFields(err) });
      return undefined;
    }
  }

  /** Invite a person (newly mapped to one of the login's users) to the login's space, if it has one. */
  async invite(loginId: string, mxid: string): Promise<void> {
    const space = this.byLogin.get(loginId);
    if (!space) return;
    const members = await this.deps.matrix.joinedMembers(space).catch(() => [] as string[]);
    if (!members.includes(mxid)) await this.deps.matrix.invite(space, mxid);
  }

  /** A room was created or linked: it joins its login's space (if the login has one). Never throws. */
  async onLinked(link: Pick<PortalLinkRow, "roomId" | "loginId">): Promise<void> {
    const space = this.byLogin.get(link.loginId);
    if (space) await this.addChild(space, link.roomId);
  }

  /** `space add`: this room into the spaces of the logins it is linked through; returns those spaces. */
  async addRoom(roomId: string): Promise<string[]> {
    const spaces = [...new Set(this.portals.linksOfRoom(roomId).map((l) => this.byLogin.get(l.loginId)).filter((s): s is string => !!s))];
    for (const space of spaces) await this.addChild(space, roomId, true);
    return spaces;
  }

  /** The room was upgraded: the space points at its replacement instead. */
  async moveRoom(from: string, to: string, loginIds: string[]): Promise<void> {
    for (const space of new Set(loginIds.map((id) => this.byLogin.get(id)).filter((s): s is string => !!s))) {
      await this.deps.matrix.setState(space, this.deps.matrix.botMxid, "m.space.child", from, {})
        .catch((err) => this.deps.log.warn("old room not removed from its space", { space, roomId: from, ...errorFields(err) }));
      await this.addChild(space, to);
    }
  }

  /**
   * Child in the space, parent in the room. The parent is best effort: in a linked room the bot
   * may lack the power to set state (50 by default); the child alone already lists it.
   */
  private async addChild(space: string, roomId: string, strict = false): Promise<void> {
    const { matrix, log } = this.deps;
    const via = [matrix.domain];
    try {
      await matrix.setState(space, matrix.botMxid, "m.space.child", roomId, { via });
    } catch (err) {
      if (strict) throw err;
      log.warn("room not added to its space", { space, roomId, ...errorFields(err) });
      return;
    }
    await matrix.setState(roomId, matrix.botMxid, "m.space.parent", space, { via, canonical: true })
      .catch((err) => log.info("space parent not set in the room", { space, roomId, ...errorFields(err) }));
  }

  /**
   * The login's space (made if missing), then its custom emoji pack brought up to date in the
   * background. At login, and at start for every login (a space only once: it is remembered).
   * Failures are logged.
   */
  async refresh(login: LoginRecord, conn: Connection | undefined): Promise<void> {
    const space = await this.ensure(login, conn).catch((err) => { this.deps.log.warn("space not created", { login: login.id, ...errorFields(err) }); });
    if (!conn || !this.emoji) return;
    // In the background: a workspace may have thousands of emoji, and the login's reply does not wait
    // for them (until the pack is in, `:name:` arrives as text).
    void this.emoji.sync(login, conn, space ?? undefined)
      .then((n) => { if (n > 0) this.deps.log.info("custom emoji pack up to date", { login: login.id, images: n }); })
      .catch((err) => this.deps.log.warn("custom emoji not synced", { login: login.id, ...errorFields(err) }));
  }
}
