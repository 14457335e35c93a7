/**
 * Issue 15 end to end on the fake homeserver, with the real Slack and Telegram connectors against
 * their fakes: claims on both networks (the Slack app DMs the code; a Telegram user sends
 * `/start CODE` to the bot, which answers there and bridges nothing of it), map by e-mail where
 * the homeserver does not let the bridge read e-mails, and double puppeting: with the second
 * registration loaded, Carol's Slack message and reaction come from @carol herself and neither
 * comes back to Slack.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readDoublePuppetRegistration, writeDoublePuppetRegistration } from "../../src/config/double-puppet.js";
import type { ClientEvent, FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { FakeTelegram, type BotHandle } from "../fakes/telegram.js";
import { Harness, waitUntil } from "../support/harness.js";

const IVAN = 42;
const CAROL = "@carol:example.org";
const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);

describe("people end to end: claims, e-mail, double puppeting", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  let tg: FakeTelegram;
  let fleet: BotHandle;
  let h: Harness;
  let admin: FakeMatrixClient;
  let adminDm: string;

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", email: "carol@example.org" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
    slack.addChannel(team, { id: "D0001", is_im: true, user: "U0001" });
    // A channel with history only (posted before the bridge), for the import as Carol herself.
    slack.addUser(team, { id: "U0002", name: "dave", real_name: "Dave Lister" });
    slack.addChannel(team, { id: "C0002", name: "history", members: ["U0001", "U0002"], botMember: true });
    for (const [user, text] of [["U0001", "old one from carol"], ["U0002", "old one from dave"], ["U0001", "old two from carol"]] as const) {
      slack.userPosts(team, "C0002", user, text, { silent: true });
    }
    tg = await FakeTelegram.start();
    fleet = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet", canReadAllGroupMessages: true });
    tg.addUser({ id: IVAN, first_name: "Ivan", last_name: "Petrov" });
    tg.addChat({ id: IVAN, type: "private", members: [fleet.id] });
    h = await Harness.start({
      config: {
        slack: { api_url: slack.apiUrl, conversation_count: 0, backfill_count: 0 },
        telegram: { api_root: tg.apiRoot },
        appservice: { double_puppet_registration: "double-puppet.yaml" },
      },
      // The operator's steps: generate the second registration and load it next to the first.
      beforeBoot: (hh) => {
        writeDoublePuppetRegistration(hh.config, hh.config.appservice.double_puppet_registration);
        hh.hs.addActingRegistration(readDoublePuppetRegistration(hh.config.appservice.double_puppet_registration) as never);
      },
    });
    admin = h.user("admin");
    adminDm = await h.dm(admin);
    expect(await h.command(admin, adminDm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/^Logged in to Slack/);
    expect(await h.command(admin, adminDm, `login telegram ${fleet.token}`)).toMatch(/^Logged in as @fleet_bot/);
  });

  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
    await tg?.stop();
  });

  it("claim slack: the Slack app DMs Carol the code, and her claim with it maps her", async () => {
    const carol = h.user("carol");
    const dm = await h.dm(carol);
    expect(await h.command(carol, dm, "claim slack U0001")).toMatch(/sent a code to that Slack account in a direct message/);
    const sent = await slack.waitFor(() => slack.messages(team, "D0001").find((m) => /claim [A-Z2-9]{8}/.test(m.text)), 10_000, "the code in Carol's Slack DM");
    expect(sent.text).toContain(CAROL);
    const code = /claim ([A-Z2-9]{8})/.exec(sent.text)![1]!;
    expect(await h.command(carol, dm, `claim ${code}`)).toBe("Done: Slack user T0001:U0001 is now mapped to you.");
  });

  it("claim telegram: Ivan sends /start CODE to the bot, which answers him there; nothing of it is bridged", async () => {
    const ivan = h.user("ivan");
    const dm = await h.dm(ivan);
    const reply = await h.command(ivan, dm, "claim telegram");
    const code = /\/start ([A-Z2-9]{8})/.exec(reply)?.[1];
    expect(code, reply).toBeDefined();
    tg.userSends(IVAN, IVAN, { text: "/start WRONG234" });
    await tg.waitFor(() => tg.messages(IVAN).find((m) => m.from?.id === fleet.id && /not valid/.test(m.text ?? "")), 10_000, "the bot refusing a wrong code");
    tg.userSends(IVAN, IVAN, { text: `/start ${code}` });
    await tg.waitFor(() => tg.messages(IVAN).find((m) => m.from?.id === fleet.id && m.text === "Done: this account is now mapped to @ivan:example.org on Matrix."), 10_000, "the bot's answer");
    await h.waitForBot(dm, /^Done: Telegram user 42 is now mapped to you\.$/);
    expect(h.hs.allEvents({ type: "m.room.message" }).filter((e) => /\/start [A-Z2-9]{8}/.test(body(e)) && e.sender !== h.botMxid)).toEqual([]);
    expect(await h.command(admin, adminDm, "mappings")).toMatch(/telegram 42 → @ivan:example.org \(claim by @ivan:example.org/);
  });

  it("map by e-mail on a homeserver that does not let the bridge read e-mails: a clear answer, nothing mapped", async () => {
    expect(await h.command(admin, adminDm, "map slack --by-email --dry-run")).toMatch(/does not let the bridge read its users' e-mail addresses.*CSV file/);
    expect(await h.command(admin, adminDm, "mappings")).not.toMatch(/email/);
  });

  it("double puppeting: Carol's Slack message and reaction come from @carol, and neither goes back to Slack", async () => {
    const room = await admin.createRoom({ name: "General", invite: [h.botMxid], power_level_content_override: { users: { [admin.userId]: 100, [h.botMxid]: 100 } } });
    await h.waitForBot(room, /Hello/);
    expect(await h.command(admin, room, "!tandem link slack #general")).toMatch(/^Linked this room to Slack/);
    const ts = slack.userPosts(team, "C0001", "U0001", "from carol herself");
    const ev = await h.hs.waitForEvent((e) => e.room_id === room && e.type === "m.room.message" && body(e) === "from carol herself", { timeoutMs: 10_000 });
    expect(ev.sender).toBe(CAROL);
    slack.userReacts(team, "C0001", ts, "U0001", "tada");
    const reaction = await h.hs.waitForEvent((e) => e.room_id === room && e.type === "m.reaction", { timeoutMs: 10_000 });
    expect(reaction.sender).toBe(CAROL);

    await admin.sendText(room, "sentinel");
    await slack.waitForMessage(team, "C0001", (m) => m.text === "sentinel", 10_000);
    expect(slack.messages(team, "C0001").map((m) => m.text)).toEqual(["from carol herself", "sentinel"]);
    expect(slack.reactions(team, "C0001", ts).map((r) => [r.name, r.users])).toEqual([["tada", ["U0001"]]]);
    expect(h.hs.stateContent(room, "m.room.member", "@slack_t0001_u0001:example.org")?.membership).not.toBe("join"); // she was mapped before: no ghost
  });

  it("double puppeting in a history import: Carol's past messages come from @carol, Dave's from his ghost, in order", async () => {
    expect(await h.command(admin, adminDm, "import slack --conversation #history")).toMatch(/running/);
    await waitUntil(() => h.bridge.core.imports.snapshot()?.state === "done", 30_000, "import done");
    const roomId = h.bridge.core.imports.snapshot()!.conversations[0]!.roomId!;
    const past = h.messages(roomId).filter((e) => /^old /.test(body(e)));
    expect(past.map((e) => [body(e), e.sender])).toEqual([
      ["old one from carol", CAROL], ["old one from dave", "@slack_t0001_u0002:example.org"], ["old two from carol", CAROL],
    ]);
    expect(h.hs.stateContent(roomId, "m.room.member", "@slack_t0001_u0001:example.org")?.membership).not.toBe("join");
  });

  it("a person mapped to a user whose ghost is in the workspace's rooms is invited to the workspace's space", async () => {
    const create = await h.hs.waitForEvent({ type: "m.room.create", content: { type: "m.space" } });
    const spaces = h.hs.allEvents({ type: "m.room.create" }).filter((e) => (e.content as { type?: string }).type === "m.space").map((e) => e.room_id);
    const slackSpace = spaces.find((id) => /\(Slack\)$/.test(String(h.hs.stateContent(id, "m.room.name")?.name)));
    expect(slackSpace, `spaces: ${spaces.join(", ")} (first ${create.room_id})`).toBeDefined();
    expect(h.hs.members(slackSpace!)["@dave:example.org"]).toBeUndefined();
    // Dave's ghost wrote in #history (the import above): mapping him places him in the Slack login's space.
    const dm = await h.dm(admin); // the first DM still gets the import's status edits
    expect(await h.command(admin, dm, "map slack U0002 @dave:example.org")).toMatch(/mapped/i);
    await waitUntil(() => h.hs.members(slackSpace!)["@dave:example.org"] === "invite", 10_000, "Dave's invite to the Slack space");
    expect(spaces.filter((id) => id !== slackSpace).map((id) => h.hs.members(id)["@dave:example.org"])).toEqual(spaces.filter((id) => id !== slackSpace).map(() => undefined));
  });
});
