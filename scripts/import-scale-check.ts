/**
 * The scale run's workspace and its check (scripts/import-scale.ts): `seedScaleWorkspace` fills the
 * fake Slack with N conversations of every kind the app can be in (a DM, a group DM, public and
 * private channels) of exactly M messages each, thread replies included, with edits, reactions and,
 * in every other conversation, files; `checkRoom` reads what a Matrix user sees in the room
 * (`/messages`, oldest first) against that source and counts every way it can differ.
 */
import type { FakeSlack, TeamHandle } from "../test/fakes/slack.js";
import type { ClientEvent } from "../test/homeserver/support/matrix-user.js";

export interface ScaleMessage {
  key: string;
  ts: string;
  /** Final text (after its edit). */
  text: string;
  /** Key of its thread's root, for a reply. */
  root?: string;
  edited: boolean;
  file?: { name: string; data: string };
  reactions: number;
}

export interface ScaleConversation {
  id: string;
  name: string;
  kind: "dm" | "group-dm" | "public" | "private";
  withFiles: boolean;
  messages: ScaleMessage[];
}

export interface ScaleOptions {
  conversations: number;
  messages: number;
  /** Every n-th top-level message starts a thread of 3 replies. */
  threadEvery: number;
  /** Every n-th top-level message of a conversation with files carries one. */
  fileEvery: number;
}

const USERS = ["U0001", "U0002", "U0003", "U0004", "U0005"];
const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** Conversation i (0-based): a DM, a group DM, then public and private channels in turn. */
function kindOf(i: number): ScaleConversation["kind"] {
  if (i === 0) return "public";
  if (i === 1) return "dm";
  if (i === 2) return "group-dm";
  return i % 2 === 1 ? "public" : "private";
}

export function seedScaleWorkspace(slack: FakeSlack, opts: ScaleOptions): { team: TeamHandle; conversations: ScaleConversation[] } {
  const team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
  for (const id of USERS) slack.addUser(team, { id, name: `user${id.slice(-1)}`, display_name: `User ${id.slice(-1)}` });
  const conversations: ScaleConversation[] = [];
  for (let ci = 0; ci < opts.conversations; ci++) {
    const kind = kindOf(ci);
    const n = pad(ci + 1, 2);
    const id = { dm: `D00${n}`, "group-dm": `G00${n}`, public: `C00${n}`, private: `G00${n}` }[kind];
    const name = kind === "dm" ? "user1" : kind === "group-dm" ? "mpdm-user1--user2--user3-1" : `${kind}-${n}`;
    const members = kind === "dm" ? ["U0001"] : kind === "group-dm" ? USERS.slice(0, 3) : USERS;
    slack.addChannel(team, { id, name, members, botMember: true, ...(kind === "private" ? { is_private: true } : {}), ...(kind === "dm" ? { is_im: true } : {}), ...(kind === "group-dm" ? { is_mpim: true } : {}) });
    const conv: ScaleConversation = { id, name, kind, withFiles: ci % 2 === 0, messages: [] };
    conversations.push(conv);
    const who = (i: number) => members[i % members.length]!;
    let top = 0;
    while (conv.messages.length < opts.messages) {
      top++;
      const key = `s${n} msg ${pad(top, 5)}`;
      const file = conv.withFiles && top % opts.fileEvery === 0 ? { name: `file-${n}-${top}.txt`, data: `contents of file ${n}/${top}` } : undefined;
      const ts = slack.userPosts(team, id, who(top), key, { silent: true, ...(file ? { files: [{ name: file.name, data: Buffer.from(file.data), mimetype: "text/plain" }] } : {}) });
      const m: ScaleMessage = { key, ts, text: key, edited: false, reactions: 0, ...(file ? { file } : {}) };
      conv.messages.push(m);
      if (top % 7 === 0) {
        m.text = `${key} edited`;
        m.edited = true;
        slack.userEdits(team, id, ts, m.text);
      }
      if (top % 5 === 0 && kind !== "dm") {
        slack.userReacts(team, id, ts, who(top + 1), "thumbsup");
        m.reactions = 1;
      }
      if (top % opts.threadEvery === 0) {
        for (let r = 1; r <= 3 && conv.messages.length < opts.messages; r++) {
          const rk = `${key} reply ${r}`;
          conv.messages.push({ key: rk, ts: slack.userPosts(team, id, who(top + r), rk, { thread_ts: ts, silent: true }), text: rk, root: key, edited: false, reactions: 0 });
        }
      }
    }
  }
  slack.clearPendingEvents(team);
  return { team, conversations };
}

