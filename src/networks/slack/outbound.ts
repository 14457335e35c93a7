/**
 * Matrix → Slack: OutboundMessage → chat.postMessage / chat.update / chat.delete, reactions.*
 * and file uploads. Everything is posted as the bot with `username` and `icon_url` set to the
 * Matrix sender (chat:write.customize), and tagged with message metadata naming the Matrix event.
 *
 * Slack has no replies, only threads: a Matrix reply becomes a thread reply under the replied
 * message's thread root (or under the replied message itself when it is not in a thread).
 */
import type { Doc, Inline } from "../../formatting/ast.js";
import { docToMrkdwn, escapeMrkdwn, unicodeToSlackEmoji } from "../../formatting/slack.js";
import type { OutboundMessage } from "../../core/connector.js";
import { RemoteError } from "../../core/errors.js";
import type { ChatRef, MessageRef } from "../../core/types.js";
import { Pacer, SLACK_CHANNEL } from "../pacing.js";
import { capParts, OVERFLOW_FILE_NAME } from "../overflow.js";
import { ALREADY_DONE, type SlackApi } from "./api.js";
import type { SlackFiles } from "./files.js";
import { messageRef, parseChatRef, parseMessageRef, parseUserRef } from "./ids.js";

/** Slack rejects text over 40,000 characters; stay a little under. */
const MAX_TEXT = 39_000;
const MAX_USERNAME = 80;
export const METADATA_EVENT_TYPE = "tandem_matrix_event";
/** Look-up of a possibly posted message: pages of history searched, their size, and clock skew allowed. */
const LOOKUP_PAGES = 5;
const LOOKUP_PAGE_SIZE = 200;
const LOOKUP_SKEW_MS = 5 * 60_000;

interface HistoryPage {
  messages?: Array<{ ts?: string; metadata?: { event_type?: string; event_payload?: { event_id?: unknown } } }>;
  response_metadata?: { next_cursor?: string };
}

export class SlackOutbound {
  /** ts → thread root ts, learned from events and lookups (Slack threads only hang off roots). */
  private readonly threadRoots = new Map<string, string>();

  constructor(
    private readonly api: SlackApi,
    private readonly files: SlackFiles,
    private readonly team: string,
    /** Paces posts to about 1 a second per channel (none: rely on 429 + Retry-After). */
    private readonly pacer?: Pacer,
    /** Most posts one message becomes (bridge.max_message_parts); the rest goes as a text file. */
    private readonly maxParts = 10,
  ) {}

  /** Doc → mrkdwn: pills of this workspace's users become <@U…>, its channels <#C…>; others stay names. */
  render(doc: Doc): string {
    return docToMrkdwn(doc, {
      mention: (t) => {
        if (t.kind !== "remote" || t.network !== "slack") return null;
        const p = parseUserRef(t.id);
        return p && p.team === this.team ? p.user : null;
      },
      chat: (t) => {
        if (t.kind !== "remote" || t.network !== "slack") return null;
        const p = parseChatRef(t.id);
        return p && p.team === this.team ? p.channel : null;
      },
    });
  }

  /** A /me becomes "_Name does something_" (Slack's chat.meMessage cannot carry a username). */
  private emoteDoc(doc: Doc, name: string): Doc {
    const blocks = doc.length > 0 ? doc : [{ type: "paragraph" as const, children: [] as Inline[] }];
    let first = true;
    return blocks.map((b) => {
      if (b.type !== "paragraph") return b;
      const children: Inline[] = first ? [{ type: "text", text: `${name} ` }, ...b.children] : b.children;
      first = false;
      return { type: "paragraph", children: [{ type: "italic", children }] };
    });
  }

  private username(msg: OutboundMessage): string {
    const name = msg.sender.via ? `${msg.sender.name} (${msg.sender.via})` : msg.sender.name;
    return (name.trim() || "Matrix user").slice(0, MAX_USERNAME);
  }

  noteThread(ts: string, rootTs: string): void {
    if (this.threadRoots.size > 5000) this.threadRoots.clear();
    this.threadRoots.set(ts, rootTs);
  }

  private async threadTsFor(channel: string, msg: OutboundMessage): Promise<string | undefined> {
    const root = msg.threadRoot ? parseMessageRef(msg.threadRoot) : null;
    if (root) return this.threadRoots.get(root.ts) ?? root.ts;
    const reply = msg.replyTo ? parseMessageRef(msg.replyTo) : null;
    if (!reply) return undefined;
    const known = this.threadRoots.get(reply.ts);
    if (known) return known;
    // Is the replied-to message itself a thread reply? Then answer in that thread.
    const r = await this.api.read<{ messages?: Array<{ ts?: string; thread_ts?: string }> }>(
      "conversations.replies", { channel, ts: reply.ts, limit: 1 }).catch(() => undefined);
    const rootTs = r?.messages?.find((m) => m.ts === reply.ts)?.thread_ts ?? r?.messages?.[0]?.thread_ts ?? reply.ts;
    this.noteThread(reply.ts, rootTs);
    return rootTs;
  }

