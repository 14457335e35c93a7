/** What spaces, emoji packs and room upgrades need of the store: kv by prefix, a portal moved to its upgraded room, cutover events recorded. */
import { expect, it } from "vitest";
import { describeEachBackend, storeOpener } from "../../support/db.js";

describeEachBackend("room moves and kv prefixes", (backend) => {
  const open = storeOpener();

  it("kv.list returns the non-empty entries under a prefix, taken literally (no LIKE wildcards)", async () => {
    const s = await open(backend);
    await s.kv.set("space:slack:T1", "!a:x");
    await s.kv.set("space:telegram:7", "!b:x");
    await s.kv.set("space:gone", "");
    await s.kv.set("spaceXslack", "!c:x");
    await s.kv.set("a_b", "1");
    await s.kv.set("axb", "2");
    expect(await s.kv.list("space:")).toEqual([{ key: "space:slack:T1", value: "!a:x" }, { key: "space:telegram:7", value: "!b:x" }]);
    expect(await s.kv.list("a_")).toEqual([{ key: "a_b", value: "1" }]);
  });

  it("moveRoom takes the portal (kind, owner, phase) and every link to the new room; the old history stays under its id", async () => {
    const s = await open(backend);
    await s.portals.create({ roomId: "!old:x", kind: "linked", ownerMxid: null });
    await s.portals.setPhase("!old:x", "matrix-primary", "@admin:x");
    await s.links.add({ roomId: "!old:x", network: "slack", chat: "C1", loginId: "slack:T1", name: "general", alias: null });
    await s.links.add({ roomId: "!old:x", network: "telegram", chat: "-100", loginId: "telegram:7", name: "fleet", alias: null });
    await s.portals.moveRoom("!old:x", "!new:x");
    expect(await s.portals.get("!old:x")).toBeNull();
    expect(await s.portals.get("!new:x")).toMatchObject({ kind: "linked", phase: "matrix-primary" });
    expect((await s.links.byRoom("!new:x")).map((l) => l.chat).sort()).toEqual(["-100", "C1"]);
    expect(await s.links.byRoom("!old:x")).toEqual([]);
    expect((await s.portals.history("!old:x")).map((h) => h.toPhase)).toEqual(["matrix-primary"]);
    await s.portals.moveRoom("!nothing:x", "!else:x"); // no portal: nothing happens
    expect(await s.portals.get("!else:x")).toBeNull();
  });

  it("records cutover events that are not phases", async () => {
    const s = await open(backend);
    await s.portals.create({ roomId: "!r:x", kind: "portal", ownerMxid: "@a:x" });
    await s.portals.record("!r:x", "parallel", "finished", "@admin:x");
    await s.portals.record("!r:x", "finished", "resumed", "@admin:x");
    expect((await s.portals.history("!r:x")).map((h) => [h.fromPhase, h.toPhase, h.byMxid])).toEqual([["parallel", "finished", "@admin:x"], ["finished", "resumed", "@admin:x"]]);
  });
});
