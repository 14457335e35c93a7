/**
 * A backfill job as stored in kv (`backfill:<network>:<chat>`, JSON), so a restart resumes it
 * where it was, and the line `status` shows for it. The logic that moves a job along is in
 * backfill.ts.
 */
import type { PortalLinkRow, Store } from "../store/api.js";
import type { HistoryPage } from "./connector.js";
import { isTransient, RemoteError } from "./errors.js";
import type { MessageRef, RemoteEvent } from "./types.js";

/**
 * collecting → importing → threads → done, or stopped. History is collected newest page
 * first, and imported oldest first in one go, so the room's timeline stays in order.
 */
export type JobState = "collecting" | "importing" | "threads" | "done" | "stopped";

export interface ThreadTodo {
  root: MessageRef;
  cursor?: string;
  /** Replies fetched so far. */
  got: number;
}

export interface BackfillJob {
  roomId: string;
  network: string;
  chat: string;
  loginId: string;
  /** Top-level messages wanted (e.g. slack.backfill_count). */
  target: number;
  /** Only messages strictly older than this (ms): when the portal was made or the room linked. */
  before: number;
  state: JobState;
  /** The connector's cursor for the next (older) page. */
  cursor: string | null;
  /** False once the start of the chat was reached. */
  morePages: boolean;
  pages: number;
  /** Top-level messages collected, oldest first; emptied once imported. */
  main: RemoteEvent[];
  /** Thread replies collected, each thread oldest first; emptied once imported. */
  replies: RemoteEvent[];
  /** Top-level messages collected in all. */
  topLevel: number;
  /** Threads whose replies are still to fetch. */
  threads: ThreadTodo[];
  /** Messages imported into the room. */
  imported: number;
  /** Not before this (ms) after a failure; 0 = no failure pending. */
  retryAt: number;
  failures: number;
  /** Why it ended early or imported less, for `status` and the logs. */
  note?: string;
  startedAt: number;
  endedAt?: number;
}

export function newJob(link: Pick<PortalLinkRow, "roomId" | "network" | "chat" | "loginId">, target: number, now = Date.now()): BackfillJob {
  return {
    roomId: link.roomId, network: link.network, chat: link.chat, loginId: link.loginId, target, before: now, state: "collecting",
    cursor: null, morePages: true, pages: 0, main: [], replies: [], topLevel: 0, threads: [], imported: 0, retryAt: 0, failures: 0, startedAt: now,
  };
}

/** Messages of a page not collected yet (a thread broadcast comes both as top level and as a reply). */
export function unseen(job: BackfillJob, events: RemoteEvent[]): RemoteEvent[] {
  const seen = new Set([...job.main, ...job.replies].map((e) => e.key));
  return events.filter((e) => e.kind === "message" && !seen.has(e.key));
}

/** Add a (older) page of top-level history: its newest messages up to the target, and its threads. */
export function addPage(job: BackfillJob, page: HistoryPage): void {
  const fresh = unseen(job, page.events);
  const kept = fresh.slice(Math.max(0, fresh.length - (job.target - job.topLevel)));
  const refs = new Set(kept.map((e) => (e.kind === "message" ? e.ref : "")));
  for (const root of page.threads ?? []) if (refs.has(root) && !job.threads.some((t) => t.root === root)) job.threads.push({ root, got: 0 });
  job.main = [...kept, ...job.main];
  job.topLevel += kept.length;
  job.cursor = page.cursor ?? null;
  job.morePages = !!page.cursor;
  job.pages++;
  job.failures = 0;
  job.retryAt = 0;
}

export type StepKind = "page" | "thread" | "import" | "finish";

/**
 * What an active job does next, and not before when (ms). `pageAt` / `threadAt`: when the
 * connection's pace allows the next request of that kind; `liveDeadline`: a live message waits
 * until then, so anything later gives way to importing what is in.
 */
export function chooseStep(job: BackfillJob, t: { now: number; pageAt: number; threadAt: number; holdMs: number; liveDeadline?: number }): { kind: StepKind; at: number } {
  const pageAt = Math.max(t.pageAt, job.retryAt);
  const threadAt = Math.max(t.threadAt, job.retryAt);
  if (job.state === "importing") return { kind: "import", at: job.retryAt };
  if (job.state === "threads") return job.threads.length ? { kind: "thread", at: threadAt } : { kind: "finish", at: t.now };
  let step: { kind: StepKind; at: number };
  if (job.morePages && job.topLevel < job.target) step = job.threads.length && threadAt < pageAt ? { kind: "thread", at: threadAt } : { kind: "page", at: pageAt };
  // All pages in: fetch the threads first if that is quick, so replies interleave in time order.
  else step = job.threads.length && threadAt <= t.now + t.holdMs && !t.liveDeadline ? { kind: "thread", at: threadAt } : { kind: "import", at: t.now };
  if (t.liveDeadline && step.at > t.liveDeadline) return { kind: "import", at: t.now };
  return step;
}

const MAX_FAILURES = 8;

/**
 * After a failed step: the delay before trying again (ms, Retry-After when given, else
 * doubling from retryMs up to 10 min), or null when the step is given up: a page ends the
 * collecting (what is in gets imported), a thread is skipped, an import ends the job; `note` says why.
 */
