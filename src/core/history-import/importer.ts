/**
 * The history import (`tandem import <network>`, `import` in the bot DM): reads a HistorySource
 * conversation by conversation, oldest first, and writes each event into the chat's room
 * (RoomChooser) through HistoryWriter; `bridge.import_conversations_at_once` conversations at a
 * time, each in its own order. One import runs at a time.
 *
 * - Resumable: the job is kept in kv (`import-job`); a bridge that restarts (or was killed)
 *   resumes it, and since every write is skipped when already in the message map and every send
 *   reuses its txn id, nothing is doubled and only what is missing is added. A stopped import
 *   resumes the same way when started again.
 * - Before live: once the conversations are listed, the import holds each one's lane
 *   (core/chat-holds.ts): its live events, and Matrix events going out to it, wait in the durable
 *   queue, in order, and follow once that conversation's past is in. The holds are stored, so
 *   after a restart the chats wait for the resumed import too. A stopped or failed import lets go.
 */
import { randomUUID } from "node:crypto";
import type { ChatHolds } from "../chat-holds.js";
import type { Connection, LoginRecord } from "../connector.js";
import type { CoreDeps } from "../context.js";
import { CommandError, isTransient } from "../errors.js";
import type { GhostManager } from "../ghosts.js";
import type { HistoryConversation, HistoryEvent, HistorySource, HistoryWindow } from "../history-source.js";
import type { LoginManager } from "../logins.js";
import { errorFields } from "../log.js";
import type { PortalDirectory } from "../portals.js";
import { describeImport, ImportProgress, type ConversationProgress, type ImportSnapshot } from "./progress.js";
import { sourceConnection } from "./source-connection.js";
import { RoomChooser } from "./target.js";
import { HistoryWriter, type WriteTarget } from "./writer.js";

export interface ImportRequest {
  /** "slack" (the login's API), or an export kind ("slack-export", "telegram-export") with `path`. */
  network: string;
  /** The export file or folder (on the bridge's host), for an export kind. */
  path?: string;
  /** Which login's source (default: the network's only login). */
  loginId?: string;
  /** One conversation (a ref, `#name` or name); all when absent. */
  conversation?: string;
  since?: number;
  until?: number;
  dryRun?: boolean;
  /** Who asked (a Matrix id, or "cli"). */
  by: string;
  /** A room to keep a status message in, edited as the import goes (the bot DM). */
  statusRoom?: string;
}

interface StoredJob extends Omit<ImportRequest, "statusRoom"> {
  id: string;
  loginId: string;
  state: "running" | "stopped" | "done" | "failed";
  /** Chats this import holds (listed, not done yet), so a restart that cannot resume lets them go. */
  held?: string[];
}

/** The network whose chats an import writes: "slack-export" → "slack". */
const chatNetwork = (job: { network: string }) => job.network.replace(/-export$/, "");

/** Opens an export as a HistorySource (src/networks/export-sources.ts, wired by main). */
export type ExportOpener = (kind: string, path: string, live?: { login: LoginRecord; connection: Connection }) => Promise<HistorySource>;

/** The ChatHolds holder name of the history import. */
export const IMPORT_HOLDER = "import";

const JOB_KEY = "import-job";
/** Tries of one event's write on transient failures (homeserver or store down) before the conversation is left for a rerun. */
const WRITE_ATTEMPTS = 8;
/** A dry run's estimate of the write speed (messages/s into a homeserver; `npm run bench -- --only import` measures it). */
const ESTIMATED_WRITE_RATE = 40;
const STATUS_EDIT_MS = 5000;
/** How long one imported message waits at most for live traffic to go first. */
const LIVE_FIRST_MS = 500;

const ENDED = new Set<string>(["done", "stopped", "failed"]);

/**
 * Runs `work` over `items`, at most `n` at a time, in list order as slots free. Conversations are
 * independent rooms: order matters within one (its events go one after another), not across them,
 * and one conversation at a time leaves the homeserver idle while each send is answered.
 */
