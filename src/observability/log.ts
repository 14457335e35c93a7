/**
 * winston root logger: pretty on a TTY, JSON otherwise (or as configured), with every
 * known token shape redacted from messages and metadata before anything is written.
 */
import winston from "winston";
import type { Logger } from "../core/log.js";

/**
 * Slack tokens (bot, user, app, refresh, client), Telegram bot tokens (also inside Bot API
 * URLs, /bot<token>/getMe, where no word boundary precedes the digits), bearer headers, URI
 * passwords, access_token params.
 */
const SECRET_PATTERNS: RegExp[] = [
  /xox[a-z]-[A-Za-z0-9-]+/g,
  /xapp-[A-Za-z0-9-]+/g,
  /(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}/g,
  /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi,
  /(access_token=)[^&\s"]+/gi,
  /(\/\/[^:/@\s]+:)[^@/\s]+(@)/g,
];

export function redactSecrets(s: string): string {
  let out = s;
  for (const re of SECRET_PATTERNS) {
    out = out.replace(re, (_m, ...groups) => {
      const g = groups.filter((x) => typeof x === "string") as string[];
      if (re.source.startsWith("(Bearer") || re.source.startsWith("(access_token")) return `${g[0]}<redacted>`;
      if (re.source.startsWith("(\\/\\/")) return `${g[0]}<redacted>${g[1]}`;
      return "<redacted>";
    });
  }
  return out;
}

/** Tokens known at runtime (registration tokens, login secrets) are redacted verbatim too. */
const knownSecrets = new Set<string>();
export function registerSecret(secret: string): void {
  if (secret && secret.length >= 8) knownSecrets.add(secret);
}

/** Metadata keys whose values are secrets whatever they look like. */
const SECRET_KEY = /token|secret|password|key$/i;

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === "string") {
    let s = redactSecrets(value);
    for (const k of knownSecrets) if (s.includes(k)) s = s.split(k).join("<redacted>");
    return s;
  }
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return scrub(value.stack ?? value.message, depth + 1);
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? "<redacted>" : scrub(v, depth + 1);
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === "level") continue;
    (info as Record<string, unknown>)[key] = SECRET_KEY.test(key) ? "<redacted>" : scrub(info[key]);
  }
  return info;
});

export interface LogOptions {
  level: string;
  format: "pretty" | "json";
  /** Where to write; defaults to the console. Tests pass a stream to read what was logged. */
  stream?: NodeJS.WritableStream;
}

function wrap(w: winston.Logger): Logger {
  return {
    error: (m, meta) => void w.error(m, meta),
    warn: (m, meta) => void w.warn(m, meta),
    info: (m, meta) => void w.info(m, meta),
    debug: (m, meta) => void w.debug(m, meta),
    child: (meta) => wrap(w.child(meta)),
  };
}

export function createLogger(opts: LogOptions): { log: Logger; winston: winston.Logger } {
  const pretty = opts.format === "pretty";
  const format = winston.format.combine(
    // An Error logged as the message itself keeps its stack and cause; errors in metadata come
    // through errorFields (core/log.ts) already flat.
    winston.format.errors({ stack: true, cause: true }),
    redactFormat(),
    winston.format.timestamp(),
    pretty
      ? winston.format.printf(({ level, message, timestamp, ...meta }) => {
          const rest = Object.keys(meta).length ? " " + JSON.stringify(meta) : "";
          return `${timestamp} ${level.toUpperCase().padEnd(5)} ${message}${rest}`;
        })
      : winston.format.json(),
  );
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    // Logs go to stdout, every level (README, "Where logs go"); stderr carries only the CLI's own
    // one-line errors, so a supervisor's log shows both and scripts can tell them apart.
    : new winston.transports.Console();
  const w = winston.createLogger({ level: opts.level, format, transports: [transport] });
  return { log: wrap(w), winston: w };
}
