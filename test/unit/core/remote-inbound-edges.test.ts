/**
 * Remote → Matrix (core/remote-inbound.ts) and its copies to the room's other chat
 * (core/fan-out.ts), the edges the event-by-event suite leaves: several reactions of one
 * person, several deletions, several members leaving (each its own event, none taken for a
 * repeat of another), and a file with an empty caption and no
 * dimensions. "Nothing more" is proved by a sentinel posted after it in the same chat.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { FileRef, RemoteEvent } from "../../../src/core/types.js";
import { backends, storeOpener } from "../../support/db.js";
import type { RelayTiming } from "../../../src/core/payloads.js";
import { coreRig, linkBoth, ROOM, until, type CoreRig, type CoreRigOptions } from "../../support/core-rig.js";

const open = storeOpener();
const PETRA = "@loopback_petra:example.org";

describe("RemoteInbound edges", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  async function start(opts: CoreRigOptions = {}): Promise<void> {
    rig = await coreRig(await open(backends[0]!), opts);
    rig.a.addUser("petra", "Petra S");
    await linkBoth(rig);
  }
  const fleet = () => rig.b.sent("fleet");
  const fleetCopy = (text: string) => fleet().find((m) => m.text === text)!;
  const eventWith = (body: string) => rig.matrix.messages(ROOM).find((e) => e.content.body === body)!;
  let seq = 0;
  async function push(ev: Record<string, unknown>): Promise<void> {
    await rig.a.push([{ chat: "ops", key: `edge${++seq}`, at: Date.now(), ...ev } as RemoteEvent]);
  }
  async function settle(name = "sentinel"): Promise<void> {
    await rig.a.post("ops", "ivan", name);
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === name) && fleet().some((m) => m.text === name), `sentinel ${name}`);
  }

  it("one person's several reactions to a message are each a reaction in Matrix and on the other chat", async () => {
    await start();
    const ref = await rig.a.post("ops", "ivan", "ship it?");
    await push({ kind: "reaction", target: ref, sender: "petra", emoji: "👍", on: true });
    await push({ kind: "reaction", target: ref, sender: "petra", emoji: "🎉", on: true });
    await settle();
    const keys = rig.matrix.events.filter((e) => e.roomId === ROOM && e.type === "m.reaction" && e.sender === PETRA)
      .map((e) => (e.content["m.relates_to"] as { key: string }).key);
    expect(keys).toEqual(["👍", "🎉"]);
    expect(rig.b.reactCalls).toEqual([`+👍 ${fleetCopy("ship it?").ref}`, `+🎉 ${fleetCopy("ship it?").ref}`]);
  });

  it("several messages deleted on the remote side are each deleted on the other chat", async () => {
    await start();
    const one = await rig.a.post("ops", "ivan", "one");
    const two = await rig.a.post("ops", "ivan", "two");
    await push({ kind: "delete", target: one, sender: "ivan" });
    await push({ kind: "delete", target: two, sender: "ivan" });
    await settle();
    expect([fleetCopy("one").deleted, fleetCopy("two").deleted]).toEqual([true, true]);
  });

  it("members leaving are each a notice of the bot", async () => {
    await start();
    await push({ kind: "membership", user: "ivan", joined: false });
    await push({ kind: "membership", user: "petra", joined: false });
    await settle();
    const notices = rig.matrix.messages(ROOM).filter((e) => e.sender === rig.matrix.botMxid).map((e) => [e.content.msgtype, e.content.body]);
    expect(notices).toEqual([
      ["m.notice", "Ivan Petrov left the Loopback chat"],
      ["m.notice", "Petra S left the Loopback chat"],
    ]);
  });

  it("a file with an empty caption is named by its file name; no dimensions, no such info", async () => {
    await start();
    rig.a.files.set("plain", Buffer.from("data"));
    const file: FileRef = { id: "plain", name: "plain.bin", mime: "application/octet-stream", kind: "file", caption: [] };
    await push({ kind: "message", ref: rig.a.nextRef("ops"), sender: "ivan", msg: { doc: [], files: [file] } });
    await settle();
    const content = rig.matrix.messages(ROOM).find((e) => e.content.filename === "plain.bin")!.content;
    expect(content.body).toBe("plain.bin");
    expect(content.info).toStrictEqual({ mimetype: "application/octet-stream", size: 4 });
    expect(eventWith("sentinel")).toBeDefined();
  });

  it("a message in several Matrix events is one relay to Matrix; its copy's wait on the homeserver is a duration", async () => {
    const timings: RelayTiming[] = [];
    const began = Date.now();
    await start({ onRelayed: (t) => timings.push(t), options: { maxMessageParts: 10 } });
    await rig.a.post("ops", "ivan", "word ".repeat(30_000).trim()); // more than one event holds
    await settle();
    expect(rig.matrix.messages(ROOM).length).toBeGreaterThan(2);
    const toMatrix = timings.filter((t) => t.to === "matrix");
    expect(toMatrix.map((t) => t.from)).toEqual(["loopback", "loopback"]); // the long message, the sentinel
    expect(toMatrix.every((t) => t.issuedAt <= t.doneAt)).toBe(true);
    const copies = timings.filter((t) => t.to === "loopback2");
    expect(copies).toHaveLength(2);
    for (const t of copies) expect(t.waitedMs! >= 0 && t.waitedMs! <= Date.now() - began).toBe(true);
  });

  it("the pointer to Matrix a chat on standby gets is signed by Tandem", async () => {
    await start();
    await rig.core.portals.setPhase(ROOM, "standby", "@alice:example.org");
    await rig.a.post("ops", "ivan", "anyone?");
    await until(() => rig.a.sent("ops").some((m) => m.notice), "the pointer");
    expect(rig.a.sent("ops").filter((m) => m.notice).map((m) => m.senderName)).toEqual(["Tandem"]);
  });
});