async function inPool<T>(items: readonly T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => { while (next < items.length) await work(items[next++]!); };
  // Every worker ends before a failure is passed on: none may go on writing after the run ended.
  const ends = await Promise.allSettled(Array.from({ length: Math.min(n, items.length) }, worker));
  const failed = ends.find((e) => e.status === "rejected");
  if (failed) throw failed.reason;
}

export class HistoryImports {
  private current: { job: StoredJob; progress: ImportProgress; done: Promise<void>; stop: boolean; shutdown?: boolean; source?: HistorySource } | null = null;
  private last: ImportProgress | null = null;
  private readonly writer: HistoryWriter;
  private readonly rooms: RoomChooser;
  /** Opens exports (set by main: the core does not import networks); without it only live logins are read. */
  openExport?: ExportOpener;
  /** Lanes of the relay queue being worked now (set by the bridge): live traffic goes first. */
  lanesInFlight?: () => number;

  constructor(
    private readonly deps: CoreDeps,
    private readonly portals: PortalDirectory,
    ghosts: GhostManager,
    private readonly logins: LoginManager,
    private readonly holds: ChatHolds,
    private readonly retryBaseMs = 500,
  ) {
    this.writer = new HistoryWriter(deps, ghosts, portals);
    this.rooms = new RoomChooser(deps, portals);
  }

  /** After the logins connected: resume an import the bridge was running when it stopped. */
  async resume(): Promise<void> {
    const job = await this.storedJob();
    if (job?.state !== "running" || job.dryRun || this.current) return;
    this.deps.log.info("resuming the history import", { network: job.network, id: job.id });
    try {
      await this.begin(job, undefined);
    } catch (err) {
      // Its chats must not wait for an import that cannot run: they go live (a rerun adds what is missing).
      for (const chat of job.held ?? []) await this.holds.release(chatNetwork(job), chat, IMPORT_HOLDER);
      await this.deps.store.kv.set(JOB_KEY, JSON.stringify({ ...job, state: "stopped" }));
      this.deps.log.warn("history import not resumed", { ...errorFields(err) });
    }
  }

  async start(req: ImportRequest): Promise<ImportSnapshot> {
    // A run that has ended (its state says so) may still be letting its chats go and saving the job:
    // wait for that rather than refusing, so "stopped" (or "done") always means a rerun can start.
    const ending = this.current;
    if (ending && ENDED.has(ending.progress.state)) await ending.done;
    if (this.current) throw new CommandError(`An import is already running:\n${describeImport(this.current.progress.snapshot())}`);
    const network = chatNetwork(req);
    if (!this.deps.connectors.has(network)) throw new CommandError(`Unknown network ${req.network}; this bridge has ${[...this.deps.connectors.keys()].join(", ")}.`);
    if (network !== req.network && !req.path) throw new CommandError(`import ${req.network} needs the export's path, e.g. import ${req.network} /srv/export.zip`);
    const loginId = req.loginId ?? this.loginFor(network);
    const { statusRoom, ...rest } = req;
    const job: StoredJob = { ...rest, id: randomUUID(), loginId, state: "running" };
    return (await this.begin(job, statusRoom)).snapshot();
  }

  /**
   * Stop at the next event; what is in stays in, and the next run resumes from there. Waits up to
   * `waitMs` for the run to end (a Slack call or a rate-limit wait in flight ends first), then
   * answers with the state then ("stopping" if it has not ended yet).
   */
  async stop(waitMs = 3000): Promise<ImportSnapshot | null> {
    const cur = this.current;
    if (!cur) return this.last?.snapshot() ?? null;
    cur.stop = true;
    if (cur.progress.state === "running") cur.progress.state = "stopping";
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([cur.done, new Promise<void>((r) => { timer = setTimeout(r, waitMs); timer.unref(); })]);
    clearTimeout(timer);
    return cur.progress.snapshot();
  }

