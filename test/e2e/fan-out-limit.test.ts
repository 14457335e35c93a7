/**
 * Issue 16 row 9: one giant message fans out to a bounded number of events. A 10 MB remote
 * message becomes at most bridge.max_message_parts (default 10) Matrix events: the first parts as
 * text, the rest of the text as one text file; nothing is lost and the chat's next message follows.
 * From Slack, a text that long is taken as plain text, not parsed as mrkdwn: parsing 10 MB held
 * the event loop 6-8 s before the envelope's ack (past Slack's 3 s window; the socket dropped).
 * The fake shares the bridge's event loop, so its ack timer cannot time such a stall: the test
 * checks that the text was not parsed (its *asterisks* stay) and arrives once, capped.
 * (Matrix → Slack and → Telegram: test/unit/networks/{slack,telegram}/outbound.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientEvent } from "../fakes/homeserver.js";
import { FakeSlack, type Json, type TeamHandle } from "../fakes/slack.js";
import { eventCallback, type SocketHub } from "../fakes/slack-socket.js";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";

const IVAN = "@loopback_ivan:example.org";
const content = (e: ClientEvent) => e.content as { msgtype?: string; body?: string; url?: string; filename?: string };

describe("a 10 MB remote message", () => {
  const net = new LoopbackNetwork();
  net.addAccount("lb-secret-token-1", "acct1", "Loopback One");
  net.addChat("ops", "ops");
  net.addUser("ivan", "Ivan Petrov");
  let h: Harness;
  let room: string;

  beforeAll(async () => {
    h = await Harness.start({ connectors: () => [new LoopbackConnector(net)], initialChatCount: { loopback: 10 } });
    const alice = h.user("alice");
    const dm = await h.dm(alice);
    await h.command(alice, dm, "login loopback lb-secret-token-1");
    await waitUntil(() => h.hs.roomByAlias("#loopback_ops:example.org") !== undefined, 10_000, "portal for ops");
    room = h.hs.roomByAlias("#loopback_ops:example.org")!;
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("becomes at most 10 events: 9 of text and the rest as a text file, whole", async () => {
    const line = (i: number) => `line ${String(i).padStart(6, "0")} ${"x".repeat(990)}`;
    const text = Array.from({ length: 10_000 }, (_, i) => line(i)).join("\n"); // ~10 MB
    await net.post("ops", "ivan", text);
    await net.post("ops", "ivan", "sentinel after the giant");
    await h.hs.waitForEvent({ room_id: room, sender: IVAN, content: { body: "sentinel after the giant" } }, { timeoutMs: 60_000 });
    const events = h.messages(room, IVAN).filter((e) => content(e).body !== "sentinel after the giant");
    expect(events).toHaveLength(10);
    expect(events.slice(0, 9).every((e) => content(e).msgtype === "m.text")).toBe(true);
    const file = content(events[9]!);
    expect(file).toMatchObject({ msgtype: "m.file", filename: "message-continued.txt" });
    const rest = h.hs.media(file.url!)!.data.toString("utf8");
    const shown = [...events.slice(0, 9).map((e) => content(e).body!), rest].join("\n");
    // Nothing lost, in order (a single 10 MB paragraph is cut mid-line, so line breaks are not compared).
    expect(shown.replace(/\n/g, "")).toBe(text.replace(/\n/g, ""));
  }, 90_000);

  it("an edit to 10 MB is one event, its text cut with a mark", async () => {
    const ref = await net.post("ops", "ivan", "short at first");
    await h.hs.waitForEvent({ room_id: room, sender: IVAN, content: { body: "short at first" } });
    await net.editPost("ops", "ivan", ref, "y".repeat(10_000_000));
    await net.post("ops", "ivan", "sentinel after the edit");
    await h.hs.waitForEvent({ room_id: room, sender: IVAN, content: { body: "sentinel after the edit" } }, { timeoutMs: 60_000 });
    const edits = h.hs.timeline(room).filter((e) => (e.content as { "m.relates_to"?: { rel_type?: string } })["m.relates_to"]?.rel_type === "m.replace");
    expect(edits).toHaveLength(1);
    const body = content(edits[0]!).body!;
    expect(body.startsWith("* yyy")).toBe(true);
    expect(body.endsWith(" […]")).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(edits[0]!.content))).toBeLessThan(65_536);
  }, 90_000);
});

describe("a 10 MB Slack message", () => {
  const CAROL = "@slack_t0001_u0001:example.org";
  let slack: FakeSlack;
  let team: TeamHandle;
  let h: Harness;
  let general: string;

  beforeAll(async () => {
    slack = await FakeSlack.start();
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", display_name: "Carol" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
    h = await Harness.start({ config: {
      slack: { api_url: slack.apiUrl, conversation_count: 10, backfill_count: 0 }, telegram: { enabled: false },
      bridge: { max_message_parts: 4 },
    } });
    const alice = h.user("alice");
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/Logged in to Slack workspace Acme/);
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_general:example.org"), 10_000, "general portal");
    general = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    await waitUntil(() => h.bridge.core.health.all().some((x) => x.state === "connected"), 10_000, "Socket Mode connected");
  });
  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("is taken as plain text and becomes max_message_parts events, the rest a file; the next message follows", async () => {
    const text = Array.from({ length: 10_000 }, (_, i) => `line ${String(i).padStart(6, "0")} *not bold* &lt;${"x".repeat(980)}`).join("\n");
    // As an app posts it: mrkdwn text, no rich_text blocks (a person's client sends blocks too).
    const ts = "1800000000.000200";
    const hub = (slack as unknown as { hub: SocketHub }).hub;
    await hub.deliver(team.id, { ...eventCallback(slack.team(team.id) as never, { type: "placeholder" }), event: { type: "message", channel: "C0001", user: "U0001", ts, text } } as Json);
    slack.userPosts(team, "C0001", "U0001", "sentinel after the giant");
    await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "sentinel after the giant" } }, { timeoutMs: 60_000 });
    const giant = slack.envelopes.find((e) => (e.event as { ts?: string }).ts === ts)!;
    expect(giant.acked).toBe(true); // once or, on a loaded machine, after a redelivery: bridged once either way (below)
    const events = h.messages(general, CAROL).filter((e) => content(e).body !== "sentinel after the giant");
    expect(events.map((e) => content(e).msgtype)).toEqual(["m.text", "m.text", "m.text", "m.file"]);
    const rest = h.hs.media(content(events[3]!).url!)!.data.toString("utf8");
    const shown = [...events.slice(0, 3).map((e) => content(e).body!), rest].join("");
    expect(shown.replace(/\n/g, "")).toBe(text.replace(/&lt;/g, "<").replace(/\n/g, ""));
  }, 90_000);
});
