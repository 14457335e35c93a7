/**
 * One room per chat, whatever arrives at the same time (issue 12, item 4). The real bridge with
 * its Slack connector, against a fake Slack that can hold a Web API method unanswered while it
 * delivers events, and a fake homeserver that creates rooms in Synapse's order (the alias is
 * taken before the room can be read) and holds them half-made. Each test holds a portal's
 * creation, drives the competing path into it, and only then lets the creation finish: a second
 * room would be asked for by then (a second createRoom), or the competitor waits its turn.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeMatrixClient, RoomCreationHold } from "../fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { Harness, waitUntil } from "../support/harness.js";

describe("one room per chat", () => {
  let slack: FakeSlack;
  let acme: TeamHandle;
  let beta: TeamHandle;
  let h: Harness;
  let alice: FakeMatrixClient;
  let dm: string;

  /** Rooms carrying our m.bridge state for a Slack chat ("T…:C…"). */
  const roomsFor = (chat: string) => h.hs.rooms().filter((r) => h.hs.roomState(r)["m.bridge"]?.[`tandem://slack/${chat.replace(":", "/")}`]);
  const bodies = (roomId: string, sender: string) => h.messages(roomId, sender).map((e) => String(e.content.body));

  /**
   * Hold until the competing path has either asked the homeserver for a room of its own (the
   * race lost: a second createRoom arrived) or is waiting for the chat's turn; then let the
   * held creation finish.
   */
  async function releaseWhenRaced(hold: RoomCreationHold, chat: string, orWhen: () => boolean = () => false): Promise<void> {
    await waitUntil(() => hold.waiting.length >= 2 || h.bridge.core.portals.turnsFor("slack", chat) >= 2 || orWhen(), 15_000, "the competing path to reach the chat");
    hold.release();
  }

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 5000, pingIntervalMs: 0 });
    acme = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(acme, { id: "U0001", name: "carol", real_name: "Carol Danvers" });
    slack.addChannel(acme, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
    beta = slack.createTeam({ id: "T0002", name: "Beta", domain: "beta" });
    slack.addUser(beta, { id: "U0009", name: "erin", real_name: "Erin" });
    slack.addChannel(beta, { id: "C0010", name: "news", members: ["U0009"], botMember: true });
    h = await Harness.start({ config: { slack: { api_url: slack.apiUrl, conversation_count: 10, backfill_count: 0 }, telegram: { enabled: false } } });
    alice = h.user("alice");
    dm = await h.dm(alice);
  });

  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("a channel's first message during the login's initial sync lands in the one portal the sync makes", async () => {
    const hold = h.hs.holdRoomCreation();
    expect(await h.command(alice, dm, `login app ${acme.botToken} ${acme.appToken}`)).toMatch(/^Logged in to Slack workspace Acme/);
    await hold.arrived(); // the initial sync is making #general's portal
    const ts = slack.userPosts(acme, "C0001", "U0001", "first words");
    await slack.waitForEnvelope((e) => e.ts === ts, { acked: true }); // queued: the bridge works on it now
    await releaseWhenRaced(hold, "T0001:C0001");

    const general = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    await h.hs.waitForEvent({ room_id: general, sender: "@slack_t0001_u0001:example.org", content: { body: "first words" } }, { timeoutMs: 10_000 });
    expect(roomsFor("T0001:C0001")).toEqual([general]);
    expect(h.hs.roomByAlias("#slack_acme_general_2:example.org")).toBeUndefined();
    expect(h.hs.members(general)[alice.userId]).toBe("invite");
  });

  it("`sync` racing a new channel's first message makes one room for it", async () => {
    slack.addChannel(acme, { id: "C0005", name: "ops", members: ["U0001"], botMember: true });
    const listing = slack.hold("conversations.list");
    const since = h.hs.eventCount;
    await alice.sendText(dm, "sync");
    await listing.arrived(); // sync is asking Slack for the conversations
    const hold = h.hs.holdRoomCreation();
    slack.userPosts(acme, "C0005", "U0001", "ops is open");
    await hold.arrived(); // the live message is making #ops' portal
    listing.release(); // sync now finds #ops without a room yet
    await releaseWhenRaced(hold, "T0001:C0005");

    const reply = await h.hs.waitForEvent((e) => e.room_id === dm && e.sender === h.botMxid && /new portal/.test(String(e.content.body)), { since, timeoutMs: 10_000 });
    expect(String(reply.content.body)).toBe("Slack Acme: 0 new portals."); // #ops' room was the live message's
    const ops = h.hs.roomByAlias("#slack_acme_ops:example.org")!;
    await h.hs.waitForEvent({ room_id: ops, content: { body: "ops is open" } }, { timeoutMs: 10_000 });
    expect(roomsFor("T0001:C0005")).toEqual([ops]);
    expect(h.hs.roomByAlias("#slack_acme_ops_2:example.org")).toBeUndefined();
    expect(bodies(ops, "@slack_t0001_u0001:example.org")).toEqual(["ops is open"]);
  });

  it("`link` right after `login` waits for the portal the login is making, and says where the chat is", async () => {
    // Bob: link goes through the sender's own login of that network.
    const bob = h.user("bob");
    const bobDm = await h.dm(bob);
    const room = await bob.createRoom({ name: "Newsroom", invite: [h.botMxid] });
    await h.waitForBot(room, /Hello/);
    const pl = await bob.getState(room, "m.room.power_levels");
    await bob.setState(room, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });

    const hold = h.hs.holdRoomCreation();
    expect(await h.command(bob, bobDm, `login app ${beta.botToken} ${beta.appToken}`)).toMatch(/^Logged in to Slack workspace Beta/);
    await hold.arrived(); // the initial sync is making #news' portal
    const since = h.hs.eventCount;
    await bob.sendText(room, "!tandem link slack C0010");
    // Without its turn, link would not wait: it would answer at once.
    const answered = () => h.hs.allEvents().slice(since).some((e) => e.room_id === room && e.sender === h.botMxid);
    await releaseWhenRaced(hold, "T0002:C0010", answered);

    const reply = await h.hs.waitForEvent((e) => e.room_id === room && e.sender === h.botMxid && e.type === "m.room.message", { since, timeoutMs: 10_000 });
    expect(String(reply.content.body)).toBe("That Slack chat is already bridged to #slack_beta_news:example.org. Unlink it there first.");
    const news = h.hs.roomByAlias("#slack_beta_news:example.org")!;
    expect(roomsFor("T0002:C0010")).toEqual([news]);
    expect(h.bridge.core.portals.linksOfRoom(room)).toEqual([]);
    // The sync was not cut short by the link: it answered, and logged no failure.
    await waitUntil(() => h.bridge.core.portals.linkForChat("slack", "T0002:C0010")?.roomId === news, 10_000, "news portal recorded");
    expect(h.logs).not.toMatch(/initial sync failed/);
    // The chat relays into that one room.
    slack.userPosts(beta, "C0010", "U0009", "extra extra");
    await h.hs.waitForEvent({ room_id: news, content: { body: "extra extra" } }, { timeoutMs: 10_000 });
  });
});

