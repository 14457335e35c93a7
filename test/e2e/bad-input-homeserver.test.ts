/**
 * A homeserver that answers garbage (issue 5, item 6): behind a proxy that serves an HTML 502
 * page, a 200 with a web page instead of JSON, or JSON cut short after the homeserver did the
 * work. Each time the bridge logs it, retries, says "degraded" on /health (and why), does not
 * crash or dead-letter, and once the homeserver answers properly again every message arrives
 * exactly once, in order; a portal created meanwhile is created once, with a real room id.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeMatrixClient } from "../fakes/homeserver.js";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";
import { SpoilingProxy, type SpoilMode } from "../support/spoiling-proxy.js";

const IVAN = "@loopback_ivan:example.org";
const body = (e: { content: unknown }) => String((e.content as { body?: unknown }).body);

describe("a homeserver that answers garbage", () => {
  const lb = new LoopbackNetwork();
  lb.addAccount("lb-token-garbage", "acct", "Garbage Test");
  lb.addChat("ops", "ops");
  lb.addUser("ivan", "Ivan Petrov");
  let proxy: SpoilingProxy;
  let h: Harness;
  let alice: FakeMatrixClient;
  let portal: string;

  const health = async () => {
    const res = await fetch(`http://127.0.0.1:${h.bridge.metricsPort}/health`);
    return { code: res.status, body: (await res.json()) as { status: string; homeserver: { ok: boolean; error?: string } } };
  };

  beforeAll(async () => {
    proxy = await SpoilingProxy.start();
    h = await Harness.start({
      // The harness builds connectors once the fake homeserver is up: point the proxy at it then.
      connectors: (hh) => { proxy.target = hh.hs.url; return [new LoopbackConnector(lb)]; },
      config: { homeserver: { url: proxy.url } }, initialChatCount: { loopback: 10 },
    });
    alice = h.user("alice");
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, "login loopback lb-token-garbage")).toMatch(/Logged in/);
    await waitUntil(() => !!h.hs.roomByAlias("#loopback_ops:example.org"), 10_000, "portal");
    portal = h.hs.roomByAlias("#loopback_ops:example.org")!;
    await alice.join(portal);
    await lb.post("ops", "ivan", "before the trouble");
    await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: "before the trouble" } });
  });
  afterAll(async () => {
    await h?.stop();
    await proxy?.stop();
  });

  it.each<[SpoilMode, RegExp]>([
    ["html502", /502/],
    ["garbage200", /not Matrix JSON|unreadable|HTTP 200/i],
    ["truncated", /not Matrix JSON|unreadable|HTTP 200/i],
  ])("%s: retried, /health degraded with the reason, then each message exactly once and in order", async (mode, why) => {
    const texts = [1, 2, 3].map((i) => `${mode} message ${i}`);
    proxy.spoiled = 0;
    proxy.mode = mode;
    for (const t of texts) await lb.post("ops", "ivan", t);
    await waitUntil(() => proxy.spoiled >= 2, 10_000, "the bridge to meet the garbage");
    await waitUntil(async () => (await health()).code === 503, 10_000, "/health degraded");
    const degraded = await health();
    expect(degraded.body.status).toBe("degraded");
    expect(degraded.body.homeserver.ok).toBe(false);
    expect(degraded.body.homeserver.error).toMatch(why);
    proxy.mode = "pass";
    for (const t of texts) await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: t } }, { timeoutMs: 20_000 });
    await waitUntil(async () => (await health()).code === 200, 10_000, "/health ok again");
    await lb.post("ops", "ivan", `${mode} sentinel`); // behind them on the chat's lane: a double would be in by now
    await h.hs.waitForEvent({ room_id: portal, sender: IVAN, content: { body: `${mode} sentinel` } }, { timeoutMs: 20_000 });
    const got = h.messages(portal, IVAN).map(body).filter((b) => b.startsWith(mode));
    expect(got).toEqual([...texts, `${mode} sentinel`]); // once each, in order
    expect(await h.bridge.store.queue.deadItems(10)).toEqual([]);
  });

  it.each<[SpoilMode, string]>([["garbage200", "late"], ["truncated", "later"]])("a portal created while the homeserver answers %s is created once, with a real room id", async (mode, chat) => {
    lb.addChat(chat, chat);
    proxy.spoiled = 0;
    proxy.mode = mode;
    await lb.post(chat, "ivan", `first words in ${chat}`);
    await waitUntil(() => proxy.spoiled >= 2, 10_000, "the bridge to meet the garbage");
    expect(h.bridge.core.portals.allPortals().every((p) => typeof p.roomId === "string" && p.roomId.startsWith("!"))).toBe(true);
    proxy.mode = "pass";
    await waitUntil(() => !!h.hs.roomByAlias(`#loopback_${chat}:example.org`), 20_000, `portal for ${chat}`);
    const room = h.hs.roomByAlias(`#loopback_${chat}:example.org`)!;
    await h.hs.waitForEvent({ room_id: room, sender: IVAN, content: { body: `first words in ${chat}` } }, { timeoutMs: 20_000 });
    // Cut short after the homeserver made the room: the retry finds it by its alias instead of making a second one.
    expect(h.hs.rooms().filter((r) => h.hs.stateContent(r, "m.room.name")?.name === `${chat} (Loopback)`)).toHaveLength(1);
    expect(h.bridge.core.portals.allPortals().every((p) => typeof p.roomId === "string" && p.roomId.startsWith("!"))).toBe(true);
    expect(h.bridge.core.portals.linksOfRoom(room).map((l) => l.chat)).toEqual([chat]);
  });

  it("Matrix → remote goes on meanwhile: nothing lost, nothing doubled", async () => {
    proxy.mode = "html502";
    await alice.sendText(portal, "from matrix during the trouble");
    await waitUntil(() => lb.sent("ops").some((m) => m.text === "from matrix during the trouble"), 20_000, "Matrix → loopback");
    proxy.mode = "pass";
    await alice.sendText(portal, "sentinel after the trouble");
    await waitUntil(() => lb.sent("ops").some((m) => m.text === "sentinel after the trouble"), 20_000, "the sentinel");
    expect(lb.sent("ops").filter((m) => m.text === "from matrix during the trouble")).toHaveLength(1);
    expect(h.logs).toMatch(/will retry/);
  });
});
