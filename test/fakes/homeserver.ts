// A protocol-faithful fake Matrix homeserver for tests.
//
//   const hs = await FakeHomeserver.start({ domain: "example.org", registration });
//   const alice = hs.createUser("alice");                // a FakeMatrixClient speaking real HTTP
//   const roomId = await alice.createRoom({ room_alias_name: "ops" });
//   await hs.waitForEvent({ type: "m.room.message", sender: "@slack_t1_u1:example.org" });
//   await hs.stop();
//
// It serves the client-server API the bridge uses (r0, v1 and v3 prefixes accepted), with the AS
// token + `user_id` identity assertion, and pushes events to the application service through
// `PUT {url}/_matrix/app/v1/transactions/{txnId}` with the hs_token, retrying until 2xx (or, with
// `push: { legacyPaths: true }`, as Synapse 1.67 does: `PUT {url}/transactions/{txnId}?access_token=…`).
// Binds to 127.0.0.1 on an ephemeral port only. State is in memory.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { FakeMatrixClient } from "./homeserver-client.js";
import { HomeserverCore } from "./homeserver-core.js";
import {
  type ClientEvent,
  type EventPattern,
  type JsonObject,
  type RegistrationInput,
  type AppserviceRegistration,
  MatrixError,
  Namespaces,
  describeEvent,
  isObject,
  matchesPattern,
  normalizeRegistration,
} from "./homeserver-model.js";
import { AppservicePusher, type DeliveredTransaction, type HttpResult, type PushOptions, type RetryOptions } from "./homeserver-push.js";
import { Reply, Router, type RequestLogEntry } from "./homeserver-routes.js";

export { FakeMatrixClient, MatrixHttpError, type CreateRoomOptions } from "./homeserver-client.js";
export { MatrixError, type ClientEvent, type AppserviceRegistration, type RegistrationInput, type EventPattern } from "./homeserver-model.js";
export type { DeliveredTransaction, PushOptions, RetryOptions } from "./homeserver-push.js";
export type { RequestLogEntry } from "./homeserver-routes.js";

export interface FakeHomeserverOptions {
  /** server_name. Default "example.org". */
  domain?: string;
  /** The parsed registration YAML (or an AppServiceRegistration). Can also be given later. */
  registration?: RegistrationInput;
  /** Transaction retry backoff. Default 50ms doubling up to 1s. */
  retry?: RetryOptions;
  /** m.upload.size. Default 50 MiB. */
  maxUploadBytes?: number;
  /** How transactions are pushed (legacy unprefixed paths with ?access_token=, as Synapse 1.67). */
  push?: PushOptions;
}

export type EventMatcher = ((event: ClientEvent) => boolean) | EventPattern;

export interface WaitOptions {
  /** Default 5000. */
  timeoutMs?: number;
  /** Only consider events at or after this index of the global event list (see `eventCount`). */
  since?: number;
}

/** Room creations held half-way (see FakeHomeserver.holdRoomCreation). */
export interface RoomCreationHold {
  /** Room ids reserved and waiting, in arrival order. */
  readonly waiting: readonly string[];
  /** Resolves once `n` creations have arrived since the hold began. */
  arrived(n?: number): Promise<void>;
  /** Build the held rooms, answer their requests, and stop holding. */
  release(): void;
}

export interface MediaContent {
  data: Buffer;
  contentType: string;
  filename?: string;
}

export class FakeHomeserver {
  readonly domain: string;
  /** Requests served, oldest first (method, path without query, user, status, errcode). */
  readonly requests: RequestLogEntry[] = [];
  /**
   * `true`: every request is answered 502 (a proxy in front of a dead homeserver);
   * `"refuse"`: connections are dropped without an answer. Pushing to the AS is unaffected.
   */
  down: boolean | "refuse" = false;
  /**
   * Whether `POST /_matrix/client/v1/appservice/{id}/ping` (Matrix 1.7) exists. false: it answers
   * 404 M_UNRECOGNIZED and /versions stops at v1.2, as Synapse 1.67.
   */
  appservicePing = true;

  private readonly core: HomeserverCore;
  private readonly pusher: AppservicePusher;
  private readonly server: http.Server;
  private readonly router: Router;
  private readonly cancelWaits = new Set<(err: Error) => void>();
  private _url = "";

