// Fake Slack: data model, ids, timestamps and small pure helpers shared by the other slack-*.ts files.
import { randomBytes, randomUUID } from "node:crypto";

/** A Slack JSON object as it goes over the wire. */
export type Json = Record<string, unknown>;

export type TokenKind = "bot" | "app";
export type TokenState = "active" | "revoked" | "inactive";

export interface TokenRecord {
  token: string;
  teamId: string;
  kind: TokenKind;
  scopes: Set<string>;
  state: TokenState;
}

export interface SlackUserProfile extends Json {
  display_name: string;
  real_name: string;
  image_72: string;
  image_192: string;
  image_512: string;
}

/** users.info `user` object. */
export interface SlackUser extends Json {
  id: string;
  team_id: string;
  name: string;
  deleted: boolean;
  real_name: string;
  is_bot: boolean;
  profile: SlackUserProfile;
}

/** A message as stored (conversations.history shape). `_request` is fake-only and never sent to clients. */
export interface SlackMessage extends Json {
  type: "message";
  ts: string;
  text: string;
  subtype?: string;
  user?: string;
  bot_id?: string;
  thread_ts?: string;
  files?: Json[];
  reactions?: SlackReaction[];
  metadata?: { event_type: string; event_payload: Json };
  /** What the client asked for in chat.postMessage / chat.update (username, icon_url, unfurl_*, ...). */
  _request?: Json;
}

export interface SlackReaction {
  name: string;
  users: string[];
  count: number;
}

export interface Conversation {
  id: string;
  teamId: string;
  name: string;
  kind: "channel" | "private" | "im" | "mpim";
  created: number;
  creator: string;
  archived: boolean;
  members: Set<string>;
  topic: string;
  purpose: string;
  /** For ims: the other user. */
  imUser?: string;
  messages: SlackMessage[];
}

export interface StoredFile {
  id: string;
  teamId: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  data: Buffer;
  user: string;
  created: number;
  /** Set once bytes arrived at the upload URL (v2 upload flow). */
  uploaded: boolean;
  completed: boolean;
  declaredLength?: number;
  uploadKey?: string;
  width?: number;
  height?: number;
  shares: { channel: string; ts: string; isPrivate: boolean }[];
}

export interface Team {
  id: string;
  name: string;
  domain: string;
  botToken: string;
  appToken: string;
  botUserId: string;
  botId: string;
  appId: string;
  botName: string;
  verificationToken: string;
  users: Map<string, SlackUser>;
  channels: Map<string, Conversation>;
  emoji: Map<string, string>;
}

/** What createTeam returns: everything a test needs to configure the bridge. */
export interface TeamHandle {
  id: string;
  name: string;
  domain: string;
  url: string;
  botToken: string;
  appToken: string;
  botUserId: string;
  botId: string;
  appId: string;
  botName: string;
}

export const DEFAULT_BOT_SCOPES = [
  "app_mentions:read", "channels:history", "channels:join", "channels:read", "chat:write",
  "chat:write.customize", "emoji:read", "files:read", "files:write", "groups:history", "groups:read",
  "im:history", "im:read", "im:write", "mpim:history", "mpim:read", "reactions:read", "reactions:write",
  "team:read", "users.profile:read", "users:read", "users:read.email",
];
export const DEFAULT_APP_SCOPES = ["connections:write"];

const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
export function randomId(prefix: string, len = 10): string {
  const bytes = randomBytes(len);
  let out = prefix;
  for (const b of bytes) out += ID_CHARS[b % ID_CHARS.length];
  return out;
}
export function randomToken(prefix: string): string {
  return `${prefix}-${randomDigits(13)}-${randomDigits(13)}-${randomBytes(12).toString("hex")}`;
}
function randomDigits(n: number): string {
  let s = "";
  for (const b of randomBytes(n)) s += String(b % 10);
  return s;
}
export const uuid = (): string => randomUUID();

/** Slack-style "1732500000.000100" timestamps, strictly increasing across the whole fake. */
export class TsClock {
  private lastMicros: bigint;
  constructor() {
    this.lastMicros = BigInt(Math.floor(Date.now() / 1000)) * 1_000_000n;
  }
  next(): string {
    const nowMicros = BigInt(Date.now()) * 1000n;
    this.lastMicros = nowMicros > this.lastMicros + 100n ? nowMicros : this.lastMicros + 100n;
    const s = this.lastMicros / 1_000_000n;
    const us = this.lastMicros % 1_000_000n;
    return `${s}.${us.toString().padStart(6, "0")}`;
  }
}
export const nowSec = (): number => Math.floor(Date.now() / 1000);
export const tsCompare = (a: string, b: string): number => (a === b ? 0 : Number(a) < Number(b) ? -1 : 1);
export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Strip fake-only fields before a message leaves the fake. */
export function wireMessage(m: SlackMessage, opts: { metadata?: boolean } = {}): Json {
  const { _request: _r, ...rest } = clone(m);
  if (!opts.metadata) delete rest.metadata;
  return rest;
}

