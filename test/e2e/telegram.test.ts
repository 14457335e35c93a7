/**
 * Issue 4 end to end: the real bridge (configured Telegram network, grammY) against the fake
 * Bot API and the fake homeserver. A new user logs in with a BotFather token in the DM, a group
 * message makes a portal with the right ghost, and every relay works both ways, including after
 * a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientEvent } from "../fakes/homeserver.js";
import { FakeTelegram, type BotHandle } from "../fakes/telegram.js";
import { Harness, waitUntil } from "../support/harness.js";

const GROUP = -100123;
const DECK = -100456;
const OLD = -777;
const GENERAL = -100789;
const IVAN = 42;
const OLGA = 43;
const GHOST = "@telegram_42:example.org";

/** A PNG header that says 64×48 (the fake reads the size from it). */
function png(width: number, height: number): Buffer {
  const b = Buffer.alloc(40);
  Buffer.from("89504e470d0a1a0a0000000d49484452", "hex").copy(b, 0);
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}

describe("Telegram end to end", () => {
  let tg: FakeTelegram;
  let fleet: BotHandle;
  let deck: BotHandle;
  let h: Harness;
  let alice: ReturnType<Harness["user"]>;
  let dm: string;
  let portal: string;
  const ivanMsgs: number[] = [];

  const inPortal = (pred: (e: ClientEvent) => boolean, timeoutMs = 10_000) =>
    h.hs.waitForEvent((e) => e.room_id === portal && pred(e), { timeoutMs });
  const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);
  /** Alice says something in the DM; the bot's next message there is the answer. */
  async function say(text: string): Promise<{ reply: string; eventId: string }> {
    const since = h.hs.eventCount;
    const eventId = await alice.sendText(dm, text);
    const ev = await h.hs.waitForEvent((e) => e.room_id === dm && e.sender === h.botMxid && e.type === "m.room.message", { since, timeoutMs: 10_000 });
    return { reply: body(ev), eventId };
  }
  const fromBot = (chat: number) => tg.messages(chat).filter((m) => m.from?.id === fleet.id);

  beforeAll(async () => {
    tg = await FakeTelegram.start();
    fleet = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet" }); // privacy mode on
    deck = tg.createBot({ id: 7002, username: "deck_bot", first_name: "Deck", canReadAllGroupMessages: true });
    tg.addUser({ id: IVAN, first_name: "Ivan", last_name: "Petrov", username: "ivan", photo: png(32, 32) });
    tg.addUser({ id: OLGA, first_name: "Olga" });
    // Admin: sees every message despite privacy mode, and gets reactions.
    tg.addChat({ id: GROUP, type: "supergroup", title: "Fleet Ops", username: "fleetops", description: "Ops chat", photo: png(8, 8), members: [IVAN, OLGA], admins: [fleet.id] });
    tg.addChat({ id: DECK, type: "supergroup", title: "Deck", members: [OLGA, deck.id] });
    tg.addChat({ id: OLD, type: "group", title: "Old Crew", members: [IVAN], admins: [fleet.id] });
    tg.addChat({ id: IVAN, type: "private", members: [fleet.id, deck.id] });
    tg.addChat({ id: GENERAL, type: "supergroup", title: "Fleet General", username: "fleetgeneral", members: [IVAN], admins: [fleet.id] });
    h = await Harness.start({ config: { telegram: { api_root: tg.apiRoot }, slack: { enabled: false } } });
    alice = h.user("alice");
    dm = await h.dm(alice);
  });

  afterAll(async () => {
    await h?.stop();
    await tg?.stop();
  });

  it("help telegram says what a bot cannot see", async () => {
    const help = await h.command(alice, dm, "help telegram");
    expect(help).toMatch(/history from before the bot joined/);
    expect(help).toMatch(/No deletions/);
    expect(help).toMatch(/other bots/);
    expect(help).toMatch(/Reactions only where the bot is an admin/);
    expect(help).toMatch(/Privacy mode/);
  });

  it("login telegram: prompts for the token, rejects bad ones, warns about privacy mode, redacts the token", async () => {
    expect(await h.command(alice, dm, "login telegram")).toMatch(/token from @BotFather/);
    expect(await h.command(alice, dm, "not-a-token")).toMatch(/does not look like a bot token/);
    expect(await h.command(alice, dm, "7001:AAwrongwrongwrongwrongwrongwrongwrong")).toMatch(/not valid \(BotFather \/token/);
    expect(await h.command(alice, dm, "login telegram")).toMatch(/token/);
    const { reply, eventId } = await say(fleet.token);
    expect(reply).toMatch(/^Logged in as @fleet_bot/);
    expect(reply).toMatch(/Privacy mode is on.*\/setprivacy.*admin/s);
    await waitUntil(() => h.hs.allEvents({ type: "m.room.redaction", redacts: eventId }).length > 0, 5000, "token redaction");
  });

  it("a second bot logs in inline, side by side, without a privacy warning", async () => {
    const { reply, eventId } = await say(`login telegram ${deck.token}`);
    expect(reply).toMatch(/^Logged in as @deck_bot/);
    expect(reply).not.toMatch(/Privacy/);
    await waitUntil(() => h.hs.allEvents({ type: "m.room.redaction", redacts: eventId }).length > 0, 5000, "inline token redaction");
    await waitUntil(async () => /fleet_bot: connected[\s\S]*deck_bot: connected|deck_bot: connected[\s\S]*fleet_bot: connected/.test(await h.command(alice, dm, "status")), 10_000, "both bots connected");
  });

  it("each bot gets a space named after it, its owner invited", async () => {
    const spaces = () => h.hs.allEvents({ type: "m.room.create", content: { type: "m.space" } }).map((e) => e.room_id);
    await waitUntil(() => spaces().length === 2, 10_000, "a space per bot");
    const names = spaces().map((r) => String(h.hs.stateContent(r, "m.room.name")?.name)).sort();
    expect(names).toEqual(["@deck_bot (Telegram)", "@fleet_bot (Telegram)"]);
    for (const r of spaces()) expect(h.hs.members(r)[alice.userId]).toBe("invite");
  });

  it("a group message creates the portal: owner invited, name, topic, avatar, ghost with name and photo", async () => {
    ivanMsgs.push(tg.userSends(GROUP, IVAN, { text: "hello fleet" }));
    await waitUntil(() => h.hs.roomByAlias("#telegram_fleetops:example.org") !== undefined, 10_000, "the portal");
    portal = h.hs.roomByAlias("#telegram_fleetops:example.org")!;
    expect(h.hs.members(portal)[alice.userId]).toBe("invite");
    expect(h.hs.stateContent(portal, "m.room.name")?.name).toBe("Fleet Ops (Telegram)");
    expect(h.hs.stateContent(portal, "m.room.topic")?.topic).toBe("Ops chat");
    expect(h.hs.stateContent(portal, "m.room.avatar")?.url).toMatch(/^mxc:\/\//);
    // MSC2346 bridge info from the Telegram connector: the bot as the network, the group as the channel.
    expect(h.hs.stateContent(portal, "m.bridge", `tandem://telegram/${GROUP}`)).toMatchObject({
      bridgebot: h.botMxid, creator: alice.userId, protocol: { id: "telegram", displayname: "Telegram" },
      network: { displayname: expect.stringMatching(/^@/), external_url: expect.stringMatching(/^https:\/\/t\.me\//) },
      channel: { id: String(GROUP), displayname: "Fleet Ops" },
    });
    const ev = await inPortal((e) => e.type === "m.room.message" && body(e) === "hello fleet");
    expect(ev.sender).toBe(GHOST);
    expect(h.hs.profile(GHOST)?.displayname).toBe("Ivan Petrov");
    expect(h.hs.profile(GHOST)?.avatar_url).toMatch(/^mxc:\/\//);
    await alice.join(portal);
  });

  it("the second bot's chat gets its own portal", async () => {
    tg.userSends(DECK, OLGA, { text: "deck report" });
    await waitUntil(() => h.hs.roomByAlias("#telegram_-100456:example.org") !== undefined, 10_000, "the Deck portal");
    const room = h.hs.roomByAlias("#telegram_-100456:example.org")!;
    await h.hs.waitForEvent({ room_id: room, sender: "@telegram_43:example.org", content: { body: "deck report" } });
  });

  it("a private chat becomes a DM portal per bot, named after the person", async () => {
    tg.userSends(IVAN, IVAN, { text: "hi bots" }); // the fake shares one private chat between the bots
    await waitUntil(() => h.hs.allEvents({ sender: GHOST, content: { body: "hi bots" } }).length === 2, 10_000, "two DM portals");
    const rooms = h.hs.allEvents({ sender: GHOST, content: { body: "hi bots" } }).map((e) => e.room_id);
    expect(new Set(rooms).size).toBe(2);
    for (const room of rooms) {
      expect(h.hs.stateContent(room, "m.room.name")?.name).toBe("Ivan Petrov");
      expect(h.hs.members(room)[alice.userId]).toBe("invite");
    }
    await alice.join(rooms[0]!);
    await alice.sendText(rooms[0]!, "hello Ivan");
    await tg.waitFor(() => tg.messages(IVAN).some((m) => m.text === "alice: hello Ivan" && [fleet.id, deck.id].includes(m.from?.id ?? 0)), 10_000, "the DM answer");
  });

  it("Matrix → Telegram: text as <b>alice</b>: text, reply, edit, redaction, reaction", async () => {
    const mine = await alice.sendHtml(portal, "on **my** way", "on <b>my</b> way");
    await tg.waitFor(() => fromBot(GROUP).some((m) => m.text === "alice: on my way"), 10_000, "alice's message on Telegram");
    const sent = fromBot(GROUP).find((m) => m.text === "alice: on my way")!;
    expect(sent.entities).toEqual([{ type: "bold", offset: 0, length: 5 }, { type: "bold", offset: 10, length: 2 }]);

    const original = h.messages(portal, GHOST).find((e) => body(e) === "hello fleet")!;
    await alice.reply(portal, original.event_id, "welcome back");
    await tg.waitFor(() => fromBot(GROUP).some((m) => m.text === "alice: welcome back"), 10_000, "the reply");
    expect(fromBot(GROUP).find((m) => m.text === "alice: welcome back")!.reply_to_message?.message_id).toBe(ivanMsgs[0]);

    await alice.edit(portal, mine, "on my way now");
    await tg.waitFor(() => tg.message(GROUP, sent.message_id)?.text === "alice: on my way now", 10_000, "the edit");
    expect(tg.calls("editMessageText").length).toBeGreaterThan(0);

    const doomed = await alice.sendText(portal, "oops");
    await tg.waitFor(() => fromBot(GROUP).find((m) => m.text === "alice: oops"), 10_000, "the message to delete");
    const doomedId = fromBot(GROUP).find((m) => m.text === "alice: oops")!.message_id;
    await alice.redact(portal, doomed);
    await tg.waitFor(() => tg.message(GROUP, doomedId) === undefined, 10_000, "the deletion");

    await alice.react(portal, original.event_id, "👍");
    await tg.waitFor(() => tg.reactionsOf(GROUP, ivanMsgs[0]!).some((r) => r.actorId === fleet.id && r.reaction[0]?.type === "emoji" && r.reaction[0].emoji === "👍"), 10_000, "the reaction");
  });

  it("Telegram → Matrix: reply, edit, reaction on and off", async () => {
    const alicesOnTg = fromBot(GROUP).find((m) => m.text === "alice: on my way now")!;
    const alicesEvent = h.messages(portal, alice.userId).find((e) => body(e) === "on **my** way")!;
    tg.userSends(GROUP, IVAN, { text: "see you", reply_to: alicesOnTg.message_id });
    const reply = await inPortal((e) => e.sender === GHOST && body(e) === "see you");
    expect((reply.content as { "m.relates_to"?: { "m.in_reply_to"?: { event_id?: string } } })["m.relates_to"]?.["m.in_reply_to"]?.event_id).toBe(alicesEvent.event_id);

    tg.userEdits(GROUP, ivanMsgs[0]!, "hello fleet!");
    const hello = h.messages(portal, GHOST).find((e) => body(e) === "hello fleet")!;
    const edit = await inPortal((e) => e.sender === GHOST && (e.content as { "m.relates_to"?: { rel_type?: string } })["m.relates_to"]?.rel_type === "m.replace");
    expect(edit.content).toMatchObject({ "m.new_content": { body: "hello fleet!" }, "m.relates_to": { event_id: hello.event_id } });

    tg.userReacts(GROUP, ivanMsgs[0]!, OLGA, ["🔥"]);
    const reaction = await inPortal((e) => e.type === "m.reaction" && e.sender === "@telegram_43:example.org");
    expect(reaction.content).toMatchObject({ "m.relates_to": { rel_type: "m.annotation", event_id: hello.event_id, key: "🔥" } });
    tg.userReacts(GROUP, ivanMsgs[0]!, OLGA, []);
    await inPortal((e) => e.type === "m.room.redaction" && (e as { redacts?: string }).redacts === reaction.event_id);
  });

  it("Telegram → Matrix files: photo (m.image with size), voice (m.audio voice), document, and a notice for a file over 20 MB", async () => {
    tg.userSends(GROUP, IVAN, { photo: png(64, 48), caption: "the dock" });
    const photo = await inPortal((e) => e.sender === GHOST && (e.content as { msgtype?: string }).msgtype === "m.image");
    expect(photo.content).toMatchObject({ body: "the dock", info: { w: 64, h: 48, mimetype: "image/jpeg" } });
    expect(String((photo.content as { url?: string }).url)).toMatch(/^mxc:\/\//);

    tg.userSends(GROUP, IVAN, { voice: { data: Buffer.from("OggS voice data"), duration: 3 } });
    const voice = await inPortal((e) => e.sender === GHOST && (e.content as { msgtype?: string }).msgtype === "m.audio");
    expect(voice.content).toMatchObject({ "org.matrix.msc3245.voice": {}, info: { duration: 3000 } });

    tg.userSends(GROUP, IVAN, { document: { data: Buffer.from("%PDF-1.4 plan"), file_name: "plan.pdf", mime_type: "application/pdf" } });
    const doc = await inPortal((e) => e.sender === GHOST && (e.content as { msgtype?: string }).msgtype === "m.file");
    expect(doc.content).toMatchObject({ body: "plan.pdf", filename: "plan.pdf", info: { mimetype: "application/pdf" } });
    const mxc = String((doc.content as { url?: string }).url);
    expect(h.hs.media(mxc)?.data.toString()).toBe("%PDF-1.4 plan");

    tg.userSends(GROUP, IVAN, { document: { data: Buffer.alloc(21 * 1024 * 1024), file_name: "backup.tar" } });
    // The sender's ghost posts a notice naming the file instead of the file (nothing is dead-lettered).
    const notice = await h.hs.waitForEvent((e) => e.room_id === portal && e.type === "m.room.message" &&
      /File backup\.tar \(21\.0 MB\) is too large to bridge/.test(String((e.content as { body?: unknown }).body)), { timeoutMs: 10_000 });
    expect(notice.content).toMatchObject({ msgtype: "m.notice" });
    expect(notice.sender).toBe("@telegram_42:example.org");
    expect(await h.bridge.store.queue.deadItems(10)).toHaveLength(0);
  });

  it("a redelivered update and an unreadable update change nothing; polling goes on", async () => {
    const before = h.messages(portal, GHOST).length;
    tg.injectUpdate(fleet.id, { message: tg.message(GROUP, ivanMsgs[0]!) }); // Telegram sends it again
    tg.injectUpdate(fleet.id, { message: { message_id: "bad", chat: null } }); // garbage
    tg.userSends(GROUP, IVAN, { text: "still polling" });
    await inPortal((e) => e.sender === GHOST && body(e) === "still polling");
    expect(h.messages(portal, GHOST).length).toBe(before + 1);
  });

  it("a 429 storm on sendMessage is waited out and delivers once", async () => {
    tg.failNext("sendMessage", 2, { error_code: 429, retry_after: 1 });
    await alice.sendText(portal, "through the storm");
    await tg.waitFor(() => fromBot(GROUP).some((m) => m.text === "alice: through the storm"), 15_000, "delivery after 429s");
    await alice.sendText(portal, "after the storm"); // a sentinel on the room's lane
    await tg.waitFor(() => fromBot(GROUP).some((m) => m.text === "alice: after the storm"), 15_000, "the sentinel");
    expect(fromBot(GROUP).filter((m) => m.text === "alice: through the storm")).toHaveLength(1);
  });

  it("a group upgraded to a supergroup keeps its portal", async () => {
    tg.userSends(OLD, IVAN, { text: "old crew here" });
    await waitUntil(() => h.hs.roomByAlias("#telegram_-777:example.org") !== undefined, 10_000, "the Old Crew portal");
    const room = h.hs.roomByAlias("#telegram_-777:example.org")!;
    await h.hs.waitForEvent({ room_id: room, content: { body: "old crew here" } });
    const newId = tg.migrateToSupergroup(OLD);
    tg.userSends(newId, IVAN, { text: "now a supergroup" });
    await h.hs.waitForEvent({ room_id: room, sender: GHOST, content: { body: "now a supergroup" } });
    await alice.join(room);
    await alice.sendText(room, "still here");
    await tg.waitFor(() => tg.messages(newId).some((m) => m.from?.id === fleet.id && m.text === "alice: still here"), 10_000, "send to the supergroup");
  });

  it("the cutover set-up: an existing Matrix room linked to a Telegram chat by @username relays both ways", async () => {
    const room = await alice.createRoom({ name: "Fleet General", room_alias_name: "fleet-general", invite: [h.botMxid] });
    await h.waitForBot(room, /Hello/);
    const pl = await alice.getState(room, "m.room.power_levels");
    await alice.setState(room, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
    expect(await h.command(alice, room, "!tandem link telegram @fleetgeneral")).toMatch(/Linked this room to Telegram Fleet General/);
    tg.userSends(GENERAL, IVAN, { text: "general quarters" });
    await h.hs.waitForEvent({ room_id: room, sender: GHOST, content: { body: "general quarters" } });
    await alice.sendText(room, "acknowledged");
    await tg.waitFor(() => tg.messages(GENERAL).some((m) => m.from?.id === fleet.id && m.text === "alice: acknowledged"), 10_000, "Matrix → linked Telegram chat");
  });

  it("after a restart both bots resume and relay both ways; the tokens never reach the log", async () => {
    await h.restart();
    tg.userSends(GROUP, IVAN, { text: "after restart" });
    await inPortal((e) => e.sender === GHOST && body(e) === "after restart");
    await alice.sendText(portal, "welcome back, bridge");
    await tg.waitFor(() => fromBot(GROUP).some((m) => m.text === "alice: welcome back, bridge"), 10_000, "Matrix → Telegram after restart");
    tg.userSends(DECK, OLGA, { text: "deck after restart" });
    await h.hs.waitForEvent({ sender: "@telegram_43:example.org", content: { body: "deck after restart" } });
    expect(h.messages(portal, GHOST).filter((e) => body(e) === "hello fleet")).toHaveLength(1);
    expect(h.logs).not.toContain(fleet.token);
    expect(h.logs).not.toContain(deck.token);
    expect(h.logs).not.toContain(fleet.token.split(":")[1]);
  });
});
