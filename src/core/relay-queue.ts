/**
 * The durable relay queue's workers: one ordered worker per lane (a portal or a remote
 * chat), many lanes in parallel. Items are applied strictly in id order within a lane; a
 * failing head item holds its lane (ordering) but never other lanes.
 *
 * Transient failures (transport, rate limit, the database) back off exponentially with jitter
 * (honouring Retry-After) for up to maxAttempts; anything else is a bug (or input our code
 * cannot take) and gets at most bugAttempts tries, so it costs its lane one dead letter, not
 * hours. Final refusals are dead-lettered at once. Dead letters are reported through `onDead`.
 */
import type { QueueItem, Store } from "../store/api.js";
import { Deferred, isRetryable, isTransient, retryAfterOf, TandemError } from "./errors.js";
import type { Logger } from "./log.js";
import { errorFields } from "./log.js";

export interface RelayQueueOptions {
  /**
   * Lanes worked on at the same time. Default 32: a lane waits on a network call most of the time
   * (a Slack post takes 100-300 ms), so 8 lanes capped a bridge at a few dozen messages/s in total.
   */
  concurrency?: number;
  /** How often to look for items whose retry time has come. Default 250 ms. */
  pollMs?: number;
  /** First retry delay; doubles each attempt up to maxDelayMs. Default 500 ms. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** After this many failed attempts an item is dead-lettered even if retryable. Default 40 (~3 h). */
  maxAttempts?: number;
  /** Tries for an item failing with an error that is not transient (a bug). Default 3. */
  bugAttempts?: number;
}

export type ItemHandler = (item: QueueItem) => Promise<void>;
/** What became of a handed-out item; `reason` (the error's code or class) for dead letters. */
export interface QueueOutcome {
  outcome: "done" | "retried" | "dead" | "deferred";
  item: QueueItem;
  reason?: string;
}
export type DeadHandler = (item: QueueItem, error: unknown) => Promise<void>;

export class RelayQueue {
  private readonly active = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private scanning: Promise<void> | null = null;
  private rescan = false;
  /** Lanes enqueued to while their worker ran: it claims once more before stopping. */
  private readonly again = new Set<string>();
  /** Ready lanes may be waiting for a free worker: scan when one frees up. */
  private backlog = false;
  private readonly opts: Required<RelayQueueOptions>;
  /** Items processed since start, by outcome (for metrics and the benchmark). */
  readonly counts = { done: 0, retried: 0, dead: 0, deferred: 0 };
  /** Wake-ups of lanes whose head was deferred, so they resume on time rather than at the next poll. */
  private readonly wakeups = new Map<string, NodeJS.Timeout>();
  private readonly observers: Array<(o: QueueOutcome) => void> = [];
  /** Told when reading the queue fails (the database is down) and, with null, when it works again. */
  onStoreHealth: (error: string | null) => void = () => undefined;

  constructor(
    private readonly store: Store,
    private readonly handle: ItemHandler,
    private readonly onDead: DeadHandler,
    private readonly log: Logger,
    opts: RelayQueueOptions = {},
  ) {
    this.opts = {
      concurrency: opts.concurrency ?? 32,
      pollMs: opts.pollMs ?? 250,
      baseDelayMs: opts.baseDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 5 * 60_000,
      maxAttempts: opts.maxAttempts ?? 40,
      bugAttempts: opts.bugAttempts ?? 3,
    };
  }

  /** Be told of every outcome as it happens (metrics count there). */
  observe(fn: (o: QueueOutcome) => void): void {
    this.observers.push(fn);
  }

  private count(outcome: QueueOutcome["outcome"], item: QueueItem, reason?: string): void {
    this.counts[outcome]++;
    for (const fn of this.observers) fn({ outcome, item, reason });
  }

  start(): void {
    this.running = true;
    this.timer = setInterval(() => this.kick(), this.opts.pollMs);
    this.kick();
  }

  /** Stop taking new items and wait for the lanes in flight to settle. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.wakeups.values()) clearTimeout(t);
    this.wakeups.clear();
    while (this.active.size > 0 || this.scanning) await new Promise((r) => setTimeout(r, 10));
  }

  /**
   * Look for work now (called after every enqueue so nothing waits for the poll). Given the lanes
   * just enqueued to, their workers start without asking the database which lanes are ready; with
   * none given (the poll, start), the database is scanned for ready lanes.
   */
  kick(lanes?: Iterable<string>): void {
    if (!this.running) return;
    if (lanes) {
      for (const lane of lanes) {
        if (this.active.has(lane)) this.again.add(lane); // its worker looks once more before it stops
        else if (this.active.size < this.opts.concurrency) this.startLane(lane);
        else this.backlog = true; // no free worker: scan when one is
      }
      return;
    }
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanning = this.scan()
      .catch((err) => {
        this.log.warn("relay queue scan failed", { ...errorFields(err) });
        this.onStoreHealth(err instanceof Error ? err.message : String(err));
      })
      .finally(() => {
        this.scanning = null;
        if (this.rescan) {
          this.rescan = false;
          this.kick();
        }
      });
  }

