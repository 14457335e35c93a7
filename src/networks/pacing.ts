/**
 * Outbound pacing shared by the connectors: token buckets keyed by whatever the platform
 * limits (a Slack channel, a Telegram bot, a Telegram group), so the bridge queues instead
 * of collecting 429s. `take(keys)` waits until every bucket named has a token.
 *
 * Documented limits: Slack chat.postMessage ~1 message/s per channel (short bursts allowed);
 * Telegram ~30 messages/s per bot, ~20 messages/min per group.
 *
 * A send that would wait long does not wait in place: `pace()` throws Deferred and the relay
 * queue puts the item back until its slot comes, so one busy chat never holds a queue worker
 * that other chats need (a Telegram group at 20/min would otherwise pin a worker for minutes).
 */
import { Deferred } from "../core/errors.js";

export interface BucketSpec {
  /** Tokens added per second. */
  ratePerSec: number;
  /** Most tokens a bucket holds (the burst). */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
  spec: BucketSpec;
}

export class Pacer {
  private readonly buckets = new Map<string, Bucket>();
  /** Time spent waiting in place, ms, since start (a metric for "we are being paced"). */
  waitedMs = 0;
  /** Bucket count that triggers a prune; raised when many buckets are busy, so pruning stays rare. */
  private pruneAt = 10_000;

  constructor(private readonly now: () => number = Date.now, private readonly sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))) {}

  private refill(key: string, spec: BucketSpec): Bucket {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: spec.burst, at: t, spec };
    b.tokens = Math.min(spec.burst, b.tokens + ((t - b.at) / 1000) * spec.ratePerSec);
    b.at = t;
    this.buckets.set(key, b);
    return b;
  }

  /** How long until every named bucket has a token (0 = now). */
  delayFor(limits: Array<[string, BucketSpec]>): number {
    let wait = 0;
    for (const [key, spec] of limits) {
      const b = this.refill(key, spec);
      if (b.tokens < 1) wait = Math.max(wait, ((1 - b.tokens) / spec.ratePerSec) * 1000);
    }
    return Math.ceil(wait);
  }

  /** Wait for a token in every named bucket, then spend one from each. */
  async take(limits: Array<[string, BucketSpec]>): Promise<void> {
    await this.reserve(limits, Infinity);
  }

  /**
   * Take a token from every named bucket if one comes within `maxWaitMs`: it is reserved at
   * once (the bucket goes into debt, so later callers queue behind it) and this waits for its
   * slot. Returns 0 when taken; otherwise takes nothing and returns how long until one would come.
   */
  async reserve(limits: Array<[string, BucketSpec]>, maxWaitMs: number): Promise<number> {
    const wait = this.delayFor(limits);
    if (wait > maxWaitMs) return wait;
    for (const [key] of limits) this.buckets.get(key)!.tokens -= 1;
    if (this.buckets.size > this.pruneAt) this.prune();
    if (wait > 0) {
      this.waitedMs += wait;
      await this.sleep(wait);
    }
    return 0;
  }

  /**
   * Pace one send: wait in place for a slot up to `inlineMs` away; a later slot throws Deferred
   * (nothing was sent), and the relay queue tries the item again when the slot comes.
   */
  async pace(limits: Array<[string, BucketSpec]>, what: string, inlineMs = INLINE_WAIT_MS): Promise<void> {
    const later = await this.reserve(limits, inlineMs);
    if (later > 0) throw new Deferred(later, `${what}: paced to the platform's send limit`);
  }

  /** Forget idle buckets so the map does not grow without bound. */
  private prune(): void {
    const t = this.now();
    // A forgotten bucket comes back full, so only those that would be full by now may go.
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * b.spec.ratePerSec >= b.spec.burst) this.buckets.delete(k);
    this.pruneAt = Math.max(10_000, this.buckets.size * 2);
  }
}

/**
 * Waits up to this long happen in place; longer ones go back to the queue (a database round
 * trip and the worker freed). 250 ms: a bot-wide Telegram burst settles inline; a Slack channel's
 * 1 message/s does not.
 */
export const INLINE_WAIT_MS = 250;

export const SLACK_CHANNEL: BucketSpec = { ratePerSec: 1, burst: 4 };
export const TELEGRAM_BOT: BucketSpec = { ratePerSec: 30, burst: 30 };
export const TELEGRAM_GROUP: BucketSpec = { ratePerSec: 20 / 60, burst: 20 };
