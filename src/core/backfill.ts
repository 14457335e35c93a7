/**
 * Backfill: a new portal, or a newly linked room with no messages yet, gets the remote chat's
 * last N messages (per network, e.g. slack.backfill_count), with their original timestamps,
 * threads kept, and never relayed to the room's other links. Matrix can only append, so:
 * - A job holds its chat (core/chat-holds.ts) until its main import is in: every item of the
 *   chat's lane waits in the durable queue, in order, and follows the history (also across a
 *   restart: the job is in kv, the items in the queue).
 * - History comes newest page first, paced to the network (non-Marketplace Slack apps: one
 *   request a minute, 15 messages), is collected in kv and imported oldest first in one go.
 * - The bounded exception: once an item of the chat waits, the job fetches for at most `holdMs`
 *   more, then imports what it has (the newest messages, gap-free up to the present; `status`
 *   says it was cut short). Order does not depend on it, only how much history a busy chat gets.
 * - Threads not fetched in time are filled in after the release, unless a live reply took them.
 * - If a Matrix user wrote in the room before the import, nothing is imported ("stopped").
 */
import { createHash } from "node:crypto";
import type { PortalLinkRow } from "../store/api.js";
import { addPage, afterFailure, chooseStep, describeJob, holdsChat, isActive, linkNote, loadJobs, newJob, ProgressTick, progressLine, saveJob, unseen, type BackfillJob, type StepKind } from "./backfill-jobs.js";
import type { ChatHolds } from "./chat-holds.js";
import type { Connection } from "./connector.js";
import type { CoreDeps } from "./context.js";
import { isTransient, RemoteError } from "./errors.js";
import type { LoginManager } from "./logins.js";
import type { QueuePayload, RemotePayload } from "./payloads.js";
import type { PortalDirectory } from "./portals.js";
import type { RemoteEvent } from "./types.js";
import { errorFields } from "./log.js";

export interface BackfillOptions {
  /** How long the chat's waiting items give the job to fetch more history before it imports what it has. Default 10 s. */
  holdMs?: number;
  /** Delay after a failed request that named no Retry-After; doubles per failure up to 10 min. Default 30 s. */
  retryMs?: number;
  /** How long a finished backfill stays in `status`. Default 1 h. */
  showEndedMs?: number;
  /** How often a long import (thousands of messages at the homeserver's pace) logs how far it is. Default 1 min. */
  progressEveryMs?: number;
}

/** Posts one past message into its room (RemoteInbound.importPast); `id` makes its txnIds. */
export type PastImporter = (p: RemotePayload, id: string) => Promise<void>;

interface Running {
  job: BackfillJob;
  /** Serialises imports, so a live thread reply can wait for one in progress. */
  lock: Promise<void>;
  /** Set when an item of the held chat waits: the fetching must be over by then. */
  liveDeadline?: number;
  fetching: boolean;
}

/** The name a backfill job holds its chat under (core/chat-holds.ts). */
export const BACKFILL_HOLDER = "backfill";
type Step = { run: Running; at: number; kind: StepKind | "stop"; why?: string };

const IDLE_POLL_MS = 5000;
const key = (network: string, chat: string) => `${network}\u0000${chat}`;

export class Backfill {
  private readonly jobs = new Map<string, Running>();
  private readonly notes = new Map<string, string>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly holdMs: number;

  constructor(
    private readonly deps: CoreDeps,
    private readonly portals: PortalDirectory,
    private readonly logins: LoginManager,
    private readonly holds: ChatHolds,
    private readonly importer: PastImporter,
    private readonly opts: BackfillOptions = {},
  ) {
    this.holdMs = opts.holdMs ?? 10_000;
  }

  /** Read the stored jobs; call after `holds.load()` and before the relay queue starts. */
  async load(): Promise<void> {
    for (const job of await loadJobs(this.deps.store)) {
      this.add(job);
      // A crash between a job's save and its hold (or release) is mended here.
      if (holdsChat(job)) await this.holds.hold(job.network, job.chat, BACKFILL_HOLDER);
      else await this.holds.release(job.network, job.chat, BACKFILL_HOLDER);
    }
  }

  start(): void {
    this.running = true;
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    // A request in flight may take its full timeout: do not wait for it; the job resumes from kv.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise<void>((r) => { timer = setTimeout(r, 2000); timer.unref(); })]);
    clearTimeout(timer);
    this.loop = null;
  }

  // ---- triggers -----------------------------------------------------------------------

