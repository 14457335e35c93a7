// Shared types and small pure helpers for the fake Matrix homeserver (test/fakes/homeserver.ts).
// Field names, error codes and defaults follow the Matrix client-server and application-service
// specs (and Synapse where the spec leaves a choice open).
import { randomBytes } from "node:crypto";

export type JsonObject = Record<string, unknown>;

/** An event in the client-server "ClientEvent" format (what /event, /state and AS transactions carry). */
export interface ClientEvent {
  type: string;
  content: JsonObject;
  event_id: string;
  room_id: string;
  sender: string;
  origin_server_ts: number;
  state_key?: string;
  /** Top-level in room versions < 11 (the fake creates version 10 rooms). */
  redacts?: string;
  unsigned?: JsonObject;
}

/** A standard Matrix error: `{errcode, error, ...extra}` with an HTTP status. */
export class MatrixError extends Error {
  readonly status: number;
  readonly errcode: string;
  readonly error: string;
  readonly extra: JsonObject;
  constructor(status: number, errcode: string, error: string, extra: JsonObject = {}) {
    super(`${status} ${errcode}: ${error}`);
    this.name = "MatrixError";
    this.status = status;
    this.errcode = errcode;
    this.error = error;
    this.extra = extra;
  }
  get body(): JsonObject {
    return { errcode: this.errcode, error: this.error, ...this.extra };
  }
}

export const forbidden = (msg: string): MatrixError => new MatrixError(403, "M_FORBIDDEN", msg);
export const notFound = (msg: string): MatrixError => new MatrixError(404, "M_NOT_FOUND", msg);
export const invalidParam = (msg: string): MatrixError => new MatrixError(400, "M_INVALID_PARAM", msg);
export const badJson = (msg: string): MatrixError => new MatrixError(400, "M_BAD_JSON", msg);
export const exclusive = (msg: string): MatrixError => new MatrixError(400, "M_EXCLUSIVE", msg);

// ---------------------------------------------------------------------------------------------
// Registration

export interface NamespaceEntry {
  regex: string;
  exclusive?: boolean;
}

/** The application-service registration, as parsed from its YAML file. */
export interface AppserviceRegistration {
  id: string;
  url?: string | null;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces?: {
    users?: NamespaceEntry[];
    aliases?: NamespaceEntry[];
    rooms?: NamespaceEntry[];
  };
  rate_limited?: boolean;
  protocols?: string[] | null;
  receive_ephemeral?: boolean;
  "de.sorunome.msc2409.push_ephemeral"?: boolean;
  [key: string]: unknown;
}

/** A parsed registration object, or anything with `getOutput()` (matrix-appservice's AppServiceRegistration). */
export type RegistrationInput = AppserviceRegistration | { getOutput(): unknown };

export function normalizeRegistration(input: RegistrationInput): AppserviceRegistration {
  const raw: unknown =
    typeof (input as { getOutput?: unknown }).getOutput === "function"
      ? (input as { getOutput(): unknown }).getOutput()
      : input;
  if (!raw || typeof raw !== "object") throw new Error("FakeHomeserver: registration must be an object");
  const reg = structuredClone(raw) as AppserviceRegistration;
  for (const key of ["id", "as_token", "hs_token", "sender_localpart"] as const) {
    if (typeof reg[key] !== "string" || reg[key] === "") {
      throw new Error(`FakeHomeserver: registration is missing '${key}'`);
    }
  }
  return reg;
}

interface CompiledNs {
  re: RegExp;
  exclusive: boolean;
}

function compile(kind: string, list: NamespaceEntry[] | undefined): CompiledNs[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Error(`FakeHomeserver: namespaces.${kind} must be a list`);
  return list.map((ns, i) => {
    if (!ns || typeof ns.regex !== "string") {
      throw new Error(`FakeHomeserver: namespaces.${kind}[${i}].regex must be a string`);
    }
    try {
      // The whole identifier must match (stricter than Synapse's start-anchored re.match).
      return { re: new RegExp(`^(?:${ns.regex})$`), exclusive: ns.exclusive === true };
    } catch (err) {
      throw new Error(`FakeHomeserver: namespaces.${kind}[${i}].regex is not a valid regex: ${String(err)}`);
    }
  });
}

/** Compiled view of one registration's namespaces. */
export class Namespaces {
  readonly reg: AppserviceRegistration;
  readonly botUserId: string;
  private readonly users: CompiledNs[];
  private readonly aliases: CompiledNs[];
  private readonly rooms: CompiledNs[];

  constructor(reg: AppserviceRegistration, private readonly domain: string) {
    this.reg = reg;
    this.botUserId = `@${reg.sender_localpart}:${domain}`;
    this.users = compile("users", reg.namespaces?.users);
    this.aliases = compile("aliases", reg.namespaces?.aliases);
    this.rooms = compile("rooms", reg.namespaces?.rooms);
  }

  private static test(list: CompiledNs[], value: string, exclusiveOnly: boolean): boolean {
    return list.some((ns) => (!exclusiveOnly || ns.exclusive) && ns.re.test(value));
  }

