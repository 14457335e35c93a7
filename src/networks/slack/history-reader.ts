/**
 * The history import's Slack Web API reads (conversations.list / history / replies), paced by
 * Slack's own answers rather than guessed: each call asks for up to 999 messages and goes out as
 * soon as the previous one answered; a 429 waits its Retry-After and tries again. What Slack
 * does tells which rate tier the app has, and `tier()` says it:
 * - Tier 3 (internal customer-built and Marketplace apps): pages of up to 999 messages, 50+
 *   requests a minute (docs.slack.dev, conversations.history);
 * - non-Marketplace distributed apps: at most 15 messages per call and 1 request a minute per
 *   method (rate limits for non-Marketplace apps, 2025): a full page of 15 when 999 were asked
 *   for, and 429s with Retry-After around a minute.
 */
import { RemoteError } from "../../core/errors.js";
import type { Obj, SlackApi } from "./api.js";

export const IMPORT_PAGE_LIMIT = 999;
/** 429s in a row after which the import gives up on one call (Slack unreachable for ~an hour at 1/min). */
const MAX_RATE_LIMITED = 60;
/** Tries of one call that fails transiently (5xx, transport), 1 s doubling between them. */
const TRANSIENT_TRIES = 5;
const TRANSIENT_BACKOFF_MS = 1000;

export interface ReaderStats {
  requests: number;
  rateLimited: number;
  waitedMs: number;
  waitingNow: boolean;
  /** Largest page Slack gave when asked for more. */
  largestPage: number;
  /** A page that stopped at 15 while more was there and 999 were asked for. */
  cappedAt15: boolean;
  /** Shortest Retry-After seen, ms. */
  shortestRetryAfterMs?: number;
}

export class HistoryReader {
  readonly stats: ReaderStats = { requests: 0, rateLimited: 0, waitedMs: 0, waitingNow: false, largestPage: 0, cappedAt15: false };

  constructor(private readonly api: SlackApi, private readonly sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))) {}

  /** One read; 429s are waited out (Retry-After) and retried, other failures thrown. */
  async call<T extends Obj>(method: string, params: Obj): Promise<T> {
    for (let limited = 0, failed = 0; ; ) {
      this.stats.requests++;
      try {
        const r = await this.api.call<T>(method, params);
        this.notePage(params, r);
        return r;
      } catch (err) {
        // Slack or the network hiccuped (5xx, a reset): a few tries with backoff before the conversation is left for a rerun.
        if (err instanceof RemoteError && err.retryable && !err.badCredentials && err.code !== "ratelimited" && ++failed < TRANSIENT_TRIES) {
          await this.sleep(TRANSIENT_BACKOFF_MS * 2 ** (failed - 1));
          continue;
        }
        if (!(err instanceof RemoteError) || err.code !== "ratelimited" || ++limited > MAX_RATE_LIMITED) throw err;
        const ms = err.retryAfterMs ?? 60_000;
        this.stats.rateLimited++;
        this.stats.shortestRetryAfterMs = Math.min(this.stats.shortestRetryAfterMs ?? Infinity, ms);
        this.stats.waitingNow = true;
        const t0 = Date.now();
        await this.sleep(ms);
        this.stats.waitedMs += Date.now() - t0;
        this.stats.waitingNow = false;
      }
    }
  }

  private notePage(params: Obj, r: Obj): void {
    const messages = Array.isArray(r.messages) ? r.messages.length : 0;
    const asked = typeof params.limit === "number" ? params.limit : 0;
    this.stats.largestPage = Math.max(this.stats.largestPage, messages);
    if (asked > 15 && messages === 15 && r.has_more === true) this.stats.cappedAt15 = true;
  }

  /** What the answers so far say about the app's rate tier; undefined until they tell. */
  tier(): string | undefined {
    const s = this.stats;
    if (s.cappedAt15 && s.largestPage <= 15) {
      return "Slack limits this app to 15 messages per request and about 1 request a minute (a distributed app outside the Marketplace): " +
        "a large workspace takes hours; an internal app (config/slack-app-manifest.yaml, installed in its own workspace) gets Tier 3";
    }
    if (s.largestPage > 15) {
      return `Slack rate tier 3 (an internal or Marketplace app): up to ${IMPORT_PAGE_LIMIT} messages per request, 50+ requests a minute` +
        (s.rateLimited ? `; ${s.rateLimited} requests were rate limited and waited out` : "");
    }
    return undefined;
  }
}
