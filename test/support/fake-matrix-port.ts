/**
 * An in-memory homeserver behind the core's MatrixPort, for core unit tests: rooms with their
 * timelines, ghosts' profiles, joins, and what a real homeserver guarantees that the core
 * relies on (a repeated txnId from the same sender answers the first event, not a new one).
 * Faults are scripted per call: `failSends` fails the next sends before or after the event was
 * made (the answer lost: a crash between send and commit), and `holdCreateRoom` keeps room
 * creations waiting until released.
 */
import { PUPPET_MARK, type CreateRoomOptions, type MatrixPort } from "../../src/core/matrix-port.js";
import { MatrixError } from "../../src/core/errors.js";

export interface SentEvent {
  roomId: string;
  eventId: string;
  sender: string;
  type: string;
  content: Record<string, unknown>;
  txnId: string;
  ts?: number;
}

/** "before": refused, nothing made; "after": made, but the answer is lost; "none": answered. */
export type SendFault = "before" | "after" | "none";

export class FakeMatrixPort implements MatrixPort {
  readonly botMxid: string;
  readonly domain = "example.org";
  readonly events: SentEvent[] = [];
  readonly rooms: Array<CreateRoomOptions & { roomId: string; alias?: string }> = [];
  readonly profiles = new Map<string, { displayName?: string; avatarMxc?: string }>();
  readonly calls: Array<{ op: string; args: unknown[] }> = [];
  /** `room|mxid` of who is in each room now (a leave removes them). */
  readonly joined = new Set<string>();
  readonly left: Array<{ roomId: string; mxid: string }> = [];
  readonly uploads: string[] = [];
  /** Faults for the next sendEvent calls, in order. */
  failSends: SendFault[] = [];
  /** While set, createRoom waits for it. */
  holdCreateRoom: Promise<void> | null = null;
  private readonly txns = new Map<string, string>();
  private seq = 0;

  constructor(private readonly roomIdPrefix = "!r", botLocalpart = "bot") {
    this.botMxid = `@${botLocalpart}:example.org`;
  }

  ghostMxid(localpart: string): string {
    return `@${localpart}:example.org`;
  }

  /** Double puppeting loaded (the second registration): local real users can be sent as. */
  puppets = false;
  /** The homeserver's users and their e-mails (the admin API), for `map --by-email`. */
  accounts: Array<{ mxid: string; emails: string[] }> = [];

  canPuppet(mxid: string): boolean {
    return this.puppets && mxid.endsWith(":example.org") && !this.isBridgeUser(mxid);
  }

  async usersWithEmails(): Promise<Array<{ mxid: string; emails: string[] }>> {
    return this.accounts;
  }

  isBridgeUser(mxid: string): boolean {
    return mxid === this.botMxid || /^@(loopback|net)[0-9]*_/.test(mxid);
  }

  async ensureGhost(localpart: string, profile: { displayName?: string; avatarMxc?: string }): Promise<string> {
    this.calls.push({ op: "ensureGhost", args: [localpart, profile] });
    const mxid = this.ghostMxid(localpart);
    this.profiles.set(mxid, { ...this.profiles.get(mxid), ...Object.fromEntries(Object.entries(profile).filter(([, v]) => v !== undefined)) });
    return mxid;
  }

  async uploadMedia(_data: Buffer, _mime: string, name: string): Promise<string> {
    this.uploads.push(name);
    return `mxc://example.org/m${++this.seq}`;
  }

  /** Media a test put on the server, by mxc URL (others download as 4 bytes of octet-stream). */
  readonly media = new Map<string, { data: Buffer; mime: string }>();

  /** Faults for the next downloadMedia calls, in order. */
  failDownloads: MatrixError[] = [];

  /** As the real port: past `maxBytes` it stops and throws M_TOO_LARGE (not retryable). */
  async downloadMedia(mxc: string, maxBytes = Infinity): Promise<{ data: Buffer; mime: string }> {
    const fault = this.failDownloads.shift();
    if (fault) throw fault;
    const media = this.media.get(mxc) ?? { data: Buffer.from("file"), mime: "application/octet-stream" };
    if (media.data.length > maxBytes) throw new MatrixError("M_TOO_LARGE", `download media: over ${maxBytes} bytes`, { retryable: false });
    return media;
  }

