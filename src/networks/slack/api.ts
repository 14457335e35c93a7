/**
 * The Web API as the connector uses it: one WebClient per token, every failure mapped to a
 * RemoteError the relay queue understands (retry with backoff, or dead-letter with a message
 * the user can act on), and bad credentials reported once to whoever owns the connection.
 */
import {
  LogLevel, WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError, WebClient,
  type Logger as SdkLogger,
} from "@slack/web-api";
import { RemoteError } from "../../core/errors.js";
import type { Logger } from "../../core/log.js";
import { slackWebFetch } from "./web-transport.js";

export type Obj = Record<string, unknown>;

/** Codes that mean the token itself is no good: the login goes to "bad credentials". */
export const BAD_CREDENTIALS = new Set([
  "invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired", "team_disabled",
  "user_removed_from_team", "app_uninstalled", "org_login_required", "ekm_access_denied",
]);
/** Slack-side trouble worth retrying. */
const TRANSIENT = new Set(["ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout", "team_added_to_org"]);
/** Codes that mean "already done": not errors for an idempotent bridge. */
export const ALREADY_DONE = new Set(["already_reacted", "no_reaction", "message_not_found", "already_pinned"]);

const USER_MESSAGES: Record<string, string> = {
  channel_not_found: "the Slack conversation no longer exists or the bot cannot see it",
  not_in_channel: "the Slack bot is not a member of that channel (invite it there with /invite)",
  is_archived: "the Slack channel is archived",
  msg_too_long: "the message is too long for Slack",
  no_text: "the message is empty",
  cant_update_message: "Slack does not allow the bot to edit that message",
  edit_window_closed: "the time to edit that message on Slack has passed",
  cant_delete_message: "Slack does not allow the bot to delete that message",
  message_not_found: "the Slack message no longer exists",
  restricted_action: "a workspace setting keeps the bot from posting there",
  invalid_name: "Slack does not know that emoji",
  too_many_reactions: "the Slack message has too many reactions",
  too_many_emoji: "the Slack message has too many different reactions",
  file_not_found: "the Slack file no longer exists",
  file_upload_size_mismatch: "the file upload to Slack was cut short",
  posting_to_general_channel_denied: "only admins may post in that Slack channel",
};

/** What to tell the room about a refusal; the code comes from Slack's answer, so no inherited keys ("constructor"). */
function userMessageFor(code: string): string {
  return Object.hasOwn(USER_MESSAGES, code) ? USER_MESSAGES[code]! : `Slack refused it (${code})`;
}

/** The Slack error code of a WebClient failure (platform errors only). */
export function slackErrorCode(err: unknown): string | undefined {
  return err instanceof WebAPIPlatformError ? String(err.data.error) : undefined;
}

export function badCredentialsText(code: string, which: string): string {
  switch (code) {
    case "token_revoked": return `the ${which} was revoked (token_revoked)`;
    case "account_inactive": return `the ${which} belongs to a deleted app or a deactivated workspace (account_inactive)`;
    case "app_uninstalled": return `the Slack app was uninstalled from the workspace (app_uninstalled)`;
    case "token_expired": return `the ${which} expired (token_expired)`;
    default: return `Slack no longer accepts the ${which} (${code})`;
  }
}

