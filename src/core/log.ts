/**
 * The logging port the core uses. src/observability/log.ts provides a winston-backed one;
 * tests may pass a silent one. Metadata values must never be secrets.
 */
import { causeChain } from "./errors.js";

export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
}

export const silentLogger: Logger = {
  error() {}, warn() {}, info() {}, debug() {},
  child() { return silentLogger; },
};

/** One error as it goes into a log line: what code and class, what it says, where it was thrown. */
export interface LoggedError {
  code?: string;
  name?: string;
  message: string;
  stack?: string;
}

/**
 * The one way to put an error into a log line: `log.warn("…", { lane, ...errorFields(err) })`.
 * It carries the code, the message and the stack of the error and of every cause under it, so
 * a line is enough to find the fault (`String(err)` kept only the message). Flat (causes are a
 * list, not nested), so the logger's secret redaction reaches every string in it.
 */
export function errorFields(err: unknown): { error: LoggedError & { causes?: LoggedError[] } } {
  const [top, ...causes] = (err === undefined || err === null ? [err] : causeChain(err)).map(describe);
  return { error: causes.length ? { ...top!, causes } : top! };
}

function describe(e: unknown): LoggedError {
  if (!(e instanceof Error)) return { message: typeof e === "string" ? e : safeJson(e) };
  const code = (e as { code?: unknown }).code;
  return { ...(code !== undefined ? { code: String(code) } : {}), name: e.name, message: e.message, stack: e.stack };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