export function afterFailure(job: BackfillJob, err: unknown, what: "page" | "thread" | "import", retryMs: number): number | null {
  job.failures++;
  if (isTransient(err) && job.failures < MAX_FAILURES) {
    const after = err instanceof RemoteError && err.retryAfterMs ? err.retryAfterMs : Math.min(600_000, retryMs * 2 ** (job.failures - 1));
    job.retryAt = Date.now() + after;
    return after;
  }
  job.failures = 0;
  job.retryAt = 0;
  const why = err instanceof RemoteError && err.userMessage ? err.userMessage : err instanceof Error ? err.message : String(err);
  if (what === "page") {
    job.morePages = false;
    job.note = `history could not be read further: ${why}`;
  } else if (what === "thread") {
    job.threads.shift();
    job.note = `a thread could not be read: ${why}`;
  } else {
    job.note = `could not import: ${why}`;
  }
  return null;
}

const PREFIX = "backfill:";
export const jobKey = (network: string, chat: string) => `${PREFIX}${network}:${chat}`;

export async function saveJob(store: Store, job: BackfillJob): Promise<void> {
  await store.kv.set(jobKey(job.network, job.chat), JSON.stringify(job));
}

/** Every stored job (kv has no listing, so this reads the table, as the management rooms do). */
export async function loadJobs(store: Store): Promise<BackfillJob[]> {
  const rows = await store.db.query<{ key: string; value: string }>("SELECT key, value FROM kv WHERE key LIKE 'backfill:%'");
  const out: BackfillJob[] = [];
  for (const r of rows) {
    try {
      const job = JSON.parse(r.value) as BackfillJob;
      if (job && typeof job.roomId === "string" && Array.isArray(job.main) && Array.isArray(job.threads)) out.push(job);
    } catch {
      // an unreadable row is skipped; the room simply gets no more backfill
    }
  }
  return out;
}

export function isActive(job: BackfillJob): boolean {
  return job.state === "collecting" || job.state === "importing" || job.state === "threads";
}

/** The main import is not in yet: the chat's lane waits for it (core/chat-holds.ts). */
export function holdsChat(job: BackfillJob): boolean {
  return job.state === "collecting" || job.state === "importing";
}

const secs = (ms: number) => `${Math.max(1, Math.ceil(ms / 1000))} s`;

/**
 * One line for `status`, e.g. "general (Slack): 30/50 messages fetched, next page in 40 s".
 * `readyAt` is when the job's next request may go out (ms), or null when it waits for the login.
 */
export function describeJob(job: BackfillJob, name: string, readyAt: number | null, now = Date.now()): string {
  const next = (what: string) => readyAt === null ? ", waiting for the login to connect" : readyAt > now ? `, next ${what} in ${secs(readyAt - now)}` : "";
  const note = job.note ? ` (${job.note})` : "";
  switch (job.state) {
    case "collecting":
      return `${name}: ${job.topLevel}/${job.target} messages fetched${job.threads.length ? `, ${job.threads.length} thread(s) to fetch` : ""}${next(job.morePages && job.topLevel < job.target ? "page" : "request")}`;
    case "importing":
      return `${name}: importing ${job.imported}/${job.main.length + job.replies.length} messages${note}`;
    case "threads":
      return `${name}: ${job.imported} messages imported, ${job.threads.length} thread(s) left to fetch${next("thread")}${note}`;
    case "done":
      return `${name}: done, ${job.imported} messages imported${note}`;
    case "stopped":
      return `${name}: stopped after ${job.imported} messages${note}`;
  }
}

/** The link confirmation's line about history: imported (`count` messages), or not, as the room has messages. */
export function linkNote(name: string, count: number, taken: boolean): string {
  return taken
    ? `Earlier ${name} messages are not imported: this room already has messages, and Matrix can only add new ones after them.`
    : `Importing the last ${count} ${name} messages into this room, paced to ${name}'s history limits; \`status\` shows the progress. ` +
      "If someone writes here before it is done, nothing more is imported (Matrix can only add messages at the end).";
}

type LogLine = [message: string, fields: Record<string, unknown>];

/** A running backfill's progress lines for the operator, with their counts. */
export const progressLine = {
  page: (job: BackfillJob): LogLine => [
    `backfill: page ${job.pages} fetched, ${job.topLevel} of ${job.target} messages collected${job.morePages && job.topLevel < job.target ? "" : " (all pages in)"}`,
    { chat: job.chat, roomId: job.roomId, page: job.pages, collected: job.topLevel, target: job.target, threads: job.threads.length },
  ],
  thread: (job: BackfillJob, todo: ThreadTodo, fetched: number): LogLine => [
    `backfill: ${fetched} thread replies fetched, ${job.threads.length} thread(s) left`,
    { chat: job.chat, roomId: job.roomId, thread: todo.root, replies: todo.got, threadsLeft: job.threads.length, imported: job.imported },
  ],
  importing: (job: BackfillJob, done: number, total: number): LogLine => [
    done === 0 ? `backfill: importing ${total} messages` : `backfill: ${done} of ${total} messages imported`,
    { chat: job.chat, roomId: job.roomId, imported: done, messages: total },
  ],
};

/** True once every `everyMs` (the first time `everyMs` after it was made): paces progress lines. */
export class ProgressTick {
  private last: number;
  constructor(private readonly everyMs: number, private readonly now: () => number = Date.now) {
    this.last = now();
  }

  due(): boolean {
    const t = this.now();
    if (t - this.last < this.everyMs) return false;
    this.last = t;
    return true;
  }
}