  /** A portal room was just made for a remote chat: backfill it (it is empty by construction). */
  async onPortalCreated(link: PortalLinkRow): Promise<void> {
    if (this.countFor(link) > 0) await this.begin(link);
  }

  /** A room was linked to a remote chat: backfill it only if it has no messages yet (`takeNote` says which). */
  async onLinked(link: PortalLinkRow): Promise<void> {
    const n = this.countFor(link);
    if (n === 0) return;
    const name = this.deps.connectors.get(link.network)?.displayName ?? link.network;
    const { matrix, options } = this.deps;
    const taken = matrix.hasMessages
      ? await matrix.hasMessages(link.roomId, (e) => e.sender === matrix.botMxid || e.body.trimStart().startsWith(options.commandPrefix))
      : true;
    this.notes.set(`${link.roomId}\u0000${link.network}`, linkNote(name, n, taken));
    if (!taken) await this.begin(link);
  }

  /** An item of a held chat waits (ChatHolds.onWaiting): fetch for at most holdMs more, then import. */
  onWaiting(network: string, chat: string, payload: QueuePayload): void {
    const run = this.jobs.get(key(network, chat));
    if (!run || run.job.state !== "collecting") return;
    const { job } = run;
    const ev = payload.t === "remote" ? payload.event : undefined;
    // The message that made the portal stays live (fan-out, lag), unless history was already read.
    if (ev?.kind === "message" && job.pages === 0 && !run.fetching && ev.at < job.before) job.before = ev.at;
    if (run.liveDeadline === undefined) {
      run.liveDeadline = Date.now() + this.holdMs;
      this.kick();
    }
  }

  /** A live message for the (released) chat: a reply takes its thread from the fill-in; an import in progress lands first. */
  async beforeLive(network: string, ev: Extract<RemoteEvent, { kind: "message" }>): Promise<void> {
    const run = this.jobs.get(key(network, ev.chat));
    if (!run || !isActive(run.job)) return;
    if (ev.msg.threadRoot && run.job.threads.some((t) => t.root === ev.msg.threadRoot)) {
      run.job.threads = run.job.threads.filter((t) => t.root !== ev.msg.threadRoot);
      this.kick();
    }
    await run.lock;
  }

  /** A line for the link confirmation, once. */
  takeNote(roomId: string, network: string): string | undefined {
    const k = `${roomId}\u0000${network}`;
    const note = this.notes.get(k);
    this.notes.delete(k);
    return note;
  }

  /** `status` lines for the jobs of these logins (all when absent). */
  status(loginIds?: ReadonlySet<string>): string[] {
    const now = Date.now();
    const out: string[] = [];
    for (const { job } of this.jobs.values()) {
      if (loginIds && !loginIds.has(job.loginId)) continue;
      if (!isActive(job) && (now - (job.endedAt ?? 0) > (this.opts.showEndedMs ?? 3600_000) || (job.imported === 0 && !job.note))) continue;
      const link = this.portals.linkForChat(job.network, job.chat);
      const name = `${link?.name ?? job.chat} (${this.deps.connectors.get(job.network)?.displayName ?? job.network})`;
      out.push(describeJob(job, name, this.readyAt(job, job.state === "threads" ? "thread" : job.morePages ? "page" : "thread"), now));
    }
    return out;
  }

  // ---- the loop -----------------------------------------------------------------------

  private countFor(link: PortalLinkRow): number {
    const n = this.deps.options.backfillCount?.[link.network] ?? 0;
    return n > 0 && this.logins.connection(link.loginId)?.history ? n : 0;
  }

  private async begin(link: PortalLinkRow): Promise<void> {
    const existing = this.jobs.get(key(link.network, link.chat));
    if (existing && isActive(existing.job) && existing.job.roomId === link.roomId) return;
    const job = newJob(link, this.deps.options.backfillCount?.[link.network] ?? 0);
    await saveJob(this.deps.store, job);
    this.add(job);
    // From here on the chat's lane waits for the history (a crash before this line: load() holds).
    await this.holds.hold(job.network, job.chat, BACKFILL_HOLDER);
    this.deps.log.info("backfill started", { network: job.network, chat: job.chat, roomId: job.roomId, target: job.target });
    // Not at once: a live message that made this portal gets to wait first (onWaiting), so it
    // moves `before` to itself and stays a live (fanned-out) message rather than history.
    setImmediate(() => this.kick());
  }

  private add(job: BackfillJob): void {
    this.jobs.set(key(job.network, job.chat), { job, lock: Promise.resolve(), fetching: false });
  }

