/**
 * The core's MatrixPort on matrix-appservice-bridge: every call made as an Intent (the bot
 * or a ghost). Sends use our own txnIds (derived from queue items by the core), so a retry
 * after a crash is idempotent on the homeserver.
 */
import type { Bridge, Intent } from "matrix-appservice-bridge";
import type { CreateRoomOptions, MatrixPort } from "../core/matrix-port.js";
import type { Logger } from "../core/log.js";
import type { HealthBoard } from "../core/health.js";
import { errcodeOf, toMatrixError } from "./errors.js";

const enc = encodeURIComponent;

export class AppservicePort implements MatrixPort {
  readonly botMxid: string;
  private readonly names = new Map<string, { name: string; at: number }>();

  constructor(
    private readonly bridge: Bridge,
    readonly domain: string,
    botLocalpart: string,
    /** User-namespace regexes from the registration, compiled. */
    private readonly userNamespaces: RegExp[],
    private readonly log: Logger,
    private readonly health?: HealthBoard,
  ) {
    this.botMxid = `@${botLocalpart}:${domain}`;
  }

  ghostMxid(localpart: string): string {
    return `@${localpart}:${this.domain}`;
  }

  isBridgeUser(mxid: string): boolean {
    return mxid === this.botMxid || this.userNamespaces.some((r) => r.test(mxid));
  }

  private intent(mxid: string): Intent {
    return mxid === this.botMxid ? this.bridge.getIntent() : this.bridge.getIntent(mxid);
  }

