/**
 * Issue 11, against a real Synapse 1.67: the built bridge as an operator runs it (registration
 * from the CLI, loaded by Synapse), the fake Slack and fake Telegram on the other side, and a
 * person doing in Element what the README tells them: DM the bot, log in to both networks, get
 * invited to portals, and exchange one message of each kind in each direction. Last, what every
 * event the bridge sent must carry (m.mentions, no reply fallbacks) and the bridge state in portals.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { FakeTelegram, type BotHandle } from "../fakes/telegram.js";
import { SynapseBridge, bodyOf, runCli } from "./support/bridge.js";
import type { ClientEvent, MatrixUser } from "./support/matrix-user.js";
import { Synapse } from "./support/synapse.js";
import { waitFor } from "../support/bridge-process.js";

/** A PNG header saying width×height (what the fakes read for dimensions), then filler. */
function png(width: number, height: number): Buffer {
  const b = Buffer.alloc(64, 7);
  Buffer.from("89504e470d0a1a0a0000000d49484452", "hex").copy(b, 0);
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}
const PNG = png(16, 8);
const DOMAIN = "test.local";
const CAROL = `@slack_t0001_u0001:${DOMAIN}`;
const DAVE = `@slack_t0001_u0002:${DOMAIN}`;
const GROUP = -100123;
const IVAN = 42;
const OLGA = 43;
const IVAN_GHOST = `@telegram_42:${DOMAIN}`;
const relation = (e: ClientEvent) => (e.content["m.relates_to"] ?? {}) as { rel_type?: string; event_id?: string; key?: string; "m.in_reply_to"?: { event_id?: string } };

