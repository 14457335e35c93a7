/**
 * GhostManager (core/ghosts.ts): a ghost is registered and its profile set only when something
 * changed, its avatar uploaded once per remote avatar, a failing profile lookup keeps the old
 * profile, and it joins a room once. Counted on an in-memory Matrix port and a scripted connection.
 */
import { describe, expect, it } from "vitest";
import type { Connection, NetworkConnector } from "../../../src/core/connector.js";
import { RemoteError } from "../../../src/core/errors.js";
import { GhostManager } from "../../../src/core/ghosts.js";
import { silentLogger } from "../../../src/core/log.js";
import type { UserInfo } from "../../../src/core/types.js";
import { backends, storeOpener } from "../../support/db.js";
import { FakeMatrixPort } from "../../support/fake-matrix-port.js";

const open = storeOpener();
const connector = { network: "net", displayName: "Net", ghostLocalpart: (u: string) => `net_${u}` } as unknown as NetworkConnector;
const MXID = "@net_u1:example.org";

/** A connection whose profile answers are scripted: a UserInfo, or an error to throw. */
function connection(...answers: Array<UserInfo | Error>) {
  const calls = { userInfo: 0, avatars: [] as string[] };
  const conn = {
    userInfo: async () => {
      calls.userInfo++;
      const a = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (a instanceof Error) throw a;
      return a;
    },
    downloadAvatar: async (src: string) => {
      calls.avatars.push(src);
      return { data: Buffer.from(src), mime: "image/png" };
    },
  } as unknown as Connection;
  return { conn, calls };
}

async function rig() {
  const store = await open(backends[0]!);
  const matrix = new FakeMatrixPort();
  return { store, matrix, ghosts: new GhostManager(store, matrix, silentLogger) };
}

describe("GhostManager", () => {
  it("registers a ghost with its profile once, and asks the network again only after the profile's time is up", async () => {
    const { store, matrix, ghosts } = await rig();
    const { conn, calls } = connection({ name: "Carol", avatar: "av1" });
    expect(await ghosts.ensure(connector, conn, "u1")).toBe(MXID);
    expect(await ghosts.ensure(connector, conn, "u1")).toBe(MXID);
    expect(calls.userInfo).toBe(1);
    expect(matrix.count("ensureGhost")).toBe(1);
    expect(matrix.profiles.get(MXID)).toEqual({ displayName: "Carol", avatarMxc: expect.stringMatching(/^mxc:/) });
    // Another process (or a restart) reads the fresh row and asks nobody.
    const again = new GhostManager(store, matrix, silentLogger);
    await again.ensure(connector, conn, "u1");
    expect(calls.userInfo).toBe(1);
    expect(matrix.count("ensureGhost")).toBe(1);
  });

  it("sets only what changed: a rename sets the name, the same avatar is not uploaded again", async () => {
    const { matrix, ghosts } = await rig();
    const { conn, calls } = connection();
    await ghosts.ensure(connector, conn, "u1", { name: "Carol", avatar: "av1" });
    await ghosts.ensure(connector, conn, "u1", { name: "Carol", avatar: "av1" }); // a user_change with nothing new
    expect(matrix.count("ensureGhost")).toBe(1);
    await ghosts.ensure(connector, conn, "u1", { name: "Carol D.", avatar: "av1" });
    expect(matrix.calls.filter((c) => c.op === "ensureGhost").map((c) => c.args[1])).toEqual([
      { displayName: "Carol", avatarMxc: expect.stringMatching(/^mxc:/) },
      { displayName: "Carol D.", avatarMxc: undefined },
    ]);
    expect(calls.avatars).toEqual(["av1"]);
    await ghosts.ensure(connector, conn, "u1", { name: "Carol D.", avatar: "av2" });
    expect(calls.avatars).toEqual(["av1", "av2"]);
    expect(matrix.calls.filter((c) => c.op === "ensureGhost").at(-1)!.args[1]).toEqual({ displayName: undefined, avatarMxc: expect.stringMatching(/^mxc:/) });
  });

  it("a profile lookup that fails keeps the ghost's old name", async () => {
    const { store, matrix, ghosts } = await rig();
    await ghosts.ensure(connector, connection().conn, "u1", { name: "Carol" });
    // A day later (the profile is due for a look), the network does not answer.
    await store.db.query(`UPDATE ghosts SET updated_at = now() - interval '2 days' WHERE mxid = $1`, [MXID]);
    const { conn, calls } = connection(new RemoteError("timeout", "no answer", { retryable: true }));
    const later = new GhostManager(store, matrix, silentLogger);
    expect(await later.ensure(connector, conn, "u1")).toBe(MXID);
    expect(calls.userInfo).toBe(1);
    expect(matrix.profiles.get(MXID)?.displayName).toBe("Carol");
    expect(matrix.count("ensureGhost")).toBe(1);
    expect((await store.ghosts.get(MXID))?.displayName).toBe("Carol");
  });

  it("joins a room once per ghost", async () => {
    const { matrix, ghosts } = await rig();
    await ghosts.ensureJoined("!a:example.org", MXID);
    await ghosts.ensureJoined("!a:example.org", MXID);
    await ghosts.ensureJoined("!b:example.org", MXID);
    expect(matrix.calls.filter((c) => c.op === "join").map((c) => c.args[0])).toEqual(["!a:example.org", "!b:example.org"]);
  });
});
