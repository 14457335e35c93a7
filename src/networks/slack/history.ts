/**
 * Backfill reads: conversations.history (a channel's top level, newest page first) and
 * conversations.replies (one thread), converted with the live inbound mapping so a message
 * has the same key whether it arrives live or from history.
 *
 * Paced per workspace and method. Slack's current docs (docs.slack.dev, conversations.history
 * and conversations.replies, "rate limits for non-Marketplace apps"): apps distributed outside
 * the Marketplace get 1 request per minute per method and at most 15 messages per call (new
 * installs since 29 May 2025, existing ones from 3 March 2026); internal customer-built and
 * Marketplace apps keep Tier 3 (50+ per minute, up to 999 per call). The default is the strict
 * pace, because nothing tells a bot which kind it is; an operator with an internal app can set
 * a faster one. A 429 pushes the next request out by its Retry-After.
 */
import { RemoteError } from "../../core/errors.js";
import type { HistoryOptions, HistoryPage } from "../../core/connector.js";
import type { ChatRef, MessageRef, RemoteEvent } from "../../core/types.js";
import type { Obj, SlackApi } from "./api.js";
import type { SlackDirectory } from "./directory.js";
import { messageRef, parseChatRef, parseMessageRef } from "./ids.js";
import { eventToRemote, mentionedIds, type InboundContext } from "./inbound.js";

export interface HistoryPace {
  /** Messages asked for per request (Slack's `limit`). Default 15, the most non-Marketplace apps get. */
  pageSize: number;
  /** Least time between two requests of one method in one workspace, ms. Default 60 000 (1 per minute). */
  intervalMs: number;
}

/** Slack's limits for apps outside the Marketplace (the strictest case). */
export const DEFAULT_HISTORY_PACE: HistoryPace = { pageSize: 15, intervalMs: 60_000 };

interface RawMessage extends Obj {
  ts?: string;
  thread_ts?: string;
  reply_count?: number;
}

interface RawPage {
  messages?: RawMessage[];
  has_more?: boolean;
  response_metadata?: { next_cursor?: string };
}

/** ms since epoch → a Slack ts bound ("1732500000.123000"). */
const msToTs = (ms: number) => (ms / 1000).toFixed(6);

export class SlackHistory {
  private readonly ready = { page: 0, thread: 0 };

  constructor(
    private readonly api: SlackApi,
    private readonly directory: SlackDirectory,
    private readonly team: string,
    private readonly pace: HistoryPace,
    private readonly nameLookupMs: number,
  ) {}

  readyAt(kind: "page" | "thread"): number {
    return this.ready[kind];
  }

  async page(chat: ChatRef, opts: HistoryOptions): Promise<HistoryPage> {
    const c = parseChatRef(chat);
    if (!c || c.team !== this.team) throw new RemoteError("bad_ref", `not a chat of ${this.team}: ${chat}`, { retryable: false });
    const root = opts.thread ? parseMessageRef(opts.thread) : undefined;
    if (opts.thread && !root) throw new RemoteError("bad_ref", `not a Slack message: ${opts.thread}`, { retryable: false });
    const me = await this.directory.identity();
    const limit = Math.max(1, Math.min(opts.limit + (root ? 1 : 0), this.pace.pageSize));
    const latest = opts.before !== undefined ? msToTs(opts.before) : undefined;
    // A history cursor is the ts of the oldest message seen so far: the next page ends before it.
    const upper = opts.cursor ?? latest;
    const r = root
      ? await this.request("thread", "conversations.replies", {
        channel: c.channel, ts: root.ts, limit, ...(latest ? { latest, inclusive: false } : {}), ...(opts.cursor ? { cursor: opts.cursor } : {}),
      })
      : await this.request("page", "conversations.history", {
        channel: c.channel, limit, ...(upper ? { latest: upper, inclusive: false } : {}),
      });
    const raw = (r.messages ?? []).filter((m) => typeof m.ts === "string" && (!root || m.ts !== root.ts));
    await this.directory.prefetchNames(mentionedIds(raw), this.nameLookupMs);
    const ctx: InboundContext = {
      team: this.team, botUserId: me.botUserId || undefined, botId: me.botId || undefined,
      userName: (id) => this.directory.userName(id), chatName: (id) => this.directory.channelName(id),
    };
    // History is newest first; replies are oldest first already.
    const ordered = root ? raw : [...raw].reverse();
    const events: RemoteEvent[] = [];
    const threads: MessageRef[] = [];
    for (const m of ordered) {
      for (const ev of eventToRemote({ ...m, type: "message", channel: c.channel }, ctx)) {
        if (ev.kind === "message") events.push(ev);
      }
      if (!root && m.thread_ts === m.ts && (m.reply_count ?? 0) > 0) threads.push(messageRef(this.team, c.channel, m.ts!));
    }
    let cursor: string | undefined;
    if (root) cursor = r.has_more ? r.response_metadata?.next_cursor || undefined : undefined;
    else if (r.has_more && raw.length > 0) cursor = raw[raw.length - 1]!.ts;
    return { events, ...(cursor ? { cursor } : {}), ...(threads.length ? { threads } : {}) };
  }

  /** One paced request: waits for its turn, and a 429 moves the next turn out by Retry-After. */
  private async request(kind: "page" | "thread", method: string, params: Obj): Promise<RawPage> {
    const wait = this.ready[kind] - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // Counted from the answer, not the ask: Slack counts requests as they arrive.
    this.ready[kind] = Date.now() + this.pace.intervalMs;
    try {
      return await this.api.call<RawPage>(method, params);
    } catch (err) {
      if (err instanceof RemoteError && err.code === "ratelimited") {
        this.ready[kind] = Math.max(this.ready[kind], Date.now() + (err.retryAfterMs ?? this.pace.intervalMs));
      }
      throw err;
    } finally {
      this.ready[kind] = Math.max(this.ready[kind], Date.now() + this.pace.intervalMs);
    }
  }
}