  /** The bridge is stopping: pause at the next event, and resume at the next start. */
  async shutdown(): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    cur.shutdown = true;
    await this.stop(2000); // a call in flight may take its full timeout: the job resumes from kv anyway
  }

  snapshot(): ImportSnapshot | null {
    return (this.current?.progress ?? this.last)?.snapshot() ?? null;
  }

  // ---- the run --------------------------------------------------------------------------

  private loginFor(network: string): string {
    const all = this.logins.all().filter((l) => l.network === network);
    if (all.length === 0) throw new CommandError(`There is no ${network} login to import from.`);
    if (all.length > 1) throw new CommandError(`There are ${all.length} ${network} logins; name one: ${all.map((l) => `${l.id} (${l.name})`).join(", ")}`);
    return all[0]!.id;
  }

  private async begin(job: StoredJob, statusRoom: string | undefined): Promise<ImportProgress> {
    const conn = this.logins.connection(job.loginId);
    const login = this.logins.record(job.loginId);
    let source: HistorySource | undefined;
    if (job.path !== undefined) {
      if (!this.openExport) throw new CommandError("This bridge cannot read exports.");
      source = await this.openExport(job.network, job.path, login && conn ? { login, connection: conn } : undefined);
    } else {
      source = conn?.historySource?.();
    }
    if (!source) throw new CommandError(`The ${job.network} login ${job.loginId} ${conn ? "cannot read history" : "is not connected"}.`);
    if (this.current) { await source.close?.(); throw new CommandError("An import is already running."); }
    const progress = new ImportProgress(job.id, job.network, source.describe, !!job.dryRun);
    const cur = { job, progress, stop: false, source, done: Promise.resolve() };
    this.current = cur;
    cur.done = this.run(cur, source, statusRoom);
    return progress;
  }

  private async run(cur: NonNullable<typeof this.current>, source: HistorySource, statusRoom?: string): Promise<void> {
    const { job, progress } = cur;
    let status: { finish(): Promise<void> } | undefined;
    if (!job.dryRun) await this.deps.store.kv.set(JOB_KEY, JSON.stringify(job));
    this.deps.log.info("history import started", { network: job.network, id: job.id, conversation: job.conversation, dryRun: job.dryRun });
    const window: HistoryWindow = { ...(job.since !== undefined ? { since: job.since } : {}), ...(job.until !== undefined ? { until: job.until } : {}) };
    try {
      const convs: HistoryConversation[] = [];
      for await (const conv of source.conversations(job.conversation)) convs.push(conv);
      progress.source = source.describe; // known once the source has asked the network who it is
      if (statusRoom) status = this.statusMessage(statusRoom, progress);
      if (job.conversation && convs.length === 0) throw new CommandError(`No conversation ${job.conversation} in ${source.describe}.`);
      if (!job.dryRun) {
        // Every listed chat waits for its past from now on (held before its room is made or written to).
        job.held = convs.map((c) => c.chat);
        for (const chat of job.held) await this.holds.hold(chatNetwork(job), chat, IMPORT_HOLDER);
        await this.deps.store.kv.set(JOB_KEY, JSON.stringify(job));
      }
      const rows = await Promise.all(convs.map(async (c) => progress.add(c.chat, c.info.name, await c.estimateMessages?.(window).catch(() => undefined))));
      await inPool(convs.map((conv, i) => [conv, rows[i]!] as const), this.deps.options.importConversationsAtOnce ?? 3, async ([conv, row]) => {
        if (cur.stop) return;
        row.state = "importing";
        try {
          if (job.dryRun) await this.count(cur, conv, window, row);
          else await this.importOne(cur, source, conv, window, row);
          if (!cur.stop) row.state = "done";
        } catch (err) {
          row.state = "failed";
          row.error = err instanceof Error ? err.message : String(err);
          this.deps.log.warn("history import of a conversation failed; a rerun adds what is missing", { chat: conv.chat, ...errorFields(err) });
        } finally {
          if (!job.dryRun && !cur.stop) await this.letGo(job, conv.chat);
        }
        progress.notes = source.notes?.() ?? [];
      });
      if (job.dryRun) {
        const snap = progress.snapshot();
        const seconds = (Date.now() - progress.startedAt) / 1000 + snap.messages / ESTIMATED_WRITE_RATE;
        progress.notes.push(`Estimate: about ${Math.ceil(seconds / 60)} minutes for ${snap.messages} messages and ${snap.files} files (reading at this pace, writing at about ${ESTIMATED_WRITE_RATE} messages/s); nothing was written.`);
      }
      const failed = progress.conversations.some((c) => c.state === "failed");
      progress.end(cur.stop ? "stopped" : failed ? "failed" : "done");
    } catch (err) {
      progress.end("failed", err instanceof Error ? err.message : String(err));
      this.deps.log.warn("history import failed", { network: job.network, ...errorFields(err) });
    } finally {
      progress.notes = [...new Set([...progress.notes, ...(source.notes?.() ?? [])])];
      await source.close?.().catch((err) => this.deps.log.warn("history source not closed", { ...errorFields(err) }));
      // A stopped or failed import lets its chats go: live traffic must not wait for a rerun that may never come.
      // A bridge shutdown keeps them held (stored): the import resumes at the next start.
      if (!job.dryRun && !cur.shutdown) {
        for (const chat of [...(job.held ?? [])]) await this.letGo(job, chat).catch((err) => this.deps.log.warn("import hold not released", { chat, ...errorFields(err) }));
      }
      if (!job.dryRun) {
        const state = cur.shutdown ? "running" : progress.state === "done" ? "done" : progress.state === "failed" ? "failed" : "stopped";
        await this.deps.store.kv.set(JOB_KEY, JSON.stringify({ ...job, state })).catch((err) => this.deps.log.warn("import job not saved", { ...errorFields(err) }));
      }
      this.last = progress;
      this.current = null;
      await (status ?? (statusRoom ? this.statusMessage(statusRoom, progress) : undefined))?.finish();
      this.deps.log.info("history import ended", { network: job.network, id: job.id, ...summary(progress.snapshot()) });
    }
  }

  private async count(cur: NonNullable<typeof this.current>, conv: HistoryConversation, window: HistoryWindow, row: ConversationProgress): Promise<void> {
    for await (const ev of conv.events(window)) {
      if (cur.stop) return;
      this.waits(cur);
      row.expected ??= conv.knownSize?.();
      if (ev.kind !== "message") continue;
      if ((await this.deps.store.messages.byRemote(conv.network, ev.ref)).length > 0) row.alreadyIn++;
      else row.messages++;
      row.files += ev.msg.files?.length ?? 0;
    }
  }

  private async importOne(cur: NonNullable<typeof this.current>, source: HistorySource, conv: HistoryConversation, window: HistoryWindow, row: ConversationProgress): Promise<void> {
    const connector = this.deps.connectors.get(conv.network);
    const login = this.logins.record(cur.job.loginId);
    if (!connector || !login) throw new CommandError(`The ${conv.network} login ${cur.job.loginId} is gone.`);
    const conn = sourceConnection(source, conv, this.logins.connection(login.id));
    const chosen = await this.rooms.choose(conv, connector, conn, login);
    row.roomId = chosen.roomId;
    row.archive = !!chosen.archiveOf;
    const target: WriteTarget = { roomId: chosen.roomId, network: conv.network, connector, conn, source };
    for await (const ev of conv.events(window)) {
      if (cur.stop) return;
      this.waits(cur);
      row.expected ??= conv.knownSize?.();
      await this.yieldToLive();
      const out = await this.writeRetrying(cur, target, ev);
      if (out === "stopped") return;
      if (out.kind === "message") { row.messages++; row.files += out.files; }
      else if (out.kind === "already-in") { if (ev.kind === "message") row.alreadyIn++; }
      else if (out.kind === "other") row.others++;
    }
    await this.rooms.linkArchive(chosen, connector.displayName);
  }

  /** Transient failures (homeserver, store) are retried with backoff; a bad event is logged and skipped. */
  private async writeRetrying(cur: NonNullable<typeof this.current>, target: WriteTarget, ev: HistoryEvent) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writer.write(target, ev);
      } catch (err) {
        if (!isTransient(err)) {
          this.deps.log.warn("history import skipped an event it cannot write", { key: ev.key, ...errorFields(err) });
          return { kind: "skipped" as const };
        }
        if (attempt >= WRITE_ATTEMPTS || cur.stop) throw err;
        const ms = Math.max((err as { retryAfterMs?: number }).retryAfterMs ?? 0, this.retryBaseMs * 2 ** (attempt - 1));
        this.deps.log.info("history import write failed, retrying", { key: ev.key, inMs: ms, ...errorFields(err) });
        await new Promise((r) => setTimeout(r, ms));
        if (cur.stop) return "stopped" as const;
      }
    }
  }

  /**
   * Live traffic first: while the relay queue works any lane (held chats' items are put back, not
   * worked), wait (up to LIVE_FIRST_MS per message), so a large import does not slow the live relay
   * of other chats through the homeserver they share.
   */
  private async yieldToLive(): Promise<void> {
    const end = Date.now() + LIVE_FIRST_MS;
    while ((this.lanesInFlight?.() ?? 0) > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  private waits(cur: NonNullable<typeof this.current>): void {
    const w = cur.source?.waits?.();
    if (w) { cur.progress.rateLimitWaitMs = w.totalMs; cur.progress.waitingNow = w.waitingNow; }
  }

  /** The chat's past is in (or will not be): its waiting items follow. */
  private async letGo(job: StoredJob, chat: string): Promise<void> {
    await this.holds.release(chatNetwork(job), chat, IMPORT_HOLDER);
    job.held = (job.held ?? []).filter((c) => c !== chat);
  }

  private async storedJob(): Promise<StoredJob | null> {
    const raw = await this.deps.store.kv.get(JOB_KEY);
    return raw ? JSON.parse(raw) as StoredJob : null;
  }

  /** A notice in `roomId` edited as the import goes (at most every STATUS_EDIT_MS), and a last time at the end. */
  private statusMessage(roomId: string, progress: ImportProgress): { finish(): Promise<void> } {
    const { matrix } = this.deps;
    let first: Promise<string | null> | null = null;
    let n = 0;
    const post = async () => {
      const body = describeImport(progress.snapshot());
      if (!first) {
        first = matrix.sendEvent(roomId, matrix.botMxid, "m.room.message", { msgtype: "m.notice", body, "m.mentions": {} }, `tandem-import-${progress.id}`)
          .catch((err) => { this.deps.log.warn("import status message not sent", { ...errorFields(err) }); return null; });
        return;
      }
      const eventId = await first;
      if (!eventId) return;
      await matrix.sendEvent(roomId, matrix.botMxid, "m.room.message", {
        msgtype: "m.notice", body: `* ${body}`, "m.mentions": {},
        "m.new_content": { msgtype: "m.notice", body, "m.mentions": {} }, "m.relates_to": { rel_type: "m.replace", event_id: eventId },
      }, `tandem-import-${progress.id}-${++n}`).catch((err) => this.deps.log.warn("import status message not edited", { ...errorFields(err) }));
    };
    void post();
    const timer = setInterval(() => void post(), STATUS_EDIT_MS);
    timer.unref();
    return { async finish() { clearInterval(timer); await first; await post(); } };
  }
}

function summary(s: ImportSnapshot) {
  return { state: s.state, messages: s.messages, files: s.files, alreadyIn: s.alreadyIn, conversations: s.conversations.length, error: s.error };
}
