/**
 * Outbound pacing shared by the connectors: token buckets keyed by whatever the platform
 * limits (a Slack channel, a Telegram bot, a Telegram group), so the bridge queues instead
 * of collecting 429s. `take(keys)` waits until every bucket named has a token.
 *
 * Documented limits: Slack chat.postMessage ~1 message/s per channel (short bursts allowed);
 * Telegram ~30 messages/s per bot, ~20 messages/min per group.
 */
export interface BucketSpec {
  /** Tokens added per second. */
  ratePerSec: number;
  /** Most tokens a bucket holds (the burst). */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class Pacer {
  private readonly buckets = new Map<string, Bucket>();
  /** Time spent waiting, ms, since start (a metric for "we are being paced"). */
  waitedMs = 0;

  constructor(private readonly now: () => number = Date.now, private readonly sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))) {}

  private refill(key: string, spec: BucketSpec): Bucket {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: spec.burst, at: t };
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
    for (;;) {
      const wait = this.delayFor(limits);
      if (wait <= 0) break;
      this.waitedMs += wait;
      await this.sleep(wait);
    }
    for (const [key] of limits) this.buckets.get(key)!.tokens -= 1;
    if (this.buckets.size > 10_000) this.prune();
  }

  /** Forget full buckets (idle chats) so the map does not grow without bound. */
  private prune(): void {
    for (const [k, b] of this.buckets) if (b.tokens >= 1 && this.now() - b.at > 60_000) this.buckets.delete(k);
  }
}

export const SLACK_CHANNEL: BucketSpec = { ratePerSec: 1, burst: 4 };
export const TELEGRAM_BOT: BucketSpec = { ratePerSec: 30, burst: 30 };
export const TELEGRAM_GROUP: BucketSpec = { ratePerSec: 20 / 60, burst: 20 };