export interface RoomCheck {
  expected: number;
  found: number;
  missing: number;
  doubled: number;
  outOfOrder: number;
  wrongThread: number;
  wrongText: number;
  /** Not at the source message's time (origin_server_ts). */
  wrongTime: number;
  missingReactions: number;
  missingFiles: number;
  /** Files to compare with the source: mxc URL → expected contents. */
  uploads: Array<{ mxc: string; data: string }>;
  /** The first few differences, for the log. */
  examples: string[];
}

const KEY = /^(s\d+ msg \d+(?: reply \d)?)/;
type Content = { msgtype?: string; body?: string; url?: string; "net.tandem.edited_at"?: unknown; "m.relates_to"?: { rel_type?: string; event_id?: string; key?: string } };
const contentOf = (e: ClientEvent) => e.content as Content;

/** Compares a room's timeline (oldest first) with the conversation it was imported from. */
export function checkRoom(conv: ScaleConversation, timeline: ClientEvent[]): RoomCheck {
  const r: RoomCheck = { expected: conv.messages.length, found: 0, missing: 0, doubled: 0, outOfOrder: 0, wrongThread: 0, wrongText: 0, wrongTime: 0, missingReactions: 0, missingFiles: 0, uploads: [], examples: [] };
  const note = (s: string) => { if (r.examples.length < 5) r.examples.push(s); };
  const index = new Map(conv.messages.map((m, i) => [m.key, i]));
  const ghostMessages = timeline.filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_"));
  // A message's text part, then (for a file) its file part from the same ghost.
  const textEvents = new Map<string, ClientEvent[]>();
  let last = -1;
  for (const [pos, e] of ghostMessages.entries()) {
    const c = contentOf(e);
    const key = c.msgtype === "m.text" ? KEY.exec(c.body ?? "")?.[1] : undefined;
    if (!key || !index.has(key)) continue;
    const list = textEvents.get(key) ?? [];
    list.push(e);
    textEvents.set(key, list);
    if (list.length > 1) continue;
    const i = index.get(key)!;
    if (i < last) { r.outOfOrder++; note(`${key}: after ${conv.messages[last]!.key}`); }
    last = Math.max(last, i);
    const m = conv.messages[i]!;
    if (m.file) {
      const next = ghostMessages[pos + 1];
      const nc = next ? contentOf(next) : {};
      if (next?.sender === e.sender && nc.msgtype === "m.file" && nc.body === m.file.name && nc.url?.startsWith("mxc://")) r.uploads.push({ mxc: nc.url, data: m.file.data });
      else r.missingFiles++;
    }
  }
  const reactions = new Map<string, number>();
  for (const e of timeline) {
    const rel = e.type === "m.reaction" ? contentOf(e)["m.relates_to"] : undefined;
    if (rel?.event_id) reactions.set(rel.event_id, (reactions.get(rel.event_id) ?? 0) + 1);
  }
  for (const m of conv.messages) {
    const seen = textEvents.get(m.key) ?? [];
    if (seen.length === 0) { r.missing++; note(`${m.key}: missing`); continue; }
    r.found++;
    r.doubled += seen.length - 1;
    if (seen.length > 1) note(`${m.key}: ${seen.length} times`);
    const e = seen[0]!;
    const c = contentOf(e);
    const textOk = c.body === m.text || (m.edited && c.body?.startsWith(m.text) && c["net.tandem.edited_at"] !== undefined);
    if (!textOk || (m.edited && c["net.tandem.edited_at"] === undefined)) { r.wrongText++; note(`${m.key}: expected text ${JSON.stringify(m.text)}, got ${JSON.stringify(c)}`); }
    if (e.origin_server_ts !== Math.round(Number(m.ts) * 1000)) { r.wrongTime++; note(`${m.key}: at ${e.origin_server_ts}, sent at ${m.ts}`); }
    if (m.root) {
      const root = textEvents.get(m.root)?.[0];
      const rel = c["m.relates_to"];
      if (!root || rel?.rel_type !== "m.thread" || rel.event_id !== root.event_id) { r.wrongThread++; note(`${m.key}: not in ${m.root}'s thread: ${JSON.stringify(rel)}`); }
    }
    if ((reactions.get(e.event_id) ?? 0) < m.reactions) r.missingReactions++;
  }
  return r;
}
