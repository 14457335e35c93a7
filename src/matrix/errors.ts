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

export function toMatrixError(err: unknown, what: string): MatrixError {
  if (err instanceof MatrixError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkError;
  const errcode = e.errcode ?? e.body?.errcode;
  const status = e.statusCode;
  const detail = e.error ?? e.body?.error ?? e.message ?? String(err);
  if (errcode || status) {
    const retryable = status === undefined || status >= 500 || status === 429 || errcode === "M_LIMIT_EXCEEDED";
    return new MatrixError(errcode ?? `HTTP_${status}`, `${what}: ${errcode ?? status} ${detail}`, {
      retryable, retryAfterMs: e.retryAfterMs ?? e.body?.retry_after_ms, cause: err,
    });
  }
  // No HTTP answer at all (ECONNREFUSED, reset, timeout): the homeserver is down; retry.
  return new MatrixError(e.code ?? "M_UNREACHABLE", `${what}: homeserver unreachable (${detail})`, { retryable: true, cause: err });
}

export function errcodeOf(err: unknown): string | undefined {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkError;
  return e.errcode ?? e.body?.errcode;
}