  /** Whether a worker is applying this lane's items right now. */
  isBusy(lane: string): boolean {
    return this.active.has(lane);
  }

  get lanesInFlight(): number {
    return this.active.size;
  }

  private async scan(): Promise<void> {
    const free = this.opts.concurrency - this.active.size;
    if (free <= 0) {
      this.backlog = true;
      return;
    }
    this.backlog = false;
    const limit = free + this.active.size;
    const lanes = await this.store.queue.readyLanes(limit);
    this.onStoreHealth(null);
    if (lanes.length >= limit) this.backlog = true; // there may be more than we asked for
    for (const lane of lanes) {
      if (this.active.has(lane)) continue;
      if (this.active.size >= this.opts.concurrency) {
        this.backlog = true;
        break;
      }
      this.startLane(lane);
    }
  }

  private startLane(lane: string): void {
    this.active.add(lane);
    void this.work(lane).finally(() => {
      this.active.delete(lane);
      // A freed worker looks for lanes left waiting; otherwise the poll finds retries that came due.
      if (this.backlog) this.kick();
    });
  }

  /** Drain one lane until it is empty or its head must wait. */
  private async work(lane: string): Promise<void> {
    const q = this.store.queue;
    let item: QueueItem | null = null;
    let claimed = false;
    // An item already handed out (claimed with the previous one's done) is applied even when stopping.
    while (claimed || this.running) {
      if (!claimed) {
        try {
          this.again.delete(lane);
          item = await q.claim(lane);
        } catch (err) {
          this.log.warn("relay queue read failed", { lane, ...errorFields(err) });
          this.onStoreHealth(err instanceof Error ? err.message : String(err));
          return;
        }
      }
      claimed = false;
      if (!item) {
        if (this.again.has(lane)) continue; // enqueued to while the claim was in flight
        return;
      }
      const current = item;
      try {
        await this.handle(current);
        if (q.doneAndClaim && this.running) {
          // Done and the lane's next item in one statement.
          this.again.delete(lane);
          item = await q.doneAndClaim(current.id, lane);
          this.count("done", current);
          claimed = true;
          continue;
        }
        await q.done(current.id);
        this.count("done", current);
      } catch (err) {
        if (err instanceof Deferred) {
          // Paced: not sent and not a failure. The lane waits (order), its worker is freed.
          await this.defer(current, err.retryAfterMs).catch((e) => this.log.error("relay queue could not defer an item", { lane, ...errorFields(e) }));
          return;
        }
        const settled = await this.fail(current, err).catch((e) => {
          this.log.error("relay queue could not record a failure", { lane, ...errorFields(e) });
          return false;
        });
        if (!settled) return;
      }
    }
  }

  private async defer(item: QueueItem, delayMs: number): Promise<void> {
    this.count("deferred", item);
    await this.store.queue.defer(item.id, new Date(Date.now() + delayMs));
    if (!this.running) return;
    clearTimeout(this.wakeups.get(item.lane));
    const timer = setTimeout(() => {
      this.wakeups.delete(item.lane);
      this.kick([item.lane]);
    }, delayMs + 1);
    timer.unref();
    this.wakeups.set(item.lane, timer);
  }

  /** Returns true when the lane may go on (the item was dead-lettered). */
  private async fail(item: QueueItem, err: unknown): Promise<boolean> {
    // "code: message" for our errors, so the audit and /metrics can group failures by code.
    // A bug is recorded under its class ("TypeError: …"), which the audit takes as the reason.
    const message = err instanceof TandemError ? `${err.code}: ${err.message}` : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const attempts = item.attempts + 1;
    const transient = isTransient(err);
    const limit = transient ? this.opts.maxAttempts : Math.min(this.opts.maxAttempts, this.opts.bugAttempts);
    if (isRetryable(err) && attempts < limit) {
      const backoff = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (attempts - 1));
      const jittered = backoff / 2 + Math.random() * (backoff / 2);
      const delay = Math.max(jittered, retryAfterOf(err) ?? 0);
      this.count("retried", item);
      const meta = { lane: item.lane, item: item.id, attempts, delayMs: Math.round(delay), ...errorFields(err) };
      if (transient) this.log.warn("relay item failed, will retry", meta);
      else this.log.error(`relay item failed with an unexpected error (a bug?), will try ${limit - attempts} more time(s)`, meta);
      await this.store.queue.retry(item.id, message, new Date(Date.now() + delay));
      return false;
    }
    this.log.error("relay item failed permanently", { lane: item.lane, item: item.id, attempts, ...errorFields(err) });
    await this.store.queue.dead(item.id, message);
    this.count("dead", item, err instanceof TandemError ? err.code : err instanceof Error ? err.name : "unknown");
    await this.onDead(item, err).catch((e) => this.log.warn("dead-letter notice failed", { ...errorFields(e) }));
    return true;
  }
}
