/**
 * The core's MatrixPort on matrix-appservice-bridge: every call made as an Intent (the bot
 * or a ghost). Sends use our own txnIds (derived from queue items by the core), so a retry
 * after a crash is idempotent on the homeserver.
 */
import type { Bridge, Intent } from "./sdk.js";
import { PUPPET_MARK, type CreateRoomOptions, type MatrixPort } from "../core/matrix-port.js";
import type { Logger } from "../core/log.js";
import type { HealthBoard } from "../core/health.js";
import { MatrixError } from "../core/errors.js";
import { AsHttp } from "./as-http.js";
import { localUsersWithEmails } from "./admin-users.js";
import { answerField, errcodeOf, isUnreachable, toMatrixError, UnreadableAnswer } from "./errors.js";
import { creationPlan, creatorsOf, creatorsPrivileged, defaultRoomVersion } from "./room-creators.js";

const enc = encodeURIComponent;
/** Events that make a room "have messages" for backfill. */
const MESSAGE_TYPES = new Set(["m.room.message", "m.sticker", "m.room.encrypted"]);
const HAS_MESSAGES_PAGES = 5;
/** Pauses while a room behind one of our aliases is still being created (about 3 s in all; see portalBehind). */
const ALIAS_SETTLE_WAITS_MS = [50, 100, 200, 400, 800, 1600];

/**
 * Display names and avatars of Matrix senders are asked for on every message going out; they are
 * kept this long, and forgotten at once when a member event of the user arrives (forgetMember).
 */
const PROFILE_TTL_MS = 3600_000;
const PROFILE_CACHE_MAX = 50_000;

export class AppservicePort implements MatrixPort {
  readonly botMxid: string;
  private readonly names = new Map<string, { name: string; at: number }>();
  private readonly avatars = new Map<string, { url: string | null; at: number }>();
  private readonly direct: AsHttp | null;
  /** The server's default room version (from /capabilities), asked once. */
  private roomVersion: Promise<string | undefined> | null = null;

  constructor(
    private readonly bridge: Bridge,
    readonly domain: string,
    botLocalpart: string,
    /** User-namespace regexes from the registration, compiled. */
    private readonly userNamespaces: RegExp[],
    private readonly log: Logger,
    private readonly health?: HealthBoard,
    /** Homeserver URL and as_token: sends and joins then go out directly (as-http.ts), not through an Intent. */
    direct?: { homeserverUrl: string; asToken: string },
    /** The double-puppet registration's as_token: sends as local real users go out with it (`?user_id=`). */
    puppetToken?: string,
  ) {
    this.botMxid = `@${botLocalpart}:${domain}`;
    this.direct = direct ? new AsHttp(direct.homeserverUrl, direct.asToken) : null;
    this.puppets = direct && puppetToken ? new AsHttp(direct.homeserverUrl, puppetToken) : null;
  }

  private readonly puppets: AsHttp | null;

  canPuppet(mxid: string): boolean {
    return this.puppets !== null && mxid.endsWith(`:${this.domain}`) && !this.isBridgeUser(mxid);
  }

  usersWithEmails(): Promise<Array<{ mxid: string; emails: string[] }>> {
    const client = this.bridge.getIntent().matrixClient;
    return this.call("list users", () => localUsersWithEmails((method, path, qs) => client.doRequest(method, path, qs), (m) => this.isBridgeUser(m)));
  }

  /** A member event of `mxid` arrived (name or avatar may have changed): ask again next time. */
  forgetMember(roomId: string, mxid: string): void {
    this.names.delete(`${roomId}|${mxid}`);
    this.avatars.delete(mxid);
  }

