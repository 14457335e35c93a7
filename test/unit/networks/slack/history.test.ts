// Backfill reads through the real WebClient against the fake Slack: pages backwards from a fixed
// edge, threads apart, the same events (and keys) as live traffic, and the pace per method.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "../../../../src/core/connector.js";
import { RemoteError } from "../../../../src/core/errors.js";
import { silentLogger } from "../../../../src/core/log.js";
import type { RemoteEvent } from "../../../../src/core/types.js";
import { createSlackConnector } from "../../../../src/networks/slack/index.js";
import { FakeSlack, type TeamHandle } from "../../../fakes/slack.js";
import { RecordingSink, configFor, loginFor } from "./support.js";

let slack: FakeSlack;
const open: Connection[] = [];
let n = 0;

beforeAll(async () => {
  slack = await FakeSlack.start({ ackTimeoutMs: 400, pingIntervalMs: 1000 });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.stop()));
});
afterAll(async () => {
  await slack?.stop();
});

function newTeam(): TeamHandle {
  const team = slack.createTeam({ id: `T0H${++n}`, name: `Team ${n}`, domain: `team${n}` });
  slack.addUser(team, { id: "U0001", name: "carol", display_name: "Carol" });
  slack.addUser(team, { id: "U0002", name: "dave", display_name: "Dave" });
  slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001", "U0002"], botMember: true });
  return team;
}

async function connect(team: TeamHandle, pace = { pageSize: 5, intervalMs: 0 }): Promise<Connection> {
  const connector = createSlackConnector(configFor(slack), silentLogger, { webRetries: 0, history: pace, socket: { startTimeoutMs: 3000 } });
  const sink = new RecordingSink();
  const conn = await connector.connect(loginFor(team), sink);
  open.push(conn);
  await slack.waitFor(() => sink.state === "connected", 5000, "connected");
  return conn;
}

