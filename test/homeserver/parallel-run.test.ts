/**
 * Issue 11, the parallel run on a real Synapse 1.67: an existing Matrix room linked to a Slack
 * channel and a Telegram group relaying three ways, the cutover phases, then a restart of the
 * bridge (kill -9) and a restart of Synapse with messages sent meanwhile on every side, each
 * arriving once and in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { FakeTelegram, type BotHandle } from "../fakes/telegram.js";
import { waitFor } from "../support/bridge-process.js";
import { SynapseBridge, bodyOf } from "./support/bridge.js";
import type { ClientEvent, MatrixUser } from "./support/matrix-user.js";
import { Synapse } from "./support/synapse.js";

const DOMAIN = "test.local";
const CAROL = `@slack_t0001_u0001:${DOMAIN}`;
const IVAN_GHOST = `@telegram_42:${DOMAIN}`;
const CHAT = -100900;
const IVAN = 42;

describe("a linked room on a real Synapse: three-way relay, cutover, restarts", () => {
  let hs: Synapse;
  let bridge: SynapseBridge;
  let slack: FakeSlack;
  let team: TeamHandle;
  let tg: FakeTelegram;
  let fleet: BotHandle;
  let admin: MatrixUser;
  let room: string;

  const slackTexts = () => slack.messages(team, "C0002").map((m) => m.text);
  const tgBotTexts = () => tg.messages(CHAT).filter((m) => m.from?.id === fleet.id).map((m) => m.text ?? m.caption ?? "");
  const roomTexts = (sender?: string) => admin.timeline(room, "m.room.message").filter((e) => !sender || e.sender === sender).map(bodyOf);
  const inRoom = (pred: (e: ClientEvent) => boolean, what: string, timeoutMs = 60_000) =>
    admin.waitForEvent((e) => e.room_id === room && pred(e), { what, timeoutMs });
  const botSays = (pattern: RegExp) => inRoom((e) => e.sender === bridge.botMxid && pattern.test(bodyOf(e)), `the bot saying ${pattern}`);

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 2000, pingIntervalMs: 5000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", display_name: "Carol" });
    slack.addChannel(team, { id: "C0002", name: "ops", members: ["U0001"], botMember: true });
    tg = await FakeTelegram.start();
    fleet = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet", canReadAllGroupMessages: true });
    tg.addUser({ id: IVAN, first_name: "Ivan", last_name: "Petrov" });
    tg.addChat({ id: CHAT, type: "supergroup", title: "Fleet", username: "fleet", members: [IVAN], admins: [fleet.id] });
    hs = await Synapse.create(DOMAIN);
    // No portals at login and no history: this file is about one linked room. Idle probes every
    // 2 s (default 20) so the idle /health check below has room within its deadline.
    bridge = await SynapseBridge.create(hs, { slack, telegram: tg, config: {
      slack: { conversation_count: 0, backfill_count: 0 }, metrics: { probe_interval_seconds: 2 } } });
    await hs.start();
    await bridge.start();
    admin = await hs.mkuser("admin", { admin: true });
    const dm = await bridge.dm(admin);
    expect((await bridge.command(admin, dm, `login app ${team.botToken} ${team.appToken}`)).reply).toMatch(/^Logged in to Slack/);
    expect((await bridge.command(admin, dm, `login telegram ${fleet.token}`)).reply).toMatch(/^Logged in as @fleet_bot/);
    await bridge.waitHealthy();
  });

  afterAll(async () => {
    await admin?.stopSync();
    await bridge?.stop();
    await hs?.destroy();
    await slack?.stop();
    await tg?.stop();
  });

  it("an existing room is linked to a Slack channel and a Telegram group, and carries the bridge state", async () => {
    room = await admin.createRoom({ name: "Fleet Ops", room_alias_name: "fleet-ops", invite: [bridge.botMxid],
      power_level_content_override: { users: { [admin.userId]: 100, [bridge.botMxid]: 100 } } });
    await botSays(/Hello/);
    expect((await bridge.command(admin, room, "!tandem link slack #ops")).reply).toMatch(/^Linked this room to Slack/);
    expect((await bridge.command(admin, room, `!tandem link telegram ${CHAT}`)).reply).toMatch(/^Linked this room to Telegram/);
    const state = await admin.roomState(room);
    for (const type of ["m.bridge", "uk.half-shot.bridge"]) {
      const protocols = state.filter((e) => e.type === type).map((e) => (e.content.protocol as { id?: string } | undefined)?.id);
      expect(protocols.sort(), type).toEqual(["slack", "telegram"]);
    }
  });

  it("relays three ways: each message reaches the two other sides once", async () => {
    slack.userPosts(team, "C0002", "U0001", "from slack");
    await inRoom((e) => e.sender === CAROL && bodyOf(e) === "from slack", "the Slack message in Matrix");
    await tg.waitFor(() => tgBotTexts().some((t) => /Carol.*from slack/.test(t)), 30_000, "the Slack message on Telegram");

    tg.userSends(CHAT, IVAN, { text: "from telegram" });
    await inRoom((e) => e.sender === IVAN_GHOST && bodyOf(e) === "from telegram", "the Telegram message in Matrix");
    await slack.waitFor(() => slack.messages(team, "C0002").find((m) => m.text === "from telegram" && /Ivan/.test(String(m._request?.username))), 30_000, "the Telegram message on Slack");

    await admin.sendText(room, "from matrix");
    await slack.waitFor(() => slackTexts().includes("from matrix"), 30_000, "the Matrix message on Slack");
    await tg.waitFor(() => tgBotTexts().some((t) => t === "admin: from matrix"), 30_000, "the Matrix message on Telegram");

    // A sentinel on each lane proves nothing else came: no echo back to a source, no double.
    await admin.sendText(room, "sentinel 1");
    await slack.waitFor(() => slackTexts().includes("sentinel 1"), 30_000, "sentinel on Slack");
    await tg.waitFor(() => tgBotTexts().some((t) => t === "admin: sentinel 1"), 30_000, "sentinel on Telegram");
    expect(slackTexts().filter((t) => /from slack|from telegram|from matrix/.test(t))).toEqual(["from slack", "from telegram", "from matrix"]);
    expect(tgBotTexts().filter((t) => /from (slack|telegram|matrix)/.test(t))).toHaveLength(2);
    expect(roomTexts().filter((t) => /^from /.test(t))).toEqual(["from slack", "from telegram", "from matrix"]);
  });

  it("cutover: matrix-primary pins a notice on both sides, standby stops remote → Matrix and answers once, rollback restores", async () => {
    await admin.sendText(room, "!tandem cutover matrix-primary");
    await botSays(/1 room now in phase matrix-primary/);
    await slack.waitFor(() => slack.messages(team, "C0002").find((m) => /Matrix is now the primary channel/.test(m.text)), 30_000, "the notice on Slack");
    const notice = await tg.waitFor(() => tg.messages(CHAT).find((m) => /Matrix is now the primary channel/.test(m.text ?? "")), 30_000, "the notice on Telegram");
    await tg.waitFor(() => tg.chat(CHAT).pinned.includes(notice.message_id), 30_000, "the notice pinned on Telegram");

    await admin.sendText(room, "!tandem cutover standby");
    await botSays(/1 room now in phase standby/);
    slack.userPosts(team, "C0002", "U0001", "anyone there?");
    slack.userPosts(team, "C0002", "U0001", "hello?");
    await slack.waitFor(() => slackTexts().find((t) => /on standby: please use the Matrix room/.test(t)), 30_000, "the standby answer");

    await admin.sendText(room, "!tandem cutover rollback");
    await botSays(/1 room now in phase parallel \(rolled back\)/);
    slack.userPosts(team, "C0002", "U0001", "back again");
    await inRoom((e) => e.sender === CAROL && bodyOf(e) === "back again", "the sentinel after rollback");
    expect(slackTexts().filter((t) => /on standby: please use/.test(t))).toHaveLength(1);
    expect(roomTexts(CAROL).filter((t) => /anyone there|hello\?/.test(t))).toEqual([]);
    expect((await bridge.command(admin, room, "!tandem cutover status")).reply).toMatch(/parallel \(since .* by @admin:test\.local, from standby\)/);
  });

  /** Sends n numbered messages from Slack and Telegram ("<tag> s1", "<tag> t1", …) and, if asked, Matrix ("<tag> m1", …). */
  async function sendRound(tag: string, n: number, sides: { matrix: boolean }): Promise<void> {
    for (let i = 1; i <= n; i++) {
      slack.userPosts(team, "C0002", "U0001", `${tag} s${i}`);
      tg.userSends(CHAT, IVAN, { text: `${tag} t${i}` });
      if (sides.matrix) await admin.sendText(room, `${tag} m${i}`);
    }
  }

  /** Waits until every numbered message of the round arrived on the two other sides, then checks once-each-in-order. */
  async function expectRound(tag: string, n: number): Promise<void> {
    const want = (side: string) => Array.from({ length: n }, (_, i) => `${tag} ${side}${i + 1}`);
    const ofRound = (texts: string[], side: string) => texts.map((t) => t.replace(/^(admin|Ivan Petrov|Carol)[^:]*: /, ""))
      .filter((t) => t.startsWith(`${tag} ${side}`));
    const tgText = () => tg.messages(CHAT).filter((m) => m.from?.id === fleet.id).map((m) => m.text ?? "");
    await waitFor(() => ofRound(roomTexts(CAROL), "s").length >= n && ofRound(roomTexts(IVAN_GHOST), "t").length >= n &&
      ofRound(slackTexts(), "t").length >= n && ofRound(slackTexts(), "m").length >= n &&
      ofRound(tgText(), "s").length >= n && ofRound(tgText(), "m").length >= n, 120_000, `round "${tag}" everywhere\n${bridge.tail()}`);
    // A sentinel behind the round on each lane: anything doubled would have arrived before it.
    await admin.sendText(room, `${tag} done`);
    slack.userPosts(team, "C0002", "U0001", `${tag} done-s`);
    tg.userSends(CHAT, IVAN, { text: `${tag} done-t` });
    await waitFor(() => slackTexts().includes(`${tag} done`) && tgText().includes(`admin: ${tag} done`) &&
      roomTexts(CAROL).includes(`${tag} done-s`) && roomTexts(IVAN_GHOST).includes(`${tag} done-t`), 60_000, `the sentinels of "${tag}"`);
    expect(ofRound(roomTexts(CAROL), "s")).toEqual(want("s"));
    expect(ofRound(roomTexts(IVAN_GHOST), "t")).toEqual(want("t"));
    expect(ofRound(slackTexts(), "t")).toEqual(want("t"));
    expect(ofRound(tgText(), "s")).toEqual(want("s"));
    expect(ofRound(slackTexts(), "m")).toEqual(want("m"));
    expect(ofRound(tgText(), "m")).toEqual(want("m"));
  }

  it("a bridge killed (kill -9) while all three sides talk: after its restart every message arrives once, in order", async () => {
    await bridge.kill();
    await sendRound("down", 5, { matrix: true });
    await bridge.start();
    await expectRound("down", 5);
  });

  it("/health follows Synapse while the bridge is idle: degraded once it stops, ok once it is back", async () => {
    await bridge.waitHealthy();
    await hs.stop();
    await waitFor(async () => {
      const h = await bridge.health().catch(() => null);
      return h?.status === 503 && h.body.homeserver.ok === false;
    }, 20_000, "/health to say the homeserver is down (no traffic meanwhile)");
    await hs.start();
    await bridge.waitHealthy(20_000);
  });

  it("a Synapse restart while Slack and Telegram talk: everything arrives once, in order, and Matrix keeps relaying", async () => {
    await hs.stop();
    await sendRound("hs-down", 5, { matrix: false });
    await hs.start();
    for (let i = 1; i <= 5; i++) await admin.sendText(room, `hs-down m${i}`);
    await expectRound("hs-down", 5);
  });

  it("every message the bridge sent in the DM and the linked room carries m.mentions", () => {
    const sent = bridge.sentMessages(admin);
    expect(sent.length).toBeGreaterThan(30);
    expect(sent.filter((e) => typeof e.content["m.mentions"] !== "object").map((e) => `${e.sender}: ${bodyOf(e)}`)).toEqual([]);
  });
});
