/**
 * Files that lie or are empty (issue 5, item 6), on the loopback network (10 MB upload limit):
 * a Matrix file whose info.size understates it is measured after download and refused with a
 * notice; one that states no size at all likewise; an empty remote file becomes a notice naming
 * it (the media client cannot upload an empty body, and must not hold the chat's lane); and a
 * remote file that states no size but is too large becomes the "too large" notice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeMatrixClient } from "../fakes/homeserver.js";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";

const IVAN = "@loopback_ivan:example.org";

describe("files that lie or are empty", () => {
  const lb = new LoopbackNetwork();
  lb.addAccount("lb-token-files", "acct", "Files Test");
  lb.addChat("ops", "ops");
  lb.addUser("ivan", "Ivan Petrov");
  let h: Harness;
  let alice: FakeMatrixClient;
  let portal: string;

  beforeAll(async () => {
    h = await Harness.start({ connectors: () => [new LoopbackConnector(lb)], initialChatCount: { loopback: 10 }, config: { bridge: { max_file_size: 2 * 1024 * 1024 } } });
    alice = h.user("alice");
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, "login loopback lb-token-files")).toMatch(/Logged in/);
    await waitUntil(() => !!h.hs.roomByAlias("#loopback_ops:example.org"), 10_000, "portal");
    portal = h.hs.roomByAlias("#loopback_ops:example.org")!;
    await alice.join(portal);
  });
  afterAll(async () => { await h?.stop(); });

  it("a Matrix file whose info.size understates it, or is missing, is measured and refused with a notice", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    for (const [name, info] of [["liar.bin", { mimetype: "application/octet-stream", size: 10 }], ["nosize.bin", { mimetype: "application/octet-stream" }]] as const) {
      const mxc = await alice.upload(big, "application/octet-stream", name);
      await alice.sendMessage(portal, { msgtype: "m.file", body: name, url: mxc, info });
      const notice = await h.waitForBot(portal, new RegExp(`${name.replace(".", "\\.")} is too large for Loopback \\(limit 2 MB\\)`));
      expect(notice.content.msgtype).toBe("m.notice");
    }
    expect(lb.sent("ops").filter((m) => m.files?.length)).toEqual([]);
  });

  it("an empty remote file becomes a notice naming it, and the chat's next message is not held up", async () => {
    await lb.post("ops", "ivan", "", { file: { name: "empty.log", data: Buffer.alloc(0), mime: "text/plain" } });
    const notice = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { msgtype: "m.notice", body: "File empty.log is empty (0 bytes)" } });
    expect(notice).toBeDefined();
    await lb.post("ops", "ivan", "right after the empty file");
    await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: "right after the empty file" } }, { timeoutMs: 5000 });
    // Only the two refused Matrix files of the test above are dead letters; nothing of the empty file.
    expect((await h.bridge.store.queue.deadItems(10)).map((d) => d.lastError).filter((e) => !/liar|nosize/.test(String(e)))).toEqual([]);
  });

  it("a remote file too large for max_file_size becomes a notice, even when it did not state its size", async () => {
    const ref = lb.nextRef("ops");
    lb.files.set("file-unsized", Buffer.alloc(3 * 1024 * 1024, 1));
    await lb.push([{ kind: "message", key: `msg:${ref}`, chat: "ops", at: Date.now(), ref, sender: "ivan",
      msg: { doc: [], files: [{ id: "file-unsized", name: "unsized.tar", mime: "application/x-tar", kind: "file" }] } }]);
    const notice = await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { msgtype: "m.notice", body: /unsized\.tar.*too large to bridge/ } });
    expect(notice).toBeDefined();
  });
});
