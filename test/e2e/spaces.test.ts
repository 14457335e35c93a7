/**
 * Issue 15 items 3 and 5 on the loopback network: a login gets a space holding its rooms, rooms
 * the bridge creates name the configured admin, `cutover finish` ends the parallel run (people
 * become admins, the bot steps down, nothing is relayed until `cutover resume`), and a room
 * upgraded in Matrix (m.room.tombstone) keeps its link.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";
import type { FakeMatrixClient } from "../fakes/homeserver.js";

describe("spaces, cutover finish and room upgrades", () => {
  const net = new LoopbackNetwork();
  net.addAccount("lb-a", "acctA", "Alpha Works");
  net.addChat("ops", "ops");
  net.addChat("news", "news");
  net.addUser("ivan", "Ivan Petrov");
  let h: Harness;
  let admin: FakeMatrixClient;
  let dm: string;
  let room: string;
  let space: string;

  beforeAll(async () => {
    h = await Harness.start({ connectors: () => [new LoopbackConnector(net, "loopback")] });
    admin = h.user("admin");
    dm = await h.dm(admin);
  });
  afterAll(async () => { await h?.stop(); });

  it("a login gets a space named after the account, its owner invited", async () => {
    expect(await h.command(admin, dm, "login loopback lb-a")).toMatch(/Logged in/);
    const create = await h.hs.waitForEvent({ type: "m.room.create", content: { type: "m.space" } });
    space = create.room_id;
    expect(h.hs.stateContent(space, "m.room.name")).toEqual({ name: "Alpha Works (Loopback)" });
    expect(h.hs.members(space)[admin.userId]).toBe("invite");
  });

  it("a portal made later is a child of the space (with via) and names the space as parent; the admin has power 100", async () => {
    await net.post("news", "ivan", "first news");
    const ev = await h.hs.waitForEvent({ content: { body: "first news" } });
    await waitUntil(() => h.hs.stateContent(space, "m.space.child", ev.room_id) !== undefined, 10_000, "the space child");
    expect(h.hs.stateContent(space, "m.space.child", ev.room_id)).toEqual({ via: ["example.org"] });
    expect(h.hs.stateContent(ev.room_id, "m.space.parent", space)).toEqual({ via: ["example.org"], canonical: true });
    // Synapse 1.67 and the fake default to room version 10: the configured admin gets power 100 at creation.
    expect((h.hs.stateContent(ev.room_id, "m.room.power_levels")!.users as Record<string, number>)[admin.userId]).toBe(100);
  });

  it("a linked room joins the space; `space add` adds it again by hand", async () => {
    room = await admin.createRoom({ name: "Ops", room_alias_name: "ops-room", invite: [h.botMxid] });
    await h.waitForBot(room, /Hello/);
    const pl = await admin.getState(room, "m.room.power_levels");
    await admin.setState(room, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
    expect(await h.command(admin, room, "!tandem link loopback ops")).toMatch(/Linked this room/);
    await waitUntil(() => h.hs.stateContent(space, "m.space.child", room) !== undefined, 10_000, "the linked room in the space");
    expect(await h.command(admin, room, "!tandem space add")).toBe(`Added this room to its space: ${space}.`);
    expect(h.hs.stateContent(space, "m.space.child", room)).toEqual({ via: ["example.org"] });
  });

  it("cutover finish: pinned notice, people become admins, the bot steps down, nothing relayed until resume", async () => {
    const bob = h.user("bob");
    await admin.invite(room, bob.userId);
    await bob.join(room);
    await net.post("ops", "ivan", "before finish");
    await h.hs.waitForEvent({ room_id: room, content: { body: "before finish" } });
    await admin.sendText(room, `!tandem cutover finish --admins ${admin.userId},${bob.userId}`);
    await h.waitForBot(room, /Cutover finished by @admin:example.org: this room is no longer relayed/);
    await h.waitForBot(room, /^Cutover finish:\n• .*: finished, admins @admin:example.org, @bob:example.org$/);
    const notice = net.sent("ops").find((m) => m.text.startsWith("This chat has moved to Matrix"))!;
    expect(notice.text).toContain("https://matrix.to/#/%23ops-room%3Aexample.org");
    expect(notice.pinned).toBe(true);
    const users = h.hs.stateContent(room, "m.room.power_levels")!.users as Record<string, number>;
    expect(users[admin.userId]).toBe(100);
    expect(users[bob.userId]).toBe(100);
    expect(users[h.botMxid]).toBeUndefined();
    expect(await h.command(admin, room, "!tandem cutover status")).toMatch(/finished .* by @admin:example.org/);

    await net.post("ops", "ivan", "after finish, not relayed");
    await admin.sendText(room, "matrix after finish, not relayed");
    expect(await h.command(admin, room, "!tandem cutover resume")).toMatch(/relayed again/);
    await net.post("ops", "ivan", "sentinel from remote");
    await admin.sendText(room, "sentinel from matrix");
    await h.hs.waitForEvent({ room_id: room, content: { body: "sentinel from remote" } });
    await waitUntil(() => net.sent("ops").some((m) => m.text === "sentinel from matrix"), 10_000, "the Matrix sentinel");
    expect(h.hs.allEvents({ room_id: room, content: { body: "after finish, not relayed" } })).toHaveLength(0);
    expect(net.sent("ops").filter((m) => m.text === "matrix after finish, not relayed")).toHaveLength(0);
  });

  it("cutover finish without named admins takes the joined people with power 50, and refuses when there are none", async () => {
    const lonely = await admin.createRoom({ name: "Lonely", invite: [h.botMxid] });
    await h.waitForBot(lonely, /Hello/);
    const pl = await admin.getState(lonely, "m.room.power_levels");
    const carol = h.user("carol");
    await admin.invite(lonely, carol.userId);
    // Carol (50) has not joined yet and the admin steps down to 40: no joined person can take over.
    await admin.setState(lonely, "m.room.power_levels", "", { ...pl, users: { [h.botMxid]: 100, [admin.userId]: 40, [carol.userId]: 50 } });
    expect(await h.command(admin, lonely, "!tandem link loopback news2")).toMatch(/has no chat/); // sanity: unknown chat refused
    net.addChat("news2", "news2");
    expect(await h.command(admin, lonely, "!tandem link loopback news2")).toMatch(/Linked this room/);
    expect(await h.command(admin, lonely, "!tandem cutover finish")).toMatch(/No one in .* has power 50/);
    expect(h.hs.stateContent(lonely, "m.room.power_levels")!.users).toMatchObject({ [h.botMxid]: 100 }); // nothing changed
    expect(net.sent("news2").filter((m) => m.text.startsWith("This chat has moved"))).toHaveLength(0);

    await carol.join(lonely);
    await admin.sendText(lonely, "!tandem cutover finish");
    await h.waitForBot(lonely, /^Cutover finish:\n• .*: finished, admins @carol:example.org$/);
    expect(h.hs.stateContent(lonely, "m.room.power_levels")!.users).toEqual({ [admin.userId]: 40, [carol.userId]: 100 });
  });

  it("a room upgraded in Matrix keeps its link: the bot follows the tombstone and relays in the new room", async () => {
    const pl = await admin.getState(room, "m.room.power_levels");
    await admin.setState(room, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
    const next = await admin.createRoom({ name: "Ops v2", invite: [h.botMxid], power_level_content_override: { users: { [admin.userId]: 100, [h.botMxid]: 100 } } });
    await h.waitForBot(next, /Hello/);
    await admin.setState(room, "m.room.tombstone", "", { body: "upgraded", replacement_room: next });
    await h.waitForBot(next, /continues the upgraded one/);
    expect(await h.command(admin, next, "!tandem links")).toMatch(/Loopback ops/);
    await net.post("ops", "ivan", "into the new room");
    const ev = await h.hs.waitForEvent({ content: { body: "into the new room" } });
    expect(ev.room_id).toBe(next);
    await admin.sendText(next, "from the new room");
    await waitUntil(() => net.sent("ops").some((m) => m.text === "from the new room"), 10_000, "the new room's message on the network");
    await waitUntil(() => h.hs.stateContent(space, "m.space.child", next) !== undefined, 10_000, "the new room in the space");
    expect(h.hs.stateContent(space, "m.space.child", room)).toEqual({});
  });

  it("after a restart the space is found again, not made twice", async () => {
    await h.restart();
    await net.post("news", "ivan", "after restart");
    await h.hs.waitForEvent({ content: { body: "after restart" } });
    expect(h.hs.allEvents({ type: "m.room.create", content: { type: "m.space" } })).toHaveLength(1);
  });
});
