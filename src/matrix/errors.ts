/** Map matrix-bot-sdk / HTTP failures to the core's MatrixError (retryable or not). */
import { MatrixError } from "../core/errors.js";

interface SdkError {
  statusCode?: number;
  errcode?: string;
  error?: string;
  retryAfterMs?: number;
  body?: { errcode?: string; error?: string; retry_after_ms?: number };
  code?: string;
  message?: string;
}

/**
 * A 2xx answer without what the call needs: a web page from a misrouted proxy, JSON cut short,
 * an event id missing. Retried (the homeserver may well have done the work: sends carry a txnId
 * so a retry cannot double them), and the homeserver counts as unhealthy meanwhile.
 */
export class UnreadableAnswer extends Error {
  readonly statusCode = 200;
  constructor(what: string) {
    super(`the answer to ${what} is not Matrix JSON`);
  }
}

/** `res[key]` when it is a non-empty string (an event id, a room id, an mxc URI), else UnreadableAnswer. */
export function answerField(res: unknown, key: string, what: string): string {
  const v = typeof res === "object" && res !== null ? (res as Record<string, unknown>)[key] : undefined;
  if (typeof v === "string" && v !== "") return v;
  throw new UnreadableAnswer(what);
}

export function toMatrixError(err: unknown, what: string): MatrixError {
  if (err instanceof MatrixError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkError;
  const errcode = e.errcode ?? e.body?.errcode;
  const status = e.statusCode;
  const detail = e.error ?? e.body?.error ?? e.message ?? String(err);
  if (!errcode && status !== undefined && status >= 200 && status < 300) {
    return new MatrixError("M_BAD_ANSWER", `${what}: the homeserver answered HTTP ${status} with something that is not Matrix JSON (a proxy page or a cut-short answer)`, {
      retryable: true, cause: err,
    });
  }
  if (errcode || status) {
    // An error without a Matrix errcode did not come from the homeserver's API (a proxy's page,
    // an answer cut short): it is no refusal of the request, so it is retried (but not 413).
    const retryable = status === undefined || status >= 500 || status === 429 || errcode === "M_LIMIT_EXCEEDED" || (!errcode && status !== 413);
    return new MatrixError(errcode ?? `HTTP_${status}`, `${what}: ${errcode ?? status} ${detail}`, {
      retryable, retryAfterMs: e.retryAfterMs ?? e.body?.retry_after_ms, cause: err,
    });
  }
  // No HTTP answer at all (ECONNREFUSED, reset, timeout): the homeserver is down; retry.
  return new MatrixError(e.code ?? "M_UNREACHABLE", `${what}: homeserver unreachable (${detail})`, { retryable: true, cause: err });
}

/**
 * Whether a failure means the homeserver cannot be reached: no HTTP answer at all (refused,
 * reset, timeout), or an answer without a Matrix errcode: a gateway's 502/503/504, a 2xx that is
 * not Matrix JSON (UnreadableAnswer), or a proxy's error page (something else answers in its place).
 */
export function isUnreachable(err: unknown): boolean {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkError;
  if (e.errcode ?? e.body?.errcode) return false;
  const s = e.statusCode;
  return s === undefined || s === 502 || s === 503 || s === 504 || (s >= 200 && s < 300) || (s >= 400 && s !== 413 && s !== 429);
}

export function errcodeOf(err: unknown): string | undefined {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkError;
  return e.errcode ?? e.body?.errcode;
}
