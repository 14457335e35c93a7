/**
 * PortalDirectory (core/portals.ts): one room per chat however many ask at once, the chat's turn
 * for `link`-like work, a failed creation that leaves nothing behind, and two processes on one
 * database (the store's unique link decides; the loser gives its room up).
 */
import { expect, it } from "vitest";
import type { Connection, NetworkConnector } from "../../../src/core/connector.js";
import { silentLogger } from "../../../src/core/log.js";
import { MatrixError } from "../../../src/core/errors.js";
import { PortalDirectory } from "../../../src/core/portals.js";
import type { ChatInfo } from "../../../src/core/types.js";
import type { PortalLinkRow } from "../../../src/store/api.js";
import { describeEachBackend, storeOpener, type TestBackend } from "../../support/db.js";
import { FakeMatrixPort } from "../../support/fake-matrix-port.js";
import { until } from "../../support/core-rig.js";

const open = storeOpener();
const OWNER = "@alice:example.org";
const connector = { network: "net", displayName: "Net" } as NetworkConnector;

/** A connection that only answers chatInfo, counting the calls. */
function connection(): Connection & { infos: string[] } {
  const infos: string[] = [];
  const chatInfo = async (chat: string): Promise<ChatInfo> => {
    infos.push(chat);
    return { name: chat, kind: "channel", aliasLocalpart: `net_${chat}`, roomName: `${chat} (Net)` };
  };
  return { infos, chatInfo } as unknown as Connection & { infos: string[] };
}

/** A held createRoom: resolves `release` to let it (and any after it) through. */
function hold(matrix: FakeMatrixPort): () => void {
  let release!: () => void;
  matrix.holdCreateRoom = new Promise<void>((r) => { release = r; });
  return () => { matrix.holdCreateRoom = null; release(); };
}

async function directory(backend: TestBackend, matrix = new FakeMatrixPort()) {
  const store = await open(backend);
  const portals = new PortalDirectory(store, matrix, silentLogger);
  await portals.load();
  const created: PortalLinkRow[] = [];
  portals.onCreated = async (link) => { created.push(link); };
  return { store, portals, matrix, created };
}

describeEachBackend("PortalDirectory", (backend) => {
  it("makes one room for a chat that several callers want at the same time", async () => {
    const { portals, matrix, created } = await directory(backend);
    const conn = connection();
    const release = hold(matrix);
    const asks = [1, 2, 3].map(() => portals.createPortal(connector, conn, "net:1", OWNER, "general"));
    await until(() => portals.turnsFor("net", "general") === 3 || matrix.count("createRoom") > 1, "three callers at the chat");
    release();
    const links = await Promise.all(asks);
    expect(new Set(links.map((l) => l.roomId)).size).toBe(1);
    expect(matrix.count("createRoom")).toBe(1);
    expect(conn.infos).toEqual(["general"]);
    expect(created.map((l) => l.chat)).toEqual(["general"]); // one backfill start
    expect(portals.turnsFor("net", "general")).toBe(0);
  });

  it("different chats do not wait for each other", async () => {
    const { portals, matrix } = await directory(backend);
    const conn = connection();
    const release = hold(matrix);
    const asks = ["a", "b"].map((chat) => portals.createPortal(connector, conn, "net:1", OWNER, chat));
    await until(() => matrix.count("createRoom") === 2, "both rooms asked for while the first is held");
    release();
    expect(new Set((await Promise.all(asks)).map((l) => l.roomId)).size).toBe(2);
  });

  it("work in the chat's turn waits for a portal being made, then finds it", async () => {
    const { portals, matrix } = await directory(backend);
    const release = hold(matrix);
    const making = portals.createPortal(connector, connection(), "net:1", OWNER, "general");
    await until(() => matrix.count("createRoom") === 1, "the room being made");
    const seen = portals.withChat("net", "general", async () => portals.linkForChat("net", "general")?.roomId);
    release();
    expect(await seen).toBe((await making).roomId);
  });

  it("a chat linked while a portal for it waited its turn gets no portal room", async () => {
    const { portals, matrix } = await directory(backend);
    let unlink!: () => void;
    const linking = portals.withChat("net", "general", async () => {
      await new Promise<void>((r) => { unlink = r; }); // `link` checking power levels, asking Slack…
      await portals.addPortal({ roomId: "!mine:example.org", kind: "linked", ownerMxid: null, phase: "parallel", createdAt: new Date() });
      await portals.addLink({ roomId: "!mine:example.org", network: "net", chat: "general", loginId: "net:1", name: "general", alias: null });
    });
    const portal = portals.ensurePortal(connector, connection(), "net:1", OWNER, "general");
    await until(() => portals.turnsFor("net", "general") === 2, "the portal waiting for the link");
    unlink();
    await linking;
    expect(await portal).toMatchObject({ link: { roomId: "!mine:example.org" }, created: false });
    expect(matrix.count("createRoom")).toBe(0);
  });

  it("a failed creation leaves nothing behind, and the next caller tries again", async () => {
    const { portals, matrix, store } = await directory(backend);
    const conn = connection();
    matrix.createRoom = async () => { throw new MatrixError("M_UNKNOWN", "homeserver down", { retryable: true }); };
    await expect(portals.createPortal(connector, conn, "net:1", OWNER, "general")).rejects.toThrow(/homeserver down/);
    expect(portals.linkForChat("net", "general")).toBeUndefined();
    expect(await store.links.byChat("net", "general")).toBeNull();
    expect(portals.turnsFor("net", "general")).toBe(0);
    matrix.createRoom = FakeMatrixPort.prototype.createRoom.bind(matrix);
    const link = await portals.createPortal(connector, conn, "net:1", OWNER, "general");
    expect((await store.links.byChat("net", "general"))?.roomId).toBe(link.roomId);
  });

  it("two processes on one database: the chat keeps the first room linked, the other gives its room up", async () => {
    const first = await directory(backend, new FakeMatrixPort("!one"));
    const store = first.store;
    const secondMatrix = new FakeMatrixPort("!two");
    const second = new PortalDirectory(store, secondMatrix, silentLogger);
    await second.load(); // before the first made anything: its cache says "no room yet"
    const mine = await first.portals.createPortal(connector, connection(), "net:1", OWNER, "general");
    const theirs = await second.createPortal(connector, connection(), "net:1", OWNER, "general");
    expect(theirs.roomId).toBe(mine.roomId);
    expect(second.linkForChat("net", "general")?.roomId).toBe(mine.roomId);
    const dropped = secondMatrix.rooms[0]!.roomId;
    expect(secondMatrix.left).toEqual([{ roomId: dropped, mxid: secondMatrix.botMxid }]);
    expect(await store.portals.get(dropped)).toBeNull();
    expect(second.portal(mine.roomId)?.kind).toBe("portal");
    expect((await store.links.list()).map((l) => l.roomId)).toEqual([mine.roomId]);
  });
});
