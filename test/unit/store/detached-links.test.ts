/** What delivery per target needs of the store: detached links, a waiting lane's figures and wake-up, a reaction row per network. */
import { expect, it } from "vitest";
import { describeEachBackend, storeOpener } from "../../support/db.js";

const later = (ms: number) => new Date(Date.now() + ms);

describeEachBackend("detached links and waiting lanes", (backend) => {
  const open = storeOpener();

  it("detaches and re-attaches every link of one login, once each way; a link added again is attached", async () => {
    const s = await open(backend);
    await s.portals.create({ roomId: "!r:x", kind: "linked", ownerMxid: null });
    await s.links.add({ roomId: "!r:x", network: "slack", chat: "C1", loginId: "slack:T1", name: "general", alias: null });
    await s.links.add({ roomId: "!r:x", network: "telegram", chat: "-100", loginId: "telegram:7", name: "fleet", alias: null });
    const at = new Date(Date.now() - 1000);
    expect((await s.links.setDetached("telegram:7", at)).map((l) => l.chat)).toEqual(["-100"]);
    expect(await s.links.setDetached("telegram:7", new Date())).toEqual([]); // already detached: the first time stays
    expect((await s.links.byChat("telegram", "-100"))!.detachedAt!.getTime()).toBe(at.getTime());
    expect((await s.links.byChat("slack", "C1"))!.detachedAt).toBeNull();
    expect((await s.links.setDetached("telegram:7", null)).map((l) => [l.chat, l.detachedAt])).toEqual([["-100", null]]);
    expect(await s.links.setDetached("telegram:7", null)).toEqual([]);
    await s.links.setDetached("slack:T1", new Date());
    await s.links.add({ roomId: "!r:x", network: "slack", chat: "C1", loginId: "slack:T1", name: "general", alias: null });
    expect((await s.links.byChat("slack", "C1"))!.detachedAt).toBeNull();
  });

  it("counts a lane's pending items with the oldest one's time, and wake makes waiting heads due now", async () => {
    const s = await open(backend);
    await s.queue.enqueue([1, 2, 3].map((n) => ({ lane: "r:telegram:-100", sourceKey: `k${n}`, payload: {} })));
    await s.queue.enqueue([{ lane: "r:slack:C1", sourceKey: "s1", payload: {} }]);
    const head = (await s.queue.claim("r:telegram:-100"))!;
    await s.queue.defer(head.id, later(3600_000));
    await s.queue.done((await s.queue.claim("r:slack:C1"))!.id);
    const [w] = await s.queue.pendingIn(["r:telegram:-100", "r:slack:C1", "r:none:0"]);
    expect(await s.queue.pendingIn(["r:telegram:-100", "r:slack:C1", "r:none:0"])).toHaveLength(1);
    expect(w).toMatchObject({ lane: "r:telegram:-100", pending: 3 });
    expect(w!.oldestAt).toBeInstanceOf(Date);
    expect(await s.queue.pendingIn([])).toEqual([]);
    expect(await s.queue.readyLanes(10)).toEqual([]); // the head waits an hour
    await s.queue.wake(["r:telegram:-100"]);
    expect(await s.queue.readyLanes(10)).toEqual(["r:telegram:-100"]);
  });

  it("finds and deletes one network's row of a Matrix reaction, leaving the other's", async () => {
    const s = await open(backend);
    const base = { roomId: "!r:x", eventId: "$re", targetEventId: "$m", senderMxid: "@u:x", emoji: "👍", origin: "matrix" as const };
    await s.reactions.insert({ ...base, network: "slack", chat: "C1", targetRemote: "1.2" });
    await s.reactions.insert({ ...base, network: "telegram", chat: "-100", targetRemote: "-100/5" });
    expect((await s.reactions.byEvent("$re", "telegram"))!.chat).toBe("-100");
    expect(await s.reactions.byEvent("$re", "matrix")).toBeNull();
    await s.reactions.deleteByEvent("$re", "slack");
    expect(await s.reactions.byEvent("$re", "slack")).toBeNull();
    expect((await s.reactions.byEvent("$re"))!.network).toBe("telegram");
    await s.reactions.deleteByEvent("$re");
    expect(await s.reactions.byEvent("$re")).toBeNull();
  });
});