  /** Stop the direct client's keep-alive sockets. */
  close(): void {
    this.direct?.close();
    this.puppets?.close();
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
      // A MatrixError without a cause is our own verdict on an answer (e.g. M_TOO_LARGE): the homeserver was reached.
      const ours = err instanceof MatrixError && err.cause === undefined;
      if (this.health && !ours && isUnreachable(err instanceof MatrixError ? err.cause : err)) this.health.homeserverError = mapped.message;
      throw mapped;
    }
  }

  async ensureGhost(localpart: string, profile: { displayName?: string; avatarMxc?: string }): Promise<string> {
    const intent = this.bridge.getIntentFromLocalpart(localpart);
    await this.call("register ghost", () => intent.ensureRegistered());
    if (!profile.displayName && !profile.avatarMxc) return this.ghostMxid(localpart);
    // A field the homeserver already has is not sent again: each change becomes a member event
    // in every room the ghost is in (a store restored from backup, or ghosts of an earlier bridge).
    const current = await this.currentProfile(intent);
    if (profile.displayName && current.displayname !== profile.displayName) {
      await this.call("set display name", () => intent.setDisplayName(profile.displayName!));
    }
    if (profile.avatarMxc && current.avatar_url !== profile.avatarMxc) {
      await this.call("set avatar", () => intent.setAvatarUrl(profile.avatarMxc!));
    }
    return this.ghostMxid(localpart);
  }

  /** A ghost's global profile as the homeserver has it; empty when it has none yet (404). */
  private async currentProfile(intent: Intent): Promise<{ displayname?: unknown; avatar_url?: unknown }> {
    try {
      const profile: unknown = await intent.matrixClient.getUserProfile(intent.userId);
      return typeof profile === "object" && profile !== null ? profile : {};
    } catch (err) {
      if (errcodeOf(err) === "M_NOT_FOUND") return {};
      throw toMatrixError(err, "get profile");
    }
  }

  async uploadMedia(data: Buffer, mime: string, name: string): Promise<string> {
    const mxc = await this.call("upload media", async () => answerField({ uri: await this.bridge.getIntent().uploadContent(data, { type: mime, name }) }, "uri", "upload media"));
    if (!mxc.startsWith("mxc://")) throw toMatrixError(new UnreadableAnswer("upload media"), "upload media");
    return mxc;
  }

  async downloadMedia(mxc: string, maxBytes = Infinity): Promise<{ data: Buffer; mime: string }> {
    const client = this.bridge.getIntent().matrixClient;
    if (this.direct) {
      // The right endpoint (authenticated media on Matrix 1.11+) from the SDK; the bytes read with a cap.
      const url = await this.call("download media", () => client.mxcToHttp(mxc));
      const direct = this.direct;
      return this.call("download media", () => direct.download(url, maxBytes));
    }
    const res = await this.call("download media", () => client.downloadContent(mxc));
    if (res.data.length > maxBytes) throw new MatrixError("M_TOO_LARGE", `download media: ${res.data.length} bytes, over ${maxBytes}`, { retryable: false });
    return { data: res.data, mime: res.contentType };
  }

  /** The homeserver's default room version; undefined when /capabilities does not say (asked again next time). */
  private defaultVersion(): Promise<string | undefined> {
    this.roomVersion ??= this.bridge.getIntent().matrixClient.doRequest("GET", "/_matrix/client/v3/capabilities")
      .then(defaultRoomVersion, (err: unknown) => {
        this.log.warn("room versions unknown (capabilities); creating rooms with admins at power 100", { error: String(err) });
        this.roomVersion = null;
        return undefined;
      });
    return this.roomVersion;
  }

  async createRoom(opts: CreateRoomOptions): Promise<{ roomId: string; alias?: string }> {
    const bot = this.bridge.getIntent();
    const base = opts.aliasLocalpart?.toLowerCase().replace(/[^a-z0-9._=\-/]/g, "_");
    const plan = creationPlan(await this.defaultVersion(), this.botMxid, opts.admins ?? []);
    for (let attempt = 0; attempt < 20; attempt++) {
      const aliasLocalpart = base ? (attempt === 0 ? base : `${base}_${attempt + 1}`) : undefined;
      const initialState: Array<{ type: string; state_key: string; content: Record<string, unknown> }> = [];
      if (opts.bridgeInfo && opts.stateKey !== undefined) {
        initialState.push(
          { type: "m.bridge", state_key: opts.stateKey, content: opts.bridgeInfo },
          { type: "uk.half-shot.bridge", state_key: opts.stateKey, content: opts.bridgeInfo },
        );
      }
      if (opts.avatarMxc) initialState.push({ type: "m.room.avatar", state_key: "", content: { url: opts.avatarMxc } });
      for (const st of opts.initialState ?? []) initialState.push({ type: st.type, state_key: st.stateKey, content: st.content });
      const creationContent = { ...plan.creationContent, ...(opts.roomType ? { type: opts.roomType } : {}) };
      try {
        const roomId = await bot.matrixClient.createRoom({
          name: opts.name, topic: opts.topic, preset: "private_chat", visibility: "private",
          room_alias_name: aliasLocalpart, invite: opts.invite, is_direct: opts.isDirect ?? false,
          initial_state: initialState,
          ...(Object.keys(creationContent).length ? { creation_content: creationContent } : {}),
          power_level_content_override: { users: plan.users, events_default: opts.roomType === "m.space" ? 100 : 0, state_default: 50 },
        });
        if (typeof roomId !== "string" || !roomId.startsWith("!")) throw new UnreadableAnswer("create room"); // never store a portal without a room
        return { roomId, alias: aliasLocalpart ? `#${aliasLocalpart}:${this.domain}` : undefined };
      } catch (err) {
        // The alias is taken. By this very portal, made by an attempt whose answer was lost (cut
        // short, timed out, a crash before it was stored)? Then that room is the portal; else
        // (an older portal or a person) try the next suffix, never drop the message.
        if (errcodeOf(err) === "M_ROOM_IN_USE" && aliasLocalpart) {
          const mine = opts.stateKey === undefined ? null : await this.portalBehind(`#${aliasLocalpart}:${this.domain}`, opts.stateKey).catch(() => null);
          if (mine) return { roomId: mine, alias: `#${aliasLocalpart}:${this.domain}` };
          continue;
        }
        throw toMatrixError(err, "create room");
      }
    }
    throw toMatrixError({ errcode: "M_ROOM_IN_USE", statusCode: 400, error: `no free alias for ${base}` }, "create room");
  }

  /**
   * The room an alias of ours points at, if it carries our m.bridge state for `stateKey`. A room
   * whose state cannot be read yet, or has no m.bridge of any chat yet, is being created right
   * now (Synapse reserves the alias before it writes the room's first events): it is looked at
   * again for a few seconds, so a portal made at the same moment elsewhere is reused, not
   * doubled as `_2`. A room bridging another chat is not ours at once.
   */
  private async portalBehind(alias: string, stateKey: string): Promise<string | null> {
    const res = await this.bridge.getIntent().matrixClient.doRequest("GET", `/_matrix/client/v3/directory/room/${enc(alias)}`);
    const roomId = (res as { room_id?: unknown } | null)?.room_id;
    if (typeof roomId !== "string" || !roomId.startsWith("!")) return null;
    for (const wait of [...ALIAS_SETTLE_WAITS_MS, null]) {
      const keys = await this.bridgeKeysOf(roomId);
      if (keys?.has(stateKey)) return roomId;
      if ((keys && keys.size > 0) || wait === null) return null;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    return null;
  }

  /** The state keys of a room's m.bridge events, or null while its state cannot be read (the bot is not in it yet). */
  private async bridgeKeysOf(roomId: string): Promise<Set<string> | null> {
    try {
      const state = (await this.bridge.getIntent().matrixClient.getRoomState(roomId)) as Array<{ type?: unknown; state_key?: unknown }>;
      return new Set(state.filter((e) => e.type === "m.bridge" && typeof e.state_key === "string").map((e) => e.state_key as string));
    } catch (err) {
      const code = errcodeOf(err);
      if (code === "M_FORBIDDEN" || code === "M_NOT_FOUND") return null;
      throw err;
    }
  }

  async invite(roomId: string, mxid: string): Promise<void> {
    await this.call("invite", () => this.bridge.getIntent().matrixClient.inviteUser(mxid, roomId)).catch((err) => {
      // Already invited or joined is fine.
      if (err.code === "M_FORBIDDEN" && /already/i.test(err.message)) return;
      throw err;
    });
  }

  async join(roomId: string, mxid: string): Promise<void> {
    const direct = this.direct;
    const joinOnce = async (): Promise<void> => {
      const http = this.canPuppet(mxid) ? this.puppets : direct;
      if (http) await http.request("POST", `/_matrix/client/v3/join/${enc(roomId)}`, { userId: mxid === this.botMxid ? undefined : mxid, body: {} });
      else await this.intent(mxid).matrixClient.joinRoom(roomId);
    };
    try {
      await joinOnce();
    } catch (err) {
      if (mxid === this.botMxid || errcodeOf(err) !== "M_FORBIDDEN") throw toMatrixError(err, "join");
      // A private portal: the bot invites the ghost, then it joins.
      await this.invite(roomId, mxid);
      await this.call("join", joinOnce);
    }
  }

  async leave(roomId: string, mxid: string): Promise<void> {
    const puppets = this.canPuppet(mxid) ? this.puppets : null;
    if (puppets) await this.call("leave", () => puppets.request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { userId: mxid, body: {} }));
    else await this.call("leave", () => this.intent(mxid).matrixClient.leaveRoom(roomId));
  }

  async sendEvent(roomId: string, sender: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<string> {
    if (type === "m.room.message") content = withMentions(content);
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`;
    const qs = ts ? { ts } : undefined;
    if (this.canPuppet(sender)) content = { ...content, [PUPPET_MARK]: "tandem" };
    const direct = this.canPuppet(sender) ? this.puppets : this.direct;
    return this.call(`send ${type}`, async () => answerField(await (direct
      ? direct.request("PUT", path, { userId: sender === this.botMxid ? undefined : sender, query: qs, body: content })
      : this.intent(sender).matrixClient.doRequest("PUT", path, qs, content)), "event_id", `send ${type}`));
  }

  async redact(roomId: string, sender: string, eventId: string, txnId: string, reason?: string): Promise<void> {
    const puppets = this.canPuppet(sender) ? this.puppets : null;
    if (puppets) {
      // Synapse keeps the request body as the redaction's content: the mark makes it an echo.
      await this.call("redact", () => puppets.request("PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(txnId)}`,
        { userId: sender, body: { ...(reason ? { reason } : {}), [PUPPET_MARK]: "tandem" } }));
      return;
    }
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
    if (cached && Date.now() - cached.at < PROFILE_TTL_MS) return cached.name;
    let name: string | undefined;
    const member = await this.getState(roomId, "m.room.member", mxid).catch(() => null);
    if (typeof member?.displayname === "string" && member.displayname) name = member.displayname;
    if (!name) {
      const profile = await this.bridge.getIntent().matrixClient.getUserProfile(mxid).catch(() => null);
      if (typeof profile?.displayname === "string" && profile.displayname) name = profile.displayname;
    }
    const result = name ?? mxid.slice(1, mxid.indexOf(":"));
    remember(this.names, key, { name: result, at: Date.now() });
    return result;
  }

  async avatarOf(mxid: string): Promise<string | null> {
    const cached = this.avatars.get(mxid);
    if (cached && Date.now() - cached.at < PROFILE_TTL_MS) return cached.url;
    const profile = await this.bridge.getIntent().matrixClient.getUserProfile(mxid).catch(() => undefined);
    const url = typeof profile?.avatar_url === "string" ? profile.avatar_url : null;
    if (profile !== undefined) remember(this.avatars, mxid, { url, at: Date.now() }); // a failed look-up is not remembered
    return url;
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    return this.call("joined members", () => this.bridge.getIntent().matrixClient.getJoinedRoomMembers(roomId));
  }

  async hasMessages(roomId: string, ignore?: (ev: { sender: string; body: string }) => boolean): Promise<boolean> {
    const client = this.bridge.getIntent().matrixClient;
    const filter = JSON.stringify({ types: [...MESSAGE_TYPES] });
    let from: string | undefined;
    // Newest first, a few pages: a room whose recent past is only state may still have older messages.
    for (let page = 0; page < HAS_MESSAGES_PAGES; page++) {
      const res = await this.call("room messages", () => client.doRequest("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/messages`,
        { dir: "b", limit: 100, filter, ...(from ? { from } : {}) })) as { chunk?: Array<{ type?: string; sender?: string; content?: { body?: unknown } }>; end?: string };
      for (const ev of res.chunk ?? []) {
        if (!ev.type || !MESSAGE_TYPES.has(ev.type)) continue;
        const body = typeof ev.content?.body === "string" ? ev.content.body : "";
        if (!ignore?.({ sender: ev.sender ?? "", body })) return true;
      }
      if (!res.end || !res.chunk?.length) return false;
      from = res.end;
    }
    return true; // a long history we did not read to the start: assume it has messages
  }

  async privilegedCreators(roomId: string): Promise<string[]> {
    const state = await this.call("room state", () => this.bridge.getIntent().matrixClient.getRoomState(roomId)) as Array<{ type?: unknown; sender?: unknown; content?: Record<string, unknown> }>;
    const create = state.find((e) => e.type === "m.room.create");
    if (!create?.content || !creatorsPrivileged(String(create.content.room_version ?? "1"))) return [];
    return [...(typeof create.sender === "string" ? [create.sender] : []), ...creatorsOf(create.content)];
  }

  async powerLevels(roomId: string): Promise<Record<string, unknown>> {
    const pl = await this.getState(roomId, "m.room.power_levels", "");
    return typeof pl === "object" && pl !== null && !Array.isArray(pl) ? pl : {};
  }

  async powerLevel(roomId: string, mxid: string): Promise<number> {
    const pl = await this.powerLevels(roomId);
    const create = await this.getState(roomId, "m.room.create", "").catch(() => null);
    // Room version 12: creators rank above every power level (they are not in the users map).
    if (create && creatorsPrivileged(String(create.room_version ?? "")) && creatorsOf(create).includes(mxid)) return Infinity;
    const users = (pl?.users ?? {}) as Record<string, number>;
    return users[mxid] ?? (typeof pl?.users_default === "number" ? pl.users_default : 0);
  }
}

/**
 * Every message the bridge sends says whom it mentions (`m.mentions`, Matrix 1.7), `{}` when no
 * one: without it homeservers fall back to the legacy push rules, which notify anyone whose
 * display name or localpart merely appears in the text. An edit's m.new_content carries its own.
 */
export function withMentions(content: Record<string, unknown>): Record<string, unknown> {
  const nc = content["m.new_content"];
  const newContent = typeof nc === "object" && nc !== null && !("m.mentions" in nc) ? { ...nc, "m.mentions": {} } : nc;
  if ("m.mentions" in content && newContent === nc) return content;
  return { ...content, "m.mentions": content["m.mentions"] ?? {}, ...(newContent !== undefined ? { "m.new_content": newContent } : {}) };
}

/** Map.set with a bound: the oldest entries go first. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > PROFILE_CACHE_MAX) for (const k of map.keys()) { map.delete(k); if (map.size <= PROFILE_CACHE_MAX * 0.9) break; }
}