  async createRoom(opts: CreateRoomOptions): Promise<{ roomId: string; alias?: string }> {
    // A login's space is counted apart: tests count portal rooms.
    this.calls.push({ op: opts.roomType === "m.space" ? "createSpace" : "createRoom", args: [opts.stateKey] });
    if (opts.roomType !== "m.space") await this.holdCreateRoom;
    const roomId = `${this.roomIdPrefix}${++this.seq}:example.org`;
    const alias = opts.aliasLocalpart ? `#${opts.aliasLocalpart}:example.org` : undefined;
    this.rooms.push({ ...opts, roomId, alias });
    return { roomId, alias };
  }

  async invite(roomId: string, mxid: string): Promise<void> {
    this.calls.push({ op: "invite", args: [roomId, mxid] });
  }

  async join(roomId: string, mxid: string): Promise<void> {
    this.calls.push({ op: "join", args: [roomId, mxid] });
    this.joined.add(`${roomId}|${mxid}`);
  }

  async leave(roomId: string, mxid: string): Promise<void> {
    this.joined.delete(`${roomId}|${mxid}`);
    this.left.push({ roomId, mxid });
  }

  async sendEvent(roomId: string, sender: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<string> {
    const fault = this.failSends.shift();
    if (fault === "before") throw new MatrixError("M_UNKNOWN", "send refused (scripted)", { retryable: true });
    // Transaction ids are scoped to the sender (the access token and user), as the spec says.
    if (this.canPuppet(sender)) content = { ...content, [PUPPET_MARK]: "tandem" }; // as the real port does
    const key = `${sender}\u0000${txnId}`;
    let eventId = this.txns.get(key);
    if (!eventId) {
      eventId = `$e${++this.seq}`;
      this.txns.set(key, eventId);
      this.events.push({ roomId, eventId, sender, type, content, txnId, ts });
    }
    if (fault === "after") throw new MatrixError("M_UNKNOWN", "the answer was lost (scripted)", { retryable: true });
    return eventId;
  }

  async redact(roomId: string, sender: string, eventId: string, txnId: string): Promise<void> {
    this.calls.push({ op: "redact", args: [roomId, sender, eventId, txnId] });
  }

  async setState(roomId: string, sender: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void> {
    this.calls.push({ op: "setState", args: [roomId, sender, type, stateKey, content] });
  }

  /** Room state a test set, by `${roomId}|${type}|${stateKey}` (setState does not write here). */
  readonly state = new Map<string, Record<string, unknown>>();

  async getState(roomId: string, type: string, stateKey: string): Promise<Record<string, unknown> | null> {
    return this.state.get(`${roomId}|${type}|${stateKey}`) ?? null;
  }

  async displayName(_roomId: string, mxid: string): Promise<string> {
    return this.profiles.get(mxid)?.displayName ?? mxid.slice(1, mxid.indexOf(":"));
  }

  async avatarOf(mxid: string): Promise<string | null> {
    return this.profiles.get(mxid)?.avatarMxc ?? null;
  }

  /** Who is in a room now: joined through this port and not left since. */
  async joinedMembers(roomId: string): Promise<string[]> {
    return [...this.joined].filter((k) => k.startsWith(`${roomId}|`)).map((k) => k.slice(roomId.length + 1));
  }

  async powerLevels(): Promise<Record<string, unknown>> {
    return {};
  }

  async powerLevel(): Promise<number> {
    return 100;
  }

  /** Messages (m.room.message) in a room, oldest first. */
  messages(roomId: string): SentEvent[] {
    return this.events.filter((e) => e.roomId === roomId && e.type === "m.room.message");
  }

  count(op: string): number {
    return this.calls.filter((c) => c.op === op).length;
  }
}