describe("the bridge against a real Synapse: login, portals, ghosts and every kind of message", () => {
  let hs: Synapse;
  let bridge: SynapseBridge;
  let slack: FakeSlack;
  let team: TeamHandle;
  let tg: FakeTelegram;
  let fleet: BotHandle;
  let alice: MatrixUser;
  let dm: string;
  let general: string;
  let portal: string;
  let carolEvent: ClientEvent;
  let carolTs: string;
  let ivanFirst: number;

  /** Alice waits for a message in a room matching pred (what she would see in Element). */
  const seen = (roomId: string, pred: (e: ClientEvent) => boolean, what: string) =>
    alice.waitForEvent((e) => e.room_id === roomId && pred(e), { what });
  const slackText = (channel: string, text: string) => slack.waitForMessage(team, channel, (m) => m.text === text, 30_000);
  const fromBot = () => tg.messages(GROUP).filter((m) => m.from?.id === fleet.id);

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 2000, pingIntervalMs: 5000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", display_name: "Carol" });
    slack.addUser(team, { id: "U0002", name: "dave", real_name: "Dave Lister" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001", "U0002"], botMember: true, topic: "Company-wide" });
    tg = await FakeTelegram.start();
    fleet = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet", canReadAllGroupMessages: true });
    tg.addUser({ id: IVAN, first_name: "Ivan", last_name: "Petrov", username: "ivan", photo: png(32, 32) });
    tg.addUser({ id: OLGA, first_name: "Olga" });
    tg.addChat({ id: GROUP, type: "supergroup", title: "Fleet Ops", username: "fleetops", description: "Ops chat", photo: png(8, 8),
      members: [IVAN, OLGA], admins: [fleet.id], is_forum: true });
    hs = await Synapse.create(DOMAIN);
    bridge = await SynapseBridge.create(hs, { slack, telegram: tg });
    await hs.start();
    await bridge.start();
    alice = await hs.mkuser("alice");
    await alice.startSync();
  });

  afterAll(async () => {
    await alice?.stopSync();
    await bridge?.stop();
    await hs?.destroy();
    await slack?.stop();
    await tg?.stop();
  });

  it("Synapse loads the registration the CLI wrote; doctor sees the homeserver accept it", async () => {
    await bridge.waitHealthy();
    const doctor = await runCli(["doctor", "-c", bridge.configPath]);
    expect(doctor.stdout).toMatch(new RegExp(`ok +homeserver accepted the registration \\(whoami: @tandembot:${DOMAIN.replace(".", "\\.")}\\)`));
    expect(doctor.stdout).not.toMatch(/FAIL/);
    // Synapse does not create the appservice's sender user: the bridge registered its bot and set its profile.
    expect((await alice.profile(bridge.botMxid)).displayname).toBe("Tandem bridge");
  });

  it("the legacy paths Synapse 1.67 queries (no /_matrix/app/v1, hs_token in the query) are answered, not redirected", async () => {
    const reg = YAML.parse(readFileSync(bridge.registrationPath, "utf8")) as { url: string; hs_token: string };
    const get = (path: string, token: string) => fetch(`${reg.url}${path}?access_token=${encodeURIComponent(token)}`, { redirect: "manual" });
    for (const path of [`/users/${encodeURIComponent(`@slack_t0009_u0009:${DOMAIN}`)}`, `/rooms/${encodeURIComponent(`#slack_nowhere_x:${DOMAIN}`)}`]) {
      const res = await get(path, reg.hs_token);
      expect([200, 404], `${path} answered ${res.status}`).toContain(res.status);
      expect((await get(path, "wrong-token")).status, `${path} with a wrong token`).toBe(403);
    }
  });

  it("@tandembot answers a DM: joins, says hello, answers ping", async () => {
    dm = await bridge.dm(alice);
    expect((await alice.members(dm))[bridge.botMxid]).toBe("join");
    expect((await bridge.command(alice, dm, "ping")).reply).toMatch(/pong/i);
  });

  it("login app with prompts: both token messages are redacted on the server; the reply names the workspace", async () => {
    expect((await bridge.command(alice, dm, "login app")).reply).toMatch(/bot token \(xoxb-/);
    const first = await bridge.command(alice, dm, team.botToken);
    expect(first.reply).toMatch(/app-level token \(xapp-/);
    const second = await bridge.command(alice, dm, team.appToken);
    expect(second.reply).toMatch(/^Logged in to Slack workspace Acme/);
    for (const sent of [first.sent, second.sent]) {
      await seen(dm, (e) => e.type === "m.room.redaction" && e.redacts === sent && e.sender === bridge.botMxid, "the token message redacted");
      // On the server, not just in the client's view: the stored event has lost its body.
      const stored = await alice.getEvent(dm, sent);
      expect(stored.content).toEqual({});
      expect(JSON.stringify(stored)).not.toContain("xox");
    }
  });

  it("login telegram in one line: the message with the token is redacted on the server", async () => {
    const { reply, sent } = await bridge.command(alice, dm, `login telegram ${fleet.token}`);
    expect(reply).toMatch(/^Logged in as @fleet_bot/);
    await seen(dm, (e) => e.type === "m.room.redaction" && e.redacts === sent, "the telegram token message redacted");
    expect((await alice.getEvent(dm, sent)).content).toEqual({});
    await bridge.waitHealthy();
  });

  it("Slack portal: name, topic, alias, the person invited; a ghost with name and avatar", async () => {
    await waitFor(async () => !!(await alice.resolveAlias(`#slack_acme_general:${DOMAIN}`)), 30_000, "the #general portal alias");
    general = (await alice.resolveAlias(`#slack_acme_general:${DOMAIN}`))!;
    await waitFor(() => alice.invites.has(general), 30_000, "alice invited to #general");
    await alice.join(general);
    expect((await alice.getState(general, "m.room.name")).name).toBe("general (Slack)");
    expect((await alice.getState(general, "m.room.topic")).topic).toBe("Company-wide");
    expect((await alice.getState(general, "m.room.canonical_alias")).alias).toBe(`#slack_acme_general:${DOMAIN}`);

    carolTs = slack.userPosts(team, "C0001", "U0001", "hello *world* from <@U0002>", {
      blocks: [{ type: "rich_text", block_id: "x1", elements: [{ type: "rich_text_section", elements: [
        { type: "text", text: "hello " }, { type: "text", text: "world", style: { bold: true } }, { type: "text", text: " from " }, { type: "user", user_id: "U0002" },
      ] }] }],
    });
    carolEvent = await seen(general, (e) => e.sender === CAROL && e.type === "m.room.message", "Carol's message");
    const profile = await alice.profile(CAROL);
    expect(profile.displayname).toBe("Carol");
    expect(profile.avatar_url).toMatch(/^mxc:\/\//);
  });

  it("Slack → Matrix text with formatting and a mention (m.mentions names the ghost)", () => {
    expect(carolEvent.content).toMatchObject({ msgtype: "m.text", body: "hello world from Dave Lister" });
    expect(String(carolEvent.content.formatted_body)).toContain("<strong>world</strong>");
    expect(String(carolEvent.content.formatted_body)).toContain(`https://matrix.to/#/${DAVE}`);
    expect(carolEvent.content["m.mentions"]).toEqual({ user_ids: [DAVE] });
  });

  it("Matrix → Slack text with formatting and a mention", async () => {
    await alice.sendMessage(general, { msgtype: "m.text", body: "hi Carol, **bold** news", format: "org.matrix.custom.html",
      formatted_body: `hi <a href="https://matrix.to/#/${CAROL}">Carol</a>, <b>bold</b> news`, "m.mentions": { user_ids: [CAROL] } });
    const m = await slackText("C0001", "hi <@U0001>, *bold* news");
    expect(m._request).toMatchObject({ username: "alice" });
  });

  it("replies and threads, both ways", async () => {
    slack.userPosts(team, "C0001", "U0002", "a reply in the thread", { thread_ts: carolTs });
    const inThread = await seen(general, (e) => e.sender === DAVE && bodyOf(e) === "a reply in the thread", "Dave's thread reply");
    expect(relation(inThread)).toMatchObject({ rel_type: "m.thread", event_id: carolEvent.event_id });

    await alice.reply(general, carolEvent.event_id, "a Matrix reply");
    expect((await slackText("C0001", "a Matrix reply")).thread_ts).toBe(carolTs);
    await alice.sendMessage(general, { msgtype: "m.text", body: "a Matrix thread message", "m.relates_to": {
      rel_type: "m.thread", event_id: carolEvent.event_id, is_falling_back: true, "m.in_reply_to": { event_id: inThread.event_id } } });
    expect((await slackText("C0001", "a Matrix thread message")).thread_ts).toBe(carolTs);

    // Telegram: the group is a forum; a message in a topic is a thread under the topic's first message.
    ivanFirst = tg.userSends(GROUP, IVAN, { text: "hello fleet" });
    await waitFor(async () => !!(await alice.resolveAlias(`#telegram_fleetops:${DOMAIN}`)), 30_000, "the Telegram portal alias");
    portal = (await alice.resolveAlias(`#telegram_fleetops:${DOMAIN}`))!;
    await waitFor(() => alice.invites.has(portal), 30_000, "alice invited to the Telegram portal");
    await alice.join(portal);
    const hello = await seen(portal, (e) => e.sender === IVAN_GHOST && bodyOf(e) === "hello fleet", "Ivan's first message");
    tg.userSends(GROUP, OLGA, { text: "in the topic", message_thread_id: ivanFirst });
    const topical = await seen(portal, (e) => bodyOf(e) === "in the topic", "Olga's topic message");
    expect(relation(topical)).toMatchObject({ rel_type: "m.thread", event_id: hello.event_id });

    await alice.sendMessage(portal, { msgtype: "m.text", body: "a Matrix thread message", "m.relates_to": {
      rel_type: "m.thread", event_id: hello.event_id, is_falling_back: true, "m.in_reply_to": { event_id: topical.event_id } } });
    const threaded = await tg.waitFor(() => fromBot().find((m) => m.text === "alice: a Matrix thread message"), 30_000, "the thread message on Telegram");
    // In a forum the thread is the topic; the message lands in it (or at least answers its first message).
    expect(threaded.message_thread_id === ivanFirst || threaded.reply_to_message?.message_id === ivanFirst).toBe(true);

    await alice.reply(portal, hello.event_id, "welcome back");
    await tg.waitFor(() => fromBot().find((m) => m.text === "alice: welcome back"), 30_000, "the reply on Telegram");
    expect(fromBot().find((m) => m.text === "alice: welcome back")!.reply_to_message?.message_id).toBe(ivanFirst);
    tg.userSends(GROUP, IVAN, { text: "thanks", reply_to: fromBot().find((m) => m.text === "alice: welcome back")!.message_id });
    const back = await seen(portal, (e) => e.sender === IVAN_GHOST && bodyOf(e) === "thanks", "Ivan's reply");
    const welcome = alice.timeline(portal).find((e) => e.sender === alice.userId && bodyOf(e) === "welcome back")!;
    expect(relation(back)["m.in_reply_to"]?.event_id).toBe(welcome.event_id);
  });

  it("Telegram portal: name, topic, alias, avatar; the ghost has a name and an avatar", async () => {
    expect((await alice.getState(portal, "m.room.name")).name).toBe("Fleet Ops (Telegram)");
    expect((await alice.getState(portal, "m.room.topic")).topic).toBe("Ops chat");
    expect((await alice.getState(portal, "m.room.avatar")).url).toMatch(/^mxc:\/\//);
    expect((await alice.getState(portal, "m.room.canonical_alias")).alias).toBe(`#telegram_fleetops:${DOMAIN}`);
    const profile = await alice.profile(IVAN_GHOST);
    expect(profile.displayname).toBe("Ivan Petrov");
    expect(profile.avatar_url).toMatch(/^mxc:\/\//);
  });

  it("Matrix ↔ Telegram text with formatting and a mention", async () => {
    await alice.sendHtml(portal, "on **my** way", "on <b>my</b> way");
    await tg.waitFor(() => fromBot().find((m) => m.text === "alice: on my way"), 30_000, "alice's message on Telegram");
    expect(fromBot().find((m) => m.text === "alice: on my way")!.entities).toEqual([{ type: "bold", offset: 0, length: 5 }, { type: "bold", offset: 10, length: 2 }]);
    tg.userSends(GROUP, IVAN, { text: "all hands on deck", entities: [{ type: "italic", offset: 0, length: 9 }] });
    const ev = await seen(portal, (e) => e.sender === IVAN_GHOST && bodyOf(e) === "all hands on deck", "Ivan's formatted message");
    expect(String(ev.content.formatted_body)).toContain("<em>all hands</em>");

    tg.userSends(GROUP, IVAN, { text: "ask Olga", entities: [{ type: "text_mention", offset: 4, length: 4, user: { id: OLGA, is_bot: false, first_name: "Olga" } }] });
    const mention = await seen(portal, (e) => e.sender === IVAN_GHOST && bodyOf(e) === "ask Olga", "Ivan's mention of Olga");
    expect(String(mention.content.formatted_body)).toContain(`https://matrix.to/#/@telegram_43:${DOMAIN}`);
    await alice.sendMessage(portal, { msgtype: "m.text", body: "thanks Ivan Petrov", format: "org.matrix.custom.html",
      formatted_body: `thanks <a href="https://matrix.to/#/${IVAN_GHOST}">Ivan Petrov</a>`, "m.mentions": { user_ids: [IVAN_GHOST] } });
    const out = await tg.waitFor(() => fromBot().find((m) => m.text === "alice: thanks Ivan Petrov" || m.text === "alice: thanks @ivan"), 30_000, "the mention on Telegram");
    // A mention of a Telegram ghost becomes a Telegram mention of that user (by id or username).
    expect(out.text === "alice: thanks @ivan" || JSON.stringify(out.entities ?? []).includes(`"id":${IVAN}`) || JSON.stringify(out.entities ?? []).includes(`tg://user?id=${IVAN}`)).toBe(true);
    expect(mention.content["m.mentions"]).toEqual({ user_ids: [`@telegram_43:${DOMAIN}`] });
  });

  it("edits, both ways", async () => {
    const id = await alice.sendText(general, "typo heer");
    const m = await slackText("C0001", "typo heer");
    await alice.edit(general, id, "typo here");
    await slack.waitFor(() => slack.message(team, "C0001", m.ts)?.text === "typo here", 30_000, "chat.update");

    slack.userEdits(team, "C0001", carolTs, "hello again");
    const edit = await seen(general, (e) => e.sender === CAROL && relation(e).rel_type === "m.replace", "Carol's edit");
    expect(edit.content).toMatchObject({ "m.new_content": { body: "hello again" }, "m.relates_to": { event_id: carolEvent.event_id } });

    const tid = await alice.sendText(portal, "see you at 9");
    const sent = await tg.waitFor(() => fromBot().find((x) => x.text === "alice: see you at 9"), 30_000, "the Telegram copy");
    await alice.edit(portal, tid, "see you at 10");
    await tg.waitFor(() => tg.message(GROUP, sent.message_id)?.text === "alice: see you at 10", 30_000, "editMessageText");

    const hello = alice.timeline(portal).find((e) => e.sender === IVAN_GHOST && bodyOf(e) === "hello fleet")!;
    tg.userEdits(GROUP, ivanFirst, "hello fleet!");
    const tgEdit = await seen(portal, (e) => e.sender === IVAN_GHOST && relation(e).rel_type === "m.replace", "Ivan's edit");
    expect(tgEdit.content).toMatchObject({ "m.new_content": { body: "hello fleet!" }, "m.relates_to": { event_id: hello.event_id } });
  });

  it("deletions, both ways (Telegram never tells bots of deletions: Matrix → Telegram only)", async () => {
    const id = await alice.sendText(general, "regrettable");
    const m = await slackText("C0001", "regrettable");
    await alice.redact(general, id);
    await slack.waitFor(() => !slack.message(team, "C0001", m.ts), 30_000, "chat.delete");

    const ts = slack.userPosts(team, "C0001", "U0001", "delete me");
    const ev = await seen(general, (e) => e.sender === CAROL && bodyOf(e) === "delete me", "the message to delete");
    slack.userDeletes(team, "C0001", ts);
    await seen(general, (e) => e.type === "m.room.redaction" && e.redacts === ev.event_id, "the Slack deletion");

    const tid = await alice.sendText(portal, "oops");
    const sent = await tg.waitFor(() => fromBot().find((x) => x.text === "alice: oops"), 30_000, "the message to delete on Telegram");
    await alice.redact(portal, tid);
    await tg.waitFor(() => tg.message(GROUP, sent.message_id) === undefined, 30_000, "deleteMessage");
  });

  it("reactions, both ways", async () => {
    await alice.react(general, carolEvent.event_id, "👍");
    await slack.waitFor(() => slack.reactions(team, "C0001", carolTs).some((r) => r.name === "+1"), 30_000, "reactions.add");
    slack.userReacts(team, "C0001", carolTs, "U0002", "tada");
    const re = await seen(general, (e) => e.type === "m.reaction" && e.sender === DAVE, "Dave's reaction");
    expect(relation(re)).toEqual({ rel_type: "m.annotation", event_id: carolEvent.event_id, key: "🎉" });

    const hello = alice.timeline(portal).find((e) => e.sender === IVAN_GHOST && bodyOf(e) === "hello fleet")!;
    await alice.react(portal, hello.event_id, "👍");
    await tg.waitFor(() => tg.reactionsOf(GROUP, ivanFirst).some((r) => r.actorId === fleet.id && r.reaction[0]?.type === "emoji" && r.reaction[0].emoji === "👍"), 30_000, "setMessageReaction");
    tg.userReacts(GROUP, ivanFirst, OLGA, ["🔥"]);
    const tre = await seen(portal, (e) => e.type === "m.reaction" && e.sender === `@telegram_43:${DOMAIN}`, "Olga's reaction");
    expect(relation(tre)).toMatchObject({ rel_type: "m.annotation", event_id: hello.event_id, key: "🔥" });
  });

  it("images and files, both ways (media through Synapse's media repository)", async () => {
    slack.userPosts(team, "C0001", "U0002", "", { files: [{ name: "pic.png", data: PNG }] });
    const img = await seen(general, (e) => e.sender === DAVE && e.content.msgtype === "m.image", "Dave's image");
    expect(img.content).toMatchObject({ body: "pic.png", info: { mimetype: "image/png", size: PNG.length, w: 16, h: 8 } });
    expect((await alice.download(String(img.content.url), { legacy: true })).data.equals(PNG)).toBe(true);

    const mxc = await alice.upload(PNG, "image/png", "cat.png");
    await alice.sendMessage(general, { msgtype: "m.image", body: "cat.png", url: mxc, info: { mimetype: "image/png", size: PNG.length, w: 16, h: 8 } });
    const msg = await slack.waitForMessage(team, "C0001", (m) => (m.files?.[0] as { name?: string } | undefined)?.name === "cat.png", 30_000);
    expect(slack.file(String((msg.files![0] as { id: string }).id))!.data.equals(PNG)).toBe(true);

    const pdf = Buffer.from("%PDF-1.4 the plan");
    slack.userPosts(team, "C0001", "U0001", "", { files: [{ name: "plan.pdf", data: pdf }] });
    const file = await seen(general, (e) => e.sender === CAROL && e.content.msgtype === "m.file", "Carol's file");
    expect(file.content).toMatchObject({ body: "plan.pdf" });
    expect((await alice.download(String(file.content.url), { legacy: true })).data.equals(pdf)).toBe(true);
    const notes = await alice.upload("minutes of the meeting", "text/plain", "notes.txt");
    await alice.sendMessage(general, { msgtype: "m.file", body: "notes.txt", url: notes, info: { mimetype: "text/plain", size: 22 } });
    const sm = await slack.waitForMessage(team, "C0001", (m) => (m.files?.[0] as { name?: string } | undefined)?.name === "notes.txt", 30_000);
    expect(slack.file(String((sm.files![0] as { id: string }).id))!.data.toString()).toBe("minutes of the meeting");

    tg.userSends(GROUP, IVAN, { photo: png(64, 48), caption: "the dock" });
    const photo = await seen(portal, (e) => e.sender === IVAN_GHOST && e.content.msgtype === "m.image", "Ivan's photo");
    expect(photo.content).toMatchObject({ body: "the dock", info: { w: 64, h: 48 } });
    tg.userSends(GROUP, IVAN, { document: { data: pdf, file_name: "plan.pdf", mime_type: "application/pdf" } });
    const doc = await seen(portal, (e) => e.sender === IVAN_GHOST && e.content.msgtype === "m.file", "Ivan's document");
    expect((await alice.download(String(doc.content.url), { legacy: true })).data.equals(pdf)).toBe(true);

    await alice.sendMessage(portal, { msgtype: "m.image", body: "cat.png", url: mxc, info: { mimetype: "image/png", size: PNG.length, w: 16, h: 8 } });
    await tg.waitFor(() => fromBot().find((m) => (m.photo?.length ?? 0) > 0 || m.document?.file_name === "cat.png"), 30_000, "the image on Telegram");
    await alice.sendMessage(portal, { msgtype: "m.file", body: "notes.txt", url: notes, info: { mimetype: "text/plain", size: 22 } });
    const tdoc = await tg.waitFor(() => fromBot().find((m) => m.document?.file_name === "notes.txt"), 30_000, "the file on Telegram");
    expect(tg.file(tdoc.document!.file_id)!.data.toString()).toBe("minutes of the meeting");
  });

  it("every portal carries m.bridge and uk.half-shot.bridge state naming the network and the chat", async () => {
    for (const [room, protocol] of [[general, "slack"], [portal, "telegram"]] as const) {
      const state = await alice.roomState(room);
      for (const type of ["m.bridge", "uk.half-shot.bridge"]) {
        const ev = state.find((e) => e.type === type);
        expect(ev, `${type} in ${protocol} portal`).toBeDefined();
        expect((ev!.content.protocol as { id?: string }).id).toBe(protocol);
        expect(ev!.content.channel).toBeDefined();
        expect(ev!.sender).toBe(bridge.botMxid);
      }
    }
  });

  const bridgeSent = () => bridge.sentMessages(alice);

  it("every message the bridge sent carries m.mentions (so display-name push rules ping nobody by accident)", () => {
    expect(bridgeSent().length).toBeGreaterThan(10);
    expect(bridgeSent().filter((e) => typeof e.content["m.mentions"] !== "object").map((e) => `${e.sender}: ${bodyOf(e)}`)).toEqual([]);
  });

  it("the bridge's replies carry no fallback (Matrix 1.13)", () => {
    const replies = bridgeSent().filter((e) => relation(e)["m.in_reply_to"] && relation(e).rel_type !== "m.thread");
    expect(replies.length).toBeGreaterThan(0);
    for (const r of replies) {
      expect(bodyOf(r)).not.toMatch(/^> /);
      expect(String(r.content.formatted_body ?? "")).not.toContain("<mx-reply>");
    }
  });

  it("no token reaches the bridge's log", () => {
    for (const t of [team.botToken, team.appToken, fleet.token]) expect(bridge.output).not.toContain(t);
  });

  it("a bridge whose registration the homeserver does not know says so in one error line naming the file", { timeout: 120_000 }, async () => {
    const stranger = await SynapseBridge.create(hs, { loadRegistration: false });
    try {
      await stranger.start();
      const line = () => stranger.output.split("\n").find((l) => /M_UNKNOWN_TOKEN/.test(l) && l.includes(stranger.registrationPath));
      await waitFor(() => !!line(), 30_000, `an error naming ${stranger.registrationPath}\n${stranger.tail()}`);
      expect(JSON.parse(line()!)).toMatchObject({ level: "error" });
      expect(line()).toMatch(/load it into the homeserver again|load .* into the homeserver/i);
      expect(stranger.output).not.toMatch(/homeserver not ready; will keep trying/);
      expect((await stranger.health()).status).toBe(503);
      const doctor = await runCli(["doctor", "-c", stranger.configPath]);
      expect(doctor.code).not.toBe(0);
      expect(doctor.stdout).toMatch(/FAIL +homeserver did not accept the registration/);
    } finally {
      await stranger.stop();
    }
  });
});
