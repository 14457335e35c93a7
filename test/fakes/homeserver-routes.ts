// HTTP routing for the fake homeserver: the client-server and media endpoints, mapped onto
// HomeserverCore. Paths accept the r0, v1, v3 and unstable prefixes; unknown endpoints answer
// 404 M_UNRECOGNIZED and known endpoints with a wrong method 405 M_UNRECOGNIZED, as the spec says.
import type http from "node:http";
import type { HomeserverCore, Requester } from "./homeserver-core.js";
import {
  type JsonObject,
  MatrixError,
  badJson,
  forbidden,
  invalidParam,
  isObject,
  notFound,
  randomString,
} from "./homeserver-model.js";
import { httpRequest } from "./homeserver-push.js";

export interface RequestLogEntry {
  method: string;
  path: string;
  userId?: string;
  status: number;
  errcode?: string;
}

export interface Ctx {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  rawBody: Buffer;
  token: string | undefined;
  req: Requester;
  json(): JsonObject;
}

export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly raw?: { data: Buffer; headers: Record<string, string> },
  ) {}
}

type Handler = (ctx: Ctx) => unknown;
interface Route {
  method: string;
  area: "client" | "media";
  segs: string[];
  auth: boolean;
  handler: Handler;
}

const CLIENT_PREFIX = /^\/_matrix\/client\/(?:r0|v1|v3|unstable)\//;
const MEDIA_PREFIX = /^\/_matrix\/media\/(?:r0|v1|v3)\//;
const INLINE_TYPES = new Set([
  "text/css", "text/plain", "text/csv", "application/json", "application/ld+json", "image/jpeg", "image/gif",
  "image/png", "image/apng", "image/webp", "image/avif", "video/mp4", "video/webm", "video/ogg", "video/quicktime",
  "audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav", "audio/x-wav",
  "audio/x-pn-wav", "audio/flac", "audio/x-flac",
]);
const enc = encodeURIComponent;

/** Routes a request to its handler; holds the transaction-id cache. */
export class Router {
  private readonly routes: Route[] = [];
  private readonly txnCache = new Map<string, unknown>();

  constructor(
    private readonly core: HomeserverCore,
    private readonly domain: string,
    /** Whether the appservice ping (Matrix 1.7) is served. */
    private readonly hasPing: () => boolean = () => true,
  ) {
    this.defineRoutes();
  }

  private on(method: string, area: Route["area"], pattern: string, handler: Handler, auth = true): void {
    this.routes.push({ method, area, segs: pattern.split("/"), auth, handler });
  }

  async dispatch(method: string, url: URL, headers: http.IncomingHttpHeaders, rawBody: Buffer, entry: RequestLogEntry): Promise<unknown> {
    const path = url.pathname;
    if (path === "/_matrix/client/versions") {
      const all = ["r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"];
      return { versions: this.hasPing() ? all : all.slice(0, 3), unstable_features: {} };
    }
    let area: Route["area"];
    let rest: string;
    if (CLIENT_PREFIX.test(path)) [area, rest] = ["client", path.replace(CLIENT_PREFIX, "")];
    else if (MEDIA_PREFIX.test(path)) [area, rest] = ["media", path.replace(MEDIA_PREFIX, "")];
    else throw new MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request");
    let segs: string[];
    try {
      segs = rest.split("/").map((s) => decodeURIComponent(s));
    } catch {
      throw invalidParam("Malformed URL encoding");
    }
    let methodMismatch = false;
    for (const route of this.routes) {
      if (route.area !== area) continue;
      const params = matchSegs(route.segs, segs);
      if (!params) continue;
      if (route.method !== method) {
        methodMismatch = true;
        continue;
      }
      const auth = headers.authorization;
      const token = auth?.startsWith("Bearer ") ? auth.slice(7) : (url.searchParams.get("access_token") ?? undefined);
      let parsed: JsonObject | undefined;
      const ctx: Ctx = {
        method,
        path,
        params,
        query: url.searchParams,
        headers,
        rawBody,
        token,
        req: undefined as unknown as Requester,
        json: () => (parsed ??= parseJson(rawBody)),
      };
      if (route.auth) {
        ctx.req = this.core.authenticate(token, url.searchParams.get("user_id"));
        entry.userId = ctx.req.userId;
      }
      return await route.handler(ctx);
    }
    if (methodMismatch) throw new MatrixError(405, "M_UNRECOGNIZED", "Unrecognized request");
    throw new MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request");
  }

