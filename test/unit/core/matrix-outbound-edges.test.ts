/**
 * Matrix → remote (core/matrix-outbound.ts), the edges the event-by-event suite leaves: who is
 * told that they may not relay (each refused sender once, for messages only), a sender without
 * an avatar, a file's MIME type when the event has none, and what a file over the limit leaves
 * in the dead letters. "Nothing more" is proved by a sentinel on the same lanes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { plainDoc } from "../../../src/formatting/ast.js";
import type { MatrixInbound } from "../../../src/core/matrix-port.js";
import { backends, storeOpener } from "../../support/db.js";
import { coreRig, linkBoth, matrixMessage, OWNER, ROOM, until, type CoreRig, type CoreRigOptions } from "../../support/core-rig.js";

const open = storeOpener();
const chatOf = { a: "ops", b: "fleet" } as const;

describe("MatrixOutbound edges", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  async function start(opts: CoreRigOptions = {}): Promise<void> {
    rig = await coreRig(await open(backends[0]!), opts);
    await linkBoth(rig);
  }
  const sent = (net: "a" | "b") => rig[net].sent(chatOf[net]);
  const texts = (net: "a" | "b") => sent(net).map((m) => m.text);
  let seq = 0;
  const base = (sender = OWNER) => ({ roomId: ROOM, eventId: `$edge${++seq}`, sender, ts: Date.now() });
  const send = (ev: MatrixInbound) => rig.core.onMatrixEvents([ev]);
  async function settle(name = "sentinel"): Promise<void> {
    await matrixMessage(rig, name);
    await until(() => texts("a").includes(name) && texts("b").includes(name), `sentinel ${name} on both chats`);
  }
  const botEvents = () => rig.matrix.events.filter((e) => e.roomId === ROOM && e.sender === rig.matrix.botMxid && e.type === "m.room.message");

  it("each sender refused the relay is told once, by a notice; a refused reaction is not answered", async () => {
    await start();
    const mallory = "@mallory:other.org";
    const trudy = "@trudy:other.org";
    const eve = "@eve:other.org";
    const target = await matrixMessage(rig, "hello all");
    await send({ kind: "reaction", ...base(eve), target: target.eventId, key: "👍" });
    await send({ kind: "message", ...base(mallory), msgtype: "text", doc: plainDoc("let me in"), body: "let me in" });
    await send({ kind: "message", ...base(trudy), msgtype: "text", doc: plainDoc("me too"), body: "me too" });
    await send({ kind: "message", ...base(mallory), msgtype: "text", doc: plainDoc("hello?"), body: "hello?" });
    await settle();
    expect(texts("a")).toEqual(["hello all", "sentinel"]);
    expect(sent("a")[0]!.reactions.size).toBe(0);
    expect(botEvents().map((e) => [e.content.msgtype, e.content.body])).toEqual([
      ["m.notice", `${mallory}: you are not allowed to relay messages through this bridge, so your messages stay in Matrix.`],
      ["m.notice", `${trudy}: you are not allowed to relay messages through this bridge, so your messages stay in Matrix.`],
    ]);
  });

  it("a sender without an avatar goes out without one, also when the bridge publishes avatars", async () => {
    await start({ options: { publicAvatarUrl: (mxc) => `https://media.example.org/${String(mxc).slice(6)}` } });
    await settle();
    expect(sent("a")[0]!.senderAvatarUrl).toBeUndefined();
  });

  it("a file keeps the MIME type its event gives; one without takes the homeserver's", async () => {
    await start();
    rig.matrix.media.set("mxc://example.org/pic", { data: Buffer.from("png bytes"), mime: "image/png" });
    const file = (name: string, mime: string) => ({ mxc: "mxc://example.org/pic", name, mime, kind: "file" as const });
    await send({ kind: "message", ...base(), msgtype: "file", doc: [], body: "as-sent.png", file: file("as-sent.png", "image/x-custom") });
    await send({ kind: "message", ...base(), msgtype: "file", doc: [], body: "no-type.png", file: file("no-type.png", "") });
    await settle();
    for (const net of ["a", "b"] as const) {
      expect(sent(net).flatMap((m) => m.files ?? []).map((f) => `${f.name}:${f.mime}`)).toEqual(["as-sent.png:image/x-custom", "no-type.png:image/png"]);
    }
  });

  it("a file over the limit is dead-lettered on its first try, the reason naming the file, its size and the limit", async () => {
    await start({ options: { maxFileSize: 100 } });
    rig.matrix.media.set("mxc://example.org/big", { data: Buffer.alloc(101), mime: "application/octet-stream" });
    const file = (name: string, size?: number) => ({ mxc: "mxc://example.org/big", name, mime: "", kind: "file" as const, size });
    await send({ kind: "message", ...base(), msgtype: "file", doc: [], body: "says-big.bin", file: file("says-big.bin", 150) });
    await send({ kind: "message", ...base(), msgtype: "file", doc: [], body: "no-size.bin", file: file("no-size.bin") });
    await settle();
    const dead = await rig.store.queue.deadItems(10);
    const reasons = dead.filter((d) => d.lane.includes("loopback2")).map((d) => [d.attempts, d.lastError]).sort();
    expect(reasons).toEqual([
      [1, "file_too_large: no-size.bin is over 100 bytes; Loopback2 takes at most 100"],
      [1, "file_too_large: says-big.bin is 150 bytes; Loopback2 takes at most 100"],
    ]);
  });

  it("a reaction to a message a chat never got costs nothing there: no send, no dead letter", async () => {
    await start();
    await send({ kind: "reaction", ...base(), target: "$never-bridged", key: "🎉" });
    await settle();
    expect([rig.a.reactCalls, rig.b.reactCalls]).toEqual([[], []]);
    expect(await rig.store.queue.deadItems(10)).toEqual([]);
  });

  it("a mention that is already a remote user's goes out as it is", async () => {
    await start();
    const mention = { type: "mention" as const, target: { kind: "remote" as const, network: "loopback", id: "ivan" }, text: "Ivan" };
    await send({ kind: "message", ...base(), msgtype: "text", doc: [{ type: "paragraph", children: [{ type: "text", text: "hi " }, mention] }], body: "hi Ivan" });
    await settle();
    for (const net of ["a", "b"] as const) {
      expect(sent(net)[0]!.doc).toEqual([{ type: "paragraph", children: [{ type: "text", text: "hi " }, mention] }]);
    }
  });
});