// ---- cursors (opaque base64 like Slack's "dXNlcjpVMDYxTkZUVDI=") ----
export function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString("base64");
}
export function decodeCursor(cursor: unknown): number | undefined {
  if (typeof cursor !== "string" || cursor === "") return 0;
  const m = /^offset:(\d+)$/.exec(Buffer.from(cursor, "base64").toString("utf8"));
  return m ? Number(m[1]) : undefined;
}

// ---- rich_text generation for user messages ----
export function richTextFromText(text: string): Json[] {
  const elements: Json[] = [];
  const re = /<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|<#(C[A-Z0-9]+|G[A-Z0-9]+)(?:\|[^>]*)?>|<!(here|channel|everyone)>|<((?:https?|mailto):[^>|]+)(?:\|([^>]*))?>|:([a-z+][a-z0-9_+\-']*(?:::skin-tone-[2-6])?):/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) elements.push({ type: "text", text: unescape(text.slice(last, m.index)) });
    if (m[1]) elements.push({ type: "user", user_id: m[1] });
    else if (m[2]) elements.push({ type: "channel", channel_id: m[2] });
    else if (m[3]) elements.push({ type: "broadcast", range: m[3] });
    else if (m[4]) elements.push(m[5] ? { type: "link", url: m[4], text: m[5] } : { type: "link", url: m[4] });
    else if (m[6]) elements.push({ type: "emoji", name: m[6] });
    last = m.index + m[0].length;
  }
  if (last < text.length) elements.push({ type: "text", text: unescape(text.slice(last)) });
  return [{ type: "rich_text", block_id: randomBytes(3).toString("base64url").slice(0, 4), elements: [{ type: "rich_text_section", elements }] }];
}
function unescape(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// ---- files ----
const MIME_BY_EXT: Record<string, string> = {
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp",
  mp4: "video/mp4", webm: "video/webm", mov: "video/quicktime", mp3: "audio/mpeg", ogg: "audio/ogg",
  m4a: "audio/mp4", pdf: "application/pdf", txt: "text/plain", json: "application/json", zip: "application/zip",
  html: "text/html", csv: "text/csv",
};
const FILETYPE_BY_MIME: Record<string, [string, string]> = {
  "image/png": ["png", "PNG"], "image/jpeg": ["jpg", "JPEG"], "image/gif": ["gif", "GIF"],
  "image/webp": ["webp", "WebP"], "video/mp4": ["mp4", "MPEG 4 Video"], "video/webm": ["webm", "WebM"],
  "video/quicktime": ["mov", "QuickTime Movie"], "audio/mpeg": ["mp3", "MP3"], "audio/ogg": ["ogg", "Ogg Vorbis"],
  "audio/mp4": ["m4a", "MPEG 4 Audio"], "application/pdf": ["pdf", "PDF"], "text/plain": ["text", "Plain Text"],
  "application/json": ["json", "JSON"], "application/zip": ["zip", "Zip"], "text/html": ["html", "HTML"],
  "text/csv": ["csv", "CSV"],
};
export function mimeFromName(name: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase() ?? "";
  return MIME_BY_EXT[ext] ?? "application/octet-stream";
}
export function fileTypeOf(mime: string): [string, string] {
  return FILETYPE_BY_MIME[mime] ?? ["binary", "Binary"];
}

/** Width/height of PNG, GIF or JPEG data; undefined for anything else. */
export function imageSize(buf: Buffer): { width: number; height: number } | undefined {
  if (buf.length >= 24 && buf.readUInt32BE(0) === 0x89504e47) return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
  if (buf.length >= 10 && buf.toString("latin1", 0, 3) === "GIF") return { width: buf.readUInt16LE(6), height: buf.readUInt16LE(8) };
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8) {
    let i = 2;
    while (i + 9 < buf.length) {
      if (buf[i] !== 0xff) return undefined;
      const marker = buf[i + 1]!;
      const len = buf.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
      }
      i += 2 + len;
    }
  }
  return undefined;
}

/** A valid 1x1 PNG, served for avatars and emoji when a test supplies no image. */
export const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

/** Coerce a form/JSON parameter into a boolean the way Slack does ("true", "1", true). */
export function truthy(v: unknown): boolean {
  return v === true || v === 1 || v === "true" || v === "1";
}
/** Parse a parameter that may be a JSON-encoded string (form bodies) or already an object (JSON bodies). */
export function jsonParam<T>(v: unknown): T | undefined | "invalid" {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") return v as T;
  try {
    return JSON.parse(v) as T;
  } catch {
    return "invalid";
  }
}