  private constructor(opts: FakeHomeserverOptions) {
    this.domain = opts.domain ?? "example.org";
    this.pusher = new AppservicePusher(() => {
      const reg = this.core.ns?.reg;
      return reg && typeof reg.url === "string" && reg.url !== "" ? { url: reg.url, hsToken: reg.hs_token } : undefined;
    }, opts.retry, undefined, opts.push);
    this.core = new HomeserverCore(this.domain, this.pusher, opts.maxUploadBytes ?? 50 * 1024 * 1024);
    if (opts.registration) this.setRegistration(opts.registration);
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.router = new Router(this.core, this.domain, () => this.appservicePing);
  }

  static async start(opts: FakeHomeserverOptions = {}): Promise<FakeHomeserver> {
    const hs = new FakeHomeserver(opts);
    await new Promise<void>((resolve, reject) => {
      hs.server.once("error", reject);
      hs.server.listen(0, "127.0.0.1", () => resolve());
    });
    hs._url = `http://127.0.0.1:${(hs.server.address() as AddressInfo).port}`;
    return hs;
  }

  /** http://127.0.0.1:PORT */
  get url(): string {
    return this._url;
  }

  async stop(): Promise<void> {
    this.pusher.stop();
    for (const cancel of [...this.cancelWaits]) cancel(new Error("FakeHomeserver stopped"));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---------------------------------------------------------------------------------------------
  // Test-facing API

  /**
   * A redaction by `sender` as another server would send it: accepted into the room whatever
   * its target (room v3+ auth rules), applied only when the room's power levels allow it, and
   * pushed to the appservice either way. (The client API refuses such a redaction.)
   */
  federatedRedaction(roomId: string, sender: string, eventId: string, reason?: string): string {
    return this.core.federatedRedaction(roomId, sender, eventId, reason ? { reason } : {});
  }

  /**
   * Loads (or replaces) the AS registration. As Synapse, the sender_localpart user is not created:
   * the appservice registers it (`m.login.application_service`); until then it can authenticate
   * but has no profile.
   */
  setRegistration(registration: RegistrationInput): void {
    const reg = normalizeRegistration(registration);
    this.core.ns = new Namespaces(reg, this.domain);
  }

  /** Loads a further registration that is never pushed to and only acts as users (a double-puppet registration). */
  addActingRegistration(registration: RegistrationInput): void {
    this.core.actingOnly.push(new Namespaces(normalizeRegistration(registration), this.domain));
  }

    get registration(): AppserviceRegistration | undefined {
    return this.core.ns ? structuredClone(this.core.ns.reg) : undefined;
  }

  /**
   * Slow room creation, as Synapse does it: each createRoom from now on reserves its room id and
   * alias at once (the alias resolves, `M_ROOM_IN_USE` for anyone else), then waits for
   * `release()` before writing the room's first events and answering. Meanwhile nobody can read
   * the room (not even its creator: 403). Spaces (`creation_content.type: m.space`) are not held:
   * the hold is about rooms that bridge a chat. Only one hold at a time.
   */
  holdRoomCreation(): RoomCreationHold {
    if (this.core.beforeRoomBuilt) throw new Error("FakeHomeserver: room creation is already held");
    const waiting: string[] = [];
    const gates: Array<() => void> = [];
    const watchers: Array<{ n: number; resolve: () => void }> = [];
    let count = 0;
    let released = false;
    this.core.beforeRoomBuilt = (roomId, body) => {
      if (released || (body["creation_content"] as JsonObject | undefined)?.["type"] === "m.space") return Promise.resolve();
      waiting.push(roomId);
      count++;
      for (const w of watchers.filter((x) => count >= x.n)) w.resolve();
      return new Promise<void>((resolve) => gates.push(resolve));
    };
    return {
      waiting,
      arrived: (n = 1) => (count >= n ? Promise.resolve() : new Promise<void>((resolve) => watchers.push({ n, resolve }))),
      release: () => {
        released = true;
        this.core.beforeRoomBuilt = undefined;
        for (const open of gates.splice(0)) open();
      },
    };
  }

  /** The AS bot's user id (`@<sender_localpart>:<domain>`). */
  get botUserId(): string | undefined {
    return this.core.ns?.botUserId;
  }

  /**
   * Creates a normal (non-AS) user, applying the homeserver's rules (lowercase localpart, not in an
   * exclusive AS namespace: throws MatrixError otherwise), and returns a client logged in as them.
   */
  createUser(localpart: string, opts: { displayname?: string; avatarUrl?: string; password?: string } = {}): FakeMatrixClient {
    const user = this.core.registerUser(localpart, false, opts.password);
    if (opts.displayname !== undefined) user.displayname = opts.displayname;
    if (opts.avatarUrl !== undefined) user.avatar_url = opts.avatarUrl;
    return this.clientFor(user.userId);
  }

  /** A new access token (device) for an existing user, e.g. to act as a ghost in a test. */
  clientFor(userId: string): FakeMatrixClient {
    if (!this.core.users.has(userId)) throw new Error(`FakeHomeserver: no such user ${userId}`);
    const { access_token, device_id } = this.core.issueToken(userId);
    return new FakeMatrixClient(this.url, userId, access_token, device_id);
  }

  userExists(userId: string): boolean {
    return this.core.users.has(userId);
  }

  /** All room ids, in creation order. */
  rooms(): string[] {
    return [...this.core.rooms.keys()];
  }

  /** The room's events in order (client format, copies; redacted events appear redacted). */
  timeline(roomId: string): ClientEvent[] {
    return this.core.room(roomId).events.map((e) => structuredClone(e));
  }

  /** Current state: type -> state_key -> event. */
  roomState(roomId: string): Record<string, Record<string, ClientEvent>> {
    const out: Record<string, Record<string, ClientEvent>> = {};
    for (const ev of this.core.room(roomId).state.values()) (out[ev.type] ??= {})[ev.state_key!] = structuredClone(ev);
    return out;
  }

  /** Content of one current state event, or undefined. */
  stateContent(roomId: string, type: string, stateKey = ""): JsonObject | undefined {
    const ev = this.core.stateEvent(this.core.room(roomId), type, stateKey);
    return ev ? structuredClone(ev.content) : undefined;
  }

  /** userId -> membership ("join", "invite", "leave", "ban", ...). */
  members(roomId: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const ev of this.core.room(roomId).state.values()) {
      if (ev.type === "m.room.member") out[ev.state_key!] = String(ev.content["membership"]);
    }
    return out;
  }

