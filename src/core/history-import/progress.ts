/**
 * What an import has done so far, in one plain object the CLI, the bot DM, `status`, /metrics and
 * the HTTP route all read (`snapshot()`). Counts are of this run; `alreadyIn` counts messages a
 * previous run (or the live relay) had already brought, which a rerun skips.
 */

export type ConversationState = "waiting" | "importing" | "done" | "failed";
export type ImportState = "running" | "stopping" | "stopped" | "done" | "failed";

export interface ConversationProgress {
  chat: string;
  name: string;
  state: ConversationState;
  messages: number;
  files: number;
  alreadyIn: number;
  /** Other events written: reactions, joins, topic changes. */
  others: number;
  /** From the source, when it can tell (exports): for the bar's total. */
  expected?: number;
  roomId?: string;
  archive?: boolean;
  error?: string;
}

export interface ImportSnapshot {
  id: string;
  network: string;
  source: string;
  dryRun: boolean;
  state: ImportState;
  startedAt: number;
  endedAt?: number;
  messages: number;
  files: number;
  alreadyIn: number;
  /** Messages written per second since the start (of this run). */
  rate: number;
  /** Seconds left, when the totals are known. */
  etaSeconds?: number;
  /** Time spent waiting for the network's rate limits, and whether it waits now. */
  rateLimitWaitMs: number;
  waitingNow: boolean;
  conversations: ConversationProgress[];
  notes: string[];
  error?: string;
}

export class ImportProgress {
  readonly conversations: ConversationProgress[] = [];
  state: ImportState = "running";
  endedAt?: number;
  error?: string;
  notes: string[] = [];
  rateLimitWaitMs = 0;
  waitingNow = false;

  constructor(readonly id: string, readonly network: string, public source: string, readonly dryRun: boolean, readonly startedAt = Date.now()) {}

  add(chat: string, name: string, expected?: number): ConversationProgress {
    const c: ConversationProgress = { chat, name, state: "waiting", messages: 0, files: 0, alreadyIn: 0, others: 0, ...(expected !== undefined ? { expected } : {}) };
    this.conversations.push(c);
    return c;
  }

  end(state: Exclude<ImportState, "running" | "stopping">, error?: string): void {
    this.state = state;
    this.endedAt = Date.now();
    if (error) this.error = error;
  }

  snapshot(now = Date.now()): ImportSnapshot {
    const sum = (f: (c: ConversationProgress) => number) => this.conversations.reduce((n, c) => n + f(c), 0);
    const messages = sum((c) => c.messages);
    const seconds = Math.max(0.001, ((this.endedAt ?? now) - this.startedAt) / 1000);
    const rate = messages / seconds;
    const expectedKnown = this.conversations.length > 0 && this.conversations.every((c) => c.expected !== undefined || c.state === "done");
    const left = sum((c) => c.state === "done" ? 0 : Math.max(0, (c.expected ?? 0) - c.messages - c.alreadyIn));
    return {
      id: this.id, network: this.network, source: this.source, dryRun: this.dryRun, state: this.state,
      startedAt: this.startedAt, ...(this.endedAt ? { endedAt: this.endedAt } : {}),
      messages, files: sum((c) => c.files), alreadyIn: sum((c) => c.alreadyIn),
      rate: Math.round(rate * 10) / 10,
      ...(expectedKnown && rate > 0 && this.state === "running" ? { etaSeconds: Math.round(left / rate) } : {}),
      rateLimitWaitMs: this.rateLimitWaitMs, waitingNow: this.waitingNow,
      conversations: this.conversations.map((c) => ({ ...c })), notes: [...this.notes],
      ...(this.error ? { error: this.error } : {}),
    };
  }
}

/** One line for `status` and the bot DM's status message. */
export function describeImport(s: ImportSnapshot): string {
  const done = s.conversations.filter((c) => c.state === "done").length;
  const what = s.dryRun ? "Dry run of the import" : "Import";
  const head = `${what} from ${s.source}: ${s.state}, ${done}/${s.conversations.length} conversations, ` +
    `${s.messages} messages${s.dryRun ? " found" : ""}, ${s.files} files` +
    (s.alreadyIn ? `, ${s.alreadyIn} already in Matrix` : "") +
    (s.state === "running" ? `, ${s.rate}/s` : "") +
    (s.etaSeconds !== undefined ? `, about ${formatDuration(s.etaSeconds)} left` : "") +
    (s.rateLimitWaitMs > 0 ? `, ${formatDuration(s.rateLimitWaitMs / 1000)} waited for rate limits` : "") +
    (s.waitingNow ? " (waiting for the rate limit now)" : "");
  const current = s.conversations.find((c) => c.state === "importing");
  const lines = [head];
  if (current) lines.push(`now: ${current.name} (${current.messages} messages)`);
  for (const c of s.conversations) if (c.state === "failed") lines.push(`failed: ${c.name}: ${c.error ?? "unknown error"}`);
  if (s.error) lines.push(`error: ${s.error}`);
  lines.push(...s.notes);
  return lines.join("\n");
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
