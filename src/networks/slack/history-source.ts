/**
 * The Slack API as a HistorySource for `tandem import slack`: every conversation the app is in
 * (public and private channels, DMs, group DMs), each read whole, oldest first, converted with
 * the live inbound mapping (same keys and refs, so the import and the live relay never bridge one
 * message twice). Thread replies come right after the messages that precede them in time;
 * reactions follow their message; joins, leaves and topic changes come as their own events.
 * Slack's answers already carry the final text of an edited message (`edited` says when).
 */
import type { HistoryConversation, HistoryEvent, HistorySource, HistoryWindow } from "../../core/history-source.js";
import type { ChatRef, FileRef, RemoteEvent, UserInfo, UserRef } from "../../core/types.js";
import { slackEmojiToUnicode } from "../../formatting/slack.js";
import type { Obj, SlackApi } from "./api.js";
import type { SlackDirectory } from "./directory.js";
import { HistoryReader, IMPORT_PAGE_LIMIT } from "./history-reader.js";
import { chatRef, messageRef, tsToMs, userRef } from "./ids.js";
import { eventToRemote, mentionedIds, type InboundContext } from "./inbound.js";

interface RawMessage extends Obj {
  ts?: string;
  thread_ts?: string;
  reply_count?: number;
  subtype?: string;
  user?: string;
  edited?: { ts?: string };
  reactions?: Array<{ name?: string; users?: string[] }>;
}

interface RawConversation extends Obj {
  id?: string;
  name?: string;
  user?: string;
  is_im?: boolean;
  is_member?: boolean;
  is_user_deleted?: boolean;
}

type Paged<T extends string, V> = { [K in T]?: V[] } & { has_more?: boolean; response_metadata?: { next_cursor?: string } };

/** Slack ts strings compared exactly ("1700000000.000100"): as numbers they lose the last digits. */
export function tsCompare(a: string, b: string): number {
  const [ai = "0", af = ""] = a.split(".");
  const [bi = "0", bf = ""] = b.split(".");
  return Number(ai) - Number(bi) || (af.padEnd(6, "0") < bf.padEnd(6, "0") ? -1 : af.padEnd(6, "0") > bf.padEnd(6, "0") ? 1 : 0);
}

/** A window's ms bounds as Slack ts bounds covering the whole millisecond (ts carry microseconds). */
const fromTs = (ms: number) => `${(Math.floor(ms) / 1000).toFixed(3)}000`;
const untilTs = (ms: number) => `${(Math.floor(ms) / 1000).toFixed(3)}999`;
const JOIN_SUBTYPES = new Set(["channel_join", "group_join"]);
const LEAVE_SUBTYPES = new Set(["channel_leave", "group_leave"]);

export interface SlackSourceDeps {
  api: SlackApi;
  directory: SlackDirectory;
  team: string;
  download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }>;
  /** How long a name look-up for a mention may take before the id is shown instead. */
  nameLookupMs: number;
}

export class SlackHistorySource implements HistorySource {
  readonly network = "slack";
  describe: string;
  private readonly reader: HistoryReader;

  constructor(private readonly deps: SlackSourceDeps) {
    this.reader = new HistoryReader(deps.api);
    this.describe = `Slack workspace ${deps.team}`;
  }

  async *conversations(only?: string): AsyncIterable<HistoryConversation> {
    const me = await this.deps.directory.identity();
    this.describe = `Slack workspace ${me.teamName} (${me.teamId})`;
    const wanted = only?.trim().replace(/^<#(\w+)(\|[^>]*)?>$/, "$1");
    for (const c of await this.list()) {
      const chat = chatRef(this.deps.team, c.id!);
      if (wanted && ![c.id, chat, c.name, `#${c.name}`].includes(wanted)) continue;
      const info = await this.deps.directory.chatInfo(chat);
      const size: { n?: number } = {};
      yield { network: this.network, chat, info, events: (w) => this.events(c.id!, chat, w, size), knownSize: () => size.n };
    }
  }

  userInfo(user: UserRef): Promise<UserInfo> {
    return this.deps.directory.userInfo(user);
  }

  download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }> {
    return this.deps.download(file);
  }

  notes(): string[] {
    const tier = this.reader.tier();
    return tier ? [tier] : [];
  }

  waits(): { totalMs: number; waitingNow: boolean } {
    return { totalMs: this.reader.stats.waitedMs, waitingNow: this.reader.stats.waitingNow };
  }

