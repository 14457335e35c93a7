/**
 * Error classes, one per failure domain (the Slack SDK / grammY shape): a stable `code`
 * for logic and metrics, a log `message`, and an optional `userMessage` safe to show in a room.
 */
export abstract class TandemError extends Error {
  abstract readonly code: string;
  readonly userMessage?: string;
  constructor(message: string, options?: ErrorOptions & { userMessage?: string }) {
    super(message, options);
    this.name = new.target.name;
    this.userMessage = options?.userMessage;
  }
}

/** A command was used wrongly; the message is for the user. */
export class CommandError extends TandemError {
  readonly code = "command";
  constructor(userMessage: string) {
    super(userMessage, { userMessage });
  }
}

/** A login could not be completed; the message says what to fix. */
export class LoginError extends TandemError {
  readonly code = "login";
  constructor(userMessage: string, options?: ErrorOptions) {
    super(userMessage, { ...options, userMessage });
  }
}

/** The user lacks the permission level for what they tried. */
export class PermissionError extends TandemError {
  readonly code = "permission";
  constructor(userMessage: string) {
    super(userMessage, { userMessage });
  }
}

/**
 * A remote network call failed. `retryable` tells the relay queue whether to back off and
 * try again (network errors, 5xx, 429) or dead-letter the item (channel_not_found, too long).
 */
export class RemoteError extends TandemError {
  readonly code: string;
  readonly retryable: boolean;
  /** Server-requested delay (Retry-After / retry_after), in ms. */
  readonly retryAfterMs?: number;
  /** The credentials are bad: the login goes to "bad-credentials". */
  readonly badCredentials: boolean;
  constructor(
    code: string,
    message: string,
    opts: { retryable: boolean; retryAfterMs?: number; badCredentials?: boolean; userMessage?: string; cause?: unknown },
  ) {
    super(message, { cause: opts.cause, userMessage: opts.userMessage });
    this.code = code;
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
    this.badCredentials = opts.badCredentials ?? false;
  }
}

/** Matrix (the homeserver) refused or failed a call. */
export class MatrixError extends TandemError {
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  constructor(code: string, message: string, opts: { retryable: boolean; retryAfterMs?: number; cause?: unknown; userMessage?: string }) {
    super(message, { cause: opts.cause, userMessage: opts.userMessage });
    this.code = code;
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/**
 * Not a failure: the item was not sent because the platform's send limit leaves no slot for
 * it yet (outbound pacing). The relay queue tries it again after `retryAfterMs` without
 * counting an attempt, and other lanes go on meanwhile.
 */
export class Deferred extends TandemError {
  readonly code = "deferred";
  constructor(readonly retryAfterMs: number, message: string) {
    super(message);
  }
}

/** Node and undici codes of a network call that failed on the way (the other side may be fine a moment later). */
const TRANSPORT_CODES = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ENETDOWN|UND_ERR_.*)$/;

/** Store failures that are our own mistakes, not the database's trouble: retrying cannot help. */
const STORE_BUGS = new Set(["store.misuse", "store.secrets"]);

/**
 * Whether a failure is the world's (transport, rate limit, the homeserver or a network saying
 * "later", the database): those are retried with backoff for as long as the queue allows.
 * Anything else is a bug in our code or an input it cannot handle, and is retried only a few
 * times (relay-queue.ts) so one bad message does not hold its chat for hours.
 */
export function isTransient(err: unknown): boolean {
  for (const e of causeChain(err)) {
    if (e instanceof RemoteError || e instanceof MatrixError) return e.retryable;
    if (e instanceof TandemError) return e.code.startsWith("store.") && !STORE_BUGS.has(e.code);
    const { code, name } = e as { code?: unknown; name?: unknown };
    if (typeof code === "string" && TRANSPORT_CODES.test(code)) return true;
    if (name === "AbortError" || name === "TimeoutError") return true;
  }
  return false;
}

/**
 * Whether an item that failed with this error may be tried again at all: transient failures
 * and bugs (a few times: the bug may be a race); not a refusal the error itself calls final.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof RemoteError || err instanceof MatrixError) return err.retryable;
  return true;
}

/** The error and its causes, outermost first (bounded: a cycle or a very deep chain stops at 8). */
export function causeChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && out.length < 8 && !out.includes(e); e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

export function retryAfterOf(err: unknown): number | undefined {
  if (err instanceof RemoteError || err instanceof MatrixError) return err.retryAfterMs;
  return undefined;
}

/** A remote account another Matrix user has already logged in with: said to the user as it is. */
export class LoginTakenError extends TandemError {
  readonly code = "login_taken";
  constructor(userMessage: string) {
    super(userMessage, { userMessage });
  }
}