  /** `ts` (AS timestamp massaging) on send/state; ignored for normal users, as Synapse. */
  private appendOpts(ctx: Ctx, txnId?: string): { ts?: number; txnId?: string } {
    const ts = ctx.query.get("ts");
    if (ts === null || !ctx.req.isAppservice) return { txnId };
    if (!/^\d+$/.test(ts)) throw invalidParam("ts must be a non-negative integer");
    return { ts: Number(ts), txnId };
  }

  /** Same (access token, user, path) => same response, as the spec's transaction-id semantics. */
  private idempotent(ctx: Ctx, fn: () => unknown): unknown {
    const key = `${ctx.token}\u0000${ctx.req.userId}\u0000${ctx.path}`;
    if (this.txnCache.has(key)) return this.txnCache.get(key);
    const result = fn();
    this.txnCache.set(key, result);
    return result;
  }

  private loginResponse(userId: string, inhibit: unknown): JsonObject {
    if (inhibit === true) return { user_id: userId, home_server: this.domain };
    return { user_id: userId, home_server: this.domain, ...this.core.issueToken(userId) };
  }

  private serveMedia(ctx: Ctx): Reply {
    const { server, mediaId } = ctx.params;
    const rec = server === this.domain ? this.core.media.get(mediaId!) : undefined;
    if (!rec) throw notFound("Not found");
    const name = ctx.params["filename"] || rec.filename;
    const base = rec.contentType.split(";")[0]!.trim().toLowerCase();
    const headers: Record<string, string> = {
      "Content-Type": rec.contentType,
      "Content-Security-Policy": "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
      "Cross-Origin-Resource-Policy": "cross-origin",
      "Content-Disposition": `${INLINE_TYPES.has(base) ? "inline" : "attachment"}${name ? `; filename*=utf-8''${enc(name)}` : ""}`,
    };
    return new Reply(200, undefined, { data: rec.data, headers });
  }

