/**
 * Issue 11 §6, what every event the bridge sends to Matrix carries, on two loopback networks:
 * `m.mentions` on every message (edits and notices too), replies with the relation only (no
 * fallback quote, Matrix 1.13), and MSC2346 bridge info (`m.bridge` + `uk.half-shot.bridge`)
 * in portals and linked rooms, kept current on rename, emptied on unlink, and brought up to
 * date at start only where it is not what the bridge last wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Doc, Inline } from "../../src/formatting/ast.js";
import type { ClientEvent, FakeMatrixClient } from "../fakes/homeserver.js";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";

const IVAN = "@loopback_ivan:example.org";
const OPS_KEY = "tandem://loopback/ops";
const FLEET_KEY = "tandem://loopback2/fleet";
const content = (e: ClientEvent) => e.content as Record<string, unknown>;
const para = (...children: Inline[]): Doc => [{ type: "paragraph", children }];

describe("what every event carries (m.mentions, m.bridge, replies without fallbacks)", () => {
  const a = new LoopbackNetwork();
  const b = new LoopbackNetwork();
  a.addAccount("lb-a", "acctA", "Alpha");
  b.addAccount("lb-b", "acctB", "Beta");
  a.addChat("ops", "ops");
  b.addChat("fleet", "fleet");
  a.addUser("ivan", "Ivan Petrov");
  a.addUser("sam", "Sam");
  let h: Harness;
  let admin: FakeMatrixClient;
  let portal: string;
  let linked: string;
  let seq = 0;

  /** A remote message with a ready-made doc (the loopback's `post` is plain text only). */
  const postDoc = async (doc: Doc, opts: { replyTo?: string; threadRoot?: string } = {}) => {
    const ref = a.nextRef("ops");
    await a.push([{ kind: "message", key: `msg:${ref}`, chat: "ops", at: Date.now(), ref, sender: "ivan", msg: { doc, ...opts } }]);
    return ref;
  };
  const refOf = async (eventId: string) => {
    await waitUntil(async () => (await h.bridge.store.messages.byEvent(eventId)).length > 0, 5000, "message map row");
    return (await h.bridge.store.messages.byEvent(eventId))[0]!.remoteRef;
  };
  const bridgeState = (room: string, type = "m.bridge") => h.hs.roomState(room)[type] ?? {};

  beforeAll(async () => {
    h = await Harness.start({
      connectors: () => [new LoopbackConnector(a, "loopback"), new LoopbackConnector(b, "loopback2")],
      initialChatCount: { loopback: 10 },
    });
    admin = h.user("admin");
    const dm = await h.dm(admin);
    expect(await h.command(admin, dm, "login loopback lb-a")).toMatch(/Logged in/);
    await waitUntil(() => h.hs.roomByAlias("#loopback_ops:example.org") !== undefined, 10_000, "portal for ops");
    portal = h.hs.roomByAlias("#loopback_ops:example.org")!;
    await admin.join(portal);
    expect(await h.command(admin, dm, "login loopback2 lb-b")).toMatch(/Logged in/);
    linked = await admin.createRoom({ name: "Fleet", invite: [h.botMxid] });
    await h.waitForBot(linked, /Hello/);
    const pl = await admin.getState(linked, "m.room.power_levels");
    await admin.setState(linked, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
  });
  afterAll(async () => { await h?.stop(); });

  it("a new portal carries m.bridge and uk.half-shot.bridge from its creation, describing the chat", () => {
    const create = h.hs.timeline(portal).findIndex((e) => e.type === "m.room.create");
    const first = h.hs.timeline(portal).findIndex((e) => e.type === "m.bridge");
    expect(first).toBeGreaterThan(create);
    expect(h.hs.timeline(portal).slice(0, first).some((e) => e.type === "m.room.message")).toBe(false); // initial_state, not afterwards
    for (const type of ["m.bridge", "uk.half-shot.bridge"]) {
      expect(Object.keys(bridgeState(portal, type))).toEqual([OPS_KEY]);
      expect(content(bridgeState(portal, type)[OPS_KEY]!)).toEqual({
        bridgebot: h.botMxid,
        creator: admin.userId,
        protocol: { id: "loopback", displayname: "Loopback" },
        network: { id: "acctA", displayname: "Alpha" },
        channel: { id: "ops", displayname: "ops" },
      });
    }
  });

  it("text with a mention says whom it mentions; plain text, files and notices carry an empty m.mentions", async () => {
    await postDoc(para({ type: "text", text: "ask " }, { type: "mention", target: { kind: "remote", network: "loopback", id: "sam" }, text: "Sam" },
      { type: "text", text: " or " }, { type: "mention", target: { kind: "matrix", mxid: admin.userId }, text: "admin" }));
    const mention = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: /^ask / } });
    expect(content(mention)["m.mentions"]).toEqual({ user_ids: ["@loopback_sam:example.org", admin.userId] });

    await a.post("ops", "ivan", "admin, nobody is pinged by name");
    const plain = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: "admin, nobody is pinged by name" } });
    expect(content(plain)["m.mentions"]).toEqual({});

    await a.post("ops", "ivan", "", { file: { name: "log.txt", data: Buffer.from("engine log"), mime: "text/plain" } });
    const file = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { msgtype: "m.file" } });
    expect(content(file)["m.mentions"]).toEqual({});

    const since = h.hs.eventCount;
    await admin.sendText(portal, "!tandem ping");
    const notice = await h.hs.waitForEvent({ room_id: portal, sender: h.botMxid, type: "m.room.message" }, { since });
    expect(content(notice)).toMatchObject({ msgtype: "m.notice", body: "pong" });
    expect(content(notice)["m.mentions"]).toEqual({});
  });

  it("an edit carries the new text's mentions in m.new_content and notifies no one at the top level", async () => {
    const ref = await a.post("ops", "ivan", "before the edit");
    const original = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: "before the edit" } });
    await a.push([{ kind: "edit", key: `edit:${ref}`, chat: "ops", at: Date.now(), target: ref, sender: "ivan",
      msg: { doc: para({ type: "text", text: "after, cc " }, { type: "mention", target: { kind: "matrix", mxid: admin.userId }, text: "admin" }) } }]);
    const edit = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { "m.relates_to": { rel_type: "m.replace", event_id: original.event_id } } });
    expect(content(edit)["m.mentions"]).toEqual({});
    expect((content(edit)["m.new_content"] as Record<string, unknown>)["m.mentions"]).toEqual({ user_ids: [admin.userId] });
  });

  it("a remote reply carries only the relation (no fallback quote) and mentions the Matrix user it answers", async () => {
    const asked = await admin.sendText(portal, "is the engine fixed?");
    const askedRef = await refOf(asked);
    await a.post("ops", "ivan", "yes, since noon", { replyTo: askedRef });
    const reply = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: "yes, since noon" } });
    expect(content(reply)["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: asked } });
    expect(content(reply)["m.mentions"]).toEqual({ user_ids: [admin.userId] });
    expect(content(reply).formatted_body ?? "").not.toContain("mx-reply");

    // A thread keeps the spec's thread fallback (is_falling_back + in_reply_to), and pings no one by it.
    const rootRef = await a.post("ops", "ivan", `thread root ${++seq}`);
    const root = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: `thread root ${seq}` } });
    await a.post("ops", "ivan", "in the thread", { threadRoot: rootRef });
    const inThread = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: "in the thread" } });
    expect(content(inThread)["m.relates_to"]).toEqual({ rel_type: "m.thread", event_id: root.event_id, is_falling_back: true, "m.in_reply_to": { event_id: root.event_id } });
    expect(content(inThread)["m.mentions"]).toEqual({});
  });

  it("a Matrix reply from a client that still sends fallbacks reaches the remote side without them", async () => {
    const original = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: "yes, since noon" } });
    await admin.sendEvent(portal, "m.room.message", {
      msgtype: "m.text", body: "> <@loopback_ivan:example.org> yes, since noon\n\ngood, thanks",
      format: "org.matrix.custom.html",
      formatted_body: "<mx-reply><blockquote><a href=\"https://matrix.to/#/!r/$e\">In reply to</a> yes, since noon</blockquote></mx-reply>good, <b>thanks</b>",
      "m.relates_to": { "m.in_reply_to": { event_id: original.event_id } },
    });
    // The same from a client that sends plain text only.
    await admin.sendEvent(portal, "m.room.message", {
      msgtype: "m.text", body: "> <@loopback_ivan:example.org> yes, since noon\n\nplain thanks",
      "m.relates_to": { "m.in_reply_to": { event_id: original.event_id } },
    });
    await waitUntil(() => a.sent("ops").some((m) => m.text.includes("plain thanks")), 10_000, "the replies on the remote side");
    expect(a.sent("ops").find((m) => m.text.includes("thanks"))!.text).toBe("good, thanks");
    expect(a.sent("ops").find((m) => m.text.includes("plain thanks"))!.text).toBe("plain thanks");
  });

  it("linking a room adds one entry per linked chat; a rename updates it; unlink empties it", async () => {
    expect(await h.command(admin, linked, "!tandem link loopback2 fleet")).toMatch(/Linked this room/);
    await waitUntil(() => bridgeState(linked)[FLEET_KEY] !== undefined, 5000, "m.bridge in the linked room");
    expect(content(bridgeState(linked)[FLEET_KEY]!)).toEqual({
      bridgebot: h.botMxid, creator: admin.userId,
      protocol: { id: "loopback2", displayname: "Loopback2" }, network: { id: "acctB", displayname: "Beta" }, channel: { id: "fleet", displayname: "fleet" },
    });
    expect(content(bridgeState(linked, "uk.half-shot.bridge")[FLEET_KEY]!)).toEqual(content(bridgeState(linked)[FLEET_KEY]!));

    // The remote chat is renamed: a linked room keeps its own name, but m.bridge names the chat as it is now.
    await b.push([{ kind: "chat-info", key: "rename:fleet:1", chat: "fleet", at: Date.now(), info: { name: "fleet-ops", roomName: "fleet-ops (Loopback2)" } }]);
    const channelName = (type: string) => (content(bridgeState(linked, type)[FLEET_KEY]!).channel as { displayname?: string }).displayname;
    await waitUntil(() => channelName("m.bridge") === "fleet-ops" && channelName("uk.half-shot.bridge") === "fleet-ops", 5000, "renamed channel");
    expect(h.hs.stateContent(linked, "m.room.name")?.name).toBe("Fleet");
    expect((await h.bridge.store.links.byChat("loopback2", "fleet"))?.name).toBe("fleet-ops");

    expect(await h.command(admin, linked, "!tandem unlink loopback2")).toMatch(/nlinked/);
    const emptied = (type: string) => Object.keys(content(bridgeState(linked, type)[FLEET_KEY]!)).length === 0;
    await waitUntil(() => emptied("m.bridge") && emptied("uk.half-shot.bridge"), 5000, "emptied bridge info");
  });

  it("at start, writes bridge info only where it is not what the bridge last wrote, and clears the old state key", async () => {
    const synced = () => h.logs.split("\n").filter((l) => l.includes("bridge info (m.bridge) up to date")).map((l) => JSON.parse(l) as Record<string, unknown>);
    // A restart with nothing changed sends nothing.
    let since = h.hs.eventCount;
    let runs = synced().length;
    await h.restart();
    await waitUntil(() => synced().length > runs, 10_000, "the start-up check");
    expect(synced().at(-1)).toMatchObject({ written: 0, failed: 0 });
    expect(h.hs.allEvents((e) => e.type === "m.bridge" || e.type === "uk.half-shot.bridge").filter((e) => h.hs.allEvents().indexOf(e) >= since)).toEqual([]);

    // A portal from a version before: its info under the old key ("<network>/<chat>"), and nothing recorded.
    const bot = h.hs.clientFor(h.botMxid);
    for (const type of ["m.bridge", "uk.half-shot.bridge"]) {
      await bot.setState(portal, type, OPS_KEY, {});
      await bot.setState(portal, type, "loopback/ops", { bridgebot: h.botMxid, protocol: { id: "loopback" }, channel: { id: "ops" } });
    }
    await h.bridge.store.db.query("DELETE FROM kv WHERE key LIKE 'bridge-info:%'"); // as a bridge from before wrote none
    since = h.hs.eventCount;
    runs = synced().length;
    await h.restart();
    await waitUntil(() => synced().length > runs, 10_000, "the start-up check");
    expect(synced().at(-1)).toMatchObject({ written: 1, failed: 0 });
    for (const type of ["m.bridge", "uk.half-shot.bridge"]) {
      expect(content(bridgeState(portal, type)[OPS_KEY]!)).toMatchObject({ bridgebot: h.botMxid, channel: { id: "ops", displayname: "ops" } });
      expect(content(bridgeState(portal, type)["loopback/ops"]!)).toEqual({});
    }
    // The unlinked room is left as it is (emptied), nothing else was sent.
    const sent = h.hs.allEvents().slice(since).filter((e) => e.type === "m.bridge" || e.type === "uk.half-shot.bridge");
    expect(sent.every((e) => e.room_id === portal)).toBe(true);
    expect(sent).toHaveLength(4);
  });
});
