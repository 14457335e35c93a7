/**
 * Remote → Matrix (core/remote-inbound.ts) through the whole core: a remote event delivered
 * again after its queue row was pruned is not bridged twice (the message map), a send whose
 * answer was lost (a crash between send and commit) is retried into the same Matrix event, and
 * a message whose second part fails does not double its first. "Nothing more" is proved by a
 * sentinel posted after it in the same chat (the same lane).
 */
import { afterEach, describe, expect, it } from "vitest";
import { plainDoc } from "../../../src/formatting/ast.js";
import { backends, storeOpener } from "../../support/db.js";
import { coreRig, linkBoth, relayStatements, ROOM, until, type CoreRig } from "../../support/core-rig.js";

const open = storeOpener();
const IVAN = "@loopback_ivan:example.org";

describe("RemoteInbound", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  const inRoom = () => rig.matrix.messages(ROOM).filter((e) => e.sender === IVAN).map((e) => String(e.content.body));
  const fannedOut = () => rig.b.sent("fleet").map((m) => m.text);

  /** Post a sentinel in the same chat and wait for it in Matrix and on the other link. */
  async function settle(name: string): Promise<void> {
    await rig.a.post("ops", "ivan", name);
    await until(() => inRoom().includes(name) && fannedOut().includes(name), `sentinel ${name}`);
  }

  it("a remote message delivered again after its queue row was pruned is not bridged twice", async () => {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    const ref = await rig.a.post("ops", "ivan", "status green");
    await until(() => fannedOut().includes("status green"), "first relay");
    await until(async () => (await rig.store.queue.depth()) === 0, "queue drained");
    expect(await rig.store.queue.prune(new Date(Date.now() + 60_000))).toBeGreaterThan(0);
    // The network redelivers it (a Slack retry, a Telegram update offset replayed after a restore).
    const statements = relayStatements(rig.store);
    const done = rig.core.queue.counts.done;
    await rig.a.push([{ kind: "message", key: `msg:${ref}`, chat: "ops", at: Date.now(), ref, sender: "ivan", msg: { doc: plainDoc("status green") } }]);
    await until(() => rig.core.queue.counts.done > done, "redelivery applied");
    // Into a quiet chat: the insert hands the item out with its duplicate check answered, then its done; no look-up of its own.
    expect(statements).toHaveLength(2);
    await settle("sentinel");
    expect(inRoom()).toEqual(["status green", "sentinel"]);
    expect(fannedOut()).toEqual(["status green", "sentinel"]);
  });

  it("a send whose answer was lost (crash between send and commit) is retried into the same Matrix event", async () => {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    rig.matrix.failSends.push("after");
    const ref = await rig.a.post("ops", "ivan", "made it once");
    await settle("sentinel");
    expect(inRoom()).toEqual(["made it once", "sentinel"]);
    const rows = await rig.store.messages.byRemote("loopback", ref);
    expect(rows.map((r) => r.eventId)).toEqual([rig.matrix.messages(ROOM).find((e) => e.content.body === "made it once")!.eventId]);
    expect(fannedOut()).toEqual(["made it once", "sentinel"]);
  });

  it("a message whose file part fails is retried without doubling its text part", async () => {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    // The text goes out, the file's send is refused once.
    rig.matrix.failSends.push("none", "before");
    await rig.a.post("ops", "ivan", "see attached", { file: { name: "report.txt", data: Buffer.from("numbers"), mime: "text/plain" } });
    await settle("sentinel");
    expect(inRoom()).toEqual(["see attached", "report.txt", "sentinel"]);
  });

  it("a message in a chat with no room yet makes its portal, once, also when the chat's events pile up", async () => {
    rig = await coreRig(await open(backends[0]!), { initialChatCount: { loopback: 10 } });
    await until(() => rig.matrix.count("createRoom") === 1, "the login's portal for ops");
    rig.a.addChat("news", "news");
    let release!: () => void;
    rig.matrix.holdCreateRoom = new Promise<void>((r) => { release = r; });
    await rig.a.post("news", "ivan", "one");
    await rig.a.post("news", "ivan", "two");
    const sync = rig.core.sync("loopback:acctA"); // races the live message for the same chat
    // Held until the live message and sync both want the room: a second createRoom, or a turn waiting.
    await until(() => rig.matrix.count("createRoom") >= 3 || rig.core.portals.turnsFor("loopback", "news") >= 2, "both paths at the chat");
    release();
    await sync;
    const roomOf = () => rig.core.portals.linkForChat("loopback", "news")?.roomId ?? "";
    await until(() => rig.matrix.messages(roomOf()).length === 2, "both messages in the portal");
    expect(rig.matrix.rooms.filter((r) => r.stateKey === "tandem://loopback/news")).toHaveLength(1);
    expect(rig.matrix.messages(roomOf()).map((e) => e.content.body)).toEqual(["one", "two"]);
  });
});
