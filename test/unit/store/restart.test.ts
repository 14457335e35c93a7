import { expect, it } from "vitest";
import { openStore } from "../../../src/store/store.js";
import { loadMigrations } from "../../../src/store/migrate.js";
import { describeEachBackend } from "../../support/db.js";

describeEachBackend("restart", (backend) => {
  it("closing and reopening keeps every table's data", async () => {
    const opts = await backend.open();
    const s1 = await openStore(opts);
    await s1.logins.put({ id: "telegram:7", network: "telegram", ownerMxid: "@a:x", remoteId: "7", name: "bot", secrets: { token: "7:abc" } });
    await s1.portals.create({ roomId: "!r:x", kind: "portal", ownerMxid: "@a:x" });
    await s1.portals.setPhase("!r:x", "matrix-primary", "@a:x");
    await s1.links.add({ roomId: "!r:x", network: "telegram", chat: "-100", loginId: "telegram:7", name: "Ops", alias: null });
    await s1.ghosts.put({ mxid: "@telegram_1:x", network: "telegram", userRef: "1", displayName: "Ann", avatarSource: null, avatarMxc: null });
    await s1.messages.insert([
      { roomId: "!r:x", eventId: "$e", network: "telegram", chat: "-100", remoteRef: "-100:1", part: 0, origin: "remote", senderMxid: "@telegram_1:x", threadRootEvent: null, threadRootRemote: null },
    ]);
    await s1.reactions.insert({ roomId: "!r:x", eventId: "$re", targetEventId: "$e", network: "telegram", chat: "-100", targetRemote: "-100:1", senderMxid: "@a:x", emoji: "👍", origin: "matrix" });
    await s1.queue.enqueue([{ lane: "!r:x", sourceKey: "tg:1", payload: { a: 1 } }, { lane: "!r:x", sourceKey: "tg:2", payload: { a: 2 } }]);
    await s1.queue.done((await s1.queue.head("!r:x"))!.id);
    await s1.kv.set("cursor", "42");
    await s1.close();

    const s2 = await openStore(opts);
    try {
      expect((await s2.logins.get("telegram:7"))!.secrets).toEqual({ token: "7:abc" });
      expect((await s2.portals.get("!r:x"))!.phase).toBe("matrix-primary");
      expect(await s2.portals.history("!r:x")).toHaveLength(1);
      expect(await s2.links.byChat("telegram", "-100")).toMatchObject({ roomId: "!r:x" });
      expect((await s2.ghosts.get("@telegram_1:x"))!.displayName).toBe("Ann");
      expect(await s2.messages.byEvent("$e")).toHaveLength(1);
      expect(await s2.reactions.byEvent("$re")).not.toBeNull();
      expect((await s2.queue.head("!r:x"))!.sourceKey).toBe("tg:2");
      expect(await s2.queue.enqueue([{ lane: "!r:x", sourceKey: "tg:1", payload: {} }])).toBe(0);
      expect(await s2.kv.get("cursor")).toBe("42");
      const [v] = await s2.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tandem_schema");
      expect(v!.n).toBe(loadMigrations().length); // not migrated twice
    } finally {
      await s2.close();
    }
  });
});
