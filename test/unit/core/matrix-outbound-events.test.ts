/**
 * Matrix → remote (core/matrix-outbound.ts), event by event, through the whole core: what each
 * linked chat receives for a reply, a thread, an emote, a mention, a file, an edit, a redaction
 * and a reaction, who is named as the sender, and what is refused. Each chat is judged on its
 * own (the room is linked to "ops" on loopback and "fleet" on loopback2), and "nothing more
 * arrived" is proved by a sentinel sent after it on the same lanes.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Doc } from "../../../src/formatting/ast.js";
import { plainDoc } from "../../../src/formatting/ast.js";
import type { MatrixInbound } from "../../../src/core/matrix-port.js";
import { MatrixError, RemoteError } from "../../../src/core/errors.js";
import type { RelayTiming } from "../../../src/core/payloads.js";
import { backends, storeOpener } from "../../support/db.js";
import { coreRig, linkBoth, matrixMessage, OWNER, ROOM, until, type CoreRig, type CoreRigOptions } from "../../support/core-rig.js";

const open = storeOpener();
const BOB = "@bob:example.org";
const IVAN = "@loopback_ivan:example.org";
const chatOf = { a: "ops", b: "fleet" } as const;

describe("MatrixOutbound, event by event", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  async function start(opts: CoreRigOptions = {}): Promise<void> {
    rig = await coreRig(await open(backends[0]!), opts);
    await linkBoth(rig);
  }
  const sent = (net: "a" | "b") => rig[net].sent(chatOf[net]);
  const texts = (net: "a" | "b") => sent(net).map((m) => m.text);
  const copyOf = (net: "a" | "b", text: string) => sent(net).find((m) => m.text === text)!;

  let seq = 0;
  const base = (sender = OWNER) => ({ roomId: ROOM, eventId: `$x${++seq}`, sender, ts: Date.now() });
  async function matrixEvent(ev: MatrixInbound): Promise<MatrixInbound> {
    await rig.core.onMatrixEvents([ev]);
    return ev;
  }
  const message = (doc: Doc, extra: Partial<Extract<MatrixInbound, { kind: "message" }>> = {}, sender = OWNER) =>
    matrixEvent({ kind: "message", ...base(sender), msgtype: "text", doc, body: "", ...extra });

  /** A sentinel from Matrix on both chats: everything queued before it on their lanes is done. */
  async function settle(name = "sentinel"): Promise<void> {
    await matrixMessage(rig, name);
    await until(() => texts("a").includes(name) && texts("b").includes(name), `sentinel ${name} on both chats`);
  }
  async function relayed(text: string): Promise<MatrixInbound> {
    const ev = await matrixMessage(rig, text);
    await until(() => texts("a").includes(text) && texts("b").includes(text), `${text} on both chats`);
    return ev;
  }

  it("a reply and a thread point, in each chat, at that chat's own copy of the message", async () => {
    await start();
    const root = await relayed("the plan");
    const agreed = await message(plainDoc("agreed"), { replyTo: root.eventId, threadRoot: root.eventId });
    await settle();
    for (const net of ["a", "b"] as const) {
      expect(copyOf(net, "agreed")).toMatchObject({ replyTo: copyOf(net, "the plan").ref, threadRoot: copyOf(net, "the plan").ref });
    }
    // The message map knows the thread on each network, for replies coming back from it.
    const rows = await rig.store.messages.byEvent(agreed.eventId);
    expect(rows.map((r) => [r.network, r.threadRootEvent, r.threadRootRemote]).sort()).toEqual([
      ["loopback", root.eventId, copyOf("a", "the plan").ref],
      ["loopback2", root.eventId, copyOf("b", "the plan").ref],
    ]);
  });

  it("a reply to the file part of a remote message points at that message in its own chat", async () => {
    await start();
    const ref = await rig.a.post("ops", "ivan", "see attached", { file: { name: "report.txt", data: Buffer.from("numbers"), mime: "text/plain" } });
    await until(() => sent("b").some((m) => m.files?.[0]?.name === "report.txt"), "the message and its file on fleet");
    const fileEvent = rig.matrix.messages(ROOM).find((e) => e.content.body === "report.txt")!;
    await message(plainDoc("thanks for the numbers"), { replyTo: fileEvent.eventId });
    await settle();
    expect(copyOf("a", "thanks for the numbers").replyTo).toBe(ref);
    expect(copyOf("b", "thanks for the numbers").replyTo).toBe(sent("b").find((m) => m.files?.[0]?.name === "report.txt")!.ref);
  });

  it("an emote and a notice keep their kind in every chat; the sender is named by their display name", async () => {
    await start();
    rig.matrix.profiles.set(OWNER, { displayName: "Alice Liddell" });
    await message(plainDoc("waves"), { msgtype: "emote" });
    await message(plainDoc("build passed"), { msgtype: "notice" });
    await settle();
    for (const net of ["a", "b"] as const) {
      expect(copyOf(net, "waves")).toMatchObject({ emote: true, notice: false, senderName: "Alice Liddell" });
      expect(copyOf(net, "build passed")).toMatchObject({ emote: false, notice: true });
      expect(copyOf(net, "sentinel")).toMatchObject({ emote: false, notice: false });
    }
  });

  it("the sender's avatar goes along when the bridge publishes avatars", async () => {
    await start({ options: { publicAvatarUrl: (mxc) => `https://media.example.org/${mxc.slice(6)}` } });
    rig.matrix.profiles.set(OWNER, { displayName: "Alice", avatarMxc: "mxc://example.org/alice" });
    await settle();
    expect(copyOf("a", "sentinel").senderAvatarUrl).toBe("https://media.example.org/example.org/alice");
  });

  it("a pill to a ghost of a network becomes a native mention on that network only", async () => {
    await start();
    const pill = (mxid: string, text: string) => ({ type: "mention" as const, target: { kind: "matrix" as const, mxid }, text });
    await message([{ type: "paragraph", children: [
      { type: "text", text: "ping " }, pill(IVAN, "Ivan Petrov"), { type: "text", text: " and " }, pill(BOB, "bob"),
      { type: "text", text: " and " }, pill("@loopback_ivan:elsewhere.org", "impostor"),
    ] }]);
    await settle();
    const mentions = (net: "a" | "b") => sent(net)[0]!.doc.flatMap((b) => (b.type === "paragraph" ? b.children : [])).filter((n) => n.type === "mention").map((n) => n.target);
    expect(mentions("a")).toEqual([
      { kind: "remote", network: "loopback", id: "ivan" }, { kind: "matrix", mxid: BOB }, { kind: "matrix", mxid: "@loopback_ivan:elsewhere.org" },
    ]);
    expect(mentions("b")).toEqual([{ kind: "matrix", mxid: IVAN }, { kind: "matrix", mxid: BOB }, { kind: "matrix", mxid: "@loopback_ivan:elsewhere.org" }]);
  });

  it("a file goes to each chat with its name and content; one over the size limit goes to none", async () => {
    await start({ options: { maxFileSize: 100 } });
    rig.matrix.media.set("mxc://example.org/plan", { data: Buffer.from("the plan in full"), mime: "text/plain" });
    rig.matrix.media.set("mxc://example.org/big", { data: Buffer.alloc(101), mime: "application/octet-stream" });
    const file = (mxc: string, name: string, size?: number) => ({ mxc, name, mime: "", kind: "file" as const, size });
    await message([], { msgtype: "file", body: "plan.txt", file: file("mxc://example.org/plan", "plan.txt", 16) });
    await message([], { msgtype: "file", body: "says-small.bin", file: file("mxc://example.org/big", "says-small.bin", 10) });
    await message([], { msgtype: "file", body: "says-big.bin", file: file("mxc://example.org/plan", "says-big.bin", 101) });
    await message([], { msgtype: "file", body: "limit.bin", file: file("mxc://example.org/plan", "limit.bin", 100) });
    await settle();
    for (const net of ["a", "b"] as const) {
      expect(sent(net).map((m) => m.files?.map((f) => `${f.name}:${f.size}`).join())).toEqual(["plan.txt:16", "limit.bin:16", undefined]);
    }
    const notices = rig.matrix.messages(ROOM).filter((e) => e.sender === rig.matrix.botMxid).map((e) => String(e.content.body));
    for (const name of ["says-small.bin", "says-big.bin"]) {
      for (const net of ["Loopback", "Loopback2"]) expect(notices.some((n) => n.includes(`The file ${name} is too large for ${net} (limit 0 MB)`))).toBe(true);
    }
  });

  it("a file whose download from the homeserver fails for a while goes out once it works, once per chat", async () => {
    await start();
    rig.matrix.failDownloads.push(new MatrixError("M_UNKNOWN", "media repo hiccup", { retryable: true }));
    await message([], { msgtype: "file", body: "plan.txt", file: { mxc: "mxc://example.org/plan", name: "plan.txt", mime: "text/plain", kind: "file" } });
    await settle();
    for (const net of ["a", "b"] as const) expect(sent(net).map((m) => m.files?.[0]?.name ?? m.text)).toEqual(["plan.txt", "sentinel"]);
    expect(sent("a")[0]!.files).toMatchObject([{ name: "plan.txt", size: 4 }]);
  });

  it("an edit changes each chat's copy; an edit of someone else's message is refused with one notice", async () => {
    await start();
    const draft = await relayed("deploy at 10");
    await matrixEvent({ kind: "edit", ...base(), target: draft.eventId, doc: plainDoc("deploy at 11"), body: "deploy at 11" });
    await matrixEvent({ kind: "edit", ...base(BOB), target: draft.eventId, doc: plainDoc("deploy never"), body: "deploy never" });
    await matrixEvent({ kind: "redaction", ...base(BOB), target: draft.eventId });
    await settle();
    expect(texts("a")).toEqual(["deploy at 11", "sentinel"]);
    expect(texts("b")).toEqual(["deploy at 11", "sentinel"]);
    expect(rig.a.deleteCalls).toEqual([]);
    const notices = rig.matrix.messages(ROOM).filter((e) => e.sender === rig.matrix.botMxid).map((e) => String(e.content.body));
    expect(notices).toEqual([
      "bob: ⚠️ Your edit was not bridged: only the person who sent a message can edit it.",
      "bob: ⚠️ Your deletion was not bridged: only its sender or a room moderator (power level 50) can remove someone else's message.",
    ]);
  });

  it("an edit made on one network reaches the other chat's copy, not the chat it came from", async () => {
    await start();
    const ref = await rig.a.post("ops", "ivan", "lunch at 12");
    await until(() => texts("b").includes("lunch at 12"), "fan-out to fleet");
    await rig.a.editPost("ops", "ivan", ref, "lunch at 1");
    await until(() => texts("b").includes("lunch at 1"), "the edit on fleet");
    await settle();
    expect(texts("b")).toEqual(["lunch at 1", "sentinel"]);
    expect(copyOf("b", "lunch at 1").senderName).toBe("Ivan Petrov (Loopback)");
    expect(texts("a")).toEqual(["sentinel"]);
  });

  it("a message a chat took in several parts: a reply and an edit go to its first part, a redaction removes them all", async () => {
    await start();
    rig.a.maxTextLength = 10; // ops splits long texts; fleet does not
    const long = await message(plainDoc("0123456789abcdefghij"));
    await message(plainDoc("re"), { replyTo: long.eventId });
    await settle("replied");
    const [first, second] = sent("a");
    expect([first!.text, second!.text]).toEqual(["0123456789", "abcdefghij"]);
    expect(copyOf("a", "re").replyTo).toBe(first!.ref);
    const onFleet = copyOf("b", "0123456789abcdefghij").ref;
    await matrixEvent({ kind: "edit", ...base(), target: long.eventId, doc: plainDoc("short now"), body: "short now" });
    await settle("edited");
    expect(sent("a").slice(0, 2).map((m) => m.text)).toEqual(["short now", "abcdefghij"]);
    await matrixEvent({ kind: "redaction", ...base(), target: long.eventId });
    await settle("redacted");
    expect(rig.a.deleteCalls).toEqual([first!.ref, second!.ref]);
    expect(rig.b.deleteCalls).toEqual([onFleet]);
  });

  it("a redaction deletes each chat's copy, and only that message", async () => {
    await start();
    const gone = await relayed("wrong channel");
    await relayed("stays");
    await matrixEvent({ kind: "redaction", ...base(), target: gone.eventId });
    await settle();
    for (const net of ["a", "b"] as const) {
      expect(sent(net).map((m) => `${m.text}${m.deleted ? " (deleted)" : ""}`)).toEqual(["wrong channel (deleted)", "stays", "sentinel"]);
      expect(rig[net].deleteCalls).toEqual([copyOf(net, "wrong channel").ref]);
    }
  });

  it("a moderator's redaction of a remote message deletes the copy the bridge made, never the original", async () => {
    await start();
    rig.matrix.state.set(`${ROOM}|m.room.power_levels|`, { users: { [OWNER]: 100 } });
    await rig.a.post("ops", "ivan", "typo");
    await until(() => texts("b").includes("typo"), "fan-out to fleet");
    const inMatrix = rig.matrix.messages(ROOM).find((e) => e.content.body === "typo")!;
    await matrixEvent({ kind: "redaction", ...base(), target: inMatrix.eventId });
    await settle();
    // The ghost's message is not ours to remove on ops; on fleet the bridge posted it.
    expect(rig.a.chats.get("ops")!.messages.find((m) => m.text === "typo")!.deleted).toBeFalsy();
    expect(copyOf("b", "typo").deleted).toBe(true);
    expect(rig.a.deleteCalls).toEqual([]);
    expect(rig.b.deleteCalls).toEqual([copyOf("b", "typo").ref]);
  });

  it("reactions: several Matrix users on one emoji are one reaction, removed with the last of them", async () => {
    await start();
    const target = await relayed("ship it?");
    const react = (sender: string) => matrixEvent({ kind: "reaction", ...base(sender), target: target.eventId, key: "👍" });
    const alice = await react(OWNER);
    const bob = await react(BOB);
    await settle("both reacted");
    await matrixEvent({ kind: "redaction", ...base(BOB), target: bob.eventId });
    await settle("bob took it back");
    for (const net of ["a", "b"] as const) expect([...copyOf(net, "ship it?").reactions]).toEqual(["👍"]);
    await matrixEvent({ kind: "redaction", ...base(), target: alice.eventId });
    await settle("alice took it back");
    for (const net of ["a", "b"] as const) {
      const ref = copyOf(net, "ship it?").ref;
      expect(rig[net].reactCalls).toEqual([`+👍 ${ref}`, `-👍 ${ref}`]);
      expect(copyOf(net, "ship it?").reactions.size).toBe(0);
    }
  });

  it("chats with the same id on two networks: every change reaches each network's own copy; a remote user's reaction is not the bridge's", async () => {
    rig = await coreRig(await open(backends[0]!));
    rig.b.addChat("ops", "ops");
    for (let i = 0; i < 5; i++) rig.b.nextRef("ops"); // the two networks' message refs never coincide
    await rig.core.linkRoom(ROOM, "loopback", "ops", OWNER, true);
    await rig.core.linkRoom(ROOM, "loopback2", "ops", OWNER, true);
    const onA = () => rig.a.sent("ops");
    const onB = () => rig.b.sent("ops");
    const sync = async (name: string) => {
      await matrixMessage(rig, name);
      await until(() => onA().some((m) => m.text === name) && onB().some((m) => m.text === name), `sentinel ${name}`);
    };
    const msg = await matrixMessage(rig, "ship it?");
    await sync("s1");
    const [refA, refB] = [onA()[0]!.ref, onB()[0]!.ref];
    // Ivan reacts on loopback: the bridge's own reaction goes only to loopback2.
    await rig.a.push([{ kind: "reaction", key: "r1", chat: "ops", at: Date.now(), target: refA, sender: "ivan", emoji: "👍", on: true }]);
    await until(() => rig.b.reactCalls.length === 1, "ivan's reaction on loopback2");
    // Alice reacts too: loopback gets the bridge's reaction (Ivan's is his own), loopback2 has it already.
    const alice = await matrixEvent({ kind: "reaction", ...base(), target: msg.eventId, key: "👍" });
    await sync("s2");
    expect(rig.a.reactCalls).toEqual([`+👍 ${refA}`]);
    expect(rig.b.reactCalls).toEqual([`+👍 ${refB}`]);
    // Alice takes hers back: loopback loses the bridge's reaction; loopback2 keeps it for Ivan.
    await matrixEvent({ kind: "redaction", ...base(), target: alice.eventId });
    await sync("s3");
    expect(rig.a.reactCalls).toEqual([`+👍 ${refA}`, `-👍 ${refA}`]);
    expect(rig.b.reactCalls).toEqual([`+👍 ${refB}`]);
    await matrixEvent({ kind: "edit", ...base(), target: msg.eventId, doc: plainDoc("shipped"), body: "shipped" });
    await matrixEvent({ kind: "redaction", ...base(), target: msg.eventId });
    await sync("s4");
    expect([onA()[0]!.text, onB()[0]!.text]).toEqual(["shipped", "shipped"]);
    expect(rig.a.deleteCalls).toEqual([refA]);
    expect(rig.b.deleteCalls).toEqual([refB]);
  });

  it("a reaction to a message that never reached the chat is not sent there", async () => {
    await start();
    await rig.a.post("ops", "ivan", "from ops");
    await until(() => texts("b").includes("from ops"), "fan-out to fleet");
    const inMatrix = rig.matrix.messages(ROOM).find((e) => e.content.body === "from ops")!;
    await matrixEvent({ kind: "reaction", ...base(), target: inMatrix.eventId, key: "🎉" });
    await matrixEvent({ kind: "reaction", ...base(), target: "$never-bridged", key: "🎉" });
    await settle();
    // On ops the message is the original (the map's part 0 there); on fleet it is the bridge's copy.
    expect(rig.a.reactCalls).toEqual([`+🎉 ${rig.a.chats.get("ops")!.messages[0]!.ref}`]);
    expect(rig.b.reactCalls).toEqual([`+🎉 ${copyOf("b", "from ops").ref}`]);
  });

  it("a sender without the relay permission is told once per room and relayed nowhere", async () => {
    await start();
    await message(plainDoc("let me in"), {}, "@mallory:other.org");
    await message(plainDoc("hello?"), {}, "@mallory:other.org");
    await settle();
    expect(texts("a")).toEqual(["sentinel"]);
    expect(texts("b")).toEqual(["sentinel"]);
    const notices = rig.matrix.messages(ROOM).filter((e) => e.sender === rig.matrix.botMxid).map((e) => String(e.content.body));
    expect(notices).toEqual(["@mallory:other.org: you are not allowed to relay messages through this bridge, so your messages stay in Matrix."]);
  });

  it("a send that had to be retried tells the network it may already have gone out; a first try does not", async () => {
    const timings: RelayTiming[] = [];
    await start({ onRelayed: (t) => timings.push(t) });
    rig.b.failSends.push(new RemoteError("timeout", "socket hang up", { retryable: true }));
    await relayed("maybe twice");
    await settle();
    expect(copyOf("a", "maybe twice").maybeSent).toBe(false);
    expect(copyOf("b", "maybe twice").maybeSent).toBe(true);
    expect(copyOf("b", "sentinel").maybeSent).toBe(false);
    expect(timings.filter((t) => t.to === "loopback2").map((t) => t.from)).toEqual(["matrix", "matrix"]);
    expect(timings.every((t) => t.issuedAt <= t.doneAt)).toBe(true);
    await rig.a.post("ops", "ivan", "from ops");
    await until(() => texts("b").includes("from ops"), "fan-out to fleet");
    expect(timings.filter((t) => t.to === "loopback2").map((t) => t.from)).toEqual(["matrix", "matrix", "loopback"]);
  });
});