describe("portal aliases", () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.start({ config: { telegram: { enabled: false }, slack: { enabled: false } } }); });
  afterAll(async () => { await h?.stop(); });

  const portal = (stateKey: string) => ({
    name: "general (Loopback)", aliasLocalpart: "loopback_general", invite: [], stateKey,
    bridgeInfo: { bridgebot: h.botMxid, channel: { id: stateKey } },
  });

  it("an alias taken by our own portal of the chat, still being created (another process), is reused, never suffixed _2", async () => {
    const matrix = h.bridge.core.deps.matrix;
    const hold = h.hs.holdRoomCreation();
    const first = matrix.createRoom(portal("loopback/general"));
    await hold.arrived();
    const held = hold.waiting[0]!;
    const second = matrix.createRoom(portal("loopback/general"));
    // The second was told the alias is taken, and found the room behind it unreadable (403).
    await waitUntil(() => h.hs.requests.some((r) => r.path.includes(encodeURIComponent(held)) && r.path.endsWith("/state") && r.status === 403), 10_000, "the room read while half-made");
    hold.release();
    const [a, b] = await Promise.all([first, second]);
    expect(b).toEqual(a);
    expect(a.alias).toBe("#loopback_general:example.org");
    expect(h.hs.roomByAlias("#loopback_general_2:example.org")).toBeUndefined();
    // The same alias wanted for another chat (a channel renamed to a taken name) does get a suffix.
    const other = await matrix.createRoom(portal("loopback/other"));
    expect(other.alias).toBe("#loopback_general_2:example.org");
    expect(other.roomId).not.toBe(a.roomId);
  });
});