  private kick(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const step = this.next(Date.now());
      const wait = step ? step.at - Date.now() : IDLE_POLL_MS;
      if (wait > 0) {
        // With no job under way nothing can come due: sleep until kicked (a new job), not a poll.
        const idle = ![...this.jobs.values()].some((r) => isActive(r.job));
        await new Promise<void>((resolve) => {
          const timer = idle ? undefined : setTimeout(done, Math.min(wait, IDLE_POLL_MS));
          timer?.unref();
          function done() { clearTimeout(timer); resolve(); }
          this.wake = done;
        });
        this.wake = null;
        continue;
      }
      await this.step(step!).catch((err) => this.deps.log.warn("backfill step failed", { chat: step!.run.job.chat, ...errorFields(err) }));
    }
  }

  private readyAt(job: BackfillJob, kind: "page" | "thread"): number | null {
    const conn = this.logins.connection(job.loginId);
    if (!conn?.history) return null;
    return Math.max(job.retryAt, conn.historyReadyAt?.(kind) ?? 0);
  }

  /**
   * The step that can go first, over every job. Jobs of one login share its pace, so ties are
   * common: a job without any page yet goes first (every new portal soon has its newest
   * messages, in case a live message cuts it short), then the oldest job (portals fill one by one).
   */
  private next(now: number): Step | null {
    let best: Step | null = null;
    const rank = (s: Step) => (s.kind === "page" && s.run.job.pages > 0 ? 1 : 0);
    for (const run of this.jobs.values()) {
      const step = this.stepOf(run, now);
      if (step && (!best || step.at < best.at || (step.at === best.at && rank(step) < rank(best)))) best = step;
    }
    return best;
  }

  private stepOf(run: Running, now: number): Step | null {
    const { job } = run;
    if (!isActive(job) || run.fetching) return null;
    if (this.portals.linkForChat(job.network, job.chat)?.roomId !== job.roomId) return { run, at: now, kind: "stop", why: "the room was unlinked" };
    if (!this.logins.record(job.loginId)) return { run, at: now, kind: "stop", why: "the login was removed" };
    const pageAt = this.readyAt(job, "page");
    const threadAt = this.readyAt(job, "thread");
    if (job.state !== "importing" && (pageAt === null || threadAt === null)) {
      // Waiting for the login to connect; the chat's waiting items need not: import what is in.
      return job.state === "collecting" && run.liveDeadline !== undefined ? { run, at: run.liveDeadline, kind: "import" } : null;
    }
    const next = chooseStep(job, { now, pageAt: pageAt ?? now, threadAt: threadAt ?? now, holdMs: this.holdMs, liveDeadline: run.liveDeadline });
    return { run, ...next };
  }

  private async step(s: Step): Promise<void> {
    const { run } = s;
    const conn = this.logins.connection(run.job.loginId);
    switch (s.kind) {
      case "stop": return this.end(run, "stopped", s.why);
      case "finish": return this.end(run, "done");
      case "import": return this.importMain(run).catch((err) => this.failed(run, err, "import"));
      case "page": if (conn) await this.fetchPage(run, conn); return;
      case "thread": if (conn) await this.fetchThread(run, conn); return;
    }
  }

  private async fetchPage(run: Running, conn: Connection): Promise<void> {
    const { job } = run;
    run.fetching = true;
    try {
      const page = await conn.history!(job.chat, { limit: job.target - job.topLevel, cursor: job.cursor ?? undefined, before: job.before });
      if (!this.running || job.state !== "collecting") return; // cut short meanwhile
      addPage(job, page);
      await saveJob(this.deps.store, job);
      this.deps.log.info(...progressLine.page(job)); // one a minute at Slack's pace: the operator sees it move
    } catch (err) {
      await this.failed(run, err, "page");
    } finally {
      run.fetching = false;
    }
  }

  private async fetchThread(run: Running, conn: Connection): Promise<void> {
    const { job } = run;
    const todo = job.threads[0]!;
    run.fetching = true;
    try {
      const page = await conn.history!(job.chat, { limit: job.target, thread: todo.root, cursor: todo.cursor, before: job.before });
      if (!this.running || job.threads[0] !== todo || !isActive(job)) return; // a live reply took the thread meanwhile
      const fresh = unseen(job, page.events);
      if (job.state === "threads") {
        // The main timeline is in already: the replies go into their thread now.
        await this.locked(run, async () => {
          if (job.threads[0] !== todo) return;
          for (const ev of fresh) await this.importOne(job, ev);
          job.imported += fresh.length;
        });
      } else {
        job.replies.push(...fresh);
      }
      todo.got += fresh.length;
      todo.cursor = page.cursor;
      if (!page.cursor || todo.got >= job.target) job.threads = job.threads.filter((t) => t !== todo);
      job.failures = 0;
      job.retryAt = 0;
      await saveJob(this.deps.store, job);
      this.deps.log.info(...progressLine.thread(job, todo, fresh.length));
    } catch (err) {
      await this.failed(run, err, "thread");
    } finally {
      run.fetching = false;
    }
  }

  /** Import everything collected, oldest first (under the lock; a second caller finds it done). */
  private importMain(run: Running): Promise<void> {
    return this.locked(run, async () => {
      const { job } = run;
      if (job.state !== "collecting" && job.state !== "importing") return;
      if (job.state === "collecting") {
        if (job.morePages && job.topLevel < job.target && run.liveDeadline) {
          job.note = `cut short at ${job.topLevel} of ${job.target}: a new message arrived before older history could be fetched, and Matrix can only append`;
        }
        job.state = "importing";
        await saveJob(this.deps.store, job);
      }
      const events = [...job.main, ...job.replies].sort((a, b) => a.at - b.at); // stable: replies after their root
      if (events.length > 0 && await this.roomTaken(job)) {
        return this.end(run, "stopped", "people wrote in the room before the history was in, and Matrix can only append");
      }
      job.imported = 0;
      this.deps.log.info(...progressLine.importing(job, 0, events.length)); // then once a minute, below
      const tick = new ProgressTick(this.opts.progressEveryMs ?? 60_000);
      for (const ev of events) {
        if (!this.running) throw new RemoteError("stopping", "the bridge is stopping", { retryable: true });
        await this.importOne(job, ev);
        job.imported++;
        if (tick.due() && job.imported < events.length) this.deps.log.info(...progressLine.importing(job, job.imported, events.length));
      }
      job.main = [];
      job.replies = [];
      job.retryAt = 0;
      job.failures = 0;
      this.deps.log.info("backfill imported", { chat: job.chat, roomId: job.roomId, messages: job.imported, threadsLeft: job.threads.length });
      if (job.threads.length > 0) {
        job.state = "threads";
        await saveJob(this.deps.store, job);
        await this.holds.release(job.network, job.chat, BACKFILL_HOLDER);
      } else {
        await this.end(run, "done");
      }
    });
  }

  private async importOne(job: BackfillJob, ev: RemoteEvent): Promise<void> {
    const id = `bf-${createHash("sha256").update(`${job.roomId}\u0000${ev.key}`).digest("hex").slice(0, 24)}`;
    try {
      await this.importer({ t: "remote", loginId: job.loginId, network: job.network, receivedAt: Date.now(), event: ev, backfill: true }, id);
    } catch (err) {
      if (isTransient(err)) throw err;
      this.deps.log.warn("backfill skipped a message", { chat: job.chat, key: ev.key, ...errorFields(err) });
    }
  }

  /** Whether someone other than the bridge wrote in the room (the room is no longer ours to fill). */
  private async roomTaken(job: BackfillJob): Promise<boolean> {
    const { matrix, options } = this.deps;
    if (!matrix.hasMessages) return false;
    return matrix.hasMessages(job.roomId, (e) => matrix.isBridgeUser(e.sender) || e.body.trimStart().startsWith(options.commandPrefix));
  }

  private async failed(run: Running, err: unknown, what: "page" | "thread" | "import"): Promise<void> {
    if (!this.running) return;
    const { job } = run;
    const inMs = afterFailure(job, err, what, this.opts.retryMs ?? 30_000);
    this.deps.log.warn(inMs === null ? "backfill gave up on a step" : "backfill step failed, will retry",
      { chat: job.chat, what, inMs, ...errorFields(err) });
    if (inMs === null && what === "import") return this.end(run, "stopped");
    await saveJob(this.deps.store, job).catch(() => undefined);
  }

  private async end(run: Running, state: "done" | "stopped", note?: string): Promise<void> {
    const { job } = run;
    job.state = state;
    if (note) job.note = note;
    job.endedAt = Date.now();
    job.main = [];
    job.replies = [];
    job.threads = [];
    await saveJob(this.deps.store, job);
    await this.holds.release(job.network, job.chat, BACKFILL_HOLDER);
    this.deps.log.info(`backfill ${state}`, { chat: job.chat, roomId: job.roomId, imported: job.imported, note: job.note });
  }

  private locked(run: Running, fn: () => Promise<void>): Promise<void> {
    const result = run.lock.then(fn);
    run.lock = result.catch(() => undefined);
    return result;
  }
}
