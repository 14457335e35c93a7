// The fake homeserver's state machine: users, tokens, rooms, membership, events, aliases, media.
// Every operation enforces what a real homeserver enforces (membership, power levels, exclusive
// namespaces) and throws MatrixError with the spec's errcode and HTTP status. HTTP lives in
// homeserver.ts; this file knows nothing about requests.
import { isDeepStrictEqual } from "node:util";
import {
  type ClientEvent,
  type JsonObject,
  type PowerLevels,
  MatrixError,
  Namespaces,
  applyRedaction,
  badJson,
  defaultPowerLevelsContent,
  effectivePowerLevels,
  eventLevel,
  exclusive,
  forbidden,
  invalidParam,
  isObject,
  isUserId,
  localpartProblem,
  newEventId,
  newRoomId,
  notFound,
  randomString,
  userLevel,
} from "./homeserver-model.js";
import type { AppservicePusher } from "./homeserver-push.js";

/** Who is making a request, after authentication (and AS identity assertion). */
export interface Requester {
  userId: string;
  isAppservice: boolean;
  token: string;
  deviceId?: string;
}

export interface UserRecord {
  userId: string;
  localpart: string;
  displayname?: string;
  avatar_url?: string;
  password?: string;
  accountData: Map<string, JsonObject>;
  /** key: `${roomId}\u0000${type}` */
  roomAccountData: Map<string, JsonObject>;
}

export interface RoomRecord {
  roomId: string;
  events: ClientEvent[];
  /** key: `${type}\u0000${stateKey}` */
  state: Map<string, ClientEvent>;
  visibility: "public" | "private";
  /** Users who have been joined at some point (may read history/state afterwards). */
  everJoined: Set<string>;
  typing: Set<string>;
}

export interface MediaRecord {
  data: Buffer;
  contentType: string;
  filename?: string;
  uploader: string;
}

interface EventMeta {
  receivedAt: number;
  txnId?: string;
  sentByAppservice: boolean;
}

export interface AppendOptions {
  ts?: number;
  txnId?: string;
  viaAppservice?: boolean;
}

const sk = (type: string, stateKey: string): string => `${type}\u0000${stateKey}`;
const PRESETS = ["private_chat", "public_chat", "trusted_private_chat"];
/**
 * Synapse refuses an event whose signed JSON passes 65,536 bytes (413 M_TOO_LARGE, "event too
 * large"); the envelope (ids, hashes, signatures, auth and prev events) takes about 1 KB of it.
 */
const MAX_CONTENT_BYTES = 65_536 - 1024;

export class HomeserverCore {
  readonly users = new Map<string, UserRecord>();
  readonly tokens = new Map<string, { userId: string; deviceId: string }>();
  readonly rooms = new Map<string, RoomRecord>();
  readonly aliases = new Map<string, { roomId: string; creator: string }>();
  readonly media = new Map<string, MediaRecord>();
  readonly allEvents: ClientEvent[] = [];
  readonly eventListeners = new Set<(ev: ClientEvent) => void>();
  /**
   * Awaited between reserving a new room (its id and alias) and writing its events, as Synapse
   * creates the alias before the room's first event. Unset: createRoom is all at once.
   */
  beforeRoomBuilt: ((roomId: string, body: JsonObject) => Promise<void>) | undefined;
  ns: Namespaces | undefined;
  /** Further registrations that only act as users (a bridge's double-puppet registration, `url: null`). */
  readonly actingOnly: Namespaces[] = [];
  private readonly byId = new Map<string, ClientEvent>();
  private readonly meta = new Map<string, EventMeta>();

