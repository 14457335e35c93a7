/**
 * Issue 6 item 5, end to end: Slack history imported into new portals and newly linked empty
 * rooms, through the real connector (conversations.history / conversations.replies, paced)
 * against the fake Slack and the fake homeserver: order, original timestamps, threads, no
 * fan-out, live messages after history, a restart mid-way, the count 0 switch, and rooms that
 * already have messages.
 */
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { createSlackConnector } from "../../src/networks/slack/index.js";
import type { ClientEvent, FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);
const isGhost = (e: ClientEvent) => e.sender.startsWith("@slack_");
const relation = (e: ClientEvent) => (e.content as { "m.relates_to"?: { rel_type?: string; event_id?: string } })["m.relates_to"];

interface Seeded { ts: string; text: string; root?: string }

/** Post `n` messages silently (history from before the bridge), a few ms apart so each has its own millisecond. */
async function seed(slack: FakeSlack, team: TeamHandle, channel: string, n: number, threadAfter?: number, replies = 0): Promise<Seeded[]> {
  const out: Seeded[] = [];
  for (let i = 1; i <= n; i++) {
    const text = `past ${i}`;
    out.push({ ts: slack.userPosts(team, channel, i % 2 ? "U0001" : "U0002", text, { silent: true }), text });
    await sleep(2);
    if (i === threadAfter) {
      const root = out.at(-1)!.ts;
      for (let r = 1; r <= replies; r++) {
        const rt = `reply ${r} to ${text}`;
        out.push({ ts: slack.userPosts(team, channel, r % 2 ? "U0002" : "U0001", rt, { thread_ts: root, silent: true }), text: rt, root });
        await sleep(2);
      }
    }
  }
  return out;
}

