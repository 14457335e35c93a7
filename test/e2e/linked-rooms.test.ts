/**
 * Issue 6 on two loopback networks: an existing Matrix room linked to a chat on each,
 * every direction and kind relayed through the message map, no echo loops, and the
 * cutover phases with their notices and history.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";
import type { FakeMatrixClient } from "../fakes/homeserver.js";

const body = (e: { content: unknown }) => String((e.content as { body?: unknown }).body);

describe("linked rooms across two networks, and cutover", () => {
  const a = new LoopbackNetwork();
  const b = new LoopbackNetwork();
  a.addAccount("lb-a", "acctA", "Alpha");
  b.addAccount("lb-b", "acctB", "Beta");
  a.addChat("ops", "ops");
  b.addChat("fleet", "fleet");
  a.addUser("ivan", "Ivan Petrov");
  b.addUser("olga", "Olga K");
  let h: Harness;
  let admin: FakeMatrixClient;
  let room: string;

  beforeAll(async () => {
    h = await Harness.start({ connectors: () => [new LoopbackConnector(a, "loopback"), new LoopbackConnector(b, "loopback2")] });
    admin = h.user("admin");
    const dm = await h.dm(admin);
    expect(await h.command(admin, dm, "login loopback lb-a")).toMatch(/Logged in/);
    expect(await h.command(admin, dm, "login loopback2 lb-b")).toMatch(/Logged in/);
    room = await admin.createRoom({ name: "Fleet Ops", room_alias_name: "fleet-ops", invite: [h.botMxid] });
    await h.waitForBot(room, /Hello/);
  });
  afterAll(async () => { await h?.stop(); });

  it("links the room to a chat on each network, with power checks", async () => {
    // The bot must be able to invite ghosts: it says so instead of linking a room it cannot serve.
    expect(await h.command(admin, room, "!tandem link loopback ops")).toMatch(/I need power level 50/);
    const pl = await admin.getState(room, "m.room.power_levels");
    await admin.setState(room, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
    const bob = h.user("bob");
    await admin.invite(room, bob.userId);
    await bob.join(room);
    expect(await h.command(bob, room, "!tandem link loopback ops")).toMatch(/need power level 50/);
    expect(await h.command(admin, room, "!tandem link loopback ops")).toBe("Linked this room to Loopback ops. Messages now flow both ways.");
    expect(await h.command(admin, room, "!tandem link loopback2 fleet")).toMatch(/Linked this room to Loopback2 fleet/);
    expect(await h.command(admin, room, "!tandem link loopback2 fleet")).toMatch(/already linked|Linked/);
    expect(await h.command(admin, room, "!tandem links")).toMatch(/Loopback ops[\s\S]*Loopback2 fleet/);
  });

  it("relays a message from one network to Matrix and the other network, once", async () => {
    await a.post("ops", "ivan", "engine two is hot");
    const ev = await h.hs.waitForEvent({ room_id: room, content: { body: "engine two is hot" } });
    expect(ev.sender).toBe("@loopback_ivan:example.org");
    await waitUntil(() => b.sent("fleet").some((m) => m.text === "engine two is hot"), 10_000, "fan-out to network b");
    expect(b.sent("fleet").find((m) => m.text === "engine two is hot")!.senderName).toBe("Ivan Petrov (Loopback)");
    // A sentinel from Matrix, after the fan-out on the room's lane: once ops has it, an echo would be there too.
    await admin.sendText(room, "sentinel after engine");
    await waitUntil(() => a.sent("ops").some((m) => m.text === "sentinel after engine"), 10_000, "the sentinel in ops");
    expect(a.sent("ops").filter((m) => m.text === "engine two is hot")).toHaveLength(0); // no echo to its source
    expect(h.messages(room).filter((e) => body(e) === "engine two is hot")).toHaveLength(1);
  });

  it("relays a Matrix message to both networks", async () => {
    await admin.sendText(room, "ack from matrix");
    await waitUntil(() => a.sent("ops").some((m) => m.text === "ack from matrix") && b.sent("fleet").some((m) => m.text === "ack from matrix"), 10_000, "both networks");
    expect(a.sent("ops").find((m) => m.text === "ack from matrix")!.senderName).toBe("admin");
  });

  it("maps replies, edits, deletions and reactions through the message map in every direction", async () => {
    // b replies to a message that came from a: a sees the reply to its own original.
    const original = a.chats.get("ops")!.messages.find((m) => m.text === "engine two is hot")!;
    const copyOnB = b.sent("fleet").find((m) => m.text === "engine two is hot")!;
    await b.post("fleet", "olga", "on it", { replyTo: copyOnB.ref });
    await waitUntil(() => a.sent("ops").some((m) => m.text === "on it"), 10_000, "reply on a");
    expect(a.sent("ops").find((m) => m.text === "on it")!.replyTo).toBe(original.ref);
    const replyEv = await h.hs.waitForEvent({ room_id: room, content: { body: "on it" } });
    expect((replyEv.content as { "m.relates_to"?: { "m.in_reply_to"?: { event_id?: string } } })["m.relates_to"]?.["m.in_reply_to"]?.event_id)
      .toBe(h.hs.allEvents({ room_id: room, content: { body: "engine two is hot" } })[0]!.event_id);

    // A Matrix edit and a Matrix redaction reach both networks.
    const mine = h.hs.allEvents({ room_id: room, sender: admin.userId, content: { body: "ack from matrix" } })[0]!;
    await admin.edit(room, mine.event_id, "ack from matrix (edited)");
    await waitUntil(() => a.sent("ops").some((m) => m.text === "ack from matrix (edited)") && b.sent("fleet").some((m) => m.text === "ack from matrix (edited)"), 10_000, "edits");
    await admin.react(room, mine.event_id, "👍");
    await waitUntil(() => a.sent("ops").some((m) => m.reactions.has("👍")) && b.sent("fleet").some((m) => m.reactions.has("👍")), 10_000, "reactions");
    await admin.redact(room, mine.event_id);
    await waitUntil(() => a.sent("ops").some((m) => m.deleted) && b.sent("fleet").some((m) => m.deleted), 10_000, "deletions");

    // A reaction from network a reaches Matrix (as the ghost) and network b.
    await a.push([{ kind: "reaction", key: "react:1", chat: "ops", at: Date.now(), target: original.ref, sender: "ivan", emoji: "🔥", on: true }]);
    await h.hs.waitForEvent({ room_id: room, type: "m.reaction", sender: "@loopback_ivan:example.org" });
    await waitUntil(() => copyOnB.reactions.has("🔥"), 10_000, "reaction fan-out to b");
  });

  it("cutover: matrix-primary posts and pins a notice, standby stops remote→Matrix and answers once, rollback restores", async () => {
    await admin.sendText(room, "!tandem cutover matrix-primary");
    await h.waitForBot(room, /1 room now in phase matrix-primary/);
    const notice = a.sent("ops").find((m) => /Matrix is now the primary channel: https:\/\/matrix.to/.test(m.text));
    expect(notice?.pinned).toBe(true);
    expect(b.sent("fleet").some((m) => m.pinned && /primary channel/.test(m.text))).toBe(true);

    await admin.sendText(room, "!tandem cutover standby");
    await h.waitForBot(room, /1 room now in phase standby/);
    const before = h.messages(room).length;
    await a.post("ops", "ivan", "anyone there?");
    await a.post("ops", "ivan", "hello?");
    await waitUntil(() => a.sent("ops").some((m) => /on standby: please use the Matrix room/.test(m.text)), 10_000, "standby answer");
    // In standby nothing comes out of the chat to serve as a sentinel: wait for the queue to be empty instead.
    await waitUntil(async () => (await h.bridge.store.queue.depth()) === 0, 10_000, "both posts applied");
    expect(a.sent("ops").filter((m) => /on standby: please use/.test(m.text))).toHaveLength(1);
    expect(h.messages(room).filter((e) => /anyone there|hello\?/.test(body(e)))).toHaveLength(0);
    expect(h.messages(room).length).toBeGreaterThanOrEqual(before);

    await admin.sendText(room, "!tandem cutover rollback");
    await h.waitForBot(room, /1 room now in phase parallel \(rolled back\)/);
    await a.post("ops", "ivan", "back again");
    await h.hs.waitForEvent({ room_id: room, content: { body: "back again" } });
    const status = await h.command(admin, room, "!tandem cutover status");
    expect(status).toMatch(/parallel \(since .* by @admin:example.org, from standby\)/);
    expect(status).toMatch(/parallel → matrix-primary by @admin:example.org/);
  });

  it("only admins may cut over", async () => {
    const bob = h.user("bob");
    expect(await h.command(bob, room, "!tandem cutover standby")).toMatch(/Unknown command/);
  });

  it("unlink stops relaying to that network", async () => {
    expect(await h.command(admin, room, "!tandem unlink loopback2")).toBe("Unlinked Loopback2 fleet.");
    await admin.sendText(room, "after unlink");
    await waitUntil(() => a.sent("ops").some((m) => m.text === "after unlink"), 10_000, "a still linked");
    await waitUntil(async () => (await h.bridge.store.queue.depth()) === 0, 10_000, "every delivery of it done");
    expect(b.sent("fleet").some((m) => m.text === "after unlink")).toBe(false);
  });
});
