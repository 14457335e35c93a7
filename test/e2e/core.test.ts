/**
 * Issue 2's end-to-end story on the loopback network: generate-registration → start → a
 * permitted user DMs the bot → commands answer → a remote message becomes a portal room
 * with a ghost sender → a Matrix reply goes back out → restart keeps every mapping.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";

describe("core end to end (loopback network)", () => {
  const net = new LoopbackNetwork();
  net.addAccount("lb-secret-token-1", "acct1", "Loopback One");
  net.addChat("ops", "ops");
  net.addUser("ivan", "Ivan Petrov");
  let h: Harness;
  let alice: ReturnType<Harness["user"]>;
  let dmRoom: string;
  let portalRoom: string;

  beforeAll(async () => {
    h = await Harness.start({ connectors: () => [new LoopbackConnector(net)], initialChatCount: { loopback: 10 } });
    alice = h.user("alice");
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("registers the bot with its profile at start", () => {
    expect(h.hs.userExists(h.botMxid)).toBe(true);
    expect(h.hs.profile(h.botMxid)?.displayname).toBe("Tandem bridge");
  });

  it("joins a DM from a permitted user and answers commands", async () => {
    dmRoom = await h.dm(alice);
    expect(await h.command(alice, dmRoom, "ping")).toBe("pong");
    const help = await h.command(alice, dmRoom, "help");
    expect(help).toMatch(/login loopback/);
    expect(help).not.toMatch(/cutover/); // admin-only commands are not shown to a user
    expect(await h.command(alice, dmRoom, "frobnicate")).toMatch(/Unknown command `frobnicate`.*help/);
  });


  it("logs in with a multi-step prompt and redacts the secret", async () => {
    const prompt = await h.command(alice, dmRoom, "login loopback");
    expect(prompt).toMatch(/loopback token/);
    const since = h.hs.eventCount;
    const bad = await h.command(alice, dmRoom, "not-a-token");
    expect(bad).toMatch(/start with lb-/);
    const tokenEvent = h.hs.allEvents((e) => e.room_id === dmRoom && e.sender === alice.userId).at(-1)!;
    void since;
    const done = await h.command(alice, dmRoom, "lb-secret-token-1");
    expect(done).toBe("Logged in to loopback account Loopback One");
    // The message carrying the token was redacted.
    const secretMsg = h.hs.allEvents((e) => e.room_id === dmRoom && e.sender === alice.userId).at(-1)!;
    await waitUntil(() => h.hs.allEvents({ type: "m.room.redaction", redacts: secretMsg.event_id }).length > 0, 5000, "redaction of the token message");
    void tokenEvent;
    // The initial sync made a portal for the one chat, and alice is invited to it.
    await waitUntil(() => h.hs.roomByAlias("#loopback_ops:example.org") !== undefined, 10_000, "portal for ops");
    portalRoom = h.hs.roomByAlias("#loopback_ops:example.org")!;
    expect(h.hs.members(portalRoom)[alice.userId]).toBe("invite");
    expect(h.hs.stateContent(portalRoom, "m.room.name")?.name).toBe("ops (Loopback)");
    expect(h.hs.roomState(portalRoom)["m.bridge"]).toBeDefined();
  });

  it("status shows the connection, and the token never appears in logs", async () => {
    const status = await h.command(alice, dmRoom, "status");
    expect(status).toMatch(/Loopback Loopback One: connected/);
    expect(status).toMatch(/Queue depth: \d+/);
    expect(h.logs).not.toContain("lb-secret-token-1");
  });

  it("relays a remote message into the portal as the ghost, with a current profile", async () => {
    await alice.join(portalRoom);
    const ref = await net.post("ops", "ivan", "hello from the loopback side");
    const ev = await h.hs.waitForEvent({ room_id: portalRoom, type: "m.room.message", content: { body: "hello from the loopback side" } });
    expect(ev.sender).toBe("@loopback_ivan:example.org");
    expect(h.hs.profile(ev.sender)?.displayname).toBe("Ivan Petrov");
    // The message map is written right after the send; wait for it rather than race it.
    await waitUntil(async () => (await h.bridge.store.messages.byRemote("loopback", ref)).length > 0, 5000, "message map row");
    const rows = await h.bridge.store.messages.byRemote("loopback", ref);
    expect(rows.map((r) => r.eventId)).toEqual([ev.event_id]);
  });

  it("drops a redelivered remote event (same key) instead of doubling it", async () => {
    const before = h.messages(portalRoom, "@loopback_ivan:example.org").length;
    const ref = "ops/dup-1";
    const event = { kind: "message" as const, key: `msg:${ref}`, chat: "ops", at: Date.now(), ref, sender: "ivan", msg: { doc: [{ type: "paragraph" as const, children: [{ type: "text" as const, text: "once" }] }] } };
    await net.push([event]);
    await net.push([event]);
    await h.hs.waitForEvent({ room_id: portalRoom, content: { body: "once" } });
    // A sentinel on the same chat's lane: once it is in, a second "once" would be too.
    await net.post("ops", "ivan", "after the duplicate");
    await h.hs.waitForEvent({ room_id: portalRoom, content: { body: "after the duplicate" } });
    expect(h.messages(portalRoom, "@loopback_ivan:example.org").map((e) => e.content.body).slice(before)).toEqual(["once", "after the duplicate"]);
  });

  it("sends a Matrix reply back out with the reply target mapped", async () => {
    const original = h.messages(portalRoom, "@loopback_ivan:example.org")[0]!;
    const originalRef = (await h.bridge.store.messages.byEvent(original.event_id))[0]!.remoteRef;
    const replyId = await alice.reply(portalRoom, original.event_id, "got it");
    await waitUntil(() => net.sent("ops").some((m) => m.text === "got it"), 10_000, "reply on the loopback side");
    const sent = net.sent("ops").find((m) => m.text === "got it")!;
    expect(sent.replyTo).toBe(originalRef);
    expect(sent.senderName).toBe("alice");
    // The map row is written when the send has answered, a moment after the loopback side has the message.
    await waitUntil(async () => (await h.bridge.store.messages.byEvent(replyId)).length > 0, 5000, "reply mapped");
    const rows = await h.bridge.store.messages.byEvent(replyId);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.remoteRef).toBe(sent.ref);
  });

  it("a reply to a message still being bridged (event sent, not yet mapped) waits behind it in the chat's lane, and finds it mapped", async () => {
    const GHOST = "@loopback_ivan:example.org";
    const targetRef = net.nextRef("ops"); // the remote message the racing event is a copy of
    // Keep the chat's remote lane busy: a file whose download is held.
    let release!: () => void;
    net.holdDownloads = new Promise<void>((r) => { release = r; });
    try {
      const held = net.post("ops", "ivan", "", { file: { name: "held.txt", data: Buffer.from("x"), mime: "text/plain" } });
      await held;
      await waitUntil(() => h.bridge.core.queue.isBusy("r:loopback:ops"), 5000, "remote lane busy");
      // The ghost's event exists in Matrix; its message-map row is not written yet (the race a Matrix bot can hit).
      const racing = await h.hs.clientFor(GHOST).sendText(portalRoom, "racing message");
      const answer = await alice.reply(portalRoom, racing, "instant answer");
      // Its item waits in the chat's own lane, behind the message being bridged: no timer, the lane's order.
      await waitUntil(async () => (await h.bridge.store.db.query(
        `SELECT 1 FROM relay_queue WHERE source_key LIKE $1 AND lane = 'r:loopback:ops' AND status = 'pending'`, [`m:${answer}|%`])).length === 1,
      5000, "the reply queued behind the held message");
      // Mapped only now, while the lane is held: the reply can carry it only if it went out after this.
      await h.bridge.store.messages.insert([{
        roomId: portalRoom, eventId: racing, network: "loopback", chat: "ops", remoteRef: targetRef, part: 0, origin: "remote",
        senderMxid: GHOST, threadRootEvent: null, threadRootRemote: null, receivedAt: new Date(),
      }]);
    } finally {
      release();
      net.holdDownloads = null;
    }
    await waitUntil(() => net.sent("ops").some((m) => m.text === "instant answer"), 10_000, "the reply");
    expect(net.sent("ops").find((m) => m.text === "instant answer")!.replyTo).toBe(targetRef);

    // With nothing being bridged, a reply to a message that never was goes out at once, as plain text.
    await waitUntil(() => !h.bridge.core.queue.isBusy("r:loopback:ops"), 5000, "remote lane idle");
    const never = await h.hs.clientFor(GHOST).sendText(portalRoom, "never bridged");
    const deferredBefore = h.bridge.core.queue.counts.deferred;
    await alice.reply(portalRoom, never, "answer to the unbridged");
    await waitUntil(() => net.sent("ops").some((m) => m.text === "answer to the unbridged"), 10_000, "the plain reply");
    expect(net.sent("ops").find((m) => m.text === "answer to the unbridged")!.replyTo).toBeUndefined();
    expect(h.bridge.core.queue.counts.deferred).toBe(deferredBefore);
  });

  it("dead-letters a permanent failure with one notice in the room", async () => {
    const { RemoteError } = await import("../../src/core/errors.js");
    net.failSends.push(new RemoteError("channel_not_found", "no such channel", { retryable: false, userMessage: "the channel is gone" }));
    await alice.sendText(portalRoom, "this one fails");
    const notice = await h.waitForBot(portalRoom, /could not be delivered: the channel is gone/);
    expect(notice.content).toMatchObject({ msgtype: "m.notice" });
  });

  it("retries a transient failure and delivers once", async () => {
    const { RemoteError } = await import("../../src/core/errors.js");
    net.failSends.push(new RemoteError("ratelimited", "slow down", { retryable: true, retryAfterMs: 100 }));
    await alice.sendText(portalRoom, "eventually");
    await waitUntil(() => net.sent("ops").some((m) => m.text === "eventually"), 10_000, "retried send");
    await alice.sendText(portalRoom, "after eventually"); // a sentinel on the room's lane
    await waitUntil(() => net.sent("ops").some((m) => m.text === "after eventually"), 10_000, "the sentinel");
    expect(net.sent("ops").filter((m) => m.text === "eventually")).toHaveLength(1);
  });

  it("keeps every mapping across a restart", async () => {
    const original = h.messages(portalRoom, "@loopback_ivan:example.org")[0]!;
    await h.restart();
    // The login reconnects by itself and the portal is reused, not recreated.
    await net.post("ops", "ivan", "after restart");
    const ev = await h.hs.waitForEvent({ room_id: portalRoom, content: { body: "after restart" } });
    expect(ev.sender).toBe("@loopback_ivan:example.org");
    await alice.reply(portalRoom, original.event_id, "reply after restart");
    await waitUntil(() => net.sent("ops").some((m) => m.text === "reply after restart"), 10_000, "reply after restart");
    const originalRef = (await h.bridge.store.messages.byEvent(original.event_id))[0]!.remoteRef;
    expect(net.sent("ops").find((m) => m.text === "reply after restart")!.replyTo).toBe(originalRef);
    expect(h.hs.rooms().filter((r) => h.hs.stateContent(r, "m.room.name")?.name === "ops (Loopback)")).toHaveLength(1);
  });
});
