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
  constructor(code: string, message: string, opts: { retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(message, { cause: opts.cause });
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

/** Whether an error is worth retrying; unknown errors are retried (a bug should not lose messages). */
export function isRetryable(err: unknown): boolean {
  if (err instanceof RemoteError || err instanceof MatrixError) return err.retryable;
  return true;
}

export function retryAfterOf(err: unknown): number | undefined {
  if (err instanceof RemoteError || err instanceof MatrixError) return err.retryAfterMs;
  return undefined;
}
