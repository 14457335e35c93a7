/**
 * Issue 14: the Slack API history source against the fake Slack (real WebClient, real HTTP):
 * every conversation the app is in, oldest first with threads right after their turn, edits with
 * their time, reactions, joins; `--since/--until`; and the rate tier told from Slack's answers
 * (Tier 3's 999-message pages, or the 15-message, rate-limited pages of a non-Marketplace app,
 * waited out through 429 Retry-After without losing or doubling anything).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HistoryEvent } from "../../src/core/history-source.js";
import { silentLogger } from "../../src/core/log.js";
import { SlackApi } from "../../src/networks/slack/api.js";
import { SlackDirectory } from "../../src/networks/slack/directory.js";
import { SlackHistorySource } from "../../src/networks/slack/history-source.js";
import { FakeSlack } from "../fakes/slack.js";
import { seedWorkspace, type SeededWorkspace } from "../support/import-workspace.js";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("Slack history source", () => {
  let slack: FakeSlack;
  let ws: SeededWorkspace;
  let source: SlackHistorySource;

  beforeEach(async () => {
    slack = await FakeSlack.start();
    ws = seedWorkspace(slack, { perConversation: 40, threadEvery: 10, replies: 2, fileEvery: 20, conversations: 4 });
    const api = new SlackApi(ws.team.botToken, { apiUrl: slack.apiUrl, log: silentLogger, retries: 0, timeoutMs: 10_000 });
    source = new SlackHistorySource({ api, directory: new SlackDirectory(api, "T0001"), team: "T0001", download: () => Promise.reject(new Error("not here")), nameLookupMs: 1000 });
  });
  afterEach(async () => { await slack.stop(); });

  const messageKeys = (evs: HistoryEvent[]) => evs.filter((e) => e.kind === "message").map((e) => e.kind === "message" ? e.ref : "");
  const expectedRefs = (conv: string, filter = (_ts: string) => true) =>
    ws.messages.filter((m) => m.conv === conv && filter(m.ts)).map((m) => `T0001:${conv}:${m.ts}`);

  it("lists every conversation the app is in (channel, private, group DM, DM), never one it is not in", async () => {
    const convs = await collect(source.conversations());
    expect(convs.map((c) => c.chat).sort()).toEqual(["T0001:C0001", "T0001:D0004", "T0001:G0002", "T0001:G0003"].sort());
    expect(source.describe).toBe("Slack workspace Acme (T0001)");
    expect((await collect(source.conversations("#secret"))).map((c) => c.chat)).toEqual(["T0001:G0002"]);
    expect(await collect(source.conversations("#elsewhere"))).toEqual([]);
  });

  it("reads a conversation oldest first, replies right after their turn, with edits, reactions and the join (Tier 3: one page)", async () => {
    slack.historyTier({ maxPerCall: 999, perWindow: 50, windowMs: 60_000 });
    const [general] = await collect(source.conversations("C0001"));
    const evs = await collect(general!.events({}));
    expect(messageKeys(evs)).toEqual(expectedRefs("C0001")); // every message once, replies after their root, in time order
    // In time order across the whole conversation.
    const ats = evs.filter((e) => e.kind === "message").map((e) => e.at);
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    expect(evs.filter((e) => e.kind === "message")).toHaveLength(expectedRefs("C0001").length);
    const replies = evs.filter((e) => e.kind === "message" && e.msg.threadRoot);
    expect(replies).toHaveLength(8);
    const edited = evs.filter((e) => e.kind === "message" && e.editedAt);
    expect(edited.length).toBe(ws.messages.filter((m) => m.conv === "C0001" && m.edited).length);
    const reactions = evs.filter((e) => e.kind === "reaction");
    expect(reactions.length).toBe(ws.messages.filter((m) => m.conv === "C0001").reduce((n, m) => n + m.reactions, 0));
    // Each reaction comes right after its message.
    for (const r of reactions) {
      const i = evs.indexOf(r);
      const before = evs.slice(0, i).reverse().find((e) => e.kind === "message");
      expect(r.kind === "reaction" && before?.kind === "message" && before.ref).toBe(r.kind === "reaction" && r.target);
    }
    expect(evs.some((e) => e.kind === "membership" && e.joined && e.user.endsWith("U0003"))).toBe(true);
    expect(evs.filter((e) => e.kind === "message" && e.msg.files?.length)).toHaveLength(2);
    expect(source.notes().join()).toMatch(/Slack rate tier 3/);
    expect(slack.calls.filter((c) => c.method === "conversations.history")).toHaveLength(1);
  });

  it("a non-Marketplace app's 15-message pages and 1-per-window limit: every message once, the waits counted, the tier said", async () => {
    slack.historyTier({ maxPerCall: 15, perWindow: 1, windowMs: 1000 });
    const [secret] = await collect(source.conversations("G0002"));
    const evs = await collect(secret!.events({}));
    const refs = messageKeys(evs);
    expect(refs).toHaveLength(expectedRefs("G0002").length);
    expect(new Set(refs).size).toBe(refs.length);
    const ats = evs.filter((e) => e.kind === "message").map((e) => e.at);
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    expect(slack.calls.filter((c) => c.method === "conversations.history" && c.status === 429).length).toBeGreaterThan(0);
    expect(source.waits().totalMs).toBeGreaterThan(0);
    expect(source.notes().join()).toMatch(/15 messages per request/);
  }, 60_000);

  it("a Slack outage of a few calls (503) is waited out: nothing lost, nothing doubled", async () => {
    slack.failNext("conversations.history", 2, 503);
    slack.failNext("conversations.replies", 1, 500);
    const [general] = await collect(source.conversations("C0001"));
    const evs = await collect(general!.events({}));
    expect(messageKeys(evs)).toEqual(expectedRefs("C0001"));
    expect(slack.calls.filter((c) => c.method === "conversations.history" && c.status === 503)).toHaveLength(2);
  }, 30_000);

  it("--since and --until bound the read (inclusive)", async () => {
    const all = ws.messages.filter((m) => m.conv === "G0003" && !m.root);
    const since = Math.floor(Number(all[10]!.ts) * 1000); // a date's ms: the whole millisecond counts
    const until = Math.floor(Number(all[19]!.ts) * 1000);
    const [group] = await collect(source.conversations("G0003"));
    const evs = await collect(group!.events({ since, until }));
    const top = evs.filter((e) => e.kind === "message" && !e.msg.threadRoot);
    const ms = (ts: string) => Math.floor(Number(ts) * 1000);
    const inside = all.filter((m) => ms(m.ts) >= since && ms(m.ts) <= until);
    expect(inside.length).toBeGreaterThanOrEqual(10);
    expect(inside.length).toBeLessThan(all.length);
    expect(top.map((e) => e.kind === "message" && e.ref)).toEqual(inside.map((m) => `T0001:G0003:${m.ts}`));
  });
});