  /** The AS may act as / is interested in this user (its namespaces or its sender_localpart user). */
  isAsUser(userId: string): boolean {
    if (userId === this.botUserId) return true;
    if (!userId.endsWith(`:${this.domain}`)) return false; // only local users
    return Namespaces.test(this.users, userId, false);
  }
  isExclusiveUser(userId: string): boolean {
    return userId === this.botUserId || Namespaces.test(this.users, userId, true);
  }
  matchesAlias(alias: string, exclusiveOnly = false): boolean {
    return Namespaces.test(this.aliases, alias, exclusiveOnly);
  }
  matchesRoom(roomId: string): boolean {
    return Namespaces.test(this.rooms, roomId, false);
  }
  get pushEphemeral(): boolean {
    return (
      this.reg.receive_ephemeral === true ||
      this.reg["de.sorunome.msc2409.push_ephemeral"] === true ||
      (this.reg as JsonObject)["push_ephemeral"] === true
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Identifiers

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function randomString(length: number, alphabet = ALNUM): string {
  const bytes = randomBytes(length);
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

/** Event ids as in room versions 4+: `$` + 43 url-safe base64 characters, no server name. */
export const newEventId = (): string => `$${randomBytes(32).toString("base64url")}`;
export const newRoomId = (domain: string): string => `!${randomString(18)}:${domain}`;

/** Returns an error message if the localpart is not a valid (lowercase) user localpart. */
export function localpartProblem(localpart: string): string | undefined {
  if (localpart.length === 0) return "User ID cannot be empty";
  if (/[A-Z]/.test(localpart)) return "User ID may not contain upper-case letters";
  if (!/^[a-z0-9._=\-/+]+$/.test(localpart)) {
    return "User ID can only contain characters a-z, 0-9, or '=_-./+'";
  }
  return undefined;
}

export function isUserId(s: unknown): s is string {
  return typeof s === "string" && /^@[^:]+:.+$/.test(s);
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Power levels

export interface PowerLevels {
  users: Record<string, number>;
  users_default: number;
  events: Record<string, number>;
  events_default: number;
  state_default: number;
  ban: number;
  kick: number;
  redact: number;
  invite: number;
}

function num(v: unknown, dflt: number): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  return dflt;
}

function numMap(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) out[k] = num(x, 0);
  return out;
}

/** Power levels with the spec defaults filled in (also when the room has no power_levels event). */
export function effectivePowerLevels(content: JsonObject | undefined, creator: string | undefined): PowerLevels {
  if (!content) {
    return {
      users: creator ? { [creator]: 100 } : {},
      users_default: 0,
      events: {},
      events_default: 0,
      state_default: 0,
      ban: 50,
      kick: 50,
      redact: 50,
      invite: 0,
    };
  }
  return {
    users: numMap(content["users"]),
    users_default: num(content["users_default"], 0),
    events: numMap(content["events"]),
    events_default: num(content["events_default"], 0),
    state_default: num(content["state_default"], 50),
    ban: num(content["ban"], 50),
    kick: num(content["kick"], 50),
    redact: num(content["redact"], 50),
    invite: num(content["invite"], 0),
  };
}

export const userLevel = (pl: PowerLevels, userId: string): number => pl.users[userId] ?? pl.users_default;
export const eventLevel = (pl: PowerLevels, type: string, isState: boolean): number =>
  pl.events[type] ?? (isState ? pl.state_default : pl.events_default);

/** Default power levels Synapse gives a new room (before power_level_content_override). */
export function defaultPowerLevelsContent(creator: string): JsonObject {
  return {
    users: { [creator]: 100 },
    users_default: 0,
    events: {
      "m.room.name": 50,
      "m.room.power_levels": 100,
      "m.room.history_visibility": 100,
      "m.room.canonical_alias": 50,
      "m.room.avatar": 50,
      "m.room.tombstone": 100,
      "m.room.server_acl": 100,
      "m.room.encryption": 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 50,
    historical: 100,
  };
}

// ---------------------------------------------------------------------------------------------
// Redaction (room version 10 algorithm)

const KEEP_CONTENT: Record<string, string[]> = {
  "m.room.member": ["membership", "join_authorised_via_users_server"],
  "m.room.create": ["creator"],
  "m.room.join_rules": ["join_rule", "allow"],
  "m.room.power_levels": ["ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"],
  "m.room.history_visibility": ["history_visibility"],
};

/** Strips the event's content in place as the redaction algorithm does and records redacted_because. */
export function applyRedaction(target: ClientEvent, redaction: ClientEvent): void {
  const keep = KEEP_CONTENT[target.type] ?? [];
  const content: JsonObject = {};
  for (const k of keep) if (k in target.content) content[k] = target.content[k];
  target.content = content;
  const because = structuredClone(redaction);
  delete because.unsigned;
  target.unsigned = { ...(target.unsigned ?? {}), redacted_because: because };
  delete target.unsigned["prev_content"];
}

// ---------------------------------------------------------------------------------------------
// Test helpers

/** A deep partial pattern for waitForEvent: plain values compare equal, RegExps test strings. */
export type EventPattern = {
  [key: string]: unknown;
};

export function matchesPattern(actual: unknown, pattern: unknown): boolean {
  if (pattern instanceof RegExp) return typeof actual === "string" && pattern.test(actual);
  if (isObject(pattern)) {
    if (!isObject(actual)) return false;
    return Object.entries(pattern).every(([k, v]) => matchesPattern(actual[k], v));
  }
  if (Array.isArray(pattern)) return JSON.stringify(actual) === JSON.stringify(pattern);
  return Object.is(actual, pattern);
}

/** One line describing an event, for timeout messages. */
export function describeEvent(ev: ClientEvent): string {
  const parts = [ev.room_id, ev.type, ev.sender];
  if (ev.state_key !== undefined) parts.push(`state_key=${JSON.stringify(ev.state_key)}`);
  const c = ev.content;
  if (typeof c["membership"] === "string") parts.push(`membership=${c["membership"]}`);
  if (typeof c["body"] === "string") parts.push(`body=${JSON.stringify(String(c["body"]).slice(0, 80))}`);
  if (ev.redacts) parts.push(`redacts=${ev.redacts}`);
  parts.push(ev.event_id);
  return parts.join(" ");
}