  /** Run a homeserver call, mapping errors and tracking homeserver health. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      const out = await fn();
      if (this.health) this.health.homeserverError = null;
      return out;
    } catch (err) {
      const mapped = toMatrixError(err, what);
      if (this.health && mapped.code === "M_UNREACHABLE") this.health.homeserverError = mapped.message;
      throw mapped;
    }
  }

  async ensureGhost(localpart: string, profile: { displayName?: string; avatarMxc?: string }): Promise<string> {
    const intent = this.bridge.getIntentFromLocalpart(localpart);
    await this.call("register ghost", () => intent.ensureRegistered());
    if (profile.displayName) await this.call("set display name", () => intent.setDisplayName(profile.displayName!));
    if (profile.avatarMxc) await this.call("set avatar", () => intent.setAvatarUrl(profile.avatarMxc!));
    return this.ghostMxid(localpart);
  }

  async uploadMedia(data: Buffer, mime: string, name: string): Promise<string> {
    return this.call("upload media", () => this.bridge.getIntent().uploadContent(data, { type: mime, name }));
  }

  async downloadMedia(mxc: string): Promise<{ data: Buffer; mime: string }> {
    const res = await this.call("download media", () => this.bridge.getIntent().matrixClient.downloadContent(mxc));
    return { data: res.data, mime: res.contentType };
  }

  async createRoom(opts: CreateRoomOptions): Promise<{ roomId: string; alias?: string }> {
    const bot = this.bridge.getIntent();
    const base = opts.aliasLocalpart?.toLowerCase().replace(/[^a-z0-9._=\-/]/g, "_");
    for (let attempt = 0; attempt < 20; attempt++) {
      const aliasLocalpart = base ? (attempt === 0 ? base : `${base}_${attempt + 1}`) : undefined;
      const initialState: Array<{ type: string; state_key: string; content: Record<string, unknown> }> = [
        { type: "m.bridge", state_key: opts.stateKey, content: opts.bridgeInfo },
        { type: "uk.half-shot.bridge", state_key: opts.stateKey, content: opts.bridgeInfo },
      ];
      if (opts.avatarMxc) initialState.push({ type: "m.room.avatar", state_key: "", content: { url: opts.avatarMxc } });
      try {
        const roomId = await bot.matrixClient.createRoom({
          name: opts.name, topic: opts.topic, preset: "private_chat", visibility: "private",
          room_alias_name: aliasLocalpart, invite: opts.invite, is_direct: opts.isDirect ?? false,
          initial_state: initialState,
          power_level_content_override: { users: { [this.botMxid]: 100 }, events_default: 0, state_default: 50 },
        });
        return { roomId, alias: aliasLocalpart ? `#${aliasLocalpart}:${this.domain}` : undefined };
      } catch (err) {
        // The alias is taken (by an older portal or a person): try the next suffix, never drop the message.
        if (errcodeOf(err) === "M_ROOM_IN_USE" && aliasLocalpart) continue;
        throw toMatrixError(err, "create room");
      }
    }
    throw toMatrixError({ errcode: "M_ROOM_IN_USE", statusCode: 400, error: `no free alias for ${base}` }, "create room");
  }

  async invite(roomId: string, mxid: string): Promise<void> {
    await this.call("invite", () => this.bridge.getIntent().matrixClient.inviteUser(mxid, roomId)).catch((err) => {
      // Already invited or joined is fine.
      if (err.code === "M_FORBIDDEN" && /already/i.test(err.message)) return;
      throw err;
    });
  }

  async join(roomId: string, mxid: string): Promise<void> {
    const client = this.intent(mxid).matrixClient;
    try {
      await client.joinRoom(roomId);
    } catch (err) {
      if (mxid === this.botMxid || errcodeOf(err) !== "M_FORBIDDEN") throw toMatrixError(err, "join");
      // A private portal: the bot invites the ghost, then it joins.
      await this.invite(roomId, mxid);
      await this.call("join", () => client.joinRoom(roomId));
    }
  }

  async leave(roomId: string, mxid: string): Promise<void> {
    await this.call("leave", () => this.intent(mxid).matrixClient.leaveRoom(roomId));
  }

  async sendEvent(roomId: string, sender: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<string> {
    const client = this.intent(sender).matrixClient;
    const qs = ts ? { ts } : undefined;
    const res = await this.call(`send ${type}`, () =>
      client.doRequest("PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`, qs, content));
    return (res as { event_id: string }).event_id;
  }

  async redact(roomId: string, sender: string, eventId: string, txnId: string, reason?: string): Promise<void> {
    const client = this.intent(sender).matrixClient;
    await this.call("redact", () =>
      client.doRequest("PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(txnId)}`, undefined, reason ? { reason } : {}));
  }

  async setState(roomId: string, sender: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void> {
    await this.call(`state ${type}`, () => this.intent(sender).matrixClient.sendStateEvent(roomId, type, stateKey, content));
  }

  async getState(roomId: string, type: string, stateKey: string): Promise<Record<string, unknown> | null> {
    try {
      return await this.bridge.getIntent().matrixClient.getRoomStateEvent(roomId, type, stateKey);
    } catch (err) {
      if (errcodeOf(err) === "M_NOT_FOUND") return null;
      throw toMatrixError(err, `get state ${type}`);
    }
  }

  async displayName(roomId: string, mxid: string): Promise<string> {
    const key = `${roomId}|${mxid}`;
    const cached = this.names.get(key);
    if (cached && Date.now() - cached.at < 60_000) return cached.name;
    let name: string | undefined;
    const member = await this.getState(roomId, "m.room.member", mxid).catch(() => null);
    if (typeof member?.displayname === "string" && member.displayname) name = member.displayname;
    if (!name) {
      const profile = await this.bridge.getIntent().matrixClient.getUserProfile(mxid).catch(() => null);
      if (typeof profile?.displayname === "string" && profile.displayname) name = profile.displayname;
    }
    const result = name ?? mxid.slice(1, mxid.indexOf(":"));
    this.names.set(key, { name: result, at: Date.now() });
    return result;
  }

  async avatarOf(mxid: string): Promise<string | null> {
    const profile = await this.bridge.getIntent().matrixClient.getUserProfile(mxid).catch(() => null);
    return typeof profile?.avatar_url === "string" ? profile.avatar_url : null;
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    return this.call("joined members", () => this.bridge.getIntent().matrixClient.getJoinedRoomMembers(roomId));
  }

  async powerLevel(roomId: string, mxid: string): Promise<number> {
    const pl = await this.getState(roomId, "m.room.power_levels", "");
    const users = (pl?.users ?? {}) as Record<string, number>;
    return users[mxid] ?? (typeof pl?.users_default === "number" ? pl.users_default : 0);
  }
}
