/**
 * grammY errors → RemoteError, so the core's relay queue knows what to do: retry (429 with the
 * server's retry_after, 5xx, network trouble), or dead-letter with a sentence for the room.
 * Messages never contain the token: grammY's own messages name the method, not the URL.
 */
import type { GrammyError, HttpError } from "grammy";
import { RemoteError } from "../../core/errors.js";
import { grammyIfLoaded } from "./grammy.js";

// Before grammY is loaded (no Telegram login yet) none of its errors exist.
function isGrammy(err: unknown): err is GrammyError {
  const g = grammyIfLoaded();
  return g !== undefined && err instanceof g.GrammyError;
}

function isHttpError(err: unknown): err is HttpError {
  const g = grammyIfLoaded();
  return g !== undefined && err instanceof g.HttpError;
}

/** Bot API error text, lower-cased, without the "Bad Request: " / "Forbidden: " prefix. */
export function describe(err: GrammyError): string {
  return err.description.replace(/^(bad request|forbidden|unauthorized|conflict|not found):\s*/i, "").toLowerCase();
}

export function isGrammyError(err: unknown, code?: number, text?: RegExp): err is GrammyError {
  if (!isGrammy(err)) return false;
  if (code !== undefined && err.error_code !== code) return false;
  return text ? text.test(describe(err)) : true;
}

/** The supergroup a basic group became (400 with parameters.migrate_to_chat_id). */
export function migratedTo(err: unknown): number | undefined {
  return isGrammy(err) ? err.parameters?.migrate_to_chat_id : undefined;
}

const FORBIDDEN_TEXT: Array<[RegExp, string]> = [
  [/kicked/, "the bot was removed from this Telegram chat; add it again to relay messages"],
  [/blocked by the user/, "the Telegram user blocked the bot"],
  [/not a member/, "the bot is not a member of this Telegram chat; add it to relay messages"],
  [/can't initiate conversation/, "the Telegram user has not started a chat with the bot yet"],
  [/deactivated/, "the Telegram account is deactivated"],
];

const BAD_REQUEST_TEXT: Array<[RegExp, string]> = [
  [/chat not found/, "the Telegram chat was not found (is the bot still in it?)"],
  [/message is too long/, "the message is too long for Telegram"],
  [/caption is too long/, "the caption is too long for Telegram"],
  [/can't be deleted for everyone/, "Telegram lets bots delete messages only within 48 hours of sending them; it stays on Telegram"],
  [/can't be deleted/, "the bot may not delete that Telegram message (it needs the delete-messages admin right)"],
  [/can't be edited/, "Telegram does not let the bot edit that message"],
  [/message to edit not found|message to delete not found/, "the Telegram message no longer exists"],
  [/need administrator rights|not enough rights/, "the bot needs more admin rights in this Telegram chat"],
  [/file is too big/, "the file is larger than the Bot API lets bots download (20 MB on api.telegram.org)"],
  [/wrong file identifier|invalid file_id/, "Telegram no longer has that file"],
  [/have no rights to send/, "the bot is not allowed to post in this Telegram chat"],
];

/** Maps any failure of a Bot API call to a RemoteError. `what` names the action for the log. */
export function toRemoteError(err: unknown, what: string): RemoteError {
  if (err instanceof RemoteError) return err;
  if (isGrammy(err)) {
    const code = err.error_code;
    const text = describe(err);
    const msg = `Telegram ${what} failed: ${code} ${err.description}`;
    if (code === 429) {
      const after = err.parameters?.retry_after;
      return new RemoteError("rate_limited", msg, { retryable: true, retryAfterMs: typeof after === "number" ? after * 1000 : undefined, cause: err });
    }
    if (code >= 500) return new RemoteError("server_error", msg, { retryable: true, cause: err });
    if (code === 401) {
      // Retryable: logging in again with a new token for the same bot makes the item go through.
      return new RemoteError("bad_credentials", msg, {
        retryable: true, badCredentials: true, cause: err, userMessage: "the bot token was revoked; log in again with `login telegram`",
      });
    }
    if (code === 413) return new RemoteError("file_too_large", msg, { retryable: false, cause: err, userMessage: "the file is too large for Telegram" });
    if (code === 403) {
      const user = FORBIDDEN_TEXT.find(([re]) => re.test(text))?.[1] ?? `Telegram refused it (${err.description})`;
      return new RemoteError("forbidden", msg, { retryable: false, cause: err, userMessage: user });
    }
    const user = BAD_REQUEST_TEXT.find(([re]) => re.test(text))?.[1] ?? `Telegram refused it (${err.description})`;
    return new RemoteError(code === 409 ? "conflict" : "bad_request", msg, { retryable: false, cause: err, userMessage: user });
  }
  if (isHttpError(err)) {
    return new RemoteError("network", `Telegram ${what} failed: ${err.message} (${networkReason(err.error)})`, { retryable: true, cause: err });
  }
  return new RemoteError("network", `Telegram ${what} failed: ${networkReason(err)}`, { retryable: true, cause: err });
}

/** A network failure's reason without the request URL (it carries the bot token). */
export function networkReason(err: unknown): string {
  const e = err as { code?: unknown; type?: unknown; message?: unknown; name?: unknown } | null;
  if (e && typeof e.code === "string") return e.code;
  if (e && e.name === "AbortError") return "timed out";
  const message = e && typeof e.message === "string" ? e.message : String(err);
  return scrubToken(message);
}

/** Replaces "/bot<token>/" and "<id>:<secret>" shapes in a string. */
export function scrubToken(s: string): string {
  return s.replace(/\/(file\/)?bot[^/\s]+/g, "/$1bot<redacted>").replace(/\b\d{5,}:[A-Za-z0-9_-]{30,}\b/g, "<redacted>");
}