  joinedMembers(roomId: string): string[] {
    return this.core.joined(this.core.room(roomId));
  }

  /** Rooms the user is joined to. */
  roomsOf(userId: string): string[] {
    return this.core.joinedRooms(userId);
  }

  roomByAlias(alias: string): string | undefined {
    return this.core.aliases.get(alias)?.roomId;
  }

  aliasesOf(roomId: string): string[] {
    return this.core.aliasesOf(roomId);
  }

  profile(userId: string): { displayname?: string; avatar_url?: string } | undefined {
    const u = this.core.users.get(userId);
    return u ? { ...(u.displayname !== undefined ? { displayname: u.displayname } : {}), ...(u.avatar_url !== undefined ? { avatar_url: u.avatar_url } : {}) } : undefined;
  }

  /** How many media files the homeserver holds (uploads, and media stored by tests). */
  get mediaCount(): number {
    return this.core.media.size;
  }

  media(mxc: string): MediaContent | undefined {
    const m = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc);
    if (!m || m[1] !== this.domain) return undefined;
    const rec = this.core.media.get(m[2]!);
    return rec ? { data: Buffer.from(rec.data), contentType: rec.contentType, ...(rec.filename !== undefined ? { filename: rec.filename } : {}) } : undefined;
  }

  /** Stores media directly (test setup); returns its mxc URI. */
  uploadMedia(data: Buffer | string, contentType = "application/octet-stream", filename?: string): string {
    return this.core.upload("@test:" + this.domain, typeof data === "string" ? Buffer.from(data) : data, contentType, filename);
  }

  /** One event by id (current, possibly redacted, form). */
  event(eventId: string): ClientEvent | undefined {
    const ev = this.core.eventById(eventId);
    return ev ? structuredClone(ev) : undefined;
  }

  /** Every event in every room, in creation order, optionally filtered. */
  allEvents(match?: EventMatcher): ClientEvent[] {
    const pred = match ? toPredicate(match) : () => true;
    return this.core.allEvents.map((e) => structuredClone(e)).filter(pred);
  }

  /** Number of events created so far (use as `since` for waitForEvent). */
  get eventCount(): number {
    return this.core.allEvents.length;
  }

  /**
   * Resolves with the first event (already present, or future) matching a predicate or a deep
   * partial pattern (`{type: "m.room.message", content: {body: /hi/}}`). Rejects after timeoutMs
   * with the most recent events listed.
   */
  waitForEvent(match: EventMatcher, opts: WaitOptions = {}): Promise<ClientEvent> {
    const pred = toPredicate(match);
    const timeoutMs = opts.timeoutMs ?? 5000;
    const existing = this.core.allEvents.slice(opts.since ?? 0).find((e) => pred(structuredClone(e)));
    if (existing) return Promise.resolve(structuredClone(existing));
    return new Promise<ClientEvent>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.core.eventListeners.delete(listener);
        this.cancelWaits.delete(cancel);
      };
      const cancel = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const listener = (ev: ClientEvent): void => {
        let ok = false;
        try {
          ok = pred(structuredClone(ev));
        } catch (err) {
          cancel(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (ok) {
          cleanup();
          resolve(structuredClone(ev));
        }
      };
      const timer = setTimeout(() => {
        const recent = this.core.allEvents.slice(-20).map((e) => `  ${describeEvent(e)}`);
        const what = typeof match === "function" ? "predicate" : JSON.stringify(match, (_k, v: unknown) => (v instanceof RegExp ? String(v) : v));
        cancel(
          new Error(
            `FakeHomeserver.waitForEvent: no event matched ${what} within ${timeoutMs}ms. ` +
              `Last ${recent.length} of ${this.core.allEvents.length} events:\n${recent.join("\n") || "  (none)"}`,
          ),
        );
      }, timeoutMs);
      this.core.eventListeners.add(listener);
      this.cancelWaits.add(cancel);
    });
  }

  /** Resolves once every event queued for the AS so far has been delivered. */
  waitForPushIdle(opts: { timeoutMs?: number } = {}): Promise<void> {
    return this.pusher.waitIdle(opts.timeoutMs ?? 5000);
  }

  /** While true, nothing is pushed to the AS (events queue up); setting false resumes. */
  get pushPaused(): boolean {
    return this.pusher.isPaused;
  }
  set pushPaused(paused: boolean) {
    this.pusher.setPaused(paused);
  }

  /** Delivered transactions, oldest first. */
  get transactions(): readonly DeliveredTransaction[] {
    return this.pusher.delivered;
  }
  get transactionsDelivered(): number {
    return this.pusher.delivered.length;
  }
  /** Every transaction PUT attempted, successful or not. */
  get transactionAttempts(): number {
    return this.pusher.attempts;
  }
  /** Failed transaction PUTs (each is retried). */
  get transactionRetries(): number {
    return this.pusher.failures;
  }
  /** Events (and EDUs) queued or in flight to the AS. */
  get pushPending(): number {
    return this.pusher.pending;
  }
  get lastPushError(): string | undefined {
    return this.pusher.lastError;
  }
  /** Transaction ids start over, as after a restart of a homeserver on SQLite (see AppservicePusher). */
  restartTransactionIds(): void {
    this.pusher.restartTransactionIds();
  }
  /** PUTs a delivered transaction again, byte for byte. */
  replayTransaction(txn: DeliveredTransaction): Promise<HttpResult> {
    return this.pusher.replay(txn);
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.down === "refuse") {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    const entry: RequestLogEntry = { method, path: url.pathname, status: 0 };
    this.requests.push(entry);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown, raw?: Reply["raw"]): void => {
      entry.status = status;
      if (isObject(body) && typeof body["errcode"] === "string") entry.errcode = body["errcode"];
      if (raw) {
        res.writeHead(status, { "Content-Length": raw.data.length, ...raw.headers });
        res.end(raw.data);
        return;
      }
      const text = JSON.stringify(body ?? {});
      res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
      res.end(text);
    };
    if (this.down) {
      entry.status = 502;
      res.writeHead(502, { "Content-Type": "text/html" });
      res.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
      return;
    }
    try {
      const reply = await this.router.dispatch(method, url, req.headers, Buffer.concat(chunks), entry);
      if (reply instanceof Reply) send(reply.status, reply.body, reply.raw);
      else send(200, reply);
    } catch (err) {
      if (err instanceof MatrixError) send(err.status, err.body);
      else send(500, { errcode: "M_UNKNOWN", error: `FakeHomeserver internal error: ${String(err instanceof Error ? err.stack : err)}` });
    }
  }
}

function toPredicate(match: EventMatcher): (ev: ClientEvent) => boolean {
  return typeof match === "function" ? match : (ev) => matchesPattern(ev, match);
}

