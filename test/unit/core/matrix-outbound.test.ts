/**
 * Matrix → remote (core/matrix-outbound.ts) through the whole core, judged by what reaches each
 * linked chat: a failure on one target is retried without doubling the message on the target
 * that already has it, and a Matrix event delivered again after its queue row was pruned is not
 * sent again. "Nothing more arrived" is proved by a sentinel sent after it on the same room lane.
 */
import { afterEach, describe, expect, it } from "vitest";
import { RemoteError } from "../../../src/core/errors.js";
import { backends, storeOpener } from "../../support/db.js";
import { coreRig, linkBoth, matrixMessage, OWNER, relayStatements, ROOM, until, type CoreRig } from "../../support/core-rig.js";
import { plainDoc } from "../../../src/formatting/ast.js";
import { remoteLane } from "../../../src/core/payloads.js";
import type { MatrixInbound } from "../../../src/core/matrix-port.js";

const open = storeOpener();
const texts = (rig: CoreRig, net: "a" | "b") => rig[net].sent(net === "a" ? "ops" : "fleet").map((m) => m.text);

describe("MatrixOutbound", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  /** Send a sentinel from Matrix and wait until both chats have it: everything before it on the lane is done. */
  async function settle(name: string): Promise<void> {
    await matrixMessage(rig, name);
    await until(() => texts(rig, "a").includes(name) && texts(rig, "b").includes(name), `sentinel ${name} on both chats`);
  }

  it("a send failing on the second target is retried there; the first target keeps its one copy", async () => {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    rig.b.failSends.push(new RemoteError("timeout", "the network dropped it", { retryable: true }));
    await matrixMessage(rig, "deploy at noon");
    await until(() => texts(rig, "b").includes("deploy at noon"), "the retry to reach the second chat");
    await settle("sentinel");
    expect(texts(rig, "a")).toEqual(["deploy at noon", "sentinel"]);
    expect(texts(rig, "b")).toEqual(["deploy at noon", "sentinel"]);
  });

  it("a target retried after the other chat has the message still gets it (the map is checked per network and chat)", async () => {
    rig = await coreRig(await open(backends[0]!));
    // Both networks have a chat "ops": only the network tells the two copies apart.
    rig.b.addChat("ops", "ops");
    await rig.core.linkRoom(ROOM, "loopback", "ops", OWNER, true);
    await rig.core.linkRoom(ROOM, "loopback2", "ops", OWNER, true);
    let release!: () => void;
    rig.b.holdSends = new Promise<void>((r) => { release = r; });
    rig.b.failSends.push(new RemoteError("timeout", "the network dropped it", { retryable: true }));
    const ev = await matrixMessage(rig, "deploy at noon");
    // The second chat's first try fails only once the first chat's copy is in the message map.
    await until(async () => (await rig.store.messages.byEvent(ev.eventId)).some((r) => r.network === "loopback"), "the first chat's copy mapped");
    rig.b.holdSends = null;
    release();
    await matrixMessage(rig, "sentinel");
    await until(() => rig.b.sent("ops").some((m) => m.text === "sentinel") && texts(rig, "a").includes("sentinel"), "the sentinel on both chats");
    expect(texts(rig, "a")).toEqual(["deploy at noon", "sentinel"]);
    expect(rig.b.sent("ops").map((m) => m.text)).toEqual(["deploy at noon", "sentinel"]);
  });

  it("an item whose chat is linked to another room than its event's is not sent there", async () => {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    const event = { kind: "message" as const, roomId: "!elsewhere:example.org", eventId: "$stray", sender: OWNER, ts: Date.now(), msgtype: "text" as const, doc: plainDoc("stray"), body: "stray" };
    await rig.store.queue.enqueue([{ lane: remoteLane("loopback", "ops"), sourceKey: "stray", payload: { t: "matrix", receivedAt: Date.now(), event, target: { network: "loopback", chat: "ops" } } }]);
    rig.core.queue.kick([remoteLane("loopback", "ops")]);
    await settle("sentinel");
    expect(texts(rig, "a")).toEqual(["sentinel"]);
  });

  it("a permanent failure on one target does not keep the message from the other", async () => {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    rig.b.failSends.push(new RemoteError("msg_too_long", "too long for the network", { retryable: false }));
    await matrixMessage(rig, "only where it fits");
    await settle("sentinel");
    expect(texts(rig, "a")).toEqual(["only where it fits", "sentinel"]);
    expect(texts(rig, "b")).toEqual(["sentinel"]);
  });

  /** "once only" sent to both chats of a linked room, then its queue rows pruned: only the message map knows it. */
  async function deliveredThenPruned(): Promise<MatrixInbound> {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    const ev = await matrixMessage(rig, "once only");
    await until(() => texts(rig, "a").includes("once only") && texts(rig, "b").includes("once only"), "first delivery");
    // The queue keeps done rows a week for dedup; after that only the message map knows.
    await until(async () => (await rig.store.queue.depth()) === 0, "queue drained");
    expect(await rig.store.queue.prune(new Date(Date.now() + 60_000))).toBeGreaterThan(0);
    return ev;
  }

  it("a Matrix event delivered again after its queue row was pruned is not sent again", async () => {
    const ev = await deliveredThenPruned();
    const statements = relayStatements(rig.store);
    const done = rig.core.queue.counts.done;
    await rig.core.onMatrixEvents([ev]); // the homeserver retries the old transaction
    await until(() => rig.core.queue.counts.done === done + 2, "both targets' items applied");
    // Both chats quiet: one insert hands out both items with their "sent there already" answered, then each one's done.
    expect(statements).toHaveLength(3);
    await settle("sentinel");
    expect(texts(rig, "a")).toEqual(["once only", "sentinel"]);
    expect(texts(rig, "b")).toEqual(["once only", "sentinel"]);
  });

  it("a redelivered event that waited behind a busy lane looks itself up and is not sent again there", async () => {
    const ev = await deliveredThenPruned();
    // Chat a's lane busy: its copy of the redelivered event is handed out later, by the blocker's
    // done, without the insert's answer; chat b's is handed out by the insert.
    let release!: () => void;
    rig.a.holdSends = new Promise<void>((r) => (release = r));
    const calls = rig.a.sendCalls;
    await matrixMessage(rig, "blocker");
    await until(() => rig.a.sendCalls > calls, "the blocker in flight to a");
    await rig.core.onMatrixEvents([ev]);
    release();
    rig.a.holdSends = null;
    await settle("sentinel");
    expect(texts(rig, "a")).toEqual(["once only", "blocker", "sentinel"]);
    expect(texts(rig, "b")).toEqual(["once only", "blocker", "sentinel"]);
  });

  it("a fan-out of a remote message goes to the other chat only, once, even when it had to retry", async () => {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    rig.b.failSends.push(new RemoteError("timeout", "the network dropped it", { retryable: true }));
    await rig.a.post("ops", "ivan", "from ops");
    await until(() => texts(rig, "b").includes("from ops"), "fan-out to fleet");
    await settle("sentinel");
    expect(texts(rig, "a")).toEqual(["sentinel"]); // never back to where it came from
    expect(texts(rig, "b")).toEqual(["from ops", "sentinel"]);
  });
});
