/**
 * The durable relay queue's workers: one ordered worker per lane (a portal or a remote
 * chat), many lanes in parallel. Items are applied strictly in id order within a lane; a
 * failing head item holds its lane (ordering) but never other lanes.
 *
 * Transient failures (transport, rate limit, the database) back off exponentially with jitter
 * (honouring Retry-After) for up to maxAttempts; anything else is a bug (or input our code
 * cannot take) and gets at most bugAttempts tries, so it costs its lane one dead letter, not
 * hours. Final refusals are dead-lettered at once. Dead letters are reported through `onDead`.
 *
 * Nothing polls: an enqueue starts its lanes' workers (kick), a retry or deferral arms a timer
 * for exactly the time its lane is due, times the database holds from before a start arm one
 * timer for the earliest, and a failed read of the queue is tried again with backoff. A slow
 * safety sweep (pollMs, default 5 min) is the only periodic work, so an idle bridge costs nothing.
 */
import type { NewMessageRow, NewQueueItem, QueueItem, Store } from "../store/api.js";
import { Deferred, isRetryable, isTransient, retryAfterOf, TandemError } from "./errors.js";
import type { Logger } from "./log.js";
import { errorFields } from "./log.js";
import { listenToOthers } from "./queue-listen.js";

export interface RelayQueueOptions {
  /**
   * Lanes worked on at the same time. Default 32: a lane waits on a network call most of the time
   * (a Slack post takes 100-300 ms), so 8 lanes capped a bridge at a few dozen messages/s in total.
   */
  concurrency?: number;
  /**
   * Safety sweep: how often to scan for ready lanes that no wake-up announced (there should be
   * none: enqueues, retries and deferrals all wake their lane). Default 5 min; 0 turns it off.
   */
  pollMs?: number;
  /** First retry delay; doubles each attempt up to maxDelayMs. Default 500 ms. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** After this many failed attempts an item is dead-lettered even if retryable. Default 40 (~3 h). */
  maxAttempts?: number;
  /** Tries for an item failing with an error that is not transient (a bug). Default 3. */
  bugAttempts?: number;
}

/** Longest wait between two reads of a queue that failed (the database down). */
const STORE_RETRY_MAX_MS = 5000;
export type ItemHandler = (item: QueueItem) => Promise<void>;

/**
 * Record message-map rows of the item being applied. Under the relay queue (`item.mapRows` set)
 * they are written by the statement that marks the item done: no round trip of their own, and a
 * crash cannot leave the map written but the item pending (or the reverse). Outside it (a backfill
 * import) they are written now.
 */