describe("Slack backfill", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  let h: Harness;
  let lb: LoopbackNetwork;
  let alice: FakeMatrixClient;
  let dm: string;

  async function start(slackConfig: Record<string, unknown>, pace: { pageSize: number; intervalMs: number }): Promise<void> {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", display_name: "Carol" });
    slack.addUser(team, { id: "U0002", name: "dave", display_name: "Dave" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001", "U0002"], botMember: true });
    lb = new LoopbackNetwork();
    lb.addAccount("lb-token", "acct", "Loop");
    lb.addChat("fleet", "fleet");
    h = await Harness.start({
      config: { slack: { api_url: slack.apiUrl, ...slackConfig }, telegram: { enabled: false }, bridge: { download_allowed_origins: new URL(slack.apiUrl).origin } },
      connectors: (x) => [
        createSlackConnector(x.config, silentLogger, { history: pace, socket: { startTimeoutMs: 5000 } }),
        new LoopbackConnector(lb, "loopback"),
      ],
    });
    alice = h.user("alice");
    dm = await h.dm(alice);
  }

  async function login(): Promise<void> {
    expect(await h.command(alice, dm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/Logged in to Slack workspace Acme/);
    await waitUntil(() => h.bridge.core.health.all().some((x) => x.state === "connected"), 10_000, "Socket Mode connected");
  }

  const historyCalls = (channel: string) =>
    slack.calls.filter((c) => c.method === "conversations.history" && c.params.channel === channel && c.params.latest !== undefined);
  const job = async () => JSON.parse((await h.bridge.store.kv.get("backfill:slack:T0001:C0001")) ?? "null") as { state: string; pages: number } | null;
  const ghostMessages = (roomId: string) => h.messages(roomId).filter(isGhost);

  afterEach(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("login: a new portal gets the last messages in order, with their timestamps and threads; a live message lands after them", async () => {
    await start({ conversation_count: 1 }, { pageSize: 10, intervalMs: 300 });
    const past = await seed(slack, team, "C0001", 26, 10, 4); // 26 top level + a thread of 4 = 30
    await login();
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_general:example.org"), 10_000, "portal");
    const room = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    await waitUntil(() => historyCalls("C0001").length > 0, 10_000, "backfill started");
    slack.userPosts(team, "C0001", "U0001", "live during backfill");

    await waitUntil(() => ghostMessages(room).length >= 31, 20_000, "backfill and the live message");
    slack.userPosts(team, "C0001", "U0001", "sentinel"); // once it is in, anything doubled would be too
    await waitUntil(() => ghostMessages(room).some((e) => body(e) === "sentinel"), 10_000, "the sentinel");
    const got = ghostMessages(room);
    expect(got.map(body)).toEqual([...past.map((p) => p.text), "live during backfill", "sentinel"]);
    // Original timestamps (the appservice ts parameter).
    past.forEach((p, i) => expect(got[i]!.origin_server_ts).toBe(Math.round(Number(p.ts) * 1000)));
    // Thread relations point at the root's event.
    const rootEvent = got[past.findIndex((p) => p.text === "past 10")]!;
    for (const [i, p] of past.entries()) {
      if (p.root) expect(relation(got[i]!)).toMatchObject({ rel_type: "m.thread", event_id: rootEvent.event_id });
      else expect(relation(got[i]!)?.rel_type).toBeUndefined();
    }
    // Paced: pages of at most 10, at least the interval apart; the thread read once.
    const calls = historyCalls("C0001");
    expect(calls).toHaveLength(3);
    for (const c of calls) expect(Number(c.params.limit)).toBeLessThanOrEqual(10);
    for (let i = 1; i < calls.length; i++) expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThanOrEqual(290);
    expect(slack.calls.filter((c) => c.method === "conversations.replies")).toHaveLength(1);
    expect(await h.command(alice, dm, "status")).toMatch(/Backfill:\n• general \(Slack\): done, 30 messages imported/);
    // The operator's log says how far it got: a line per page and per thread, with counts.
    const said = h.logs.split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { message: string }).message).filter((m) => m.startsWith("backfill"));
    expect(said.filter((m) => m.startsWith("backfill: page"))).toEqual([
      "backfill: page 1 fetched, 10 of 50 messages collected",
      "backfill: page 2 fetched, 20 of 50 messages collected",
      "backfill: page 3 fetched, 26 of 50 messages collected (all pages in)",
    ]);
    expect(said).toContain("backfill: 4 thread replies fetched, 0 thread(s) left"); // found on page 2, paced apart from the pages
    expect(said).toContain("backfill: importing 30 messages");
  });

  it("a live message that makes the portal waits only for the first page; the cut is shown in status", async () => {
    await start({ conversation_count: 0 }, { pageSize: 10, intervalMs: 20_000 });
    const past = await seed(slack, team, "C0001", 30, 28, 2);
    await login();
    slack.userPosts(team, "C0001", "U0001", "live makes the portal");
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_general:example.org"), 10_000, "portal");
    const room = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    await waitUntil(() => ghostMessages(room).some((e) => body(e) === "live makes the portal"), 15_000, "live message");
    // The newest page (10 top-level messages) and the thread among them, then the live one.
    const newest = past.filter((p) => !p.root).slice(-10).map((p) => p.text);
    const expected = past.filter((p) => newest.includes(p.text) || p.root).map((p) => p.text);
    expect(ghostMessages(room).map(body)).toEqual([...expected, "live makes the portal"]);
    expect(historyCalls("C0001")).toHaveLength(1);
    expect(await h.command(alice, dm, "status")).toMatch(/general \(Slack\): done, 12 messages imported \(cut short at 10 of 50: a new message arrived/);
  });

  it("a restart in the middle resumes from the stored cursor, without duplicates", async () => {
    await start({ conversation_count: 1 }, { pageSize: 10, intervalMs: 1500 });
    const past = await seed(slack, team, "C0001", 30);
    await login();
    await waitUntil(async () => (await job())?.pages === 2, 15_000, "two pages fetched");
    const room = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    expect(ghostMessages(room)).toHaveLength(0); // collected, not imported yet
    await h.restart();
    await waitUntil(async () => (await job())?.state === "done", 20_000, "backfill done after the restart");
    slack.userPosts(team, "C0001", "U0001", "sentinel");
    await waitUntil(() => ghostMessages(room).some((e) => body(e) === "sentinel"), 10_000, "the sentinel");
    expect(ghostMessages(room).map(body)).toEqual([...past.map((p) => p.text), "sentinel"]);
    expect(historyCalls("C0001")).toHaveLength(3); // page 3 only after the restart
  });

  // One road per room (issue 12): while the job runs, everything of the chat waits in its lane.
  const lane = "r:slack:T0001:C0001";
  const pendingInLane = async () => (await h.bridge.store.queue.pendingIn([lane]))[0]?.pending ?? 0;
  const isEdit = (e: ClientEvent) => relation(e)?.rel_type === "m.replace";
  const index = (room: string, pred: (e: ClientEvent) => boolean) => h.hs.timeline(room).findIndex(pred);

  it("an edit, a deletion and a reaction to past messages, made while the history is fetched, wait in the chat's lane and follow it in order", async () => {
    await start({ conversation_count: 1 }, { pageSize: 10, intervalMs: 1000 });
    const past = await seed(slack, team, "C0001", 30);
    await login();
    await waitUntil(async () => (await job())?.pages === 1, 15_000, "the newest page collected");
    // All four reach the bridge while "past 28-30" are collected but not in the room yet.
    slack.userEdits(team, "C0001", past[29]!.ts, "past 30, edited");
    slack.userDeletes(team, "C0001", past[28]!.ts);
    slack.userReacts(team, "C0001", past[27]!.ts, "U0002", "thumbsup");
    slack.userPosts(team, "C0001", "U0001", "live after them");
    const room = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    await waitUntil(() => ghostMessages(room).some((e) => body(e) === "live after them"), 20_000, "the live message");

    const top = ghostMessages(room).filter((e) => !isEdit(e));
    expect(top).toHaveLength(31);
    expect(top.slice(0, 28).map(body)).toEqual(past.slice(0, 28).map((p) => p.text));
    expect(body(top[29]!)).toBe("past 30");
    expect(body(top[30]!)).toBe("live after them");
    const [p28, p29, p30] = [top[27]!.event_id, top[28]!.event_id, top[29]!.event_id];
    // Each change lands after the history it changes, in the order Slack sent them, and before the live message.
    const at = {
      history: index(room, (e) => e.event_id === p30),
      edit: index(room, (e) => isEdit(e) && relation(e)?.event_id === p30 && body(e).includes("past 30, edited")),
      redaction: index(room, (e) => e.type === "m.room.redaction" && e.redacts === p29),
      reaction: index(room, (e) => e.type === "m.reaction" && relation(e)?.event_id === p28),
      live: index(room, (e) => e.event_id === top[30]!.event_id),
    };
    expect(at.edit).toBeGreaterThan(at.history);
    expect(at.redaction).toBeGreaterThan(at.edit);
    expect(at.reaction).toBeGreaterThan(at.redaction);
    expect(at.live).toBeGreaterThan(at.reaction);
    await waitUntil(async () => (await pendingInLane()) === 0, 5000, "the lane drained");
  });

  it("a live message and an edit during a long paced backfill wait in the queue across a restart, then follow the history", async () => {
    await start({ conversation_count: 1 }, { pageSize: 10, intervalMs: 2500 });
    const past = await seed(slack, team, "C0001", 30);
    await login();
    await waitUntil(async () => (await job())?.pages === 1, 15_000, "the newest page collected");
    slack.userEdits(team, "C0001", past[29]!.ts, "past 30, edited");
    slack.userPosts(team, "C0001", "U0001", "live across the restart");
    await waitUntil(async () => (await pendingInLane()) === 2, 10_000, "both queued in the chat's lane");
    const room = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    expect(ghostMessages(room)).toHaveLength(0); // held: neither went ahead of the history
    expect((await job())?.state).toBe("collecting");

    await h.restart();
    await waitUntil(() => ghostMessages(room).some((e) => body(e) === "live across the restart"), 20_000, "the live message after the restart");
    slack.userPosts(team, "C0001", "U0001", "sentinel");
    await waitUntil(() => ghostMessages(room).some((e) => body(e) === "sentinel"), 10_000, "the sentinel");
    const top = ghostMessages(room).filter((e) => !isEdit(e));
    expect(top.map(body)).toEqual([...past.map((p) => p.text), "live across the restart", "sentinel"]);
    const edits = ghostMessages(room).filter(isEdit);
    expect(edits).toHaveLength(1);
    expect(relation(edits[0]!)?.event_id).toBe(top[29]!.event_id);
    expect(index(room, (e) => e.event_id === edits[0]!.event_id)).toBeLessThan(index(room, (e) => e.event_id === top[30]!.event_id));
    expect((await job())?.state).toBe("done");
    expect(historyCalls("C0001")).toHaveLength(3); // the whole history, not cut short
  });

  it("a linked empty room is backfilled but not relayed to its other links; a room with messages is left alone", async () => {
    await start({ conversation_count: 0 }, { pageSize: 10, intervalMs: 100 });
    slack.addChannel(team, { id: "C0002", name: "ops", members: ["U0001", "U0002"], botMember: true });
    slack.addChannel(team, { id: "C0003", name: "busy", members: ["U0001"], botMember: true });
    const ops = await seed(slack, team, "C0002", 12, 3, 2);
    await seed(slack, team, "C0003", 5);
    await login();
    expect(await h.command(alice, dm, "login loopback lb-token")).toMatch(/Logged in/);

    const linkable = async (name: string) => {
      const roomId = await alice.createRoom({ name, invite: [h.botMxid] });
      await h.waitForBot(roomId, /Hello/);
      const pl = await alice.getState(roomId, "m.room.power_levels");
      await alice.setState(roomId, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
      return roomId;
    };
    const room = await linkable("Fleet Ops");
    expect(await h.command(alice, room, "!tandem link loopback fleet")).toMatch(/Linked this room to Loopback fleet/);
    expect(await h.command(alice, room, "!tandem link slack #ops")).toMatch(/Linked this room to Slack ops[\s\S]*Importing the last 50 Slack messages/);
    await waitUntil(() => ghostMessages(room).length >= ops.length, 15_000, "backfill into the linked room");
    // The live message is the sentinel: its fan-out follows any of the history's on the room's lane.
    slack.userPosts(team, "C0002", "U0001", "live in ops");
    await waitUntil(() => lb.sent("fleet").some((m) => m.text === "live in ops"), 10_000, "live fan-out");
    expect(ghostMessages(room).map(body)).toEqual([...ops.map((p) => p.text), "live in ops"]);
    expect(lb.sent("fleet").map((m) => m.text)).toEqual(["live in ops"]); // history is never relayed to the other links

    const busy = await linkable("Busy");
    await alice.sendText(busy, "we already talk here");
    expect(await h.command(alice, busy, "!tandem link slack #busy")).toMatch(/not imported: this room already has messages/);
    slack.userPosts(team, "C0003", "U0001", "live in busy");
    await waitUntil(() => ghostMessages(busy).length > 0, 10_000, "the live message");
    expect(ghostMessages(busy).map(body)).toEqual(["live in busy"]);
    expect(historyCalls("C0003")).toHaveLength(0);
  });

  it("backfill_count 0 turns it off", async () => {
    await start({ conversation_count: 1, backfill_count: 0 }, { pageSize: 10, intervalMs: 100 });
    await seed(slack, team, "C0001", 5);
    await login();
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_general:example.org"), 10_000, "portal");
    const room = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    slack.userPosts(team, "C0001", "U0001", "still live");
    await waitUntil(() => ghostMessages(room).some((e) => body(e) === "still live"), 10_000, "live message");
    expect(ghostMessages(room).map(body)).toEqual(["still live"]);
    expect(historyCalls("C0001")).toHaveLength(0);
    expect(await h.command(alice, dm, "status")).not.toMatch(/Backfill/);
  });
});