  private defineRoutes(): void {
    const core = this.core;
    const c = (method: string, pattern: string, handler: Handler, auth = true): void => this.on(method, "client", pattern, handler, auth);
    const asToken = (): string | undefined => core.ns?.reg.as_token;

    // --- Server info, registration, login
    c("GET", "capabilities", () => ({
      capabilities: {
        "m.room_versions": { default: "10", available: Object.fromEntries(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"].map((v) => [v, "stable"])) },
        "m.change_password": { enabled: false },
        "m.set_displayname": { enabled: true },
        "m.set_avatar_url": { enabled: true },
      },
    }));
    c("GET", "register/available", (ctx) => {
      const username = ctx.query.get("username") ?? "";
      const problem = core.users.has(`@${username}:${this.domain}`);
      if (problem) throw new MatrixError(400, "M_USER_IN_USE", "User ID already taken.");
      if (core.ns?.isExclusiveUser(`@${username}:${this.domain}`)) throw new MatrixError(400, "M_EXCLUSIVE", "This user ID is reserved by an application service.");
      if (!/^[a-z0-9._=\-/+]+$/.test(username)) throw new MatrixError(400, "M_INVALID_USERNAME", "User ID can only contain characters a-z, 0-9, or '=_-./+'");
      return { available: true };
    }, false);
    c("POST", "register", (ctx) => {
      const body = ctx.json();
      if ((ctx.query.get("kind") ?? "user") === "guest") throw new MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled");
      const isAs = ctx.token !== undefined && ctx.token === asToken();
      if (body["type"] === "m.login.application_service") {
        if (!ctx.token) throw new MatrixError(401, "M_MISSING_TOKEN", "Missing access token.");
        if (!isAs) throw new MatrixError(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.", { soft_logout: false });
        if (typeof body["username"] !== "string") throw new MatrixError(400, "M_INVALID_USERNAME", "username must be a string");
        const user = core.registerUser(body["username"], true);
        return this.loginResponse(user.userId, body["inhibit_login"]);
      }
      if (isAs) throw new MatrixError(400, "M_APPSERVICE_LOGIN_UNSUPPORTED", "An appservice token can only be used with type m.login.application_service");
      const auth = body["auth"];
      if (!isObject(auth) || auth["type"] !== "m.login.dummy") {
        return new Reply(401, { flows: [{ stages: ["m.login.dummy"] }], params: {}, session: randomString(24) });
      }
      const username = body["username"] ?? randomString(12, "0123456789");
      if (typeof username !== "string") throw new MatrixError(400, "M_INVALID_USERNAME", "username must be a string");
      const password = typeof body["password"] === "string" ? body["password"] : undefined;
      const user = core.registerUser(username, false, password);
      return this.loginResponse(user.userId, body["inhibit_login"]);
    }, false);
    c("GET", "login", () => ({ flows: [{ type: "m.login.password" }, { type: "m.login.application_service" }] }), false);
    c("POST", "login", (ctx) => {
      const body = ctx.json();
      const ident = isObject(body["identifier"]) ? body["identifier"]["user"] : body["user"];
      if (typeof ident !== "string") throw badJson("identifier.user is required");
      const userId = ident.startsWith("@") ? ident : `@${ident}:${this.domain}`;
      if (body["type"] === "m.login.application_service") {
        if (!ctx.token) throw new MatrixError(401, "M_MISSING_TOKEN", "Missing access token.");
        if (ctx.token !== asToken()) throw new MatrixError(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.", { soft_logout: false });
        if (!core.ns!.isAsUser(userId)) throw new MatrixError(403, "M_EXCLUSIVE", "Invalid access_token");
        if (!core.users.has(userId)) throw forbidden("Invalid username or password");
        return this.loginResponse(userId, false);
      }
      if (body["type"] === "m.login.password") {
        const user = core.users.get(userId);
        if (!user || user.password === undefined || user.password !== body["password"]) throw forbidden("Invalid username or password");
        return this.loginResponse(userId, false);
      }
      throw new MatrixError(400, "M_UNKNOWN", "Unknown login type");
    }, false);
    c("POST", "logout", (ctx) => {
      core.tokens.delete(ctx.token!);
      return {};
    });
    c("GET", "account/whoami", (ctx) => ({
      user_id: ctx.req.userId,
      is_guest: false,
      ...(ctx.req.deviceId ? { device_id: ctx.req.deviceId } : {}),
    }));
    c("GET", "devices", (ctx) => ({ devices: ctx.req.deviceId ? [{ device_id: ctx.req.deviceId }] : [] }));
    c("POST", "appservice/:appserviceId/ping", async (ctx) => {
      if (!this.hasPing()) throw new MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request");
      const reg = core.ns?.reg;
      if (!ctx.req.isAppservice || !reg || reg.id !== ctx.params["appserviceId"]) throw forbidden("Provided access token is not for this appservice");
      if (!reg.url) throw new MatrixError(502, "M_URL_NOT_SET", "Application service URL is not set");
      const body = ctx.json();
      const started = Date.now();
      let res;
      try {
        const payload = JSON.stringify(typeof body["transaction_id"] === "string" ? { transaction_id: body["transaction_id"] } : {});
        res = await httpRequest("POST", `${reg.url.replace(/\/+$/, "")}/_matrix/app/v1/ping`, payload, { Authorization: `Bearer ${reg.hs_token}` }, 10_000);
      } catch (err) {
        const timeout = (err as NodeJS.ErrnoException).code === "ETIMEDOUT";
        throw new MatrixError(timeout ? 504 : 502, timeout ? "M_CONNECTION_TIMEOUT" : "M_CONNECTION_FAILED", `Ping failed: ${String(err)}`);
      }
      if (res.status < 200 || res.status >= 300) {
        throw new MatrixError(502, "M_BAD_STATUS", "Ping returned error status", { status: res.status, body: res.body });
      }
      return { duration_ms: Date.now() - started };
    });

    // --- Profile, account data, presence
    c("GET", "profile/:userId", (ctx) => core.getProfile(ctx.params["userId"]!), false);
    for (const field of ["displayname", "avatar_url"] as const) {
      c("GET", `profile/:userId/${field}`, (ctx) => {
        const p = core.getProfile(ctx.params["userId"]!);
        return p[field] !== undefined ? { [field]: p[field] } : {};
      }, false);
      c("PUT", `profile/:userId/${field}`, (ctx) => {
        const body = ctx.json();
        if (!(field in body)) throw new MatrixError(400, "M_MISSING_PARAM", `Missing key '${field}'`);
        core.setProfileField(ctx.req, ctx.params["userId"]!, field, body[field]);
        return {};
      });
    }
    const accountData = (ctx: Ctx, roomId?: string): { map: Map<string, JsonObject>; key: string } => {
      if (ctx.params["userId"] !== ctx.req.userId) throw forbidden("Cannot add account data for other users.");
      const user = core.users.get(ctx.req.userId)!;
      return roomId
        ? { map: user.roomAccountData, key: `${core.room(roomId).roomId}\u0000${ctx.params["type"]}` }
        : { map: user.accountData, key: ctx.params["type"]! };
    };
    for (const pattern of ["user/:userId/account_data/:type", "user/:userId/rooms/:roomId/account_data/:type"]) {
      c("PUT", pattern, (ctx) => {
        const { map, key } = accountData(ctx, ctx.params["roomId"]);
        map.set(key, ctx.json());
        return {};
      });
      c("GET", pattern, (ctx) => {
        const { map, key } = accountData(ctx, ctx.params["roomId"]);
        const v = map.get(key);
        if (!v) throw notFound("Account data not found");
        return v;
      });
    }
    c("POST", "user/:userId/filter", () => ({ filter_id: "1" }));
    c("PUT", "presence/:userId/status", () => ({}));
    c("GET", "presence/:userId/status", () => ({ presence: "online" }));

    // --- Rooms
    c("POST", "createRoom", async (ctx) => ({ room_id: await core.createRoom(ctx.req, ctx.json()) }));
    const join = (ctx: Ctx): unknown => {
      const body = ctx.json();
      const extra = typeof body["reason"] === "string" ? { reason: body["reason"] } : {};
      return { room_id: core.join(ctx.req, ctx.params["roomIdOrAlias"]!, extra) };
    };
    c("POST", "join/:roomIdOrAlias", join);
    c("POST", "rooms/:roomIdOrAlias/join", join);
    const reasonOf = (body: JsonObject): JsonObject => (typeof body["reason"] === "string" ? { reason: body["reason"] } : {});
    c("POST", "rooms/:roomId/invite", (ctx) => {
      const body = ctx.json();
      core.invite(ctx.req, ctx.params["roomId"]!, body["user_id"], reasonOf(body));
      return {};
    });
    c("POST", "rooms/:roomId/leave", (ctx) => (core.leave(ctx.req, ctx.params["roomId"]!, reasonOf(ctx.json())), {}));
    c("POST", "rooms/:roomId/forget", () => ({}));
    for (const op of ["kick", "ban", "unban"] as const) {
      c("POST", `rooms/:roomId/${op}`, (ctx) => {
        const body = ctx.json();
        core[op](ctx.req, ctx.params["roomId"]!, body["user_id"], reasonOf(body));
        return {};
      });
    }
    c("PUT", "rooms/:roomId/send/:type/:txnId", (ctx) =>
      this.idempotent(ctx, () => ({
        event_id: core.send(ctx.req, ctx.params["roomId"]!, ctx.params["type"]!, ctx.json(), this.appendOpts(ctx, ctx.params["txnId"])),
      })),
    );
    c("PUT", "rooms/:roomId/redact/:eventId/:txnId", (ctx) =>
      this.idempotent(ctx, () => {
        const body = ctx.json();
        return { event_id: core.redact(ctx.req, ctx.params["roomId"]!, ctx.params["eventId"]!, body, { txnId: ctx.params["txnId"] }) };
      }),
    );
    c("PUT", "rooms/:roomId/state/:type/:stateKey?", (ctx) => ({
      event_id: core.putState(ctx.req, ctx.params["roomId"]!, ctx.params["type"]!, ctx.params["stateKey"] ?? "", ctx.json(), this.appendOpts(ctx)),
    }));
    c("GET", "rooms/:roomId/state/:type/:stateKey?", (ctx) => {
      const ev = core.getState(ctx.req, ctx.params["roomId"]!, ctx.params["type"]!, ctx.params["stateKey"] ?? "");
      return ctx.query.get("format") === "event" ? ev : ev.content;
    });
    c("GET", "rooms/:roomId/state", (ctx) => core.fullState(ctx.req, ctx.params["roomId"]!));
    c("GET", "rooms/:roomId/event/:eventId", (ctx) => core.getEvent(ctx.req, ctx.params["roomId"]!, ctx.params["eventId"]!));
    c("GET", "rooms/:roomId/joined_members", (ctx) => ({ joined: core.joinedMembers(ctx.req, ctx.params["roomId"]!) }));
    c("GET", "rooms/:roomId/members", (ctx) => ({
      chunk: core.members(ctx.req, ctx.params["roomId"]!, ctx.query.get("membership"), ctx.query.get("not_membership")),
    }));
    c("GET", "rooms/:roomId/messages", (ctx) =>
      core.messages(ctx.req, ctx.params["roomId"]!, ctx.query.get("dir") ?? "b", ctx.query.get("from"), Math.min(Number(ctx.query.get("limit") ?? 10) || 10, 1000)),
    );
    c("GET", "rooms/:roomId/relations/:eventId/:relType?/:eventType?", (ctx) => ({
      chunk: core.relations(ctx.req, ctx.params["roomId"]!, ctx.params["eventId"]!, ctx.params["relType"], ctx.params["eventType"]),
    }));
    c("GET", "rooms/:roomId/aliases", (ctx) => {
      const room = core.room(ctx.params["roomId"]!);
      if (core.membership(room, ctx.req.userId) !== "join") throw forbidden("You are not in the room");
      return { aliases: core.aliasesOf(room.roomId) };
    });
    c("GET", "joined_rooms", (ctx) => ({ joined_rooms: core.joinedRooms(ctx.req.userId) }));
    c("PUT", "rooms/:roomId/typing/:userId", (ctx) => {
      core.typing(ctx.req, ctx.params["roomId"]!, ctx.params["userId"]!, ctx.json()["typing"] === true);
      return {};
    });
    c("POST", "rooms/:roomId/receipt/:receiptType/:eventId", (ctx) => {
      const thread = ctx.json()["thread_id"];
      core.receipt(ctx.req, ctx.params["roomId"]!, ctx.params["receiptType"]!, ctx.params["eventId"]!, typeof thread === "string" ? thread : undefined);
      return {};
    });
    c("POST", "rooms/:roomId/read_markers", () => ({}));

    // --- Directory
    c("GET", "directory/room/:alias", (ctx) => {
      const roomId = core.aliases.get(ctx.params["alias"]!)?.roomId;
      if (!roomId) throw notFound(`Room alias ${ctx.params["alias"]} not found.`);
      return { room_id: roomId, servers: [this.domain] };
    }, false);
    c("PUT", "directory/room/:alias", (ctx) => (core.putAlias(ctx.req, ctx.params["alias"]!, ctx.json()["room_id"]), {}));
    c("DELETE", "directory/room/:alias", (ctx) => (core.deleteAlias(ctx.req, ctx.params["alias"]!), {}));
    c("GET", "directory/list/room/:roomId", (ctx) => ({ visibility: core.room(ctx.params["roomId"]!).visibility }), false);
    c("PUT", "directory/list/room/:roomId", (ctx) => {
      const room = core.room(ctx.params["roomId"]!);
      const v = ctx.json()["visibility"];
      if (v !== "public" && v !== "private") throw invalidParam("visibility must be 'public' or 'private'");
      if (core.membership(room, ctx.req.userId) !== "join") throw forbidden("You are not in the room");
      room.visibility = v;
      return {};
    });
    c("PUT", "directory/list/appservice/:networkId/:roomId", (ctx) => {
      if (!ctx.req.isAppservice) throw forbidden("Only appservices can use this endpoint");
      core.room(ctx.params["roomId"]!);
      return {};
    });
    const publicRooms = (): unknown => {
      const chunk = [...core.rooms.values()].filter((r) => r.visibility === "public").map((r) => {
        const s = (t: string, k: string): unknown => core.stateEvent(r, t)?.content[k];
        return {
          room_id: r.roomId,
          num_joined_members: core.joined(r).length,
          world_readable: s("m.room.history_visibility", "history_visibility") === "world_readable",
          guest_can_join: s("m.room.guest_access", "guest_access") === "can_join",
          ...(typeof s("m.room.name", "name") === "string" ? { name: s("m.room.name", "name") } : {}),
          ...(typeof s("m.room.topic", "topic") === "string" ? { topic: s("m.room.topic", "topic") } : {}),
          ...(typeof s("m.room.canonical_alias", "alias") === "string" ? { canonical_alias: s("m.room.canonical_alias", "alias") } : {}),
          join_rule: s("m.room.join_rules", "join_rule") ?? "invite",
        };
      });
      return { chunk, total_room_count_estimate: chunk.length };
    };
    c("GET", "publicRooms", publicRooms, false);
    c("POST", "publicRooms", publicRooms);

    // --- Media: legacy /_matrix/media/v3 (download unauthenticated) and authenticated /_matrix/client/v1/media
    const upload = (ctx: Ctx): unknown => {
      const contentType = ctx.headers["content-type"] ?? "application/octet-stream";
      const filename = ctx.query.get("filename") || undefined;
      return { content_uri: core.upload(ctx.req.userId, ctx.rawBody, contentType, filename) };
    };
    const config = (): unknown => ({ "m.upload.size": core.maxUploadBytes });
    this.on("POST", "media", "upload", upload);
    this.on("GET", "media", "config", config);
    for (const kind of ["download", "thumbnail"]) {
      this.on("GET", "media", `${kind}/:server/:mediaId/:filename?`, (ctx) => this.serveMedia(ctx), false);
      c("GET", `media/${kind}/:server/:mediaId/:filename?`, (ctx) => this.serveMedia(ctx));
    }
    c("GET", "media/config", config);
  }
}

/** Matches path segments against a pattern (`:name`, trailing `:name?` optional). */
function matchSegs(pattern: string[], segs: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  const required = pattern.filter((p) => !p.endsWith("?")).length;
  if (segs.length < required || segs.length > pattern.length) return undefined;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segs[i];
    if (s === undefined) {
      if (!p.endsWith("?")) return undefined;
      continue;
    }
    if (p.startsWith(":")) params[p.replace(/^:|\?$/g, "")] = s;
    else if (p !== s) return undefined;
  }
  return params;
}

function parseJson(raw: Buffer): JsonObject {
  if (raw.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new MatrixError(400, "M_NOT_JSON", "Content not JSON.");
  }
  if (!isObject(v)) throw badJson("Content must be a JSON object.");
  return v;
}