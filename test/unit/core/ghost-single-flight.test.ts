/**
 * GhostManager's set-up is single-flight per ghost (issue 18): callers that need a ghost while
 * its set-up runs wait for that one, a user_change that comes meanwhile is applied after it (not
 * dropped), a failed set-up fails its waiters too (their items retry), and two people with the
 * same picture share one upload. The network's answers are held by the test to make the overlap
 * certain, not likely.
 */
import { describe, expect, it } from "vitest";
import type { Connection, NetworkConnector } from "../../../src/core/connector.js";
import { MatrixError } from "../../../src/core/errors.js";
import { GhostManager } from "../../../src/core/ghosts.js";
import { silentLogger } from "../../../src/core/log.js";
import type { UserInfo } from "../../../src/core/types.js";
import { backends, storeOpener } from "../../support/db.js";
import { FakeMatrixPort } from "../../support/fake-matrix-port.js";

const open = storeOpener();
const connector = { network: "net", displayName: "Net", ghostLocalpart: (u: string) => `net_${u}` } as unknown as NetworkConnector;
const MXID = "@net_u1:example.org";

/** A connection whose profile lookups wait until `release()`; avatars are their source's bytes. */
function heldConnection(info: (user: string) => UserInfo, picture: (src: string) => Buffer = (src) => Buffer.from(src)) {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const calls = { userInfo: 0, avatars: 0 };
  const conn = {
    userInfo: async (user: string) => {
      calls.userInfo++;
      await gate;
      return info(user);
    },
    downloadAvatar: async (src: string) => {
      calls.avatars++;
      return { data: picture(src), mime: "image/png" };
    },
  } as unknown as Connection;
  return { conn, calls, release };
}

async function rig(matrix = new FakeMatrixPort()) {
  const store = await open(backends[0]!);
  return { store, matrix, ghosts: new GhostManager(store, matrix, silentLogger) };
}

describe("GhostManager set-up, single-flight per ghost", () => {
  it("twenty lanes needing a new ghost at once: one lookup, one profile set, one upload", async () => {
    const { matrix, ghosts } = await rig();
    const { conn, calls, release } = heldConnection(() => ({ name: "Carol", avatar: "av1" }));
    const all = Array.from({ length: 20 }, () => ghosts.ensure(connector, conn, "u1"));
    release();
    expect(await Promise.all(all)).toEqual(Array(20).fill(MXID));
    expect(calls).toEqual({ userInfo: 1, avatars: 1 });
    expect(matrix.count("ensureGhost")).toBe(1);
    expect(matrix.uploads).toHaveLength(1);
  });

  it("a user_change during the set-up is applied after it, not dropped", async () => {
    const { matrix, ghosts } = await rig();
    const { conn, release } = heldConnection(() => ({ name: "Carol" }));
    const first = ghosts.ensure(connector, conn, "u1");
    const renamed = ghosts.ensure(connector, conn, "u1", { name: "Carol D." });
    release();
    await Promise.all([first, renamed]);
    expect(matrix.calls.filter((c) => c.op === "ensureGhost").map((c) => (c.args[1] as { displayName?: string }).displayName)).toEqual(["Carol", "Carol D."]);
    expect(matrix.profiles.get(MXID)?.displayName).toBe("Carol D.");
  });

  it("a set-up that fails fails the callers waiting for it, and the next call tries again", async () => {
    class RefusingPort extends FakeMatrixPort {
      refuse = true;
      override async ensureGhost(localpart: string, profile: { displayName?: string; avatarMxc?: string }): Promise<string> {
        if (this.refuse) throw new MatrixError("M_UNKNOWN", "homeserver down (scripted)", { retryable: true });
        return super.ensureGhost(localpart, profile);
      }
    }
    const matrix = new RefusingPort();
    const { ghosts } = await rig(matrix);
    const { conn, calls, release } = heldConnection(() => ({ name: "Carol" }));
    const all = Array.from({ length: 5 }, () => ghosts.ensure(connector, conn, "u1"));
    release();
    for (const r of await Promise.allSettled(all)) expect(r).toMatchObject({ status: "rejected", reason: { message: expect.stringMatching(/scripted/) } });
    expect(calls.userInfo).toBe(1);
    matrix.refuse = false;
    expect(await ghosts.ensure(connector, conn, "u1")).toBe(MXID);
    expect(matrix.profiles.get(MXID)?.displayName).toBe("Carol");
  });

  it("two people with the same picture at different URLs share one upload", async () => {
    const { matrix, ghosts } = await rig();
    const { conn, calls, release } = heldConnection((u) => ({ name: u, avatar: `https://avatars/${u}.png` }), () => Buffer.from("same picture"));
    const both = [ghosts.ensure(connector, conn, "u1"), ghosts.ensure(connector, conn, "u2")];
    release();
    await Promise.all(both);
    expect(calls.avatars).toBe(2);
    expect(matrix.uploads).toHaveLength(1);
    expect(matrix.profiles.get("@net_u1:example.org")?.avatarMxc).toBe(matrix.profiles.get("@net_u2:example.org")?.avatarMxc);
  });
});