  constructor(
    readonly domain: string,
    private readonly pusher: AppservicePusher,
    readonly maxUploadBytes: number,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Users and tokens

  authenticate(token: string | undefined, userIdParam: string | null): Requester {
    if (!token) throw new MatrixError(401, "M_MISSING_TOKEN", "Missing access token.");
    if (this.ns && token === this.ns.reg.as_token) {
      const userId = userIdParam ?? this.ns.botUserId;
      if (!this.ns.isAsUser(userId)) {
        throw forbidden(`Application service cannot masquerade as this user (${userId}).`);
      }
      // As Synapse: the sender_localpart user may act before it is registered (whoami, joins work);
      // it has no profile until it registers (GET /profile answers 404 "Profile was not found").
      if (userId !== this.ns.botUserId && !this.users.has(userId)) throw forbidden(`Application service has not registered this user (${userId})`);
      return { userId, isAppservice: true, token };
    }
    const other = this.actingOnly.find((ns) => ns.reg.as_token === token);
    if (other) {
      // As Synapse: `user_id` must be in the registration's namespace (exclusive or not) and exist.
      const userId = userIdParam ?? other.botUserId;
      if (!other.isAsUser(userId)) throw forbidden(`Application service cannot masquerade as this user (${userId}).`);
      if (userId !== other.botUserId && !this.users.has(userId)) throw forbidden(`Application service has not registered this user (${userId})`);
      return { userId, isAppservice: true, token };
    }
    const t = this.tokens.get(token);
    if (!t) throw new MatrixError(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.", { soft_logout: false });
    return { userId: t.userId, isAppservice: false, token, deviceId: t.deviceId };
  }

  /** Registers a user; `byAppservice` applies the AS rules, otherwise the normal-user rules. */
  registerUser(localpart: string, byAppservice: boolean, password?: string): UserRecord {
    const problem = localpartProblem(localpart);
    if (problem) throw new MatrixError(400, "M_INVALID_USERNAME", problem);
    const userId = `@${localpart}:${this.domain}`;
    if (userId.length > 255) throw new MatrixError(400, "M_INVALID_USERNAME", "User ID may not be longer than 255 characters");
    if (byAppservice) {
      if (!this.ns?.isAsUser(userId)) throw exclusive("Invalid user localpart for this application service.");
    } else if (this.ns?.isExclusiveUser(userId)) {
      throw exclusive("This user ID is reserved by an application service.");
    }
    if (this.users.has(userId)) throw new MatrixError(400, "M_USER_IN_USE", "User ID already taken.");
    return this.addUser(localpart, password);
  }

  addUser(localpart: string, password?: string): UserRecord {
    const userId = `@${localpart}:${this.domain}`;
    const existing = this.users.get(userId);
    if (existing) return existing;
    const user: UserRecord = { userId, localpart, password, accountData: new Map(), roomAccountData: new Map() };
    this.users.set(userId, user);
    return user;
  }

  issueToken(userId: string): { access_token: string; device_id: string } {
    const access_token = `syt_${randomString(32)}`;
    const device_id = randomString(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    this.tokens.set(access_token, { userId, deviceId: device_id });
    return { access_token, device_id };
  }

  // -------------------------------------------------------------------------------------------
  // Room helpers

  room(roomId: string): RoomRecord {
    const room = this.rooms.get(roomId);
    if (!room) throw notFound(`Unknown room ${roomId}`);
    return room;
  }

  resolveRoom(roomIdOrAlias: string): RoomRecord {
    if (roomIdOrAlias.startsWith("#")) {
      const a = this.aliases.get(roomIdOrAlias);
      if (!a) throw notFound(`Room alias ${roomIdOrAlias} not found.`);
      return this.room(a.roomId);
    }
    if (!roomIdOrAlias.startsWith("!")) throw invalidParam(`${roomIdOrAlias} was not legal room ID or room alias`);
    return this.room(roomIdOrAlias);
  }

  stateEvent(room: RoomRecord, type: string, stateKey = ""): ClientEvent | undefined {
    return room.state.get(sk(type, stateKey));
  }

  membership(room: RoomRecord, userId: string): string | undefined {
    const m = this.stateEvent(room, "m.room.member", userId)?.content["membership"];
    return typeof m === "string" ? m : undefined;
  }

  joined(room: RoomRecord): string[] {
    const out: string[] = [];
    for (const ev of room.state.values()) {
      if (ev.type === "m.room.member" && ev.content["membership"] === "join") out.push(ev.state_key!);
    }
    return out;
  }

  powerLevels(room: RoomRecord): PowerLevels {
    return effectivePowerLevels(this.stateEvent(room, "m.room.power_levels")?.content, this.stateEvent(room, "m.room.create")?.sender);
  }

  aliasesOf(roomId: string): string[] {
    return [...this.aliases.entries()].filter(([, a]) => a.roomId === roomId).map(([alias]) => alias);
  }

  private requireJoined(room: RoomRecord, userId: string): void {
    if (this.membership(room, userId) !== "join") throw forbidden(`User ${userId} not in room ${room.roomId}`);
  }

  /** Joined now, joined before (may see history), or the room is world readable. */
  private requireCanRead(room: RoomRecord, userId: string): void {
    if (this.membership(room, userId) === "join" || room.everJoined.has(userId)) return;
    if (this.stateEvent(room, "m.room.history_visibility")?.content["history_visibility"] === "world_readable") return;
    throw forbidden(`User ${userId} not in room ${room.roomId}, and room previews are disabled`);
  }

  private requireLevel(room: RoomRecord, userId: string, needed: number, what: string): void {
    const have = userLevel(this.powerLevels(room), userId);
    if (have < needed) throw forbidden(`You don't have permission to ${what}. user_level (${have}) < required (${needed})`);
  }

  // -------------------------------------------------------------------------------------------
  // Event creation (the one road every event takes)

  append(
    room: RoomRecord,
    ev: { type: string; sender: string; content: JsonObject; state_key?: string; redacts?: string; unsigned?: JsonObject },
    opts: AppendOptions = {},
  ): ClientEvent {
    const joinedBefore = this.joined(room);
    const event: ClientEvent = {
      type: ev.type,
      content: structuredClone(ev.content),
      event_id: newEventId(),
      room_id: room.roomId,
      sender: ev.sender,
      origin_server_ts: opts.ts ?? Date.now(),
    };
    if (ev.state_key !== undefined) event.state_key = ev.state_key;
    if (ev.redacts !== undefined) event.redacts = ev.redacts;
    const unsigned: JsonObject = { ...(ev.unsigned ?? {}) };
    if (ev.state_key !== undefined) {
      const prev = room.state.get(sk(ev.type, ev.state_key));
      if (prev) {
        unsigned["prev_content"] = structuredClone(prev.content);
        unsigned["replaces_state"] = prev.event_id;
        unsigned["prev_sender"] = prev.sender;
      }
      room.state.set(sk(ev.type, ev.state_key), event);
      if (ev.type === "m.room.member" && ev.content["membership"] === "join") room.everJoined.add(ev.state_key);
    }
    if (Object.keys(unsigned).length > 0) event.unsigned = unsigned;
    room.events.push(event);
    this.allEvents.push(event);
    this.byId.set(event.event_id, event);
    this.meta.set(event.event_id, { receivedAt: Date.now(), txnId: opts.txnId, sentByAppservice: opts.viaAppservice === true });

    if (this.isInterested(room, event, joinedBefore)) this.pusher.enqueue(this.serializeForAppservice(event));
    const copy = structuredClone(event);
    for (const l of this.eventListeners) l(copy);
    return event;
  }

  eventById(eventId: string): ClientEvent | undefined {
    return this.byId.get(eventId);
  }

  /** Client format as served by the API: a copy, with unsigned.age. */
  serialize(event: ClientEvent): ClientEvent {
    const copy = structuredClone(event);
    const meta = this.meta.get(event.event_id);
    copy.unsigned = { ...(copy.unsigned ?? {}), age: Math.max(0, Date.now() - (meta?.receivedAt ?? event.origin_server_ts)) };
    return copy;
  }

  private serializeForAppservice(event: ClientEvent): ClientEvent {
    const copy = this.serialize(event);
    const meta = this.meta.get(event.event_id);
    // Synapse shows the transaction id to the device that sent it; for an AS that is the AS itself.
    if (meta?.sentByAppservice && meta.txnId !== undefined) copy.unsigned = { ...copy.unsigned, transaction_id: meta.txnId };
    return copy;
  }

  isInterested(room: RoomRecord, event: ClientEvent, joinedBefore: string[]): boolean {
    const ns = this.ns;
    if (!ns) return false;
    if (ns.isAsUser(event.sender)) return true;
    if (event.type === "m.room.member" && event.state_key && ns.isAsUser(event.state_key)) return true;
    if (ns.matchesRoom(room.roomId)) return true;
    const canonical = this.stateEvent(room, "m.room.canonical_alias")?.content ?? {};
    const aliases = [...this.aliasesOf(room.roomId)];
    if (typeof canonical["alias"] === "string") aliases.push(canonical["alias"]);
    if (Array.isArray(canonical["alt_aliases"])) aliases.push(...canonical["alt_aliases"].filter((a): a is string => typeof a === "string"));
    if (aliases.some((a) => ns.matchesAlias(a))) return true;
    return [...joinedBefore, ...this.joined(room)].some((u) => ns.isAsUser(u));
  }

  // -------------------------------------------------------------------------------------------
  // createRoom

  async createRoom(req: Requester, body: JsonObject): Promise<string> {
    const room = this.reserveRoom(req, body);
    await this.beforeRoomBuilt?.(room.roomId, body);
    room.build();
    return room.roomId;
  }

  /**
   * Checks a createRoom request and reserves its room id and alias (the alias resolves from now
   * on, to a room nobody can read yet); `build` writes the room's events.
   */
  private reserveRoom(req: Requester, body: JsonObject): { roomId: string; build(): void } {
    const creator = req.userId;
    const visibility = body["visibility"] ?? "private";
    if (visibility !== "public" && visibility !== "private") throw invalidParam("visibility must be 'public' or 'private'");
    const preset = body["preset"] ?? (visibility === "public" ? "public_chat" : "private_chat");
    if (typeof preset !== "string" || !PRESETS.includes(preset)) throw invalidParam(`Unknown preset ${String(preset)}`);
    const invite = body["invite"] ?? [];
    if (!Array.isArray(invite) || !invite.every(isUserId)) throw invalidParam("invite must be a list of user IDs");
    if (invite.includes(creator)) throw forbidden(`${creator} is already in the room.`);
    for (const key of ["creation_content", "power_level_content_override"]) {
      if (body[key] !== undefined && !isObject(body[key])) throw badJson(`${key} must be an object`);
    }
    const initialState = body["initial_state"] ?? [];
    if (!Array.isArray(initialState) || !initialState.every((s) => isObject(s) && typeof s["type"] === "string" && isObject(s["content"]))) {
      throw badJson("initial_state must be a list of {type, state_key, content}");
    }
    const version = body["room_version"] ?? "10";
    if (typeof version !== "string" || !/^([1-9]|1[01])$/.test(version)) {
      throw new MatrixError(400, "M_UNSUPPORTED_ROOM_VERSION", `Your homeserver does not support room version ${String(version)}`);
    }
    let alias: string | undefined;
    if (body["room_alias_name"] !== undefined) {
      const name = body["room_alias_name"];
      if (typeof name !== "string" || name === "" || /[:\s#]/.test(name)) throw invalidParam("Invalid characters in room alias");
      alias = `#${name}:${this.domain}`;
      this.checkAliasCreate(req, alias);
      if (this.aliases.has(alias)) throw new MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken");
    }
    for (const key of ["name", "topic"]) {
      if (body[key] !== undefined && typeof body[key] !== "string") throw badJson(`${key} must be a string`);
    }

    const room: RoomRecord = {
      roomId: newRoomId(this.domain),
      events: [],
      state: new Map(),
      visibility,
      everJoined: new Set(),
      typing: new Set(),
    };
    this.rooms.set(room.roomId, room);
    if (alias) this.aliases.set(alias, { roomId: room.roomId, creator });
    return { roomId: room.roomId, build: () => this.buildRoom(room, req, body, { alias, preset, invite: invite as string[], version, initialState }) };
  }

  private buildRoom(
    room: RoomRecord, req: Requester, body: JsonObject,
    o: { alias: string | undefined; preset: string; invite: string[]; version: string; initialState: unknown[] },
  ): void {
    const { alias, preset, invite, version, initialState } = o;
    const creator = req.userId;
    const opts: AppendOptions = { viaAppservice: req.isAppservice };
    const send = (type: string, content: JsonObject, stateKey = ""): void => {
      this.append(room, { type, sender: creator, content, state_key: stateKey }, opts);
    };
    send("m.room.create", { ...((body["creation_content"] as JsonObject | undefined) ?? {}), creator, room_version: version });
    send("m.room.member", { membership: "join", ...this.profileContent(creator) }, creator);
    const pl = defaultPowerLevelsContent(creator);
    if (preset === "trusted_private_chat") for (const u of invite) (pl["users"] as JsonObject)[u] = 100;
    Object.assign(pl, (body["power_level_content_override"] as JsonObject | undefined) ?? {});
    send("m.room.power_levels", pl);
    if (alias) send("m.room.canonical_alias", { alias });
    const initial = initialState as JsonObject[];
    const inInitial = (type: string): boolean => initial.some((s) => s["type"] === type && (s["state_key"] ?? "") === "");
    const presetState: Array<[string, JsonObject]> = [
      ["m.room.join_rules", { join_rule: preset === "public_chat" ? "public" : "invite" }],
      ["m.room.history_visibility", { history_visibility: "shared" }],
      ["m.room.guest_access", { guest_access: preset === "public_chat" ? "forbidden" : "can_join" }],
    ];
    for (const [type, content] of presetState) if (!inInitial(type)) send(type, content);
    for (const s of initial) send(s["type"] as string, s["content"] as JsonObject, typeof s["state_key"] === "string" ? s["state_key"] : "");
    if (typeof body["name"] === "string") send("m.room.name", { name: body["name"] });
    if (typeof body["topic"] === "string") send("m.room.topic", { topic: body["topic"] });
    for (const target of invite) {
      this.appendMember(room, creator, target, "invite", { ...(body["is_direct"] === true ? { is_direct: true } : {}) }, opts);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Membership

  profileContent(userId: string): JsonObject {
    const u = this.users.get(userId);
    const out: JsonObject = {};
    if (u?.displayname !== undefined) out["displayname"] = u.displayname;
    if (u?.avatar_url !== undefined) out["avatar_url"] = u.avatar_url;
    return out;
  }

  private strippedState(room: RoomRecord, inviter: string): JsonObject[] {
    const types = ["m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar", "m.room.canonical_alias", "m.room.encryption", "m.room.topic"];
    const evs = types.map((t) => this.stateEvent(room, t)).filter((e): e is ClientEvent => e !== undefined);
    const inviterEv = this.stateEvent(room, "m.room.member", inviter);
    if (inviterEv) evs.push(inviterEv);
    return evs.map((e) => ({ type: e.type, state_key: e.state_key, content: structuredClone(e.content), sender: e.sender }));
  }

  private appendMember(
    room: RoomRecord,
    sender: string,
    target: string,
    membership: string,
    extra: JsonObject,
    opts: AppendOptions,
  ): ClientEvent {
    const profile = membership === "join" || membership === "invite" ? this.profileContent(target) : {};
    const content: JsonObject = { ...profile, ...extra, membership };
    const unsigned = membership === "invite" ? { invite_room_state: this.strippedState(room, sender) } : undefined;
    return this.append(room, { type: "m.room.member", sender, content, state_key: target, unsigned }, opts);
  }

  join(req: Requester, roomIdOrAlias: string, extra: JsonObject = {}, opts: AppendOptions = {}): string {
    const room = this.resolveRoom(roomIdOrAlias);
    const user = req.userId;
    const current = this.membership(room, user);
    if (current === "ban") throw forbidden("You are banned from this room");
    if (current === "join") {
      const now = this.stateEvent(room, "m.room.member", user)!.content;
      const wanted = { ...this.profileContent(user), ...extra, membership: "join" };
      if (isDeepStrictEqual(now, wanted)) return room.roomId; // no-op, as Synapse
    } else if (current !== "invite") {
      const rule = this.stateEvent(room, "m.room.join_rules")?.content["join_rule"];
      if (rule !== "public") throw forbidden("You are not invited to this room.");
    }
    this.appendMember(room, user, user, "join", extra, { ...opts, viaAppservice: req.isAppservice });
    return room.roomId;
  }

  invite(req: Requester, roomId: string, target: unknown, extra: JsonObject = {}, opts: AppendOptions = {}): void {
    const room = this.room(roomId);
    if (!isUserId(target)) throw invalidParam("user_id must be a valid user ID");
    this.requireJoined(room, req.userId);
    this.requireLevel(room, req.userId, this.powerLevels(room).invite, "invite users");
    const tm = this.membership(room, target);
    if (tm === "join") throw forbidden(`${target} is already in the room.`);
    if (tm === "ban") throw forbidden(`${target} is banned from the room`);
    this.appendMember(room, req.userId, target, "invite", extra, { ...opts, viaAppservice: req.isAppservice });
  }

  leave(req: Requester, roomId: string, extra: JsonObject = {}, opts: AppendOptions = {}): void {
    const room = this.room(roomId);
    const m = this.membership(room, req.userId);
    if (m !== "join" && m !== "invite" && m !== "knock") throw forbidden(`User ${req.userId} is not in room ${roomId}`);
    this.appendMember(room, req.userId, req.userId, "leave", extra, { ...opts, viaAppservice: req.isAppservice });
  }

  kick(req: Requester, roomId: string, target: unknown, extra: JsonObject = {}, opts: AppendOptions = {}): void {
    const room = this.room(roomId);
    if (!isUserId(target)) throw invalidParam("user_id must be a valid user ID");
    if (target === req.userId) return this.leave(req, roomId, extra, opts);
    this.requireJoined(room, req.userId);
    const tm = this.membership(room, target);
    if (tm !== "join" && tm !== "invite" && tm !== "knock") throw forbidden(`The target user ${target} is not in the room`);
    const pl = this.powerLevels(room);
    const mine = userLevel(pl, req.userId);
    if (mine < pl.kick || mine <= userLevel(pl, target)) throw forbidden(`You cannot kick user ${target}.`);
    this.appendMember(room, req.userId, target, "leave", extra, { ...opts, viaAppservice: req.isAppservice });
  }

  ban(req: Requester, roomId: string, target: unknown, extra: JsonObject = {}, opts: AppendOptions = {}): void {
    const room = this.room(roomId);
    if (!isUserId(target)) throw invalidParam("user_id must be a valid user ID");
    this.requireJoined(room, req.userId);
    const pl = this.powerLevels(room);
    const mine = userLevel(pl, req.userId);
    if (mine < pl.ban || mine <= userLevel(pl, target)) throw forbidden(`You cannot ban user ${target}.`);
    this.appendMember(room, req.userId, target, "ban", extra, { ...opts, viaAppservice: req.isAppservice });
  }

  unban(req: Requester, roomId: string, target: unknown, extra: JsonObject = {}, opts: AppendOptions = {}): void {
    const room = this.room(roomId);
    if (!isUserId(target)) throw invalidParam("user_id must be a valid user ID");
    this.requireJoined(room, req.userId);
    if (this.membership(room, target) !== "ban") throw forbidden(`${target} is not banned`);
    this.requireLevel(room, req.userId, this.powerLevels(room).ban, "unban users");
    this.appendMember(room, req.userId, target, "leave", extra, { ...opts, viaAppservice: req.isAppservice });
  }

  // -------------------------------------------------------------------------------------------
  // Sending, redacting, state

  send(req: Requester, roomId: string, type: string, content: JsonObject, opts: AppendOptions = {}): string {
    if (Buffer.byteLength(JSON.stringify(content)) > MAX_CONTENT_BYTES) throw new MatrixError(413, "M_TOO_LARGE", "event too large");
    const room = this.room(roomId);
    this.requireJoined(room, req.userId);
    this.requireLevel(room, req.userId, eventLevel(this.powerLevels(room), type, false), `post ${type} to the room`);
    return this.append(room, { type, sender: req.userId, content }, { ...opts, viaAppservice: req.isAppservice }).event_id;
  }

  redact(req: Requester, roomId: string, eventId: string, content: JsonObject, opts: AppendOptions = {}): string {
    const room = this.room(roomId);
    this.requireJoined(room, req.userId);
    const target = this.byId.get(eventId);
    if (!target || target.room_id !== roomId) throw notFound("Event not found.");
    const pl = this.powerLevels(room);
    let needed = eventLevel(pl, "m.room.redaction", false);
    if (target.sender !== req.userId) needed = Math.max(needed, pl.redact);
    this.requireLevel(room, req.userId, needed, "redact this event");
    const redaction = this.append(
      room,
      { type: "m.room.redaction", sender: req.userId, content, redacts: eventId },
      { ...opts, viaAppservice: req.isAppservice },
    );
    applyRedaction(target, redaction);
    return redaction.event_id;
  }

  /**
   * A redaction that arrives over federation. Room v3+ event auth accepts a member's redaction
   * of any event into the room; servers only apply it if the sender may redact that event
   * (power level `redact`, or their own event), and push it to appservices either way.
   */
  federatedRedaction(roomId: string, sender: string, eventId: string, content: JsonObject = {}): string {
    const room = this.room(roomId);
    this.requireJoined(room, sender);
    const target = this.byId.get(eventId);
    if (!target || target.room_id !== roomId) throw notFound("Event not found.");
    const pl = this.powerLevels(room);
    this.requireLevel(room, sender, eventLevel(pl, "m.room.redaction", false), "redact");
    const redaction = this.append(room, { type: "m.room.redaction", sender, content, redacts: eventId });
    if (target.sender === sender || userLevel(pl, sender) >= pl.redact) applyRedaction(target, redaction);
    return redaction.event_id;
  }

  putState(req: Requester, roomId: string, type: string, stateKey: string, content: JsonObject, opts: AppendOptions = {}): string {
    const room = this.room(roomId);
    opts = { ...opts, viaAppservice: req.isAppservice };
    if (type === "m.room.member") return this.memberState(req, room, stateKey, content, opts);
    if (type === "m.room.create") throw forbidden("Cannot send m.room.create after the room was created");
    this.requireJoined(room, req.userId);
    if (stateKey.startsWith("@") && stateKey !== req.userId) throw forbidden("You are not allowed to set others state");
    const pl = this.powerLevels(room);
    this.requireLevel(room, req.userId, eventLevel(pl, type, true), `send ${type} state events`);
    if (type === "m.room.power_levels") this.checkPowerLevelChange(pl, req.userId, content);
    if (type === "m.room.canonical_alias") {
      const aliases = [content["alias"], ...(Array.isArray(content["alt_aliases"]) ? content["alt_aliases"] : [])].filter((a) => a !== undefined && a !== null);
      for (const a of aliases) {
        if (typeof a !== "string" || this.aliases.get(a)?.roomId !== roomId) {
          throw new MatrixError(400, "M_BAD_ALIAS", `Room alias ${String(a)} does not point to the room`);
        }
      }
    }
    const prev = this.stateEvent(room, type, stateKey);
    if (prev && prev.sender === req.userId && isDeepStrictEqual(prev.content, content)) return prev.event_id; // dedupe, as Synapse
    return this.append(room, { type, sender: req.userId, content, state_key: stateKey }, opts).event_id;
  }

  private memberState(req: Requester, room: RoomRecord, target: string, content: JsonObject, opts: AppendOptions): string {
    const membership = content["membership"];
    const { membership: _m, ...extra } = content;
    const latest = (): string => this.stateEvent(room, "m.room.member", target)!.event_id;
    switch (membership) {
      case "join":
        if (target !== req.userId) throw forbidden("Cannot force another user to join.");
        if (this.membership(room, target) === "join") {
          const prev = this.stateEvent(room, "m.room.member", target)!;
          if (isDeepStrictEqual(prev.content, content)) return prev.event_id;
          return this.append(room, { type: "m.room.member", sender: target, content, state_key: target }, opts).event_id;
        }
        this.join(req, room.roomId, extra, opts);
        return latest();
      case "invite":
        this.invite(req, room.roomId, target, extra, opts);
        return latest();
      case "leave":
        if (target === req.userId) this.leave(req, room.roomId, extra, opts);
        else if (this.membership(room, target) === "ban") this.unban(req, room.roomId, target, extra, opts);
        else this.kick(req, room.roomId, target, extra, opts);
        return latest();
      case "ban":
        this.ban(req, room.roomId, target, extra, opts);
        return latest();
      default:
        throw invalidParam(`Unsupported membership ${JSON.stringify(membership)}`);
    }
  }

  private checkPowerLevelChange(old: PowerLevels, sender: string, content: JsonObject): void {
    const mine = userLevel(old, sender);
    const next = effectivePowerLevels(content, undefined);
    for (const key of ["users_default", "events_default", "state_default", "ban", "kick", "redact", "invite"] as const) {
      if (old[key] !== next[key] && (old[key] > mine || next[key] > mine)) {
        throw forbidden(`You don't have permission to change ${key} (your level is ${mine})`);
      }
    }
    for (const type of new Set([...Object.keys(old.events), ...Object.keys(next.events)])) {
      const a = old.events[type];
      const b = next.events[type];
      if (a !== b && ((a ?? 0) > mine || (b ?? 0) > mine)) throw forbidden(`You don't have permission to change the level of ${type}`);
    }
    for (const user of new Set([...Object.keys(old.users), ...Object.keys(next.users)])) {
      const a = old.users[user];
      const b = next.users[user];
      if (a === b) continue;
      if (user !== sender && a !== undefined && a >= mine) throw forbidden(`You cannot change the power level of ${user}`);
      if ((a ?? 0) > mine || (b ?? 0) > mine) throw forbidden(`You cannot give ${user} a power level above your own`);
    }
  }

  getState(req: Requester, roomId: string, type: string, stateKey: string): ClientEvent {
    const room = this.room(roomId);
    this.requireCanRead(room, req.userId);
    const ev = this.stateEvent(room, type, stateKey);
    if (!ev) throw notFound("Event not found.");
    return this.serialize(ev);
  }

  fullState(req: Requester, roomId: string): ClientEvent[] {
    const room = this.room(roomId);
    this.requireCanRead(room, req.userId);
    return [...room.state.values()].map((e) => this.serialize(e));
  }

  getEvent(req: Requester, roomId: string, eventId: string): ClientEvent {
    const room = this.room(roomId);
    const ev = this.byId.get(eventId);
    if (!ev || ev.room_id !== roomId) throw notFound("Event not found.");
    try {
      this.requireCanRead(room, req.userId);
    } catch {
      throw notFound("Event not found.");
    }
    return this.serialize(ev);
  }

  members(req: Requester, roomId: string, membership?: string | null, notMembership?: string | null): ClientEvent[] {
    const room = this.room(roomId);
    this.requireCanRead(room, req.userId);
    return [...room.state.values()]
      .filter((e) => e.type === "m.room.member")
      .filter((e) => !membership || e.content["membership"] === membership)
      .filter((e) => !notMembership || e.content["membership"] !== notMembership)
      .map((e) => this.serialize(e));
  }

  joinedMembers(req: Requester, roomId: string): Record<string, JsonObject> {
    const room = this.room(roomId);
    const asInterested = req.isAppservice && this.isInterested(room, this.stateEvent(room, "m.room.create")!, []);
    if (!asInterested) this.requireJoined(room, req.userId);
    const out: Record<string, JsonObject> = {};
    for (const u of this.joined(room)) {
      const c = this.stateEvent(room, "m.room.member", u)!.content;
      const entry: JsonObject = {};
      if (typeof c["displayname"] === "string") entry["display_name"] = c["displayname"];
      if (typeof c["avatar_url"] === "string") entry["avatar_url"] = c["avatar_url"];
      out[u] = entry;
    }
    return out;
  }

  joinedRooms(userId: string): string[] {
    return [...this.rooms.values()].filter((r) => this.membership(r, userId) === "join").map((r) => r.roomId);
  }

  messages(req: Requester, roomId: string, dir: string, from: string | null, limit: number): JsonObject {
    const room = this.room(roomId);
    this.requireCanRead(room, req.userId);
    if (dir !== "b" && dir !== "f") throw invalidParam("dir must be 'b' or 'f'");
    const n = room.events.length;
    const parsed = from && /^s\d+$/.test(from) ? Number(from.slice(1)) : dir === "b" ? n : 0;
    const start = Math.min(Math.max(parsed, 0), n);
    if (dir === "b") {
      const lo = Math.max(0, start - limit);
      const chunk = room.events.slice(lo, start).reverse().map((e) => this.serialize(e));
      return { chunk, start: `s${start}`, ...(lo > 0 ? { end: `s${lo}` } : {}) };
    }
    const hi = Math.min(n, start + limit);
    const chunk = room.events.slice(start, hi).map((e) => this.serialize(e));
    return { chunk, start: `s${start}`, ...(hi < n ? { end: `s${hi}` } : {}) };
  }

  relations(req: Requester, roomId: string, eventId: string, relType?: string, eventType?: string): ClientEvent[] {
    const room = this.room(roomId);
    this.requireCanRead(room, req.userId);
    return room.events
      .filter((e) => {
        const rel = e.content["m.relates_to"];
        if (!isObject(rel) || rel["event_id"] !== eventId) return false;
        return (!relType || rel["rel_type"] === relType) && (!eventType || e.type === eventType);
      })
      .reverse()
      .map((e) => this.serialize(e));
  }

  // -------------------------------------------------------------------------------------------
  // Profiles

  getProfile(userId: string): JsonObject {
    if (!this.users.has(userId)) throw notFound("Profile was not found");
    return this.profileContent(userId);
  }

  setProfileField(req: Requester, userId: string, field: "displayname" | "avatar_url", value: unknown): void {
    if (req.userId !== userId) throw forbidden(`Cannot set another user's ${field}`);
    if (value !== null && typeof value !== "string") throw invalidParam(`${field} must be a string`);
    if (typeof value === "string" && value.length > (field === "displayname" ? 256 : 1000)) throw invalidParam(`${field} is too long`);
    const user = this.users.get(userId);
    // Stricter than Synapse 1.67, which upserts a profile row even for the unregistered sender user
    // (its GET /profile still answers 404 until a display name is set): here only registered users have one.
    if (!user) throw notFound("Profile was not found");
    if (value === null || value === "") delete user[field];
    else user[field] = value;
    // Synapse updates the user's member event in every joined room.
    for (const room of this.rooms.values()) {
      if (this.membership(room, userId) !== "join") continue;
      const prev = this.stateEvent(room, "m.room.member", userId)!.content;
      const content: JsonObject = { ...prev };
      if (user[field] === undefined) delete content[field];
      else content[field] = user[field];
      if (isDeepStrictEqual(prev, content)) continue;
      this.append(room, { type: "m.room.member", sender: userId, content, state_key: userId }, { viaAppservice: req.isAppservice });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Aliases

  checkAliasCreate(req: Requester, alias: string): void {
    const m = /^#([^:\s]+):(.+)$/.exec(alias);
    if (!m) throw invalidParam(`Invalid room alias ${alias}`);
    if (m[2] !== this.domain) throw invalidParam("Room alias must be local");
    if (req.isAppservice) {
      if (!this.ns?.matchesAlias(alias)) throw exclusive("This application service has not reserved this kind of alias.");
    } else if (this.ns?.matchesAlias(alias, true)) {
      throw exclusive("This alias is reserved by an application service.");
    }
  }

  putAlias(req: Requester, alias: string, roomId: unknown): void {
    if (typeof roomId !== "string") throw badJson("room_id must be a string");
    this.checkAliasCreate(req, alias);
    const room = this.room(roomId);
    if (this.aliases.has(alias)) throw new MatrixError(409, "M_UNKNOWN", `Room alias ${alias} already exists`);
    if (!req.isAppservice && this.membership(room, req.userId) !== "join") throw forbidden("You must be in the room to create an alias for it");
    this.aliases.set(alias, { roomId, creator: req.userId });
  }

  deleteAlias(req: Requester, alias: string): void {
    const rec = this.aliases.get(alias);
    if (!rec) throw notFound(`Room alias ${alias} not found.`);
    const room = this.rooms.get(rec.roomId);
    if (!req.isAppservice && this.ns?.matchesAlias(alias, true)) throw exclusive("This alias is reserved by an application service.");
    let allowed = rec.creator === req.userId || (req.isAppservice && this.ns?.matchesAlias(alias) === true);
    if (!allowed && room && this.membership(room, req.userId) === "join") {
      const pl = this.powerLevels(room);
      allowed = userLevel(pl, req.userId) >= eventLevel(pl, "m.room.canonical_alias", true);
    }
    if (!allowed) throw forbidden("You don't have permission to delete the alias.");
    this.aliases.delete(alias);
    if (room && this.stateEvent(room, "m.room.canonical_alias")?.content["alias"] === alias) {
      try {
        const { alias: _a, ...rest } = this.stateEvent(room, "m.room.canonical_alias")!.content;
        this.putState(req, room.roomId, "m.room.canonical_alias", "", rest);
      } catch {
        // Synapse ignores failures to update the canonical alias here.
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Media

  upload(uploader: string, data: Buffer, contentType: string, filename?: string): string {
    if (data.length > this.maxUploadBytes) throw new MatrixError(413, "M_TOO_LARGE", "Upload request body is too large");
    const id = randomString(24);
    this.media.set(id, { data, contentType, filename, uploader });
    return `mxc://${this.domain}/${id}`;
  }

  // -------------------------------------------------------------------------------------------
  // Ephemeral (typing, receipts): pushed only when the registration asks for them.

  typing(req: Requester, roomId: string, userId: string, typing: boolean): void {
    if (req.userId !== userId) throw forbidden("Cannot set another user's typing state");
    const room = this.room(roomId);
    this.requireJoined(room, userId);
    if (typing) room.typing.add(userId);
    else room.typing.delete(userId);
    this.pushEphemeral(room, { type: "m.typing", room_id: roomId, content: { user_ids: [...room.typing] } });
  }

  receipt(req: Requester, roomId: string, receiptType: string, eventId: string, threadId?: string): void {
    const room = this.room(roomId);
    this.requireJoined(room, req.userId);
    if (!this.byId.has(eventId)) throw notFound("Event not found.");
    const entry: JsonObject = { ts: Date.now(), ...(threadId ? { thread_id: threadId } : {}) };
    if (receiptType === "m.fully_read") return;
    if (receiptType === "m.read.private" && !this.ns?.isAsUser(req.userId)) return;
    this.pushEphemeral(room, { type: "m.receipt", room_id: roomId, content: { [eventId]: { [receiptType]: { [req.userId]: entry } } } });
  }

  private pushEphemeral(room: RoomRecord, edu: JsonObject): void {
    if (!this.ns?.pushEphemeral) return;
    const create = this.stateEvent(room, "m.room.create");
    if (create && this.isInterested(room, create, [])) this.pusher.enqueueEphemeral(edu);
  }
}