const text = (e: RemoteEvent) => (e.kind === "message" ? JSON.stringify(e.msg.doc) : "");
const has = (e: RemoteEvent, s: string) => text(e).includes(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Slack history (backfill reads)", () => {
  it("pages backwards from `before`, each page oldest first, with the keys live messages have", async () => {
    const team = newTeam();
    const ts: string[] = [];
    for (let i = 1; i <= 12; i++) ts.push(slack.userPosts(team, "C0001", i % 2 ? "U0001" : "U0002", `past ${i}`, { silent: true }));
    await sleep(5);
    const before = Date.now();
    slack.userPosts(team, "C0001", "U0001", "after the edge", { silent: true });
    const conn = await connect(team);

    const p1 = await conn.history!(`${team.id}:C0001`, { limit: 50, before });
    expect(p1.events.map((e) => e.kind === "message" && e.ref)).toEqual(ts.slice(7).map((t) => `${team.id}:C0001:${t}`));
    expect(p1.events.map((e) => e.key)).toEqual(ts.slice(7).map((t) => `msg:${team.id}:C0001:${t}`));
    expect(p1.events[0]).toMatchObject({ kind: "message", chat: `${team.id}:C0001`, sender: `${team.id}:U0002`, at: Math.round(Number(ts[7]) * 1000) });
    expect(has(p1.events[0]!, "past 8")).toBe(true);
    expect(p1.cursor).toBeTruthy();

    const p2 = await conn.history!(`${team.id}:C0001`, { limit: 50, before, cursor: p1.cursor });
    expect(p2.events.map((e) => e.key)).toEqual(ts.slice(2, 7).map((t) => `msg:${team.id}:C0001:${t}`));
    const p3 = await conn.history!(`${team.id}:C0001`, { limit: 50, before, cursor: p2.cursor });
    expect(p3.events.map((e) => e.key)).toEqual(ts.slice(0, 2).map((t) => `msg:${team.id}:C0001:${t}`));
    expect(p3.cursor).toBeUndefined();
    expect([...p1.events, ...p2.events, ...p3.events].some((e) => has(e, "after the edge"))).toBe(false);
    // Every request asked for at most the page size and ended at the edge.
    const calls = slack.calls.filter((c) => c.method === "conversations.history" && c.teamId === team.id && c.params.latest !== undefined);
    expect(calls).toHaveLength(3);
    for (const c of calls) expect(Number(c.params.limit)).toBeLessThanOrEqual(5);
  });

  it("lists threads with replies; a thread page has the replies oldest first, without the root or later replies", async () => {
    const team = newTeam();
    const root = slack.userPosts(team, "C0001", "U0001", "root", { silent: true });
    slack.userPosts(team, "C0001", "U0002", "r1", { thread_ts: root, silent: true });
    slack.userPosts(team, "C0001", "U0001", "r2", { thread_ts: root, silent: true });
    const bc = slack.userPosts(team, "C0001", "U0002", "r3 also to channel", { thread_ts: root, broadcast: true, silent: true });
    slack.userPosts(team, "C0001", "U0001", "plain", { silent: true });
    await sleep(5);
    const before = Date.now();
    slack.userPosts(team, "C0001", "U0002", "r4 late", { thread_ts: root, silent: true });
    const conn = await connect(team);

    const page = await conn.history!(`${team.id}:C0001`, { limit: 50, before });
    expect(page.events.map((e) => (e.kind === "message" ? JSON.parse(text(e))[0].children[0].text : ""))).toEqual(["root", "r3 also to channel", "plain"]);
    expect(page.threads).toEqual([`${team.id}:C0001:${root}`]);
    const thread = await conn.history!(`${team.id}:C0001`, { limit: 50, before, thread: `${team.id}:C0001:${root}` });
    expect(thread.events.map((e) => e.key)).toEqual(
      slack.thread(team, "C0001", root).filter((m) => m.ts !== root && Number(m.ts) * 1000 < before).map((m) => `msg:${team.id}:C0001:${m.ts}`));
    expect(thread.events).toHaveLength(3);
    for (const e of thread.events) expect(e.kind === "message" && e.msg.threadRoot).toBe(`${team.id}:C0001:${root}`);
    // The broadcast has one key whichever way it comes.
    expect(thread.events.map((e) => e.key)).toContain(`msg:${team.id}:C0001:${bc}`);
    expect(page.events.map((e) => e.key)).toContain(`msg:${team.id}:C0001:${bc}`);
  });

  it("leaves out the bridge's own posts and system messages", async () => {
    const team = newTeam();
    slack.userPosts(team, "C0001", "U0001", "from carol", { silent: true });
    const conn = await connect(team);
    await conn.send(`${team.id}:C0001`, { doc: [{ type: "paragraph", children: [{ type: "text", text: "from matrix" }] }], sender: { name: "Alice" }, sourceId: "$e1" });
    slack.userJoins(team, "C0001", "U0002");
    await sleep(20);
    const page = await conn.history!(`${team.id}:C0001`, { limit: 50, before: Date.now() + 1000 });
    expect(page.events).toHaveLength(1);
    expect(has(page.events[0]!, "from carol")).toBe(true);
  });

  it("is paced per method: a call before readyAt waits, and a 429 moves the next turn by Retry-After", async () => {
    const team = newTeam();
    for (let i = 0; i < 4; i++) slack.userPosts(team, "C0001", "U0001", `m${i}`, { silent: true });
    const conn = await connect(team, { pageSize: 2, intervalMs: 400 });
    const chat = `${team.id}:C0001`;
    expect(conn.historyReadyAt!("page")).toBeLessThanOrEqual(Date.now());
    const t0 = Date.now();
    const p1 = await conn.history!(chat, { limit: 10, before: Date.now() });
    expect(conn.historyReadyAt!("page")).toBeGreaterThanOrEqual(t0 + 400);
    expect(conn.historyReadyAt!("thread")).toBeLessThanOrEqual(Date.now()); // the other method has its own pace
    await conn.history!(chat, { limit: 10, before: Date.now(), cursor: p1.cursor });
    const calls = slack.calls.filter((c) => c.method === "conversations.history" && c.teamId === team.id && c.params.latest !== undefined);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(390);

    await new Promise((r) => setTimeout(r, 450));
    slack.rateLimitNext("conversations.history", 1, 2);
    const err = await conn.history!(chat, { limit: 10, before: Date.now() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ code: "ratelimited", retryable: true, retryAfterMs: 2000 });
    expect(conn.historyReadyAt!("page")).toBeGreaterThan(Date.now() + 1500);
  });
});
