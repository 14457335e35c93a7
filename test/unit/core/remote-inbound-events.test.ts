/**
 * Remote → Matrix (core/remote-inbound.ts), event by event, through the whole core: what the
 * Matrix room shows for a reply, a thread, an emote, a long text, each kind of file, an edit, a
 * deletion, a reaction, a chat's new name or topic, a member leaving, and a chat on standby;
 * and what the room's other linked chat receives. "Nothing more" is proved by a sentinel
 * posted after it in the same chat (the same lane).
 */
import { afterEach, describe, expect, it } from "vitest";
import { plainDoc } from "../../../src/formatting/ast.js";
import { RemoteError } from "../../../src/core/errors.js";
import { DOWNLOAD_ATTEMPTS } from "../../../src/core/remote-inbound.js";
import type { FileRef, RemoteEvent } from "../../../src/core/types.js";
import { backends, storeOpener } from "../../support/db.js";
import { coreRig, linkBoth, ROOM, until, type CoreRig, type CoreRigOptions } from "../../support/core-rig.js";

const open = storeOpener();
const IVAN = "@loopback_ivan:example.org";
const PETRA = "@loopback_petra:example.org";

describe("RemoteInbound, event by event", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  async function start(opts: CoreRigOptions = {}): Promise<void> {
    rig = await coreRig(await open(backends[0]!), opts);
    rig.a.addUser("petra", "Petra S");
    await linkBoth(rig);
  }
  /** Every event the room got (messages, reactions), oldest first. */
  const roomEvents = (room = ROOM) => rig.matrix.events.filter((e) => e.roomId === room);
  const eventWith = (body: string, room = ROOM) => rig.matrix.messages(room).find((e) => e.content.body === body)!;
  const fleet = () => rig.b.sent("fleet");
  const fleetCopy = (text: string) => fleet().find((m) => m.text === text)!;

  let seq = 0;
  async function push(ev: Omit<RemoteEvent, "key" | "at" | "chat"> & { chat?: string }): Promise<void> {
    await rig.a.push([{ chat: "ops", key: `k${++seq}`, at: Date.now(), ...ev } as RemoteEvent]);
  }
  /** A message in ops, pushed as the network would (for the fields `post` does not set). */
  async function message(sender: string, text: string, msg: Partial<Extract<RemoteEvent, { kind: "message" }>["msg"]> = {}, chat = "ops"): Promise<string> {
    const ref = rig.a.nextRef(chat);
    await push({ kind: "message", chat, ref, sender, msg: { doc: text ? plainDoc(text) : [], ...msg } } as never);
    return ref;
  }
  /** A sentinel posted in ops, seen in Matrix and on fleet: everything before it in ops is done. */
  async function settle(name = "sentinel"): Promise<void> {
    await rig.a.post("ops", "ivan", name);
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === name) && fleet().some((m) => m.text === name), `sentinel ${name}`);
  }

  it("a reply and a thread carry their Matrix relations, mention whom they answer, and point at fleet's own copy", async () => {
    await start();
    const root = await rig.a.post("ops", "ivan", "root");
    const other = await rig.a.post("ops", "petra", "other");
    await rig.a.post("ops", "petra", "in thread, answering ivan", { replyTo: root, threadRoot: root });
    await rig.a.post("ops", "petra", "in thread, no reply", { threadRoot: root });
    await rig.a.post("ops", "petra", "plain reply", { replyTo: root });
    await rig.a.post("ops", "petra", "answering myself", { replyTo: other });
    await rig.a.post("ops", "petra", "reply to the unknown", { replyTo: "ops/nowhere" });
    await settle();
    const rootId = eventWith("root").eventId;
    const otherId = eventWith("other").eventId;
    expect(eventWith("in thread, answering ivan").content).toMatchObject({
      "m.relates_to": { rel_type: "m.thread", event_id: rootId, is_falling_back: false, "m.in_reply_to": { event_id: rootId } },
      "m.mentions": { user_ids: [IVAN] },
    });
    expect(eventWith("in thread, no reply").content).toMatchObject({
      "m.relates_to": { rel_type: "m.thread", event_id: rootId, is_falling_back: true, "m.in_reply_to": { event_id: rootId } },
      "m.mentions": {},
    });
    expect(eventWith("in thread, no reply").content["m.mentions"]).toEqual({});
    expect(eventWith("plain reply").content["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: rootId } });
    expect(eventWith("plain reply").content["m.mentions"]).toEqual({ user_ids: [IVAN] });
    expect(eventWith("answering myself").content["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: otherId } });
    expect(eventWith("answering myself").content["m.mentions"]).toEqual({});
    expect(eventWith("reply to the unknown").content["m.relates_to"]).toBeUndefined();
    // The thread is in the message map for replies from Matrix to find.
    const [row] = await rig.store.messages.byEvent(eventWith("in thread, no reply").eventId);
    expect([row!.threadRootEvent, row!.threadRootRemote]).toEqual([rootId, root]);
    const [plain] = await rig.store.messages.byEvent(eventWith("plain reply").eventId);
    expect([plain!.threadRootEvent, plain!.threadRootRemote]).toEqual([null, null]);
    expect(fleetCopy("in thread, answering ivan")).toMatchObject({ replyTo: fleetCopy("root").ref, threadRoot: fleetCopy("root").ref });
    expect(fleetCopy("reply to the unknown")).toMatchObject({ replyTo: undefined, threadRoot: undefined });
  });

  it("a reply with a file mentions whom it answers on its first event only", async () => {
    await start();
    const root = await rig.a.post("ops", "ivan", "send the report");
    await rig.a.post("ops", "petra", "here", { replyTo: root, file: { name: "r.txt", data: Buffer.from("1,2"), mime: "text/plain" } });
    await rig.a.post("ops", "petra", "", { replyTo: root, file: { name: "only-file.txt", data: Buffer.from("3"), mime: "text/plain" } });
    await settle();
    expect(eventWith("here").content["m.mentions"]).toEqual({ user_ids: [IVAN] });
    expect(eventWith("r.txt").content["m.mentions"]).toEqual({});
    expect(eventWith("r.txt").content["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: eventWith("send the report").eventId } });
    expect(eventWith("only-file.txt").content["m.mentions"]).toEqual({ user_ids: [IVAN] });
    // A message of files only has no text event.
    expect(rig.matrix.messages(ROOM).map((e) => e.content.body)).toEqual(["send the report", "here", "r.txt", "only-file.txt", "sentinel"]);
  });

  it("an emote and a notice keep their kind in Matrix and on the other chat", async () => {
    await start();
    await message("ivan", "waves", { emote: true });
    await message("ivan", "deploy done", { notice: true });
    await settle();
    expect(eventWith("waves").content.msgtype).toBe("m.emote");
    expect(eventWith("deploy done").content.msgtype).toBe("m.notice");
    expect(eventWith("sentinel").content.msgtype).toBe("m.text");
    expect(fleetCopy("waves")).toMatchObject({ emote: true, notice: false });
    expect(fleetCopy("deploy done")).toMatchObject({ emote: false, notice: true });
    expect(fleetCopy("waves").senderName).toBe("Ivan Petrov (Loopback)");
  });

  it("the bridge's own posts echoed back by the network are not bridged again", async () => {
    await start();
    const ref = await message("bridge", "echo of ours");
    await push({ kind: "edit", target: ref, sender: "bridge", msg: { doc: plainDoc("echo edited") } } as never);
    await settle();
    expect(rig.matrix.messages(ROOM).map((e) => e.content.body)).toEqual(["sentinel"]);
  });

  it("a text too long for the allowed events continues in a text file, in order, and goes to the other chat whole", async () => {
    await start({ options: { maxMessageParts: 2 } });
    const long = "word ".repeat(30_000).trim(); // 150,000 characters: more than two events hold
    const ref = await message("ivan", long);
    await settle();
    const events = rig.matrix.messages(ROOM);
    expect(events.map((e) => e.content.msgtype)).toEqual(["m.text", "m.file", "m.text"]);
    expect(events[1]!.content).toMatchObject({ body: "message-continued.txt", filename: "message-continued.txt", info: { mimetype: "text/plain" } });
    const head = String(events[0]!.content.body);
    expect(head.length).toBeGreaterThan(1000);
    expect(rig.matrix.uploads).toEqual(["message-continued.txt"]);
    const rows = await rig.store.messages.byRemote("loopback", ref);
    expect(rows.map((r) => [r.part, r.eventId])).toEqual([[0, events[0]!.eventId], [1, events[1]!.eventId]]);
    // The other chat gets the whole text once (not the pieces, not the continuation file).
    expect(fleet().map((m) => m.text.length)).toEqual([long.length, "sentinel".length]);
  });

  it("files: each kind gets its msgtype and info; too large, empty or over the limit when downloaded, a notice says so", async () => {
    await start({ options: { maxFileSize: 100 } });
    const file = (id: string, data: Buffer | null, f: Partial<FileRef>): FileRef => {
      if (data) rig.a.files.set(id, data);
      return { id, name: `${id}.bin`, mime: "application/octet-stream", kind: "file", ...f };
    };
    await message("ivan", "", { files: [
      file("pic", Buffer.alloc(10), { kind: "image", mime: "image/png", width: 4, height: 3, caption: plainDoc("our logo") }),
      file("clip", Buffer.alloc(10), { kind: "video", mime: "video/mp4", durationMs: 1500 }),
      file("note", Buffer.alloc(10), { kind: "voice", mime: "audio/ogg", durationMs: 2000 }),
      file("song", Buffer.alloc(10), { kind: "audio", mime: "audio/mpeg" }),
      file("sticker", Buffer.alloc(10), { kind: "sticker", mime: "image/webp" }),
      file("huge", null, { size: 3 * 1048576, link: "https://files.example/huge" }),
      file("liar", Buffer.alloc(101), { size: 50 }),
      file("empty", Buffer.alloc(0), {}),
      file("exact", Buffer.alloc(100), { size: 100 }),
    ] });
    await settle();
    const byName = (name: string) => rig.matrix.messages(ROOM).find((e) => e.content.filename === name || String(e.content.body).includes(name))!.content;
    expect(byName("pic.bin")).toMatchObject({ msgtype: "m.image", body: "our logo", filename: "pic.bin", info: { mimetype: "image/png", size: 10, w: 4, h: 3 } });
    expect(byName("clip.bin")).toMatchObject({ msgtype: "m.video", info: { duration: 1500 } });
    expect(byName("note.bin")).toMatchObject({ msgtype: "m.audio", "org.matrix.msc3245.voice": {}, "org.matrix.msc1767.audio": { duration: 2000 } });
    expect(byName("song.bin")).toMatchObject({ msgtype: "m.audio", body: "song.bin" });
    expect(byName("song.bin")["org.matrix.msc3245.voice"]).toBeUndefined();
    expect(byName("song.bin").info).toEqual({ mimetype: "audio/mpeg", size: 10 });
    expect(byName("sticker.bin").msgtype).toBe("m.image");
    expect(byName("huge.bin")).toEqual({ msgtype: "m.notice", body: "File huge.bin (3.0 MB) is too large to bridge: https://files.example/huge", "m.mentions": {} });
    expect(byName("liar.bin")).toEqual({ msgtype: "m.notice", body: "File liar.bin (0.0 MB) is too large to bridge", "m.mentions": {} });
    expect(byName("empty.bin")).toEqual({ msgtype: "m.notice", body: "File empty.bin is empty (0 bytes)", "m.mentions": {} });
    expect(byName("exact.bin")).toMatchObject({ msgtype: "m.file", info: { mimetype: "application/octet-stream", size: 100 } });
    expect(rig.a.downloadCalls).toBe(8); // all but the one already known to be too large
    // Fleet gets the files that went to Matrix, under their names.
    expect(fleet().flatMap((m) => m.files?.map((f) => f.name) ?? [])).toEqual(["pic.bin", "clip.bin", "note.bin", "song.bin", "sticker.bin", "exact.bin"]);
  });

  it(`a file host that stays down costs its message after ${DOWNLOAD_ATTEMPTS} tries, with a notice saying why`, async () => {
    await start();
    rig.a.downloadFailure = new RemoteError("timeout", "the file host timed out", { retryable: true });
    await rig.a.post("ops", "ivan", "with file", { file: { name: "gone.txt", data: Buffer.from("x"), mime: "text/plain" } });
    await until(() => rig.matrix.messages(ROOM).some((e) => String(e.content.body).includes("gone.txt")), "the dead-letter notice");
    rig.a.downloadFailure = null;
    await settle();
    expect(rig.a.downloadCalls).toBe(DOWNLOAD_ATTEMPTS);
    const notice = rig.matrix.messages(ROOM).find((e) => String(e.content.body).includes("gone.txt"))!;
    expect(notice.content.body).toContain(`the file gone.txt could not be downloaded after ${DOWNLOAD_ATTEMPTS} tries`);
    expect(notice.content.body).toContain("the file host timed out");
  });

  it("a file the host refuses for good costs its message at once, saying why", async () => {
    await start();
    rig.a.downloadFailure = new RemoteError("file_deleted", "deleted by its owner", { retryable: false, userMessage: "the file was deleted" });
    await rig.a.post("ops", "ivan", "with file", { file: { name: "deleted.txt", data: Buffer.from("x"), mime: "text/plain" } });
    await until(() => rig.matrix.messages(ROOM).some((e) => String(e.content.body).includes("the file was deleted")), "the dead-letter notice");
    rig.a.downloadFailure = null;
    await settle();
    expect(rig.a.downloadCalls).toBe(1);
  });

  it("an edit replaces the original in Matrix, marked and cut when too long; an edit of a message never bridged is dropped", async () => {
    await start();
    const ref = await rig.a.post("ops", "ivan", "lunch at 12");
    await rig.a.editPost("ops", "ivan", ref, "lunch at 1");
    await rig.a.editPost("ops", "ivan", "ops/never", "ghost edit");
    await rig.a.editPost("ops", "ivan", ref, "x".repeat(30_000));
    await settle();
    const original = eventWith("lunch at 12").eventId;
    const edits = rig.matrix.messages(ROOM).filter((e) => (e.content["m.relates_to"] as { rel_type?: string } | undefined)?.rel_type === "m.replace");
    expect(edits).toHaveLength(2);
    expect(edits[0]!.content).toEqual({
      msgtype: "m.text", body: "* lunch at 1", "m.mentions": {},
      "m.new_content": { msgtype: "m.text", body: "lunch at 1", "m.mentions": {} },
      "m.relates_to": { rel_type: "m.replace", event_id: original },
    });
    expect(edits[0]!.sender).toBe(IVAN);
    const cut = edits[1]!.content["m.new_content"] as { body: string };
    expect(cut.body.endsWith(" […]")).toBe(true);
    expect(cut.body.length).toBeLessThan(30_000);
    expect(String(edits[1]!.content.body)).toBe(`* ${cut.body}`);
    expect(fleetCopy("lunch at 1")).toBeUndefined(); // edits go to fleet's copy, which was renamed in place
  });

  it("an edit of formatted text keeps its formatting, marked as an edit", async () => {
    await start();
    const ref = await rig.a.post("ops", "ivan", "plain");
    await push({ kind: "edit", target: ref, sender: "ivan", msg: { doc: [{ type: "paragraph", children: [{ type: "bold", children: [{ type: "text", text: "loud" }] }] }] } } as never);
    await settle();
    const edit = rig.matrix.messages(ROOM).find((e) => String(e.content.body).startsWith("* "))!;
    expect(edit.content).toMatchObject({ body: "* loud", format: "org.matrix.custom.html", formatted_body: "* <strong>loud</strong>" });
  });

  it("a deletion redacts every part of the message in Matrix and the copy on the other chat", async () => {
    await start();
    const ref = await rig.a.post("ops", "ivan", "oops", { file: { name: "oops.txt", data: Buffer.from("x"), mime: "text/plain" } });
    await rig.a.post("ops", "ivan", "kept");
    await push({ kind: "delete", target: ref, sender: "ivan" } as never);
    await settle();
    const redacted = rig.matrix.calls.filter((c) => c.op === "redact").map((c) => c.args[2]);
    expect(redacted.sort()).toEqual([eventWith("oops").eventId, eventWith("oops.txt").eventId].sort());
    expect(rig.matrix.calls.filter((c) => c.op === "redact").every((c) => c.args[1] === rig.matrix.botMxid)).toBe(true);
    expect(fleetCopy("oops").deleted).toBe(true);
    expect(fleetCopy("kept").deleted).toBeFalsy();
  });

  it("a reaction is added once, removed when taken back, and mirrored on the other chat", async () => {
    await start();
    const ref = await rig.a.post("ops", "ivan", "ship it?");
    const react = (sender: string, on: boolean, target = ref) => push({ kind: "reaction", target, sender, emoji: "👍", on } as never);
    await react("petra", true);
    await react("petra", true); // the network repeats itself
    await react("petra", true, "ops/unknown");
    await react("bridge", true); // our own reaction echoed
    await settle("reacted");
    const reactions = () => roomEvents().filter((e) => e.type === "m.reaction");
    expect(reactions().map((e) => [e.sender, e.content])).toEqual([
      [PETRA, { "m.relates_to": { rel_type: "m.annotation", event_id: eventWith("ship it?").eventId, key: "👍" } }],
    ]);
    expect(rig.b.reactCalls).toEqual([`+👍 ${fleetCopy("ship it?").ref}`]);
    await react("petra", false);
    await react("petra", false); // already gone
    await settle("unreacted");
    const redactions = rig.matrix.calls.filter((c) => c.op === "redact");
    expect(redactions.map((c) => [c.args[1], c.args[2]])).toEqual([[PETRA, reactions()[0]!.eventId]]);
    expect(rig.b.reactCalls).toEqual([`+👍 ${fleetCopy("ship it?").ref}`, `-👍 ${fleetCopy("ship it?").ref}`]);
  });

  it("a portal follows its chat's name, topic and archiving; a linked room keeps its own name", async () => {
    await start();
    rig.a.addChat("news", "news");
    await rig.a.post("news", "ivan", "first");
    await until(() => !!rig.core.portals.linkForChat("loopback", "news"), "the portal for news");
    const portal = rig.core.portals.linkForChat("loopback", "news")!.roomId;
    const info = (chat: string, i: Record<string, unknown>) => push({ kind: "chat-info", chat, info: i } as never);
    await info("news", { name: "headlines", roomName: "Headlines (Loopback)", topic: "all the news" });
    await info("news", { archived: true });
    await info("news", { archived: false });
    await info("ops", { name: "operations", roomName: "Operations (Loopback)", topic: "ops topic" });
    await info("nowhere", { name: "x", roomName: "x" });
    await settle();
    const state = rig.matrix.calls.filter((c) => c.op === "setState").map((c) => c.args.slice(0, 5));
    expect(state.filter((s) => s[2] === "m.room.name" || s[2] === "m.room.topic")).toEqual([
      [portal, rig.matrix.botMxid, "m.room.name", "", { name: "Headlines (Loopback)" }],
      [portal, rig.matrix.botMxid, "m.room.topic", "", { topic: "all the news" }],
    ]);
    expect(rig.core.portals.linkForChat("loopback", "news")!.name).toBe("headlines");
    expect(rig.core.portals.linkForChat("loopback", "ops")!.name).toBe("operations");
    expect(rig.matrix.messages(portal).filter((e) => e.sender === rig.matrix.botMxid).map((e) => e.content.body)).toEqual([
      "This chat was archived on the remote side.", "This chat was unarchived on the remote side.",
    ]);
  });

  it("a member joining is joined in Matrix; one leaving is a notice, their ghost stays", async () => {
    await start();
    await push({ kind: "membership", user: "petra", joined: true } as never);
    await push({ kind: "membership", user: "ivan", joined: false } as never);
    await push({ kind: "membership", chat: "nowhere", user: "ivan", joined: false } as never);
    await settle();
    expect(rig.matrix.joined.has(`${ROOM}|${PETRA}`)).toBe(true);
    expect(rig.matrix.left).toEqual([]);
    expect(rig.matrix.messages(ROOM).filter((e) => e.sender === rig.matrix.botMxid).map((e) => e.content.body)).toEqual(["Ivan Petrov left the Loopback chat"]);
  });

  it("a user's new profile reaches their ghost", async () => {
    await start();
    await rig.a.post("ops", "ivan", "before");
    await push({ kind: "user-info", user: "ivan", info: { name: "Ivan the Great" } } as never);
    await settle();
    expect(rig.matrix.profiles.get(IVAN)?.displayName).toBe("Ivan the Great");
  });

  it("a chat that moved (a group upgraded to a supergroup) keeps its room under its new id", async () => {
    await start();
    rig.a.addChat("ops-new", "ops");
    await push({ kind: "chat-moved", to: "ops-new" } as never);
    await until(() => rig.core.portals.linkForChat("loopback", "ops-new")?.roomId === ROOM, "the link under the new id");
    expect(rig.core.portals.linkForChat("loopback", "ops")).toBeUndefined();
    await rig.a.post("ops-new", "ivan", "from the new chat");
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === "from the new chat"), "the message in the same room");
  });

  it("what is relayed counts on its login's health, both ways", async () => {
    await start();
    const ref = await rig.a.post("ops", "ivan", "hello");
    await rig.a.editPost("ops", "ivan", ref, "hello again");
    await push({ kind: "reaction", target: ref, sender: "petra", emoji: "👋", on: true } as never);
    await push({ kind: "reaction", target: ref, sender: "petra", emoji: "👋", on: false } as never);
    await settle();
    const toMatrix = (login: string) => rig.health.get(login)?.relayed.toMatrix;
    const fromMatrix = (login: string) => rig.health.get(login)?.relayed.fromMatrix;
    expect(toMatrix("loopback:acctA")).toBe(5); // hello, its edit, the reaction and its removal, the sentinel
    // The sentinel shows on fleet as it is sent; its success is counted just after.
    await until(() => fromMatrix("loopback2:acctB") === 3, "the fan-outs of hello, its edit and the sentinel counted");
    expect(fromMatrix("loopback:acctA")).toBe(0);
    // Lag is how long ago the bridge received what it relayed last: a duration, not a date.
    for (const login of ["loopback:acctA", "loopback2:acctB"]) expect(rig.health.get(login)!.lagMs).toBeLessThan(3600_000);
  });

  it("history imported into a linked room goes in once, in Matrix only; not for an unlinked chat, nor without a connection", async () => {
    await start();
    rig.a.addChat("elsewhere", "elsewhere");
    const past = (ref: string, text: string, chat = "ops", loginId = "loopback:acctA", kind = "message") => ({
      t: "remote" as const, loginId, network: "loopback", receivedAt: Date.now(),
      event: { kind, key: `msg:${ref}`, chat, at: Date.now() - 3600_000, ref, sender: "ivan", msg: { doc: plainDoc(text) }, target: ref, on: true, emoji: "👍" } as never,
    });
    await rig.core.importPast(past("ops/old1", "an old message"), "old1");
    await rig.core.importPast(past("ops/old1", "an old message"), "old1-again");
    await rig.core.importPast(past("elsewhere/old2", "not linked", "elsewhere"), "old2");
    await rig.core.importPast(past("ops/old1", "", "ops", "loopback:acctA", "reaction"), "old3");
    await expect(rig.core.importPast(past("ops/old4", "no login", "ops", "loopback:nobody"), "old4")).rejects.toMatchObject({ code: "not_connected", retryable: true });
    await settle();
    expect(rig.matrix.messages(ROOM).map((e) => e.content.body)).toEqual(["an old message", "sentinel"]);
    expect(roomEvents().filter((e) => e.type === "m.reaction")).toEqual([]);
    expect(rig.matrix.events.some((e) => e.content.body === "not linked")).toBe(false);
    expect(fleet().map((m) => m.text)).toEqual(["sentinel"]); // history is never fanned out
    expect(rig.health.get("loopback:acctA")!.relayed.toMatrix).toBe(1); // nor counted as relayed
  });

  it("a message in a chat on standby is not bridged; its sender is pointed at Matrix once", async () => {
    await start();
    await rig.core.portals.setPhase(ROOM, "standby", "@alice:example.org");
    await rig.a.post("ops", "ivan", "anyone?");
    await rig.a.post("ops", "ivan", "hello?");
    await message("bridge", "our own post on standby");
    await until(async () => (await rig.store.queue.depth()) === 0, "the standby chat's events handled");
    await rig.core.portals.setPhase(ROOM, "parallel", "@alice:example.org");
    await settle();
    expect(rig.matrix.messages(ROOM).map((e) => e.content.body)).toEqual(["sentinel"]);
    const told = rig.a.sent("ops").filter((m) => m.notice);
    expect(told.map((m) => m.text)).toEqual([`This chat is on standby: please use the Matrix room ${ROOM} (https://matrix.to/#/${encodeURIComponent(ROOM)}).`]);
  });
});
