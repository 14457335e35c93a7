/**
 * A Slack workspace with history, for the import tests (e2e, homeserver suite, bench): a few
 * conversations of every kind the app can be in (public channel, private channel, group DM, DM),
 * each with numbered messages ("c1 msg 0001"), threads, edits, reactions, files and a join, plus
 * a channel the app is not in (never imported). Seeded before the bridge logs in; the events the
 * seeding emits are dropped so nothing of it arrives live.
 */
import type { FakeSlack, TeamHandle } from "../fakes/slack.js";

export interface SeededMessage {
  conv: string;
  ts: string;
  text: string;
  /** Root ts of its thread, for a reply. */
  root?: string;
  edited?: boolean;
  file?: string;
  reactions: number;
}

export interface SeededWorkspace {
  team: TeamHandle;
  conversations: Array<{ id: string; name: string }>;
  messages: SeededMessage[];
  /** The channel the app is not in. */
  outside: string;
}

export interface SeedOptions {
  /** Top-level messages per conversation. */
  perConversation: number;
  /** Every n-th top-level message starts a thread of `replies` replies. */
  threadEvery?: number;
  replies?: number;
  /** Every n-th top-level message carries a file (0: none). */
  fileEvery?: number;
  /** How many conversations (1–4: channel, private channel, group DM, DM). */
  conversations?: number;
}

const pad = (n: number) => String(n).padStart(4, "0");

export function seedWorkspace(slack: FakeSlack, opts: SeedOptions): SeededWorkspace {
  const team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
  for (const [id, name] of [["U0001", "carol"], ["U0002", "dave"], ["U0003", "erin"]] as const) slack.addUser(team, { id, name, display_name: name[0]!.toUpperCase() + name.slice(1) });
  const all = [
    { id: "C0001", name: "general", ch: { members: ["U0001", "U0002"], botMember: true } },
    { id: "G0002", name: "secret", ch: { is_private: true, members: ["U0001", "U0002"], botMember: true } },
    { id: "G0003", name: "mpdm-carol--dave--erin-1", ch: { is_mpim: true, members: ["U0001", "U0002", "U0003"], botMember: true } },
    { id: "D0004", name: "carol", ch: { is_im: true, members: ["U0001"], botMember: true } },
  ].slice(0, opts.conversations ?? 3);
  for (const c of all) slack.addChannel(team, { id: c.id, name: c.name, ...c.ch });
  slack.addChannel(team, { id: "C0099", name: "elsewhere", members: ["U0001"], botMember: false });
  slack.userPosts(team, "C0099", "U0001", "never imported", { silent: true });

  const users = ["U0001", "U0002", "U0003"];
  const messages: SeededMessage[] = [];
  const threadEvery = opts.threadEvery ?? 10;
  const replies = opts.replies ?? 3;
  const fileEvery = opts.fileEvery ?? 25;
  for (const [ci, c] of all.entries()) {
    const who = (i: number) => c.id.startsWith("D") ? "U0001" : users[i % (c.id === "G0002" ? 2 : 3)]!;
    for (let i = 1; i <= opts.perConversation; i++) {
      const text = `c${ci + 1} msg ${pad(i)}`;
      const file = fileEvery > 0 && i % fileEvery === 0 ? `file-${ci + 1}-${i}.txt` : undefined;
      const ts = slack.userPosts(team, c.id, who(i), text, { silent: true, ...(file ? { files: [{ name: file, data: Buffer.from(`contents of ${file}`), mimetype: "text/plain" }] } : {}) });
      const m: SeededMessage = { conv: c.id, ts, text, reactions: 0, ...(file ? { file } : {}) };
      messages.push(m);
      if (i % 7 === 0) {
        m.text = `${text} edited`;
        m.edited = true;
        slack.userEdits(team, c.id, ts, m.text);
      }
      if (i % 5 === 0 && !c.id.startsWith("D")) {
        slack.userReacts(team, c.id, ts, who(i + 1), "thumbsup");
        m.reactions = 1;
      }
      if (threadEvery > 0 && i % threadEvery === 0) {
        for (let r = 1; r <= replies; r++) {
          const rt = `c${ci + 1} msg ${pad(i)} reply ${r}`;
          messages.push({ conv: c.id, ts: slack.userPosts(team, c.id, who(i + r), rt, { thread_ts: ts, silent: true }), text: rt, root: ts, reactions: 0 });
        }
      }
      if (i === Math.floor(opts.perConversation / 2) && c.id === "C0001") slack.userJoins(team, c.id, "U0003");
    }
  }
  slack.clearPendingEvents(team);
  return { team, conversations: all.map((c) => ({ id: c.id, name: c.name })), messages, outside: "C0099" };
}
