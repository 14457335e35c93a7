import { expect, it } from "vitest";
import { describeEachBackend, storeOpener } from "../../support/db.js";

const item = (lane: string, key: string, payload: unknown = { key }) => ({ lane, sourceKey: key, payload });
const later = (ms: number) => new Date(Date.now() + ms);

describeEachBackend("relay queue", (backend) => {
  const open = storeOpener();

  it("enqueue dedups by sourceKey (across and within calls) and keeps payloads", async () => {
    const s = await open(backend);
    expect(await s.queue.enqueue([item("a", "k1", { text: "hi", n: [1, 2] }), item("a", "k2", ["arr"]), item("b", "k3", "str")])).toBe(3);
    expect(await s.queue.enqueue([item("a", "k1"), item("a", "k4", null), item("a", "k4")])).toBe(1);
    const before = s.db.statementCount;
    expect(await s.queue.enqueue([])).toBe(0);
    expect(s.db.statementCount).toBe(before); // nothing to insert: no round trip
    expect(await s.queue.depth()).toBe(4);

    const head = await s.queue.head("a");
    expect(head).toMatchObject({ lane: "a", sourceKey: "k1", payload: { text: "hi", n: [1, 2] }, status: "pending", attempts: 0, lastError: null });
    expect(typeof head!.id).toBe("number");
    expect(head!.nextAttemptAt).toBeInstanceOf(Date);
    expect(head!.createdAt).toBeInstanceOf(Date);
    await s.queue.done(head!.id);
    expect((await s.queue.head("a"))!.payload).toEqual(["arr"]);
    await s.queue.done((await s.queue.head("a"))!.id);
    expect((await s.queue.head("a"))!.payload).toBeNull();
    expect((await s.queue.head("b"))!.payload).toBe("str");
    expect(await s.queue.head("nope")).toBeNull();

    // a done item still dedups until pruned
    expect(await s.queue.enqueue([item("a", "k1")])).toBe(0);
  });

  it("items keep their enqueue order within a lane", async () => {
    const s = await open(backend);
    const keys = Array.from({ length: 50 }, (_, i) => `m${i}`);
    await s.queue.enqueue(keys.map((k) => item("lane", k)));
    const seen: string[] = [];
    for (let h = await s.queue.head("lane"); h; h = await s.queue.head("lane")) {
      seen.push(h.sourceKey);
      await s.queue.done(h.id);
    }
    expect(seen).toEqual(keys);
  });

  it("readyLanes: oldest head first; a head waiting for retry blocks its lane only", async () => {
    const s = await open(backend);
    await s.queue.enqueue([item("a", "a1"), item("b", "b1"), item("a", "a2"), item("c", "c1")]);
    expect(await s.queue.readyLanes(10)).toEqual(["a", "b", "c"]);
    expect(await s.queue.readyLanes(2)).toEqual(["a", "b"]);

    const a1 = (await s.queue.head("a"))!;
    await s.queue.retry(a1.id, "timeout", later(60_000));
    expect(await s.queue.readyLanes(10)).toEqual(["b", "c"]); // a2 is due but must not jump ahead of a1
    const h = (await s.queue.head("a"))!;
    expect(h).toMatchObject({ sourceKey: "a1", attempts: 1, lastError: "timeout" }); // head even when not due
    expect(h.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 50_000);

    // with a later clock the retried head is due again
    expect(await s.queue.readyLanes(10, later(61_000))).toEqual(["a", "b", "c"]);
    await s.queue.retry(a1.id, "again", later(-1));
    expect(await s.queue.readyLanes(10)).toEqual(["a", "b", "c"]);
    expect((await s.queue.head("a"))!.attempts).toBe(2);

    await s.queue.done(a1.id);
    await s.queue.done((await s.queue.head("b"))!.id);
    expect(await s.queue.readyLanes(10)).toEqual(["a", "c"]); // a's head is now a2 (id 3), c1 is id 4
  });

  it("nextDueAt: the earliest head that is not due yet; items behind a head and due heads do not count", async () => {
    const s = await open(backend);
    expect(await s.queue.nextDueAt!()).toBeNull(); // empty queue
    await s.queue.enqueue([item("a", "a1"), item("a", "a2"), item("b", "b1"), item("c", "c1")]);
    expect(await s.queue.nextDueAt!()).toBeNull(); // every head is due
    const a1 = (await s.queue.head("a"))!;
    const b1 = (await s.queue.head("b"))!;
    const [aAt, bAt] = [later(60_000), later(30_000)];
    await s.queue.retry(a1.id, "timeout", aAt);
    await s.queue.retry(b1.id, "timeout", bAt);
    await s.queue.retry(a1.id + 1, "not a head", later(10_000)); // a2 waits behind a1: its time does not count
    expect((await s.queue.nextDueAt!())!.getTime()).toBe(bAt.getTime());
    expect((await s.queue.nextDueAt!(later(40_000)))!.getTime()).toBe(aAt.getTime()); // b1 is due by then
    expect(await s.queue.nextDueAt!(later(70_000))).toBeNull();
  });

  it("dead items leave the lane, are listed newest first, and are kept by prune", async () => {
    const s = await open(backend);
    await s.queue.enqueue([item("a", "a1"), item("a", "a2"), item("b", "b1")]);
    const a1 = (await s.queue.head("a"))!;
    await s.queue.dead(a1.id, "channel_not_found");
    expect((await s.queue.head("a"))!.sourceKey).toBe("a2");
    await s.queue.dead((await s.queue.head("b"))!.id, "too_long");
    expect(await s.queue.depth()).toBe(1);
    const dead = await s.queue.deadItems(10);
    expect(dead.map((d) => [d.sourceKey, d.status, d.lastError, d.attempts])).toEqual([
      ["b1", "dead", "too_long", 1],
      ["a1", "dead", "channel_not_found", 1],
    ]);
    expect(await s.queue.deadItems(1)).toHaveLength(1);

    await s.queue.done((await s.queue.head("a"))!.id);
    expect(await s.queue.depth()).toBe(0);
    expect(await s.queue.prune(later(-60_000))).toBe(0); // nothing that old
    expect(await s.queue.prune(later(60_000))).toBe(1); // only the done item
    expect(await s.queue.deadItems(10)).toHaveLength(2);
    expect(await s.queue.enqueue([item("a", "a2")])).toBe(1); // pruned key is new again
    expect(await s.queue.enqueue([item("a", "a1")])).toBe(0); // dead key still dedups
  });

  it("concurrent enqueues of the same keys insert each once", async () => {
    const s = await open(backend);
    const batch = Array.from({ length: 20 }, (_, i) => item(`l${i % 3}`, `k${i}`));
    const counts = await Promise.all([s.queue.enqueue(batch), s.queue.enqueue(batch), s.queue.enqueue(batch.slice(5))]);
    expect(counts.reduce((x, y) => x + y, 0)).toBe(20);
    expect(await s.queue.depth()).toBe(20);
  });

  it("claim hands out a due head once per try and counts the tries (crash detection)", async () => {
    const s = await open(backend);
    await s.queue.enqueue([{ lane: "L", sourceKey: "c1", payload: {} }, { lane: "L", sourceKey: "c2", payload: {} }]);
    const first = await s.queue.claim("L");
    expect(first).toMatchObject({ sourceKey: "c1", tries: 1, attempts: 0 });
    // No done/retry recorded (as after a crash): the same head comes back with tries 2.
    expect(await s.queue.claim("L")).toMatchObject({ sourceKey: "c1", tries: 2 });
    await s.queue.retry(first!.id, "later", new Date(Date.now() + 60_000));
    expect(await s.queue.claim("L")).toBeNull(); // head not due: nothing, and c2 may not jump ahead
    expect(await s.queue.claim("L", new Date(Date.now() + 120_000))).toMatchObject({ sourceKey: "c1", tries: 3, attempts: 1 });
    await s.queue.done(first!.id);
    expect(await s.queue.claim("L")).toMatchObject({ sourceKey: "c2", tries: 1 });
  });

  it("doneAndClaim marks the head done and hands out the next due head, in one statement", async () => {
    const s = await open(backend);
    await s.queue.enqueue([item("D", "d1"), item("D", "d2"), item("D", "d3"), item("E", "e1")]);
    const d1 = await s.queue.claim("D");
    const before = s.db.statementCount;
    const d2 = await s.queue.doneAndClaim!(d1!.id, "D");
    expect(s.db.statementCount - before).toBe(1);
    expect(d2).toMatchObject({ sourceKey: "d2", tries: 1 });
    expect(await s.queue.head("D")).toMatchObject({ sourceKey: "d2" }); // d1 is done
    // The next head waits for a retry: d2 is done, d3 is not handed out (nor anything after it).
    const [d3] = await s.db.query<{ id: string }>("SELECT id FROM relay_queue WHERE source_key = 'd3'");
    await s.queue.retry(Number(d3!.id), "later", later(60_000));
    expect(await s.queue.doneAndClaim!(d2!.id, "D")).toBeNull();
    expect(await s.queue.head("D")).toMatchObject({ sourceKey: "d3", tries: 0, attempts: 1 });
    // The last item of a lane: done, nothing more; the other lane is untouched.
    const e1 = await s.queue.claim("E");
    expect(await s.queue.doneAndClaim!(e1!.id, "E")).toBeNull();
    expect(await s.queue.head("E")).toBeNull();
    expect(await s.queue.depth()).toBe(1);
  });

  it("enqueueAndClaim hands out the first new item of each listed lane that had nothing pending, in the insert", async () => {
    const s = await open(backend);
    await s.queue.enqueue([item("busy", "b0")]);
    const before = s.db.statementCount;
    const claimed = await s.queue.enqueueAndClaim!(
      [item("idle", "i1"), item("busy", "b1"), item("idle", "i2"), item("other", "o1"), item("dup", "b0"), item("dup", "d1")],
      ["idle", "busy", "dup"],
    );
    expect(s.db.statementCount - before).toBe(1);
    // idle: its first item; busy: b0 was pending first; other: not listed; dup: its first item was a duplicate.
    expect(claimed.map((c) => [c.lane, c.sourceKey, c.tries])).toEqual([["idle", "i1", 1]]);
    expect(claimed[0]).toMatchObject({ payload: { key: "i1" }, status: "pending", attempts: 0 });
    expect(await s.queue.head("idle")).toMatchObject({ sourceKey: "i1", tries: 1 }); // recorded as handed out
    expect(await s.queue.doneAndClaim!(claimed[0]!.id, "idle")).toMatchObject({ sourceKey: "i2", tries: 1 });
    expect(await s.queue.claim("busy")).toMatchObject({ sourceKey: "b0" });
    expect(await s.queue.claim("other")).toMatchObject({ sourceKey: "o1", tries: 1 });
    expect(await s.queue.claim("dup")).toMatchObject({ sourceKey: "d1", tries: 1 });
    expect(await s.queue.depth()).toBe(5); // b0, b1, i2, o1, d1
  });

  it("enqueueAndClaim answers the duplicate check of each item it hands out that names a message-map key", async () => {
    const s = await open(backend);
    await s.messages.insert([{ roomId: "!elsewhere:x", eventId: "$old", network: "slack", chat: "C1", remoteRef: "1.5", part: 0, origin: "remote",
      senderMxid: "@g:x", threadRootEvent: null, threadRootRemote: null }]);
    const keyed = (lane: string, key: string, network: string, remoteRef: string) => ({ ...item(lane, key), mapKey: { network, remoteRef } });
    const before = s.db.statementCount;
    const claimed = await s.queue.enqueueAndClaim!(
      [keyed("a", "a1", "slack", "1.5"), keyed("b", "b1", "slack", "2.5"), keyed("b", "b1", "slack", "2.5"), keyed("c", "c1", "telegram", "1.5"),
        item("d", "d1"), keyed("a", "a2", "slack", "2.5")],
      ["a", "b", "c", "d"],
    );
    expect(s.db.statementCount - before).toBe(1);
    // a1: its ref is in the map (in another room); b1 (twice in the batch, once in the queue): not; c1: the same ref
    // on another network; d1: no key, nothing said.
    expect(claimed.map((c) => [c.sourceKey, c.mapped])).toEqual([["a1", true], ["b1", false], ["c1", false], ["d1", undefined]]);
    expect("mapped" in claimed[3]!).toBe(false);
    // The key is stored with the item: a2, claimed later, is answered by its claim (its ref is not in the map).
    await s.queue.done(claimed[0]!.id);
    expect(await s.queue.claim("a")).toMatchObject({ sourceKey: "a2", mapped: false });
  });

  it("claim and doneAndClaim answer the duplicate check of the item they hand out, from the key stored with it", async () => {
    const s = await open(backend);
    const row = (ref: string, eventId = `$${ref}`, chat = "C1") => ({ roomId: "!r:x", eventId, network: "slack", chat, remoteRef: ref, part: 0,
      origin: "remote" as const, senderMxid: "@g:x", threadRootEvent: null, threadRootRemote: null });
    await s.messages.insert([row("0.5")]);
    const remote = (key: string, remoteRef: string) => ({ ...item("L", key), mapKey: { network: "slack", remoteRef } });
    const matrix = (key: string, eventId: string, chat: string) => ({ ...item("L", key), mapKey: { eventId, network: "slack", chat } });
    // Queued by both insert forms (one item, a batch); l4 is the same message as l3, queued again under
    // another source key (a backfill and the live event), l6 names no key.
    await s.queue.enqueue([remote("l1", "0.5")]);
    await s.queue.enqueue([remote("l2", "1.5"), remote("l3", "2.5"), remote("l4", "2.5"), matrix("l5", "$0.5", "C1"), matrix("l5b", "$0.5", "C2"), item("L", "l6")]);
    const l1 = await s.queue.claim("L");
    expect(l1).toMatchObject({ sourceKey: "l1", mapped: true });
    let before = s.db.statementCount;
    const l2 = await s.queue.doneAndClaim!(l1!.id, "L");
    expect(s.db.statementCount - before).toBe(1);
    expect(l2).toMatchObject({ sourceKey: "l2", mapped: false });
    const l3 = await s.queue.doneAndClaim!(l2!.id, "L", undefined, [row("1.5")]);
    expect(l3).toMatchObject({ sourceKey: "l3", mapped: false });
    // l3's map rows are written by the statement that hands out l4: they count, though its snapshot has them not.
    before = s.db.statementCount;
    const l4 = await s.queue.doneAndClaim!(l3!.id, "L", undefined, [row("2.5")]);
    expect(s.db.statementCount - before).toBe(1);
    expect(l4).toMatchObject({ sourceKey: "l4", mapped: true });
    // A Matrix event's key, per chat: sent to C1 already, not to C2.
    const l5 = await s.queue.doneAndClaim!(l4!.id, "L");
    expect(l5).toMatchObject({ sourceKey: "l5", mapped: true });
    const l5b = await s.queue.doneAndClaim!(l5!.id, "L");
    expect(l5b).toMatchObject({ sourceKey: "l5b", mapped: false });
    const l6 = await s.queue.doneAndClaim!(l5b!.id, "L");
    expect(l6).toMatchObject({ sourceKey: "l6" });
    expect(l6).not.toHaveProperty("mapped");
  });

  it("a Matrix event's key is answered per chat: sent to this network and chat already, or not", async () => {
    const s = await open(backend);
    await s.messages.insert([{ roomId: "!r:x", eventId: "$ev1", network: "telegram", chat: "T1", remoteRef: "T1/7", part: 0, origin: "matrix",
      senderMxid: "@a:x", threadRootEvent: null, threadRootRemote: null }]);
    const to = (lane: string, network: string, chat: string, eventId = "$ev1") => ({ ...item(lane, `${lane}-${eventId}`), mapKey: { eventId, network, chat } });
    const claimed = await s.queue.enqueueAndClaim!(
      [to("t1", "telegram", "T1"), to("t2", "telegram", "T2"), to("s1", "slack", "T1"), to("t3", "telegram", "T1", "$ev2")],
      ["t1", "t2", "s1", "t3"],
    );
    expect(claimed.map((c) => [c.lane, c.mapped])).toEqual([["t1", true], ["t2", false], ["s1", false], ["t3", false]]);
  });

  it("done and doneAndClaim write the item's message-map rows in the same statement", async () => {
    const s = await open(backend);
    const row = (ref: string, part = 0) => ({
      roomId: "!r:x", eventId: `$${ref}-${part}`, network: "slack", chat: "C1", remoteRef: ref, part, origin: "remote" as const,
      senderMxid: "@g:x", threadRootEvent: null, threadRootRemote: "t0", receivedAt: new Date(1_700_000_000_000),
    });
    await s.queue.enqueue([item("M", "m1"), item("M", "m2"), item("N", "n1")]);
    const m1 = await s.queue.claim("M");
    let before = s.db.statementCount;
    const m2 = await s.queue.doneAndClaim!(m1!.id, "M", undefined, [row("1.0"), row("1.0", 1)]);
    expect(s.db.statementCount - before).toBe(1);
    expect(m2).toMatchObject({ sourceKey: "m2" });
    expect(await s.messages.byRemote("slack", "1.0")).toMatchObject([
      { eventId: "$1.0-0", part: 0, chat: "C1", origin: "remote", threadRootRemote: "t0", receivedAt: new Date(1_700_000_000_000) },
      { eventId: "$1.0-1", part: 1 },
    ]);
    const n1 = await s.queue.claim("N");
    before = s.db.statementCount;
    await s.queue.done(n1!.id, [row("2.0")]);
    expect(s.db.statementCount - before).toBe(1);
    expect(await s.messages.byRemote("slack", "2.0")).toHaveLength(1);
    expect(await s.queue.head("N")).toBeNull();
    // A row already in the map (a retry after a crash) is no conflict: the item is still marked done.
    await s.queue.doneAndClaim!(m2!.id, "M", undefined, [row("1.0")]);
    expect(await s.queue.depth()).toBe(0);
    expect(await s.messages.byRemote("slack", "1.0")).toHaveLength(2);
  });
});
