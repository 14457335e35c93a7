/**
 * Issue 16 rows 1, 4 and 8 end to end, on Slack and Telegram at once (the real connectors
 * against the fakes) and in a Matrix room linked to both:
 * - nobody speaks for someone else: an edit goes out only from the message's sender, a
 *   redaction only from its sender or a room moderator (the room's `redact` power level); a
 *   refused one changes nothing remotely and its sender gets one notice (replying to the message);
 * - tokens typed into a room (a portal, the DM, a linked room; with or without a prompt waiting;
 *   a command the sender may not use) are redacted with a notice, never relayed, never quoted back;
 * - reactions Slack cannot show: one notice per message at most.
 * "Nothing happened" is proved by a sentinel on the same lane: a later change that does go out.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientEvent, FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { FakeTelegram, type BotHandle } from "../fakes/telegram.js";
import { Harness, waitUntil } from "../support/harness.js";

const GROUP = -100123; // Telegram portal
const LINKED = -100456; // Telegram chat of the linked room
const IVAN = 42;
const CAROL = "@slack_t0001_u0001:example.org";
const SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx";
const TG_TOKEN = "987654321:AAHfakeFAKEfake_fake-0123456789abcdef";

const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);
const replyTo = (e: ClientEvent) => (e.content as { "m.relates_to"?: { "m.in_reply_to"?: { event_id?: string } } })["m.relates_to"]?.["m.in_reply_to"]?.event_id;
const mentions = (e: ClientEvent) => (e.content as { "m.mentions"?: { user_ids?: string[] } })["m.mentions"]?.user_ids ?? [];

describe("nobody speaks for someone else; no token stays in a room", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  let tg: FakeTelegram;
  let fleet: BotHandle;
  let h: Harness;
  let alice: FakeMatrixClient; // logged in to both networks
  let bob: FakeMatrixClient; // a plain member (power level 0) of every room
  let rita: FakeMatrixClient; // relay level only
  let dm: string;
  let general: string; // Slack portal
  let portal: string; // Telegram portal
  let linked: string; // a Matrix room linked to a Slack channel and a Telegram chat

  const botNotices = (roomId: string) => h.messages(roomId, h.botMxid);
  const fromBot = (chat: number) => tg.messages(chat).filter((m) => m.from?.id === fleet.id);
  const redacted = (eventId: string) => h.hs.allEvents({ type: "m.room.redaction", redacts: eventId }).length > 0;
  /** Every text the bot said anywhere, and everything Slack and Telegram were sent. */
  const everythingSaid = () => [
    ...h.hs.allEvents({ type: "m.room.message", sender: h.botMxid }).map((e) => JSON.stringify(e.content)),
    ...slack.calls.map((c) => JSON.stringify(c.params)),
    ...tg.calls().filter((c) => c.method !== "getMe").map((c) => JSON.stringify(c.params)),
  ].join("\n");
  const invite = async (roomId: string, who: FakeMatrixClient) => {
    await h.hs.clientFor(h.botMxid).invite(roomId, who.userId);
    await who.join(roomId);
  };

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", display_name: "Carol" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
    tg = await FakeTelegram.start();
    fleet = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet" });
    tg.addUser({ id: IVAN, first_name: "Ivan" });
    tg.addChat({ id: GROUP, type: "supergroup", title: "Fleet Ops", members: [IVAN], admins: [fleet.id] });
    tg.addChat({ id: LINKED, type: "supergroup", title: "Linked", members: [IVAN], admins: [fleet.id] });
    h = await Harness.start({ config: {
      slack: { api_url: slack.apiUrl, conversation_count: 10 }, telegram: { api_root: tg.apiRoot },
      bridge: { login_timeout_seconds: 1, permissions: { "*": "relay", "example.org": "user", "@rita:example.org": "relay", "@admin:example.org": "admin" } },
    } });
    [alice, bob, rita] = ["alice", "bob", "rita"].map((u) => h.user(u));
    dm = await h.dm(alice);
    expect(await h.command(alice, dm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/Logged in to Slack workspace Acme/);
    expect(await h.command(alice, dm, `login telegram ${fleet.token}`)).toMatch(/Logged in as @fleet_bot/);
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_general:example.org"), 10_000, "Slack portal");
    // Added after the login's portals were made: linked to an existing Matrix room below instead.
    slack.addChannel(team, { id: "C0002", name: "ops", members: ["U0001"], botMember: true });
    general = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    await alice.join(general);
    await invite(general, bob);
    tg.userSends(GROUP, IVAN, { text: "hello fleet" });
    await waitUntil(() => h.hs.rooms().some((r) => h.hs.stateContent(r, "m.room.name")?.name === "Fleet Ops (Telegram)"), 10_000, "Telegram portal");
    portal = h.hs.rooms().find((r) => h.hs.stateContent(r, "m.room.name")?.name === "Fleet Ops (Telegram)")!;
    await alice.join(portal);
    await invite(portal, bob);
    linked = await alice.createRoom({ name: "Ops", invite: [h.botMxid, bob.userId] });
    await h.waitForBot(linked, /Hello/);
    const pl = await alice.getState(linked, "m.room.power_levels");
    await alice.setState(linked, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
    expect(await h.command(alice, linked, "!tandem link slack #ops")).toMatch(/Linked this room to Slack/);
    expect(await h.command(alice, linked, `!tandem link telegram ${LINKED}`)).toMatch(/Linked this room to Telegram/);
    await bob.join(linked);
    await waitUntil(() => h.bridge.core.health.all().filter((x) => x.state === "connected").length === 2, 10_000, "both connected");
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
    await tg?.stop();
  });

  it("Slack: a plain member's edit or redaction of alice's message is refused with one notice each; alice's own edit and a moderator's redaction go out", async () => {
    const mine = await alice.sendText(general, "the plan is A");
    const m = await slack.waitForMessage(team, "C0001", (x) => x.text === "the plan is A", 10_000);
    const forged = await bob.edit(general, mine, "the plan is B");
    const editNotice = await h.waitForBot(general, /Your edit was not bridged: only the person who sent a message can edit it/);
    expect(replyTo(editNotice)).toBe(mine);
    expect(mentions(editNotice)).toEqual([bob.userId]);
    const forgedDeletion = h.hs.federatedRedaction(general, bob.userId, mine);
    const delNotice = await h.waitForBot(general, /Your deletion was not bridged: only its sender or a room moderator \(power level 50\)/);
    expect(replyTo(delNotice)).toBe(mine);
    // Sentinel: alice's own edit, on the same lane after both, goes out.
    await alice.edit(general, mine, "the plan is A, confirmed");
    await slack.waitFor(() => slack.message(team, "C0001", m.ts)?.text === "the plan is A, confirmed", 10_000, "alice's edit");
    const touching = slack.calls.filter((c) => (c.method === "chat.update" || c.method === "chat.delete") && c.params.ts === m.ts);
    expect(touching.map((c) => [c.method, c.params.text])).toEqual([["chat.update", "the plan is A, confirmed"]]);
    expect(botNotices(general).filter((e) => /not bridged/.test(body(e)))).toHaveLength(2);
    expect([forged, forgedDeletion].every((id) => id.startsWith("$"))).toBe(true);

    // A moderator (power level 50) may remove someone else's message: it goes.
    const pl = await alice.getState(general, "m.room.power_levels");
    await h.hs.clientFor(h.botMxid).setState(general, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [bob.userId]: 50 } });
    await bob.redact(general, mine);
    await slack.waitFor(() => !slack.message(team, "C0001", m.ts), 10_000, "the moderator's deletion");
  });

  it("Telegram: the same refusals; alice's own edit goes out", async () => {
    const mine = await alice.sendText(portal, "meet at dock 4");
    await tg.waitFor(() => fromBot(GROUP).some((x) => x.text === "alice: meet at dock 4"), 10_000, "on Telegram");
    const sent = fromBot(GROUP).find((x) => x.text === "alice: meet at dock 4")!;
    await bob.edit(portal, mine, "meet at dock 9");
    expect(replyTo(await h.waitForBot(portal, /Your edit was not bridged/))).toBe(mine);
    h.hs.federatedRedaction(portal, bob.userId, mine);
    expect(replyTo(await h.waitForBot(portal, /Your deletion was not bridged/))).toBe(mine);
    await alice.edit(portal, mine, "meet at dock 4, now");
    await tg.waitFor(() => tg.message(GROUP, sent.message_id)?.text === "alice: meet at dock 4, now", 10_000, "alice's edit");
    expect(tg.calls("editMessageText").filter((c) => c.params.message_id === sent.message_id).map((c) => c.params.text)).toEqual(["<b>alice</b>: meet at dock 4, now"]);
    expect(tg.calls("deleteMessage").filter((c) => c.params.message_id === sent.message_id)).toEqual([]);
  });

  it("linked room: a Matrix user cannot edit or (below moderator) delete a ghost's message on the other network; the moderator can", async () => {
    const ts = slack.userPosts(team, "C0002", "U0001", "engine two is hot");
    const ghostMsg = await h.hs.waitForEvent({ room_id: linked, sender: CAROL, content: { body: "engine two is hot" } });
    await tg.waitFor(() => fromBot(LINKED).some((x) => x.text?.endsWith("engine two is hot")), 10_000, "fan-out to Telegram");
    const copy = fromBot(LINKED).find((x) => x.text?.endsWith("engine two is hot"))!;
    await bob.edit(linked, ghostMsg.event_id, "engine two is fine");
    expect(replyTo(await h.waitForBot(linked, /Your edit was not bridged/))).toBe(ghostMsg.event_id);
    h.hs.federatedRedaction(linked, bob.userId, ghostMsg.event_id);
    expect(replyTo(await h.waitForBot(linked, /Your deletion was not bridged/))).toBe(ghostMsg.event_id);
    // Sentinel: Carol's own edit on Slack reaches the Telegram copy, and it is the only edit there.
    slack.userEdits(team, "C0002", ts, "engine two is very hot");
    await tg.waitFor(() => tg.message(LINKED, copy.message_id)?.text?.endsWith("engine two is very hot"), 10_000, "carol's edit");
    expect(tg.calls("editMessageText").filter((c) => c.params.message_id === copy.message_id)).toHaveLength(1);
    expect(tg.message(LINKED, copy.message_id)).toBeDefined();
    // alice created the room (power level 100): a moderator's deletion goes out.
    await alice.redact(linked, ghostMsg.event_id);
    await tg.waitFor(() => tg.message(LINKED, copy.message_id) === undefined, 10_000, "the moderator's deletion");
  });

  describe("tokens typed into rooms", () => {
    /** No bot message, and nothing sent to Slack or Telegram, quotes any part of these tokens (beyond the prefix). */
    const neverQuoted = (...tokens: string[]) => {
      const said = everythingSaid();
      for (const t of tokens) expect(said).not.toContain(t.slice(5, 25));
    };
    const scrubbed = async (roomId: string, eventId: string) => {
      await waitUntil(() => redacted(eventId), 10_000, "the token message redacted");
      const notice = await h.waitForBot(roomId, /removed your (message|edit) because it contained what looks like an access token/);
      expect(h.hs.allEvents({ type: "m.room.redaction", redacts: eventId }).map((e) => e.sender)).toEqual([h.botMxid]);
      return notice;
    };

    it("a portal message carrying a Slack token: redacted with a notice to its sender, never relayed", async () => {
      const ev = await alice.sendText(general, `here is the bot token ${SLACK_TOKEN} for the CI`);
      expect(mentions(await scrubbed(general, ev))).toEqual([alice.userId]);
      await alice.sendText(general, "sentinel after the Slack token");
      await slack.waitForMessage(team, "C0001", (x) => x.text === "sentinel after the Slack token", 10_000);
      neverQuoted(SLACK_TOKEN);
    });

    it("a Telegram token in the Telegram portal, and one hidden in an edit: removed, never relayed", async () => {
      const ev = await bob.sendText(portal, TG_TOKEN);
      await scrubbed(portal, ev);
      const mine = await bob.sendText(portal, "my config is ready");
      await tg.waitFor(() => fromBot(GROUP).some((x) => x.text === "bob: my config is ready"), 10_000, "bob's message");
      const edit = await bob.edit(portal, mine, `my config is ready: token=${TG_TOKEN}`);
      await scrubbed(portal, edit);
      await bob.sendText(portal, "sentinel after the Telegram token");
      await tg.waitFor(() => fromBot(GROUP).some((x) => x.text === "bob: sentinel after the Telegram token"), 10_000, "the sentinel");
      expect(tg.calls("editMessageText").filter((c) => String(c.params.text).includes("token="))).toEqual([]);
      neverQuoted(TG_TOKEN);
    });

    it("a linked room: a token reaches neither network", async () => {
      const ev = await bob.sendHtml(linked, "see link", `see <a href="https://example.org/?t=${SLACK_TOKEN}">link</a>`);
      await scrubbed(linked, ev);
      await bob.sendText(linked, "sentinel in the linked room");
      await slack.waitForMessage(team, "C0002", (x) => x.text === "sentinel in the linked room", 10_000);
      await tg.waitFor(() => fromBot(LINKED).some((x) => x.text === "bob: sentinel in the linked room"), 10_000, "the sentinel on Telegram");
      neverQuoted(SLACK_TOKEN);
    });

    it("`!tandem login app <tokens>` in a shared room is refused and removed", async () => {
      const since = h.hs.eventCount;
      const ev = await alice.sendText(general, `!tandem login app ${team.botToken} ${team.appToken}`);
      await h.hs.waitForEvent((e) => e.room_id === general && e.sender === h.botMxid && /only works in your private chat/.test(body(e)), { since, timeoutMs: 10_000 });
      await scrubbed(general, ev);
      neverQuoted(team.botToken, team.appToken);
    });

    it("a relay-level user's `login app <tokens>` in the DM is refused and removed", async () => {
      const ritaDm = await h.dm(rita);
      const ev = await rita.sendText(ritaDm, `login app ${SLACK_TOKEN} xapp-1-A0000000001-0000-abcdef0123456789`);
      await scrubbed(ritaDm, ev);
      expect(botNotices(ritaDm).some((e) => /Unknown command `login app`/.test(body(e)))).toBe(true);
      neverQuoted(SLACK_TOKEN, "xapp-1-A0000000001-0000-abcdef0123456789");
    });

    it("a token sent after the login prompt timed out is removed and not echoed; one with no prompt at all too", async () => {
      expect(await h.command(alice, dm, "login app")).toMatch(/bot token/);
      await new Promise((r) => setTimeout(r, 1100)); // login_timeout_seconds: 1
      const since = h.hs.eventCount;
      const late = await alice.sendText(dm, SLACK_TOKEN);
      await h.hs.waitForEvent((e) => e.room_id === dm && e.sender === h.botMxid && /That prompt timed out/.test(body(e)), { since, timeoutMs: 10_000 });
      await waitUntil(() => redacted(late), 10_000, "the late token redacted");
      const plain = await alice.sendText(dm, `oops ${TG_TOKEN}`);
      await scrubbed(dm, plain);
      // Sentinel: the DM still answers, and nothing the bot said quoted either token.
      expect(await h.command(alice, dm, "ping")).toMatch(/pong/i);
      neverQuoted(SLACK_TOKEN, TG_TOKEN);
    });
  });

  it("reactions Slack has no emoji for: one notice per message, the rest only logged", async () => {
    const target = await alice.sendText(general, "react to this");
    const m = await slack.waitForMessage(team, "C0001", (x) => x.text === "react to this", 10_000);
    await waitUntil(async () => (await h.bridge.store.messages.byEvent(target)).length > 0, 10_000, "mapped");
    await alice.react(general, target, "not-an-emoji");
    await bob.react(general, target, "nor-this-one");
    await alice.react(general, target, "👍");
    await slack.waitFor(() => slack.reactions(team, "C0001", m.ts).some((r) => r.name === "+1"), 10_000, "the sentinel reaction");
    const notices = botNotices(general).filter((e) => /Slack has no reaction/.test(body(e)));
    expect(notices.map(body)).toEqual([expect.stringMatching(/^A reaction could not be delivered: Slack has no reaction not-an-emoji\. Further reactions to this message/)]);
  });
});
