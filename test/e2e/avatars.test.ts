/**
 * Matrix avatars reach Slack through icon_url, which Slack fetches from the internet: the
 * bridge serves them at a signed public URL. Forged or altered URLs get nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082", "hex");

describe("signed public avatar URLs", () => {
  const net = new LoopbackNetwork();
  net.addAccount("lb-t", "acct", "Acct");
  net.addChat("ops", "ops");
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({
      connectors: () => [new LoopbackConnector(net)], initialChatCount: { loopback: 10 },
      config: { bridge: { public_url: "https://bridge.example.org" } },
    });
  });
  afterAll(async () => { await h?.stop(); });

  it("sends the sender's avatar as a signed URL that serves the image, and refuses forged ones", async () => {
    const alice = h.user("alice");
    const mxc = await alice.upload(PNG, "image/png", "me.png");
    await alice.setAvatarUrl(mxc);
    const dm = await h.dm(alice);
    await h.command(alice, dm, "login loopback lb-t");
    await waitUntil(() => h.hs.roomByAlias("#loopback_ops:example.org") !== undefined, 10_000, "portal");
    const room = h.hs.roomByAlias("#loopback_ops:example.org")!;
    await alice.join(room);
    await alice.sendText(room, "with avatar");
    await waitUntil(() => net.sent("ops").some((m) => m.text === "with avatar"), 10_000, "relay");
    const url = net.sent("ops").find((m) => m.text === "with avatar")!.senderAvatarUrl!;
    expect(url).toMatch(/^https:\/\/bridge\.example\.org\/_tandem\/avatar\/[A-Za-z0-9_-]{32}\/example\.org\/[A-Za-z0-9_-]+$/);
    const real = url.replace("https://bridge.example.org", h.config.appservice.address); // the reverse proxy's job
    const res = await fetch(real);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await res.arrayBuffer())).toEqual(PNG);
    const forged = real.replace(/avatar\/[A-Za-z0-9_-]{4}/, "avatar/AAAA");
    expect((await fetch(forged)).status).toBe(404);
    const otherMedia = real.replace(/[A-Za-z0-9_-]+$/, "someoneelsesmedia");
    expect((await fetch(otherMedia)).status).toBe(404);
  });
});

describe("the avatar cache is bounded in bytes (bridge.avatar_cache_bytes)", () => {
  const MB = 1024 * 1024;
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({
      connectors: () => [new LoopbackConnector(new LoopbackNetwork())],
      config: { bridge: { public_url: "https://bridge.example.org", avatar_cache_bytes: 4 * MB } },
    });
  });
  afterAll(async () => { await h?.stop(); });

  it("40 large avatars served one after another stay under the cap, and each is served whole", async () => {
    const alice = h.user("alice");
    for (let i = 0; i < 40; i++) {
      const image = Buffer.concat([PNG, Buffer.alloc(MB, i)]); // a 1 MB "picture"
      const mxc = await alice.upload(image, "image/png", `big-${i}.png`);
      const url = h.bridge.avatars.urlFor(mxc)!.replace("https://bridge.example.org", h.config.appservice.address);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(image)).toBe(true);
      expect(h.bridge.avatars.cache.bytes).toBeLessThanOrEqual(4 * MB);
    }
    // The most recent ones are kept (least recently served go first).
    expect(h.bridge.avatars.cache.size).toBe(3);
  });
});
