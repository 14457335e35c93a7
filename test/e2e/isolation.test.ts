/**
 * One failure stays one failure (issue 12): a room linked to two networks keeps relaying with
 * the healthy one while the other fails, is rate-limited, has a bug on its side or is logged
 * out; each (Matrix event, linked chat) is delivered, retried and dead-lettered on its own, and
 * the per-chat "already sent" check keeps a redelivered event from going out twice.
 * "Nothing else happened" is shown by a sentinel message behind it on the same lane.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteError } from "../../src/core/errors.js";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";
import type { FakeMatrixClient } from "../fakes/homeserver.js";

const texts = (net: LoopbackNetwork, chat: string, prefix: string) => net.sent(chat).map((m) => m.text).filter((t) => t.startsWith(prefix));
const numbered = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);

/** Two loopback networks, a room linked to a chat on each: a ("ops") is healthy, b ("fleet") misbehaves. */
async function linkedRoom(config?: Record<string, Record<string, unknown>>) {
  const a = new LoopbackNetwork();
  const b = new LoopbackNetwork();
  a.addAccount("lb-a", "acctA", "Alpha");
  b.addAccount("lb-b", "acctB", "Beta");
  a.addChat("ops", "ops");
  b.addChat("fleet", "fleet");
  a.addUser("ivan", "Ivan Petrov");
  const h = await Harness.start({ connectors: () => [new LoopbackConnector(a, "loopback"), new LoopbackConnector(b, "loopback2")], config });
  const admin = h.user("admin");
  const dm = await h.dm(admin);
  expect(await h.command(admin, dm, "login loopback lb-a")).toMatch(/Logged in/);
  expect(await h.command(admin, dm, "login loopback2 lb-b")).toMatch(/Logged in/);
  const room = await admin.createRoom({ name: "Fleet Ops", invite: [h.botMxid] });
  await h.waitForBot(room, /Hello/);
  const pl = await admin.getState(room, "m.room.power_levels");
  await admin.setState(room, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
  expect(await h.command(admin, room, "!tandem link loopback ops")).toMatch(/Linked this room/);
  expect(await h.command(admin, room, "!tandem link loopback2 fleet")).toMatch(/Linked this room/);
  return { a, b, h, admin, dm, room };
}

describe("a room linked to two networks, one of them in trouble", () => {
  let w: Awaited<ReturnType<typeof linkedRoom>>;
  let admin: FakeMatrixClient;
  beforeAll(async () => {
    w = await linkedRoom();
    admin = w.admin;
  });
  afterAll(async () => { await w?.h.stop(); });

  /** Matrix messages reach a in order, and a message from a reaches Matrix, while b is in trouble. */
  async function healthySideKeepsGoing(prefix: string): Promise<void> {
    for (const t of numbered(prefix, 5)) await admin.sendText(w.room, t);
    await waitUntil(() => texts(w.a, "ops", prefix).length === 5, 15_000, `${prefix}: all five on a`);
    expect(texts(w.a, "ops", prefix)).toEqual(numbered(prefix, 5));
    await w.a.post("ops", "ivan", `${prefix} from a`);
    await w.h.hs.waitForEvent({ room_id: w.room, content: { body: `${prefix} from a` } });
  }

  it("keeps relaying Matrix ↔ a while b's sends fail (5xx), and b gets everything once, in order, when it recovers", async () => {
    w.b.failAllSends = new RemoteError("http_502", "bad gateway", { retryable: true });
    await healthySideKeepsGoing("failing");
    expect(texts(w.b, "fleet", "failing")).toEqual([]);
    w.b.failAllSends = null;
    await waitUntil(() => texts(w.b, "fleet", "failing").length >= 6, 15_000, "b caught up");
    // The fan-out of a's message is last on b's lane: nothing before it can still come.
    expect(texts(w.b, "fleet", "failing")).toEqual([...numbered("failing", 5), "failing from a"]);
  });

  it("keeps relaying Matrix ↔ a while b is rate-limited (Retry-After), then b catches up once, in order", async () => {
    w.b.failSends.push(new RemoteError("rate_limited", "slow down", { retryable: true, retryAfterMs: 1500 }));
    await healthySideKeepsGoing("limited");
    await waitUntil(() => texts(w.b, "fleet", "limited").length >= 6, 15_000, "b caught up");
    expect(texts(w.b, "fleet", "limited")).toEqual([...numbered("limited", 5), "limited from a"]);
  });

  it("a bug on b's side (a TypeError) costs b one dead-lettered message with a notice, after 3 tries, not hours", async () => {
    w.b.failSends.push(...[1, 2, 3].map(() => new TypeError("Cannot read properties of undefined (reading 'text')")));
    await admin.sendText(w.room, "buggy 1");
    await w.h.waitForBot(w.room, /A Matrix message could not be delivered: Cannot read properties of undefined/);
    await admin.sendText(w.room, "buggy sentinel");
    await waitUntil(() => texts(w.b, "fleet", "buggy").length === 1, 15_000, "the sentinel on b");
    expect(texts(w.b, "fleet", "buggy")).toEqual(["buggy sentinel"]);
    expect(texts(w.a, "ops", "buggy")).toEqual(["buggy 1", "buggy sentinel"]);
    const dead = (await w.h.bridge.store.queue.deadItems(10)).filter((i) => i.lane === "r:loopback2:fleet");
    expect(dead.map((i) => [i.attempts, i.lastError])).toEqual([[3, "TypeError: Cannot read properties of undefined (reading 'text')"]]);
  });

  it("a redelivered Matrix event (its queue rows pruned) is not sent again to a chat it reached", async () => {
    const eventId = await admin.sendText(w.room, "once only");
    await waitUntil(() => texts(w.a, "ops", "once only").length === 1 && texts(w.b, "fleet", "once only").length === 1, 10_000, "first delivery");
    await waitUntil(async () => (await w.h.bridge.store.queue.depth()) === 0, 10_000, "queue settled");
    await w.h.bridge.store.queue.prune(new Date(Date.now() + 60_000)); // as a week later: the source keys are gone
    const res = await fetch(`${w.h.config.appservice.address}/_matrix/app/v1/transactions/replay-${Date.now()}`, {
      method: "PUT", headers: { authorization: `Bearer ${w.h.registration.hs_token}`, "content-type": "application/json" },
      body: JSON.stringify({ events: [w.h.hs.event(eventId)] }),
    });
    expect(res.status).toBe(200);
    await admin.sendText(w.room, "once only sentinel");
    await waitUntil(() => texts(w.a, "ops", "once only sentinel").length === 1 && texts(w.b, "fleet", "once only sentinel").length === 1, 10_000, "sentinels");
    expect(texts(w.a, "ops", "once only")).toEqual(["once only", "once only sentinel"]);
    expect(texts(w.b, "fleet", "once only")).toEqual(["once only", "once only sentinel"]);
  });

  it("a Matrix reaction and its removal reach both chats, each through its own item", async () => {
    const eventId = await admin.sendText(w.room, "react to me");
    await waitUntil(() => texts(w.a, "ops", "react to me").length === 1 && texts(w.b, "fleet", "react to me").length === 1, 10_000, "delivered");
    const on = (net: LoopbackNetwork, chat: string) => net.sent(chat).find((m) => m.text === "react to me")!.reactions.has("🚀");
    const reaction = await admin.react(w.room, eventId, "🚀");
    await waitUntil(() => on(w.a, "ops") && on(w.b, "fleet"), 10_000, "reaction on both");
    // b's lane is held by a failing message, so a's item removes its reaction first; b's comes after.
    w.b.failAllSends = new RemoteError("http_503", "unavailable", { retryable: true });
    await admin.sendText(w.room, "react hold");
    await admin.redact(w.room, reaction);
    await waitUntil(() => !on(w.a, "ops"), 10_000, "reaction removed on a");
    w.b.failAllSends = null;
    await waitUntil(() => texts(w.b, "fleet", "react hold").length === 1, 10_000, "b released");
    await waitUntil(() => !on(w.b, "fleet"), 10_000, "reaction removed on b");
  });

  it("logout detaches b's link with one notice; a keeps relaying; status shows what waits; a new login sends it, once, in order", async () => {
    expect(await w.h.command(admin, w.dm, "logout loopback2")).toMatch(/Logged out/);
    await w.h.waitForBot(w.room, /Loopback2 fleet: the login was logged out/);
    await healthySideKeepsGoing("detached");
    expect(texts(w.b, "fleet", "detached")).toEqual([]);
    const status = await w.h.command(admin, w.dm, "status");
    expect(status).toMatch(/Detached \(logged out, waiting for a new login\):\n• Loopback2 fleet: detached since .* 6 message\(s\) waiting since .*; dropped after 24 hours/);
    expect(await w.h.command(admin, w.dm, "login loopback2 lb-b")).toMatch(/Logged in/);
    await w.h.waitForBot(w.room, /Loopback2 fleet: logged in again, relaying resumes/);
    await waitUntil(() => texts(w.b, "fleet", "detached").length >= 6, 15_000, "b caught up after the new login");
    expect(texts(w.b, "fleet", "detached")).toEqual([...numbered("detached", 5), "detached from a"]);
    const notices = w.h.hs.timeline(w.room).filter((e) => e.sender === w.h.botMxid && /the login was logged out/.test(String((e.content as { body?: unknown }).body)));
    expect(notices).toHaveLength(1); // one for the room, not one per waiting message
    expect(await w.h.command(admin, w.dm, "status")).not.toMatch(/Detached/);
  });
});

describe("a detached chat's messages are dropped with one notice once the wait is over", () => {
  let w: Awaited<ReturnType<typeof linkedRoom>>;
  beforeAll(async () => { w = await linkedRoom({ bridge: { detached_wait_minutes: 0 } }); });
  afterAll(async () => { await w?.h.stop(); });

  it("dead-letters them at once with bridge.detached_wait_minutes 0; a keeps relaying; a new login relays what comes next", async () => {
    expect(await w.h.command(w.admin, w.dm, "logout loopback2")).toMatch(/Logged out/);
    await w.h.waitForBot(w.room, /the login was logged out/);
    for (const t of numbered("dropped", 3)) await w.admin.sendText(w.room, t);
    await w.h.waitForBot(w.room, /Matrix messages that waited for Loopback2 fleet are dropped: the Loopback2 login for fleet was logged out/);
    await waitUntil(() => texts(w.a, "ops", "dropped").length === 3, 10_000, "a got all three");
    await waitUntil(async () => (await w.h.bridge.store.queue.deadItems(10)).length === 3, 10_000, "three dead letters");
    expect(await w.h.command(w.admin, w.dm, "login loopback2 lb-b")).toMatch(/Logged in/);
    await w.admin.sendText(w.room, "dropped sentinel");
    await waitUntil(() => texts(w.b, "fleet", "dropped").length === 1, 10_000, "the sentinel on b");
    expect(texts(w.b, "fleet", "dropped")).toEqual(["dropped sentinel"]);
    const drops = w.h.hs.timeline(w.room).filter((e) => e.sender === w.h.botMxid && /are dropped:/.test(String((e.content as { body?: unknown }).body)));
    expect(drops).toHaveLength(1);
  });
});
