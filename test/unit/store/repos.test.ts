import { expect, it } from "vitest";
import type { MessageRow, ReactionRow } from "../../../src/store/api.js";
import { StoreError } from "../../../src/store/db.js";
import { describeEachBackend, storeOpener } from "../../support/db.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeEachBackend("repos", (backend) => {
  const open = storeOpener();

  it("logins: put (insert, then update by id), get, list, listByOwner, delete", async () => {
    const s = await open(backend);
    await s.logins.put({ id: "slack:T1", network: "slack", ownerMxid: "@a:x", remoteId: "T1", name: "Acme", secrets: { bot: "xoxb-1", app: "xapp-1" } });
    await sleep(5);
    await s.logins.put({ id: "telegram:7", network: "telegram", ownerMxid: "@b:x", remoteId: "7", name: "bot", secrets: { token: "7:abc" } });
    const got = await s.logins.get("slack:T1");
    expect(got).toMatchObject({ id: "slack:T1", network: "slack", ownerMxid: "@a:x", remoteId: "T1", name: "Acme", secrets: { bot: "xoxb-1", app: "xapp-1" } });
    expect(got!.createdAt).toBeInstanceOf(Date);

    await s.logins.put({ id: "slack:T1", network: "slack", ownerMxid: "@a:x", remoteId: "T1", name: "Acme 2", secrets: { bot: "xoxb-2" } });
    const updated = await s.logins.get("slack:T1");
    expect(updated).toMatchObject({ name: "Acme 2", secrets: { bot: "xoxb-2" } });
    expect(updated!.createdAt.getTime()).toBe(got!.createdAt.getTime());

    expect((await s.logins.list()).map((l) => l.id)).toEqual(["slack:T1", "telegram:7"]);
    expect((await s.logins.listByOwner("@b:x")).map((l) => l.id)).toEqual(["telegram:7"]);
    expect(await s.logins.listByOwner("@nobody:x")).toEqual([]);
    expect(await s.logins.get("nope")).toBeNull();
    expect(await s.logins.delete("telegram:7")).toBe(true);
    expect(await s.logins.delete("telegram:7")).toBe(false);
    expect(await s.logins.list()).toHaveLength(1);
  });

  it("portals: create (idempotent), get, list, setPhase + history, delete cascades links but keeps history", async () => {
    const s = await open(backend);
    await s.portals.create({ roomId: "!a:x", kind: "portal", ownerMxid: "@o:x" });
    await s.portals.create({ roomId: "!a:x", kind: "linked", ownerMxid: null }); // kept as is
    await s.portals.create({ roomId: "!b:x", kind: "linked", ownerMxid: null, phase: "standby" });
    expect(await s.portals.get("!a:x")).toMatchObject({ roomId: "!a:x", kind: "portal", ownerMxid: "@o:x", phase: "parallel" });
    expect((await s.portals.get("!a:x"))!.createdAt).toBeInstanceOf(Date);
    expect(await s.portals.get("!b:x")).toMatchObject({ kind: "linked", ownerMxid: null, phase: "standby" });
    expect(await s.portals.get("!nope:x")).toBeNull();
    expect((await s.portals.list()).map((p) => p.roomId).sort()).toEqual(["!a:x", "!b:x"]);

    const n = s.db.statementCount;
    await s.portals.setPhase("!a:x", "matrix-primary", "@admin:x");
    expect(s.db.statementCount - n).toBe(1);
    // The benchmark's transactions: one per statement outside tx(), one per tx() however many it holds.
    const t = s.db.transactionCount;
    await s.db.query("SELECT 1");
    await s.db.tx(async (db) => {
      await db.query("SELECT 1");
      await db.tx(async (inner) => { await inner.query("SELECT 2"); }); // a savepoint, not a transaction
    });
    expect(s.db.transactionCount - t).toBe(2);
    await s.portals.setPhase("!a:x", "parallel", "@admin2:x");
    expect((await s.portals.get("!a:x"))!.phase).toBe("parallel");
    const hist = await s.portals.history("!a:x");
    expect(hist).toMatchObject([
      { roomId: "!a:x", fromPhase: "parallel", toPhase: "matrix-primary", byMxid: "@admin:x" },
      { roomId: "!a:x", fromPhase: "matrix-primary", toPhase: "parallel", byMxid: "@admin2:x" },
    ]);
    expect(hist[0]!.at).toBeInstanceOf(Date);
    await expect(s.portals.setPhase("!nope:x", "standby", "@admin:x")).rejects.toMatchObject({ code: "store.not-found" });
    await expect(s.portals.setPhase("!a:x", "bogus" as never, "@admin:x")).rejects.toBeInstanceOf(StoreError);

    await s.links.add({ roomId: "!a:x", network: "slack", chat: "T1:C1", loginId: "slack:T1", name: "general", alias: null });
    await s.portals.delete("!a:x");
    expect(await s.portals.get("!a:x")).toBeNull();
    expect(await s.links.byChat("slack", "T1:C1")).toBeNull();
    expect(await s.portals.history("!a:x")).toHaveLength(2);
  });

  it("links: add, conflict when linked elsewhere, lookups, remove, moveChat, rename", async () => {
    const s = await open(backend);
    await s.portals.create({ roomId: "!r1:x", kind: "linked", ownerMxid: null });
    await s.portals.create({ roomId: "!r2:x", kind: "portal", ownerMxid: "@o:x" });
    await s.links.add({ roomId: "!r1:x", network: "slack", chat: "T1:C1", loginId: "slack:T1", name: "ops", alias: "#slack_acme_ops:x" });
    await s.links.add({ roomId: "!r1:x", network: "telegram", chat: "-100", loginId: "telegram:7", name: "Ops", alias: null });
    await s.links.add({ roomId: "!r2:x", network: "slack", chat: "T1:C2", loginId: "slack:T1", name: "random", alias: null });

    // same room again: updates; another room: conflict naming the room
    await s.links.add({ roomId: "!r1:x", network: "slack", chat: "T1:C1", loginId: "slack:T9", name: "ops2", alias: null });
    expect(await s.links.byChat("slack", "T1:C1")).toMatchObject({ roomId: "!r1:x", loginId: "slack:T9", name: "ops2", alias: null });
    const err = await s.links.add({ roomId: "!r2:x", network: "slack", chat: "T1:C1", loginId: "slack:T1", name: "x", alias: null }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "store.conflict" });
    expect((err as Error).message).toContain("!r1:x");
    // the portal must exist
    await expect(s.links.add({ roomId: "!none:x", network: "slack", chat: "T1:C9", loginId: "l", name: "", alias: null })).rejects.toBeInstanceOf(StoreError);

    expect(await s.links.byChat("slack", "nope")).toBeNull();
    expect((await s.links.byRoom("!r1:x")).map((l) => l.network).sort()).toEqual(["slack", "telegram"]);
    expect((await s.links.byLogin("slack:T1")).map((l) => l.chat)).toEqual(["T1:C2"]);
    expect(await s.links.list()).toHaveLength(3);
    expect((await s.links.list())[0]!.createdAt).toBeInstanceOf(Date);

    await s.links.moveChat("telegram", "-100", "-1001234");
    expect(await s.links.byChat("telegram", "-100")).toBeNull();
    expect(await s.links.byChat("telegram", "-1001234")).toMatchObject({ roomId: "!r1:x", name: "Ops" });
    await s.links.rename("telegram", "-1001234", "Ops Deck");
    expect(await s.links.byChat("telegram", "-1001234")).toMatchObject({ roomId: "!r1:x", name: "Ops Deck" });
    expect(await s.links.byChat("slack", "T1:C1")).toMatchObject({ name: "ops2" }); // only that chat

    expect(await s.links.remove("!r1:x", "telegram")).toBe(1);
    expect(await s.links.remove("!r1:x", "telegram")).toBe(0);
    await s.links.add({ roomId: "!r2:x", network: "telegram", chat: "-5", loginId: "telegram:7", name: "", alias: null });
    expect(await s.links.remove("!r2:x")).toBe(2);
    expect((await s.links.list()).map((l) => l.chat)).toEqual(["T1:C1"]);
  });

  it("ghosts: put inserts then updates, get", async () => {
    const s = await open(backend);
    expect(await s.ghosts.get("@slack_t1_u1:x")).toBeNull();
    await s.ghosts.put({ mxid: "@slack_t1_u1:x", network: "slack", userRef: "T1:U1", displayName: "Ann", avatarSource: null, avatarMxc: null });
    const g1 = await s.ghosts.get("@slack_t1_u1:x");
    expect(g1).toMatchObject({ mxid: "@slack_t1_u1:x", network: "slack", userRef: "T1:U1", displayName: "Ann", avatarSource: null, avatarMxc: null });
    expect(g1!.updatedAt).toBeInstanceOf(Date);
    await s.ghosts.put({ mxid: "@slack_t1_u1:x", network: "slack", userRef: "T1:U1", displayName: "Ann B", avatarSource: "https://a/1.png", avatarMxc: "mxc://x/1" });
    expect(await s.ghosts.get("@slack_t1_u1:x")).toMatchObject({ displayName: "Ann B", avatarSource: "https://a/1.png", avatarMxc: "mxc://x/1" });
    // (network, userRef) is unique
    await expect(
      s.ghosts.put({ mxid: "@other:x", network: "slack", userRef: "T1:U1", displayName: null, avatarSource: null, avatarMxc: null }),
    ).rejects.toMatchObject({ code: "store.conflict" });
  });

  it("messages: insert many in one statement (duplicates ignored), byRemote, byEvent, deleteByEvent", async () => {
    const s = await open(backend);
    const receivedAt = new Date("2026-01-02T03:04:05.678Z"); // when the source event arrived (the audit's latency)
    const base: Omit<MessageRow, "createdAt"> = {
      roomId: "!r:x", eventId: "$e1", network: "slack", chat: "T1:C1", remoteRef: "T1:C1:1.0", part: 0, origin: "remote",
      senderMxid: "@slack_t1_u1:x", threadRootEvent: null, threadRootRemote: null,
    };
    const rows = [
      base,
      { ...base, eventId: "$e2", part: 1 }, // a file part of the same Slack message
      { ...base, network: "telegram", chat: "-100", remoteRef: "-100:5", origin: "matrix" as const }, // $e1 fanned out
      { ...base, roomId: "!r2:x", eventId: "$e9", threadRootEvent: "$root", threadRootRemote: "T1:C1:0.5", receivedAt }, // same remote msg, other room
    ];
    const n = s.db.statementCount;
    await s.messages.insert(rows);
    await s.messages.insert([base, { ...base, eventId: "$other" }]); // both duplicates by (network, remoteRef, part, room)
    await s.messages.insert([]);
    expect(s.db.statementCount - n).toBe(2);

    const byRemote = await s.messages.byRemote("slack", "T1:C1:1.0");
    expect(byRemote.map((m) => [m.roomId, m.part, m.eventId])).toEqual([
      ["!r2:x", 0, "$e9"],
      ["!r:x", 0, "$e1"],
      ["!r:x", 1, "$e2"],
    ]);
    expect(byRemote[0]).toMatchObject({ threadRootEvent: "$root", threadRootRemote: "T1:C1:0.5", receivedAt });
    expect(byRemote[1]!.receivedAt).toBeNull(); // not known: no made-up time
    expect(byRemote[1]!.createdAt).toBeInstanceOf(Date);
    const byEvent = await s.messages.byEvent("$e1");
    expect(byEvent.map((m) => [m.network, m.remoteRef, m.origin])).toEqual([
      ["slack", "T1:C1:1.0", "remote"],
      ["telegram", "-100:5", "matrix"],
    ]);
    await s.messages.deleteByEvent("$e1");
    expect(await s.messages.byEvent("$e1")).toEqual([]);
    expect(await s.messages.byRemote("slack", "T1:C1:1.0")).toHaveLength(2);
  });

  it("reactions: insert (idempotent), byEvent, forTarget, findRemote, deleteByEvent", async () => {
    const s = await open(backend);
    const r: ReactionRow = {
      roomId: "!r:x", eventId: "$re1", targetEventId: "$t", network: "slack", chat: "T1:C1", targetRemote: "T1:C1:1.0",
      senderMxid: "@alice:x", emoji: "👍", origin: "matrix",
    };
    await s.reactions.insert(r);
    await s.reactions.insert(r);
    await s.reactions.insert({ ...r, eventId: "$re2", senderMxid: "@bob:x" });
    await s.reactions.insert({ ...r, eventId: "$re3", senderMxid: "@slack_t1_u1:x", emoji: "🎉", origin: "remote" });
    expect(await s.reactions.byEvent("$re1")).toEqual(r);
    expect(await s.reactions.byEvent("$none")).toBeNull();
    expect((await s.reactions.forTarget("$t", "👍")).map((x) => x.eventId)).toEqual(["$re1", "$re2"]);
    expect(await s.reactions.forTarget("$t", "❤️")).toEqual([]);
    expect(await s.reactions.findRemote("T1:C1:1.0", "@slack_t1_u1:x", "🎉")).toMatchObject({ eventId: "$re3", origin: "remote" });
    expect(await s.reactions.findRemote("T1:C1:1.0", "@slack_t1_u1:x", "👍")).toBeNull();
    await s.reactions.deleteByEvent("$re1");
    expect((await s.reactions.forTarget("$t", "👍")).map((x) => x.eventId)).toEqual(["$re2"]);
  });

  it("kv: get, set, overwrite", async () => {
    const s = await open(backend);
    expect(await s.kv.get("k")).toBeNull();
    await s.kv.set("k", "1");
    await s.kv.set("k", "2");
    expect(await s.kv.get("k")).toBe("2");
  });

  it("store.tx: repos share one transaction", async () => {
    const s = await open(backend);
    await expect(
      s.tx!(async (t) => {
        await t.kv.set("a", "1");
        await t.queue.enqueue([{ lane: "l", sourceKey: "k1", payload: {} }]);
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await s.kv.get("a")).toBeNull();
    expect(await s.queue.depth()).toBe(0);
    await s.tx!(async (t) => {
      await t.kv.set("a", "1");
      await t.queue.enqueue([{ lane: "l", sourceKey: "k1", payload: {} }]);
    });
    expect(await s.kv.get("a")).toBe("1");
    expect(await s.queue.depth()).toBe(1);
  });

  it("every repo call is one statement", async () => {
    const s = await open(backend);
    const calls: Array<() => Promise<unknown>> = [
      () => s.logins.put({ id: "l", network: "slack", ownerMxid: "@a:x", remoteId: "T", name: "", secrets: {} }),
      () => s.logins.get("l"),
      () => s.logins.list(),
      () => s.portals.create({ roomId: "!r:x", kind: "portal", ownerMxid: null }),
      () => s.links.add({ roomId: "!r:x", network: "slack", chat: "c", loginId: "l", name: "", alias: null }),
      () => s.links.byChat("slack", "c"),
      () => s.ghosts.put({ mxid: "@g:x", network: "slack", userRef: "u", displayName: null, avatarSource: null, avatarMxc: null }),
      () => s.ghosts.get("@g:x"),
      () => s.queue.enqueue([{ lane: "l", sourceKey: "k", payload: 1 }, { lane: "l", sourceKey: "k2", payload: 2 }]),
      () => s.queue.readyLanes(10),
      () => s.queue.head("l"),
      () => s.queue.done(1),
      () => s.queue.depth(),
      () => s.kv.set("a", "b"),
    ];
    for (const call of calls) {
      const before = s.db.statementCount;
      await call();
      expect(s.db.statementCount - before, String(call)).toBe(1);
    }
  });
});