  /** Every conversation the app is a member of (a DM with Slackbot or a deleted user left out). */
  private async list(): Promise<RawConversation[]> {
    const out: RawConversation[] = [];
    let cursor: string | undefined;
    do {
      const r = await this.reader.call<Paged<"channels", RawConversation>>("conversations.list",
        { types: "public_channel,private_channel,mpim,im", exclude_archived: false, limit: 200, ...(cursor ? { cursor } : {}) });
      for (const c of r.channels ?? []) {
        const mine = c.is_im ? c.user !== "USLACKBOT" && c.is_user_deleted !== true : c.is_member === true;
        if (c.id && mine) out.push(c);
      }
      cursor = r.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return out;
  }

  private async *events(channel: string, chat: ChatRef, window: HistoryWindow, size: { n?: number }): AsyncIterable<HistoryEvent> {
    const me = await this.deps.directory.identity();
    const ctx: InboundContext = {
      team: this.deps.team, botUserId: me.botUserId || undefined, botId: me.botId || undefined,
      userName: (id) => this.deps.directory.userName(id), chatName: (id) => this.deps.directory.channelName(id),
    };
    const bounds = { ...(window.since !== undefined ? { oldest: fromTs(window.since) } : {}), ...(window.until !== undefined ? { latest: untilTs(window.until) } : {}), inclusive: true };
    const top = await this.all(channel, "conversations.history", bounds);
    top.sort((a, b) => tsCompare(a.ts!, b.ts!));
    // Replies in the window are at most the roots' reply counts (a broadcast reply is also in the top level).
    size.n = top.filter((m) => !JOIN_SUBTYPES.has(m.subtype ?? "") && !LEAVE_SUBTYPES.has(m.subtype ?? "") && m.subtype !== "channel_topic")
      .reduce((n, m) => n + 1 + (m.thread_ts === m.ts ? m.reply_count ?? 0 : 0), 0);
    const seen = new Set(top.map((m) => m.ts));
    let replies: RawMessage[] = [];
    for (const m of top) {
      while (replies.length > 0 && tsCompare(replies[0]!.ts!, m.ts!) < 0) yield* this.convert(replies.shift()!, channel, chat, ctx);
      yield* this.convert(m, channel, chat, ctx);
      if (m.thread_ts === m.ts && (m.reply_count ?? 0) > 0) {
        const got = (await this.all(channel, "conversations.replies", { ...bounds, ts: m.ts })).filter((r) => r.ts !== m.ts && !seen.has(r.ts));
        replies = [...replies, ...got].sort((a, b) => tsCompare(a.ts!, b.ts!));
      }
    }
    for (const r of replies) yield* this.convert(r, channel, chat, ctx);
  }

  /** All pages of a history or replies read (Slack pages with `cursor` until has_more is false). */
  private async all(channel: string, method: string, params: Obj): Promise<RawMessage[]> {
    const out: RawMessage[] = [];
    let cursor: string | undefined;
    do {
      const r = await this.reader.call<Paged<"messages", RawMessage>>(method, { channel, limit: IMPORT_PAGE_LIMIT, ...params, ...(cursor ? { cursor } : {}) });
      out.push(...(r.messages ?? []).filter((m) => typeof m.ts === "string"));
      cursor = r.has_more ? r.response_metadata?.next_cursor || undefined : undefined;
    } while (cursor);
    await this.deps.directory.prefetchNames(mentionedIds(out), this.deps.nameLookupMs);
    return out;
  }

  private *convert(m: RawMessage, channel: string, chat: ChatRef, ctx: InboundContext): Iterable<HistoryEvent> {
    const ts = m.ts!;
    if (m.user && (JOIN_SUBTYPES.has(m.subtype ?? "") || LEAVE_SUBTYPES.has(m.subtype ?? ""))) {
      const joined = JOIN_SUBTYPES.has(m.subtype!);
      yield { kind: "membership", key: `${joined ? "join" : "leave"}:${chat}:${ts}`, chat, at: tsToMs(ts), user: userRef(this.deps.team, m.user), joined };
      return;
    }
    for (const ev of eventToRemote({ ...m, type: "message", channel }, ctx) as RemoteEvent[]) {
      if (ev.kind === "message") {
        const editedAt = m.edited?.ts ? tsToMs(m.edited.ts) : undefined;
        yield editedAt ? { ...ev, editedAt } : ev;
      } else if (ev.kind === "chat-info") yield ev;
    }
    const target = messageRef(this.deps.team, channel, ts);
    for (const r of m.reactions ?? []) {
      if (!r.name) continue;
      const emoji = slackEmojiToUnicode(r.name) ?? `:${r.name}:`;
      for (const u of r.users ?? []) {
        if (u === ctx.botUserId) continue;
        yield { kind: "reaction", key: `react:${this.deps.team}:${channel}:${ts}:${u}:${r.name}:add:import`, chat, at: tsToMs(ts), target, sender: userRef(this.deps.team, u), emoji, on: true };
      }
    }
  }
}