  private channelOf(chat: ChatRef): string {
    const p = parseChatRef(chat);
    if (!p) throw new RemoteError("bad_ref", `not a Slack chat: ${chat}`, { retryable: false });
    return p.channel;
  }

  /**
   * A slot in the channel's posting limit. The first post of a message may go back to the queue
   * (Deferred) when its slot is far; later parts of a split message wait, or earlier parts would
   * be posted again.
   */
  private async pace(channel: string, first: boolean): Promise<void> {
    if (!this.pacer) return;
    const limits: Array<[string, typeof SLACK_CHANNEL]> = [[`slack:${this.team}:${channel}`, SLACK_CHANNEL]];
    if (first) await this.pacer.pace(limits, "chat.postMessage");
    else await this.pacer.take(limits);
  }

  async send(chat: ChatRef, msg: OutboundMessage): Promise<MessageRef[]> {
    const channel = this.channelOf(chat);
    await this.pace(channel, true);
    const threadTs = await this.threadTsFor(channel, msg);
    const doc = msg.emote ? this.emoteDoc(msg.doc, msg.sender.name) : msg.doc;
    const text = this.render(doc);
    if (msg.files && msg.files.length > 0) {
      // Files are posted by the bot without username/icon, so the comment names the sender.
      // The comment is mrkdwn: a name or file name like "<!channel>" must stay text, not ping.
      const who = `*${escapeMrkdwn(this.username(msg).replace(/[*_~`]/g, ""))}*`;
      const comment = msg.doc.length > 0 ? `${who}: ${text}` : `${who} sent ${msg.files.map((f) => escapeMrkdwn(f.name)).join(", ")}`;
      const ts = await this.files.upload(channel, msg.files, { threadTs, comment: comment.slice(0, MAX_TEXT) });
      const ref = messageRef(this.team, channel, ts);
      if (threadTs) this.noteThread(ts, threadTs);
      return [...(msg.doc.length > 0 ? [ref] : []), ...msg.files.map(() => ref)];
    }
    const { parts: chunks, rest } = capParts(splitText(text || " ", MAX_TEXT), this.maxParts, "\n"); // splitText drops the line break it cuts at
    const refs: MessageRef[] = [];
    if (msg.maybeSent) {
      // An earlier try may have posted (some of) it before a crash: take those instead of posting again.
      for (const ts of (await this.findPosted(channel, threadTs, msg.sourceId, msg.receivedAt)).slice(0, chunks.length)) {
        if (threadTs) this.noteThread(ts, threadTs);
        refs.push(messageRef(this.team, channel, ts));
      }
    }
    for (const [i, chunk] of chunks.slice(refs.length).entries()) {
      if (i > 0) await this.pace(channel, false);
      const r = await this.api.call<{ ts?: string; channel?: string }>("chat.postMessage", {
        channel, text: chunk, username: this.username(msg),
        ...(msg.sender.avatarUrl ? { icon_url: msg.sender.avatarUrl } : {}),
        ...(threadTs ? { thread_ts: threadTs } : {}),
        metadata: { event_type: METADATA_EVENT_TYPE, event_payload: { event_id: msg.sourceId } },
      });
      if (!r.ts) throw new RemoteError("no_ts", "chat.postMessage returned no ts", { retryable: false });
      if (threadTs) this.noteThread(r.ts, threadTs);
      refs.push(messageRef(this.team, r.channel ?? channel, r.ts));
    }
    if (rest !== undefined) refs.push(await this.sendRest(channel, threadTs, msg, rest, refs.length === 0));
    return refs;
  }

  /** The text past the last allowed post, as one text file in the same place (not found again after a crash: at least once). */
  private async sendRest(channel: string, threadTs: string | undefined, msg: OutboundMessage, rest: string, first: boolean): Promise<MessageRef> {
    if (!first) await this.pace(channel, false);
    const who = `*${escapeMrkdwn(this.username(msg).replace(/[*_~`]/g, ""))}*`;
    const data = Buffer.from(rest.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"));
    const ts = await this.files.upload(channel, [{ name: OVERFLOW_FILE_NAME, mime: "text/plain", kind: "file", data }], {
      threadTs, comment: `${who}: the rest of the message (too long for ${this.maxParts} Slack messages)`,
    });
    if (threadTs) this.noteThread(ts, threadTs);
    return messageRef(this.team, channel, ts);
  }

  /**
   * The ts of messages already posted for a Matrix event (by the metadata we tag posts with),
   * oldest first: searched in the thread, or in the channel's history since the event was
   * received (at most LOOKUP_PAGES pages). A look-up Slack refuses for good (e.g. a missing
   * history scope) finds nothing, so the message is posted (at least once) rather than lost.
   */
  private async findPosted(channel: string, threadTs: string | undefined, eventId: string, receivedAt?: number): Promise<string[]> {
    const found: string[] = [];
    const oldest = receivedAt ? ((receivedAt - LOOKUP_SKEW_MS) / 1000).toFixed(6) : undefined;
    let cursor: string | undefined;
    for (let page = 0; page < LOOKUP_PAGES; page++) {
      let r: HistoryPage;
      try {
        r = await this.api.read<HistoryPage>(threadTs ? "conversations.replies" : "conversations.history", {
          channel, ...(threadTs ? { ts: threadTs } : {}), include_all_metadata: true, limit: LOOKUP_PAGE_SIZE,
          ...(oldest ? { oldest } : {}), ...(cursor ? { cursor } : {}),
        });
      } catch (err) {
        if (err instanceof RemoteError && !err.retryable) return found;
        throw err;
      }
      for (const m of r.messages ?? []) {
        if (m.ts && /^\d+\.\d+$/.test(m.ts) && m.metadata?.event_type === METADATA_EVENT_TYPE && m.metadata.event_payload?.event_id === eventId) found.push(m.ts);
      }
      cursor = r.response_metadata?.next_cursor || undefined;
      if (!cursor) break;
    }
    return found.sort(compareTs);
  }

  async edit(chat: ChatRef, target: MessageRef, msg: OutboundMessage): Promise<void> {
    const t = parseMessageRef(target);
    if (!t) return; // a file we could not place: nothing to edit
    const doc = msg.emote ? this.emoteDoc(msg.doc, msg.sender.name) : msg.doc;
    await this.ignoreDone(() => this.api.call("chat.update", {
      channel: this.channelOf(chat), ts: t.ts, text: (this.render(doc) || " ").slice(0, MAX_TEXT),
      metadata: { event_type: METADATA_EVENT_TYPE, event_payload: { event_id: msg.sourceId } },
    }));
  }

  async delete(chat: ChatRef, target: MessageRef): Promise<void> {
    const t = parseMessageRef(target);
    if (!t) return;
    await this.ignoreDone(() => this.api.call("chat.delete", { channel: this.channelOf(chat), ts: t.ts }));
  }

  async react(chat: ChatRef, target: MessageRef, emoji: string, on: boolean): Promise<void> {
    const t = parseMessageRef(target);
    if (!t) return;
    const name = slackReactionName(emoji);
    if (!name) {
      throw new RemoteError("unknown_emoji", `no Slack name for ${emoji}`, { retryable: false, userMessage: `Slack has no reaction ${emoji}` });
    }
    await this.ignoreDone(() => this.api.call(on ? "reactions.add" : "reactions.remove", { channel: this.channelOf(chat), timestamp: t.ts, name }));
  }

  /** Pin a message (the cutover notice); needs the optional pins:write scope. */
  async pin(chat: ChatRef, target: MessageRef): Promise<void> {
    const t = parseMessageRef(target);
    if (!t) return;
    await this.ignoreDone(() => this.api.call("pins.add", { channel: this.channelOf(chat), timestamp: t.ts }));
  }

  private async ignoreDone(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof RemoteError && ALREADY_DONE.has(err.code)) return;
      throw err;
    }
  }
}

/** "👍" → "+1"; ":party_parrot:" (a custom emoji that came from Slack) → "party_parrot". */
export function slackReactionName(emoji: string): string | null {
  const known = unicodeToSlackEmoji(emoji);
  if (known) return known;
  const custom = /^:([a-z0-9_+'-]+(?:::skin-tone-[2-6])?):$/.exec(emoji.trim());
  return custom ? custom[1]! : null;
}

/** Orders Slack timestamps ("seconds.micros"), which are too precise for a double. */
export function compareTs(a: string, b: string): number {
  const key = (ts: string) => {
    const [s = "0", us = "0"] = ts.split(".");
    return BigInt(s) * 1_000_000n + BigInt(us.padEnd(6, "0").slice(0, 6));
  };
  const d = key(a) - key(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** Split long text at line breaks (or hard, as a last resort) into pieces Slack accepts. */
export function splitText(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const line = rest.lastIndexOf("\n", max);
    if (line >= max / 2) {
      out.push(rest.slice(0, line));
      rest = rest.slice(line + 1);
      continue;
    }
    const cut = hardCut(rest, max);
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest) out.push(rest);
  return out;
}

/**
 * Where to cut a line longer than `max`: at `max`, or a little before so the cut splits no
 * <…> token (a mention or link), no &amp;-style entity and no surrogate pair (half an emoji).
 */
function hardCut(s: string, max: number): number {
  let cut = max;
  const open = s.lastIndexOf("<", cut - 1);
  if (open > max - 1000 && open > 0 && s.indexOf(">", open) >= cut) cut = open;
  const amp = s.lastIndexOf("&", cut - 1);
  if (amp > cut - 8 && amp > 0 && !s.slice(amp, cut).includes(";")) cut = amp;
  const code = s.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff && cut > 1) cut--;
  return cut;
}
