/**
 * Logs a condition that lasts (the homeserver unreachable, its token refused) without one line per
 * retry: a line when it starts or its message changes, the same message again only after growing
 * gaps (1 min, 2, 4, … at most 1 h) saying how often it recurred meanwhile, and one line when it ends.
 * A retry loop every 5 s would otherwise write 720 identical lines an hour and bury everything else.
 */
import type { Logger } from "./log.js";

export interface RepeatLogOptions {
  /** Gap before the first repeat of an unchanged message. Default 1 minute. */
  firstGapMs?: number;
  /** The gap doubles up to this. Default 1 hour. */
  maxGapMs?: number;
  now?: () => number;
}

type Level = "error" | "warn";

export class RepeatLog {
  private current: { level: Level; message: string; nextAt: number; gapMs: number; repeats: number; since: number } | null = null;
  private readonly firstGapMs: number;
  private readonly maxGapMs: number;
  private readonly now: () => number;

  constructor(private readonly log: Logger, opts: RepeatLogOptions = {}) {
    this.firstGapMs = opts.firstGapMs ?? 60_000;
    this.maxGapMs = opts.maxGapMs ?? 3_600_000;
    this.now = opts.now ?? Date.now;
  }

  /** The condition holds (again): logged if new, changed, or its next gap has passed. */
  report(level: Level, message: string, meta: Record<string, unknown> = {}): void {
    const now = this.now();
    const cur = this.current;
    if (cur && cur.message === message && cur.level === level) {
      cur.repeats++;
      if (now < cur.nextAt) return;
      this.log[level](message, { ...meta, repeated: cur.repeats, since: new Date(cur.since).toISOString() });
      cur.repeats = 0;
      cur.gapMs = Math.min(cur.gapMs * 2, this.maxGapMs);
      cur.nextAt = now + cur.gapMs;
      return;
    }
    this.log[level](message, meta);
    this.current = { level, message, nextAt: now + this.firstGapMs, gapMs: this.firstGapMs, repeats: 0, since: now };
  }

  /** The condition is over: `message` is logged (info) once if it was reported; true if it was. */
  clear(message: string, meta: Record<string, unknown> = {}): boolean {
    if (!this.current) return false;
    this.log.info(message, { ...meta, after: this.current.message });
    this.current = null;
    return true;
  }

  /** Whether a condition is being reported. */
  get active(): boolean {
    return this.current !== null;
  }
}
