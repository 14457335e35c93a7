/**
 * Which chats a Matrix event goes to (core/matrix-outbound.ts), through the whole core: a room
 * on standby (relayed or not, by configuration), a chat whose login logged out (its items wait
 * for a new login, the other chat goes on), and an item queued for the whole room before
 * delivery per target (split into one per linked chat). "Nothing more" is proved by a sentinel
 * on the same lanes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { plainDoc } from "../../../src/formatting/ast.js";
import { matrixLane, remoteLane } from "../../../src/core/payloads.js";
import { backends, storeOpener } from "../../support/db.js";
import { coreRig, linkBoth, matrixMessage, OWNER, ROOM, until, type CoreRig, type CoreRigOptions } from "../../support/core-rig.js";
import { LoopbackConnector } from "../../support/loopback.js";

const open = storeOpener();

describe("MatrixOutbound targets", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  async function start(opts: CoreRigOptions = {}): Promise<void> {
    rig = await coreRig(await open(backends[0]!), opts);
    await linkBoth(rig);
  }
  const texts = (net: "a" | "b") => rig[net].sent(net === "a" ? "ops" : "fleet").map((m) => m.text);
  async function settle(name = "sentinel", nets: Array<"a" | "b"> = ["a", "b"]): Promise<void> {
    await matrixMessage(rig, name);
    await until(() => nets.every((n) => texts(n).includes(name)), `sentinel ${name}`);
  }

  it("a room on standby still sends Matrix messages out by default", async () => {
    await start();
    await rig.core.portals.setPhase(ROOM, "standby", OWNER);
    await settle();
    expect(texts("a")).toEqual(["sentinel"]);
  });

  it("a room on standby keeps Matrix messages in Matrix when so configured", async () => {
    await start({ options: { standbyRelaysMatrix: false } });
    await rig.core.portals.setPhase(ROOM, "standby", OWNER);
    await matrixMessage(rig, "stays here");
    await until(async () => (await rig.store.queue.depth()) === 0, "the items handled");
    await rig.core.portals.setPhase(ROOM, "parallel", OWNER);
    await settle();
    expect(texts("a")).toEqual(["sentinel"]);
    expect(texts("b")).toEqual(["sentinel"]);
    expect(rig.matrix.messages(ROOM).filter((e) => e.sender === rig.matrix.botMxid)).toEqual([]); // held back, not failed
  });

  it("Matrix messages for a chat whose login logged out wait for the new login; the other chat gets them at once", async () => {
    await start();
    await rig.core.logout("loopback2:acctB");
    await matrixMessage(rig, "while away");
    await settle("sentinel", ["a"]);
    expect(texts("a")).toEqual(["while away", "sentinel"]);
    expect(texts("b")).toEqual([]);
    const cb = new LoopbackConnector(rig.b, "loopback2");
    await rig.core.completeLogin(OWNER, cb, { remoteId: "acctB", name: "Beta", secrets: { token: "lb-b" }, reply: "" });
    await until(() => texts("b").includes("sentinel"), "the waiting items after the new login");
    expect(texts("b")).toEqual(["while away", "sentinel"]);
  });

  it("a fan-out is relayed whoever sent it: a ghost, or a person's own account (double puppeting), even where permissions name only users", async () => {
    await start({ options: { permissions: { [OWNER]: "admin" } } });
    await rig.a.post("ops", "ivan", "from a ghost");
    await until(() => texts("b").includes("from a ghost"), "the ghost's message on fleet");
    // A message its author sent on ops as themself, which the bridge mirrored into Matrix under their own account.
    const event = { kind: "message" as const, roomId: ROOM, eventId: "$puppet", sender: "@carol:other.org", ts: Date.now(), msgtype: "text" as const, doc: plainDoc("from carol's own account"), body: "from carol's own account" };
    await rig.store.queue.enqueue([{ lane: remoteLane("loopback2", "fleet"), sourceKey: "fan:$puppet|loopback2:fleet",
      payload: { t: "matrix", receivedAt: Date.now(), event, origin: { network: "loopback", chat: "ops", via: "Loopback" }, target: { network: "loopback2", chat: "fleet" } } }]);
    rig.core.queue.kick([remoteLane("loopback2", "fleet")]);
    await settle();
    expect(texts("b")).toEqual(["from a ghost", "from carol's own account", "sentinel"]);
    expect(rig.matrix.messages(ROOM).filter((e) => e.sender === rig.matrix.botMxid)).toEqual([]); // nobody told they may not relay
  });

  it("an item queued for the whole room (before delivery per target) goes to each linked chat once", async () => {
    await start();
    const event = { kind: "message" as const, roomId: ROOM, eventId: "$old", sender: OWNER, ts: Date.now(), msgtype: "text" as const, doc: plainDoc("queued long ago"), body: "queued long ago" };
    const ghostEcho = { ...event, eventId: "$echo", sender: "@loopback_ivan:example.org", doc: plainDoc("our own echo"), body: "our own echo" };
    await rig.store.queue.enqueue([
      { lane: matrixLane(ROOM), sourceKey: "m:$old", payload: { t: "matrix", receivedAt: Date.now(), event } },
      { lane: matrixLane(ROOM), sourceKey: "m:$echo", payload: { t: "matrix", receivedAt: Date.now(), event: ghostEcho } },
    ]);
    rig.core.queue.kick([matrixLane(ROOM)]);
    await until(() => texts("a").includes("queued long ago") && texts("b").includes("queued long ago"), "the split items delivered");
    await settle();
    expect(texts("a")).toEqual(["queued long ago", "sentinel"]);
    expect(texts("b")).toEqual(["queued long ago", "sentinel"]);
  });
});