/** WebClient error → RemoteError. `which` names the token for bad-credential messages. */
export function toRemoteError(err: unknown, method: string, which = "bot token"): RemoteError {
  if (err instanceof RemoteError) return err;
  if (err instanceof WebAPIRateLimitedError) {
    return new RemoteError("ratelimited", `${method}: rate limited for ${err.retryAfter}s`, {
      retryable: true, retryAfterMs: err.retryAfter * 1000, cause: err,
    });
  }
  if (err instanceof WebAPIPlatformError) {
    const code = String(err.data.error);
    if (BAD_CREDENTIALS.has(code)) {
      const text = badCredentialsText(code, which);
      // Retryable on purpose: after the owner logs in again with new tokens the queued messages go out.
      return new RemoteError(code, text, {
        retryable: true, retryAfterMs: 60_000, badCredentials: true, cause: err,
        userMessage: `${text}; log in again with \`login app\``,
      });
    }
    if (TRANSIENT.has(code)) {
      const after = typeof err.data.response_metadata?.retryAfter === "number" ? err.data.response_metadata.retryAfter * 1000 : undefined;
      return new RemoteError(code, `${method}: ${code}`, { retryable: true, retryAfterMs: after, cause: err });
    }
    if (code === "missing_scope") {
      const data = err.data as { needed?: unknown };
      const needed = typeof data.needed === "string" ? data.needed : "a";
      return new RemoteError(code, `${method}: missing scope ${needed}`, {
        retryable: false, cause: err,
        userMessage: `the Slack app lacks the ${needed} scope: add it (config/slack-app-manifest.yaml lists every scope), reinstall the app and log in again`,
      });
    }
    return new RemoteError(code, `${method}: ${code}`, { retryable: false, cause: err, userMessage: userMessageFor(code) });
  }
  if (err instanceof WebAPIHTTPError) {
    const retryable = err.statusCode >= 500 || err.statusCode === 408;
    return new RemoteError(`http_${err.statusCode}`, `${method}: HTTP ${err.statusCode}`, {
      retryable, cause: err, userMessage: retryable ? undefined : `Slack answered HTTP ${err.statusCode}`,
    });
  }
  if (err instanceof WebAPIRequestError) {
    return new RemoteError("network", `${method}: ${err.original?.message ?? err.message}`, { retryable: true, cause: err });
  }
  return new RemoteError("unknown", `${method}: ${err instanceof Error ? err.message : String(err)}`, { retryable: true, cause: err });
}

/** Our Logger as the SDK's logger. SDK debug output (whole payloads) is dropped; its errors are warnings. */
export function sdkLogger(log: Logger): SdkLogger {
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : JSON.stringify(a))).join(" ");
  return {
    debug: () => undefined,
    info: (...a: unknown[]) => log.debug(text(a), { sdk: "slack" }),
    warn: (...a: unknown[]) => log.warn(text(a), { sdk: "slack" }),
    error: (...a: unknown[]) => log.warn(text(a), { sdk: "slack" }),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}

export interface ApiOptions {
  apiUrl: string;
  log: Logger;
  /** WebClient retries of network failures (429s go back to the relay queue instead). */
  retries: number;
  /** Per-request timeout, ms. */
  timeoutMs: number;
}

export function makeWebClient(token: string, opts: ApiOptions, extra: { rejectRateLimitedCalls?: boolean } = {}): WebClient {
  return new WebClient(token, {
    slackApiUrl: opts.apiUrl,
    logger: sdkLogger(opts.log),
    retryConfig: { retries: opts.retries, factor: 2, minTimeout: 200, maxTimeout: 2000 },
    timeout: opts.timeoutMs,
    rejectRateLimitedCalls: extra.rejectRateLimitedCalls ?? true,
    fetch: slackWebFetch(),
  });
}

/** One token's Web API. Failures come out as RemoteError; bad credentials are also reported. */
export class SlackApi {
  readonly web: WebClient;
  constructor(
    token: string,
    opts: ApiOptions,
    private readonly onBadCredentials: (err: RemoteError) => void = () => undefined,
    private readonly which = "bot token",
  ) {
    this.web = makeWebClient(token, opts);
  }

  async call<T = Obj>(method: string, params: Obj = {}): Promise<T & Obj> {
    try {
      return (await this.web.apiCall(method, params)) as unknown as T & Obj;
    } catch (err) {
      const e = toRemoteError(err, method, this.which);
      if (e.badCredentials) this.onBadCredentials(e);
      throw e;
    }
  }

  /** Like call, but waits out a short rate limit a few times (for reads outside the relay queue). */
  async read<T = Obj>(method: string, params: Obj = {}, attempts = 3): Promise<T & Obj> {
    for (let i = 1; ; i++) {
      try {
        return await this.call<T>(method, params);
      } catch (err) {
        const e = err as RemoteError;
        if (i >= attempts || e.code !== "ratelimited" || (e.retryAfterMs ?? 0) > 30_000) throw e;
        await new Promise((r) => setTimeout(r, e.retryAfterMs ?? 1000));
      }
    }
  }
}
