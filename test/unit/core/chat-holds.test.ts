/**
 * Holding a chat's lane for its history (core/chat-holds.ts) through the whole core, as a history
 * writer (the backfill, issue 14's import) uses it: while the chat is held, everything of its
 * lane waits in the durable queue, in order (its events to Matrix and Matrix events to it);
 * the history is written meanwhile; on the last release the waiting items follow. The room's
 * other link is not held, and its traffic is the sentinel that the held lane's items were seen.
 */
import { afterEach, describe, expect, it } from "vitest";
import { plainDoc } from "../../../src/formatting/ast.js";
import type { RemotePayload } from "../../../src/core/payloads.js";
import { backends, storeOpener } from "../../support/db.js";
import { coreRig, linkBoth, matrixMessage, ROOM, until, type CoreRig } from "../../support/core-rig.js";

const open = storeOpener();
const IVAN = "@loopback_ivan:example.org";
const LANE = "r:loopback:ops";

describe("ChatHolds", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  const inRoom = () => rig.matrix.messages(ROOM).filter((e) => e.sender === IVAN).map((e) => String(e.content.body));
  const pending = async () => (await rig.store.queue.pendingIn([LANE]))[0]?.pending ?? 0;
  const past = (text: string, at: number): RemotePayload => ({
    t: "remote", loginId: "loopback:acctA", network: "loopback", receivedAt: Date.now(), backfill: true,
    event: { kind: "message", key: `msg:past-${text}`, chat: "ops", at, ref: `past-${text}`, sender: "ivan", msg: { doc: plainDoc(text) } },
  });

  it("a held chat's items wait in its lane, in order, while history is written; they follow the last release", async () => {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    await rig.core.holds.hold("loopback", "ops", "import");
    await rig.core.holds.hold("loopback", "ops", "backfill");
    await matrixMessage(rig, "from matrix"); // one item for ops (held), one for fleet (not)
    await rig.a.post("ops", "ivan", "live 1");
    await rig.a.post("ops", "ivan", "live 2");
    await until(() => rig.b.sent("fleet").some((m) => m.text === "from matrix"), "the Matrix message on the other link");
    expect(await pending()).toBe(3);
    expect(inRoom()).toEqual([]);
    expect(rig.a.sent("ops")).toEqual([]);

    // The history writer posts the past, oldest first, then lets go; one holder left still holds.
    const t0 = Date.now() - 60_000;
    await rig.core.importPast(past("old 1", t0), "imp-1");
    await rig.core.importPast(past("old 2", t0 + 1000), "imp-2");
    await rig.core.holds.release("loopback", "ops", "import");
    expect(rig.core.holds.isHeld("loopback", "ops")).toBe(true);
    await matrixMessage(rig, "second from matrix");
    await until(() => rig.b.sent("fleet").some((m) => m.text === "second from matrix"), "the second Matrix message on the other link");
    expect(await pending()).toBe(4);
    expect(inRoom()).toEqual(["old 1", "old 2"]);

    await rig.core.holds.release("loopback", "ops", "backfill");
    await until(async () => (await pending()) === 0, "the held lane drained");
    expect(inRoom()).toEqual(["old 1", "old 2", "live 1", "live 2"]);
    expect(rig.a.sent("ops").map((m) => m.text)).toEqual(["from matrix", "second from matrix"]);
    // History is never relayed to the room's other links; the live messages are.
    expect(rig.b.sent("fleet").map((m) => m.text)).toEqual(["from matrix", "second from matrix", "live 1", "live 2"]);
    expect(rig.core.holds.isHeld("loopback", "ops")).toBe(false);
  });
});