export async function recordMap(store: Store, item: { mapRows?: NewMessageRow[] }, rows: NewMessageRow[]): Promise<void> {
  if (item.mapRows) item.mapRows.push(...rows);
  else await store.messages.insert(rows);
}
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
  /** Wake-ups of lanes whose head was retried or deferred, each armed for the time it is due. */
  private readonly wakeups = new Map<string, NodeJS.Timeout>();
  /** One timer for the earliest due time read from the database (or a retry of a failed read). */
  private dueTimer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;
  /** Consecutive failed reads of the queue: the next try waits base·2^n, at most maxDelayMs. */
  private storeFailures = 0;
  /** The next scan also reads the earliest due time (start, a due time, the sweep; not backlog scans). */
  private dueCheck = false;
  private readonly observers: Array<(o: QueueOutcome) => void> = [];
  /** Stops listening for other processes' enqueues (null where the store cannot). */
  private listening: Promise<(() => Promise<void>) | null> = Promise.resolve(null);
  /** A scan for ready lanes that also reads the earliest due time (start, the sweep, a due time). */
  private readonly fullScan = (): void => { this.dueCheck = true; this.kick(); };
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
      pollMs: opts.pollMs ?? 5 * 60_000,
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
    if (this.opts.pollMs > 0) {
      this.timer = setInterval(this.fullScan, this.opts.pollMs);
      this.timer.unref();
    }
    // Listening first (where the store can), then a full scan: what was ready before the start and
    // the next due time; what another process enqueues after the scan began comes by notification.
    this.listening = listenToOthers(this.store.queue, this.log, (lanes) => this.kick(lanes), this.fullScan);
  }

  /** Stop taking new items and wait for the lanes in flight to settle. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    this.dueAt = Infinity;
    for (const t of this.wakeups.values()) clearTimeout(t);
    this.wakeups.clear();
    await (await this.listening)?.();
    while (this.active.size > 0 || this.scanning) await new Promise((r) => setTimeout(r, 10));
  }

  /**
   * Look for work now (called after every enqueue so nothing waits for the poll). Given the lanes
   * just enqueued to, their workers start without asking the database which lanes are ready; with
   * none given (start, a due time, the safety sweep), the database is scanned for ready lanes.
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
        this.storeFailed(err);
      })
      .finally(() => {
        this.scanning = null;
        if (this.rescan) {
          this.rescan = false;
          this.kick();
        }
      });
  }

  /**
   * Store items and start their lanes. A lane with no worker (and a free one for it) is reserved
   * first, so the insert can hand out its head in the same statement: the worker starts with the
   * item, without a claim of its own (one round trip less for a message into a quiet chat).
   */
  async enqueue(items: NewQueueItem[]): Promise<void> {
    if (items.length === 0) return;
    const lanes = [...new Set(items.map((i) => i.lane))];
    const q = this.store.queue;
    const reserved: string[] = [];
    if (this.running && q.enqueueAndClaim) {
      for (const lane of lanes) {
        if (this.active.has(lane) || this.active.size >= this.opts.concurrency) continue;
        this.active.add(lane); // no scan or other enqueue starts a worker for it meanwhile
        reserved.push(lane);
      }
    }
    if (reserved.length === 0) {
      await q.enqueue(items);
      this.kick(lanes);
      return;
    }
    let claimed: QueueItem[] = [];
    try {
      claimed = await q.enqueueAndClaim!(items, reserved);
    } finally {
      // Released before its worker starts: an item handed out, or, when none was (the lane had a
      // pending head, the item was a duplicate, or the insert failed), a worker that claims as usual.
      const first = new Map(claimed.map((i) => [i.lane, i]));
      for (const lane of reserved) {
        this.active.delete(lane);
        const item = first.get(lane);
        if (item) this.startLane(lane, item);
      }
      this.kick(lanes.filter((l) => !first.has(l)));
    }
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
    const now = new Date();
    const lanes = await this.store.queue.readyLanes(limit, now);
    // Heads not due yet (retries from before a start, or ones whose timer this process lost to a
    // failed write): one timer for the earliest. Those retried here have their own wake-up.
    const checkDue = this.dueCheck;
    // Stryker disable next-line BooleanLiteral: left true, the next scan reads the due time once more.
    this.dueCheck = false;
    // Stryker disable next-line OptionalChaining: both stores implement nextDueAt.
    const due = checkDue ? await this.store.queue.nextDueAt?.(now) : null;
    this.storeWorks();
    if (due) this.armDue(due.getTime());
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

  private startLane(lane: string, first?: QueueItem): void {
    this.active.add(lane);
    void this.work(lane, first).finally(() => {
      this.active.delete(lane);
      // A freed worker looks for lanes left waiting (retries that come due wake their own lane).
      if (this.backlog) this.kick();
    });
  }

  /** Drain one lane until it is empty or its head must wait. */
  private async work(lane: string, first?: QueueItem): Promise<void> {
    const q = this.store.queue;
    let item: QueueItem | null = first ?? null;
    let claimed = first !== undefined; // handed out by the enqueue
    // An item already handed out (claimed with the previous one's done) is applied even when stopping.
    while (claimed || this.running) {
      if (!claimed) {
        try {
          this.again.delete(lane);
          item = await q.claim(lane);
        } catch (err) {
          this.log.warn("relay queue read failed", { lane, ...errorFields(err) });
          this.storeFailed(err);
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
        current.mapRows = [];
        await this.handle(current);
        const rows = current.mapRows;
        current.mapRows = undefined; // written below; not `delete`, which turns the object into a slow dictionary
        if (q.doneAndClaim && this.running) {
          // Done, the map rows it produced and the lane's next item in one statement.
          this.again.delete(lane);
          item = await q.doneAndClaim(current.id, lane, undefined, rows);
          this.count("done", current);
          claimed = true;
          continue;
        }
        await q.done(current.id, rows);
        this.count("done", current);
      } catch (err) {
        current.mapRows = undefined; // not written: the retry produces them again
        if (err instanceof Deferred) {
          // Paced: not sent and not a failure. The lane waits (order), its worker is freed.
          await this.defer(current, err.retryAfterMs).catch((e) => {
            this.log.error("relay queue could not defer an item", { lane, ...errorFields(e) });
            this.storeFailed(e); // the item stays due: a scan after the backoff finds it
          });
          return;
        }
        const settled = await this.fail(current, err).catch((e) => {
          this.log.error("relay queue could not record a failure", { lane, ...errorFields(e) });
          this.storeFailed(e); // the item stays due: a scan after the backoff finds it
          return false;
        });
        if (!settled) return;
      }
    }
  }

  private async defer(item: QueueItem, delayMs: number): Promise<void> {
    this.count("deferred", item);
    await this.store.queue.defer(item.id, new Date(Date.now() + delayMs));
    this.wakeLaneIn(item.lane, delayMs);
  }

  /** Start the lane's worker when its head is due (one timer per waiting lane, not a poll). */
  private wakeLaneIn(lane: string, delayMs: number): void {
    if (!this.running) return;
    clearTimeout(this.wakeups.get(lane));
    // +1: the head's next_attempt_at is compared with the clock in the database's terms (ms).
    const timer = setTimeout(() => {
      this.wakeups.delete(lane);
      this.kick([lane]);
    }, delayMs + 1);
    timer.unref();
    this.wakeups.set(lane, timer);
  }

  /** Scan the database at `at` (ms since epoch), unless a scan is already armed for earlier. */
  private armDue(at: number): void {
    if (!this.running || at >= this.dueAt) return;
    // Stryker disable next-line ConditionalExpression: clearTimeout(null) does nothing; a timer left armed costs one more scan.
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueAt = at;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null;
      this.dueAt = Infinity;
      this.fullScan();
    }, Math.max(0, at - Date.now()) + 1);
    this.dueTimer.unref();
  }

  /**
   * Reading the queue failed (the database is down): report it and scan again after a backoff,
   * which finds this lane and any other that could not be read, without a poll.
   */
  private storeFailed(err: unknown): void {
    this.onStoreHealth(err instanceof Error ? err.message : String(err));
    // At most 5 s apart: the poll this replaces found a database that came back within 250 ms.
    const delay = Math.min(STORE_RETRY_MAX_MS, this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(this.storeFailures, 20));
    this.storeFailures++;
    this.armDue(Date.now() + delay);
  }

  private storeWorks(): void {
    this.storeFailures = 0;
    this.onStoreHealth(null);
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
      this.wakeLaneIn(item.lane, delay);
      return false;
    }
    this.log.error("relay item failed permanently", { lane: item.lane, item: item.id, attempts, ...errorFields(err) });
    await this.store.queue.dead(item.id, message);
    this.count("dead", item, err instanceof TandemError ? err.code : err instanceof Error ? err.name : "unknown");
    await this.onDead(item, err).catch((e) => this.log.warn("dead-letter notice failed", { ...errorFields(e) }));
    return true;
  }
}
