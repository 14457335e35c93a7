/**
 * The audit repo's SQL on every backend: classification of source messages (delivered from
 * the message map only, pending, failed by reason, skipped, echoes ignored), the window,
 * nearest-rank latency percentiles, last deliveries, lane depths and dead letters by reason.
 */
import { expect, it } from "vitest";
import type { MessageRow, Store } from "../../../src/store/api.js";
import type { AuditRepo, ParityCountRow } from "../../../src/store/audit.js";
import { describeEachBackend, storeOpener } from "../../support/db.js";

const ROOM = "!room:x";
const OTHER = "!other:x";

async function seedLinks(s: Store): Promise<void> {
  await s.portals.create({ roomId: ROOM, kind: "linked", ownerMxid: null });
  await s.portals.create({ roomId: OTHER, kind: "portal", ownerMxid: "@o:x" });
  await s.links.add({ roomId: ROOM, network: "slack", chat: "T1:C1", loginId: "slack:T1", name: "general", alias: null });
  await s.links.add({ roomId: ROOM, network: "telegram", chat: "-100", loginId: "telegram:7", name: "fleet", alias: null });
  await s.links.add({ roomId: OTHER, network: "slack", chat: "T1:C2", loginId: "slack:T1", name: "random", alias: "#slack_random:x" });
}

const remoteItem = (network: string, chat: string, ref: string, kind = "message") => ({
  lane: `r:${network}:${chat}`, sourceKey: `${network}:${ref}:${kind}`,
  payload: { t: "remote", loginId: "l", network, receivedAt: Date.now(), event: { kind, key: ref, chat, at: 0, ref } },
});
const LINKED: Record<string, Array<[string, string]>> = { [ROOM]: [["slack", "T1:C1"], ["telegram", "-100"]], [OTHER]: [["slack", "T1:C2"]] };
/** A Matrix event's queue items: one per linked chat (in the chat's lane r:<network>:<chat>), except its origin; `only` keeps one network. */
const matrixItems = (roomId: string, eventId: string, origin?: { network: string; chat: string }, kind = "message", only?: string) =>
  LINKED[roomId]!.filter(([n, c]) => !(origin && origin.network === n && origin.chat === c) && (!only || only === n)).map(([network, chat]) => ({
    lane: `r:${network}:${chat}`, sourceKey: `${origin ? "fan" : "m"}:${eventId}:${kind}|${network}:${chat}`,
    payload: { t: "matrix", receivedAt: Date.now(), origin: origin ? { ...origin, via: "x" } : undefined, target: { network, chat },
      event: { kind, roomId, eventId, sender: "@u:x", ts: 0 } },
  }));
const row = (r: Partial<MessageRow> & Pick<MessageRow, "roomId" | "eventId" | "network" | "chat" | "remoteRef" | "origin">): Omit<MessageRow, "createdAt"> => ({
  part: 0, senderMxid: "@u:x", threadRootEvent: null, threadRootRemote: null, receivedAt: new Date(), ...r,
});

/** Settle every queue item whose source key matches: done / dead with an error. */
async function settle(s: Store, key: string, status: "done" | "dead", error?: string): Promise<void> {
  await s.db.query(`UPDATE relay_queue SET status = $2, last_error = $3 WHERE source_key LIKE $1`, [key, status, error ?? null]);
}

const pick = (rows: ParityCountRow[], roomId: string, network: string, direction: string) =>
  Object.fromEntries(rows.filter((r) => r.roomId === roomId && r.network === network && r.direction === direction)
    .map((r) => [r.class + (r.reason ? `:${r.reason}` : ""), r.count]));

describeEachBackend("audit repo", (backend) => {
  const open = storeOpener();

  it("classifies remote→Matrix and Matrix→remote sources against the message map", async () => {
    const s = await open(backend);
    const audit = s.audit as AuditRepo;
    await seedLinks(s);
    const since = new Date(Date.now() - 60_000);

    // Slack → Matrix: s1 delivered in two parts (counts once), s2 pending, s3 and s4 dead, s5 done without a row (skipped),
    // s6 is our own post echoed back (the map has it with origin 'matrix'), r1 is a reaction (not a message kind).
    await s.queue.enqueue(["s1", "s2", "s3", "s4", "s5", "s6"].map((r) => remoteItem("slack", "T1:C1", r)));
    await s.queue.enqueue([remoteItem("slack", "T1:C1", "r1", "reaction")]);
    await s.messages.insert([
      row({ roomId: ROOM, eventId: "$s1a", network: "slack", chat: "T1:C1", remoteRef: "s1", origin: "remote" }),
      row({ roomId: ROOM, eventId: "$s1b", network: "slack", chat: "T1:C1", remoteRef: "s1", part: 1, origin: "remote" }),
      row({ roomId: ROOM, eventId: "$m-echo", network: "slack", chat: "T1:C1", remoteRef: "s6", origin: "matrix" }),
    ]);
    await settle(s, "slack:s1:%", "done");
    await settle(s, "slack:s3:%", "dead", "chat_not_found: no chat T1:C1");
    await settle(s, "slack:s4:%", "dead", "Something odd happened here today");
    await settle(s, "slack:s5:%", "done");
    await settle(s, "slack:s6:%", "done");
    // A delivered row whose queue item was pruned still counts; one received before the window does not.
    await s.messages.insert([
      row({ roomId: ROOM, eventId: "$s7", network: "slack", chat: "T1:C1", remoteRef: "s7", origin: "remote" }),
      row({ roomId: ROOM, eventId: "$old", network: "slack", chat: "T1:C1", remoteRef: "old", origin: "remote", receivedAt: new Date(since.getTime() - 1000) }),
    ]);

    // Matrix → networks: $a reached both chats; $b reached telegram only and is dead (file too large for Slack);
    // $c is pending; $f is a fan-out of a Telegram message: it targets Slack only.
    await s.queue.enqueue([...matrixItems(ROOM, "$a"), ...matrixItems(ROOM, "$b"), ...matrixItems(ROOM, "$c"), ...matrixItems(ROOM, "$f", { network: "telegram", chat: "-100" })]);
    await s.queue.enqueue(matrixItems(ROOM, "$rx", undefined, "reaction"));
    await s.messages.insert([
      row({ roomId: ROOM, eventId: "$a", network: "slack", chat: "T1:C1", remoteRef: "a-s", origin: "matrix" }),
      row({ roomId: ROOM, eventId: "$a", network: "telegram", chat: "-100", remoteRef: "a-t1", origin: "matrix" }),
      row({ roomId: ROOM, eventId: "$a", network: "telegram", chat: "-100", remoteRef: "a-t2", part: 1, origin: "matrix" }),
      row({ roomId: ROOM, eventId: "$b", network: "telegram", chat: "-100", remoteRef: "b-t", origin: "matrix" }),
    ]);
    await settle(s, "m:$a:%", "done");
    await settle(s, "m:$b:%", "dead", "file_too_large: big.bin is 99 bytes");
    await settle(s, "fan:$f:%", "done");

    const rows = await audit.parity(since);
    expect(pick(rows, ROOM, "slack", "to_matrix")).toEqual({
      delivered: 2, pending: 1, "failed:chat_not_found": 1, "failed:Something odd happened": 1, skipped: 1,
    });
    // $a, and $m-echo (the Matrix message whose Slack post came back as s6).
    expect(pick(rows, ROOM, "slack", "from_matrix")).toEqual({ delivered: 2, "failed:file_too_large": 1, pending: 1, skipped: 1 });
    expect(pick(rows, ROOM, "telegram", "from_matrix")).toEqual({ delivered: 2, pending: 1 });
    expect(pick(rows, ROOM, "telegram", "to_matrix")).toEqual({});
    expect(rows.filter((r) => r.roomId === OTHER)).toEqual([]);

    // Filtering by room, and a window after everything.
    expect((await audit.parity(since, [OTHER])).length).toBe(0);
    expect(pick(await audit.parity(since, [ROOM]), ROOM, "slack", "to_matrix").delivered).toBe(2);
    expect(await audit.parity(new Date(Date.now() + 60_000))).toEqual([]);
  });

  it("does not count Matrix messages sent before a chat was linked", async () => {
    const s = await open(backend);
    await seedLinks(s);
    await s.db.query(`UPDATE portal_links SET created_at = now() + interval '1 hour' WHERE network = 'telegram'`);
    await s.queue.enqueue(matrixItems(ROOM, "$early"));
    const rows = await s.audit!.parity(new Date(Date.now() - 60_000));
    expect(pick(rows, ROOM, "slack", "from_matrix")).toEqual({ pending: 1 });
    expect(pick(rows, ROOM, "telegram", "from_matrix")).toEqual({});
  });

  it("latency: nearest-rank p50/p95 and max per source message (parts: last part delivered)", async () => {
    const s = await open(backend);
    await seedLinks(s);
    const t0 = Date.now() - 30_000;
    // 20 Slack messages with latencies 10, 20, …, 200 ms; the first has a second part 500 ms later.
    const rows = Array.from({ length: 20 }, (_, i) => row({
      roomId: ROOM, eventId: `$l${i}`, network: "slack", chat: "T1:C1", remoteRef: `l${i}`, origin: "remote", receivedAt: new Date(t0),
    }));
    rows.push(row({ roomId: ROOM, eventId: "$l0b", network: "slack", chat: "T1:C1", remoteRef: "l0", part: 1, origin: "remote", receivedAt: new Date(t0) }));
    // One Matrix message to Telegram, 1500 ms; and one map row without a receipt time (no latency sample).
    rows.push(row({ roomId: ROOM, eventId: "$x", network: "telegram", chat: "-100", remoteRef: "x", origin: "matrix", receivedAt: new Date(t0) }));
    rows.push(row({ roomId: ROOM, eventId: "$y", network: "telegram", chat: "-100", remoteRef: "y", origin: "matrix", receivedAt: null }));
    await s.messages.insert(rows);
    for (let i = 0; i < 20; i++) {
      await s.db.query(`UPDATE messages SET created_at = $2 WHERE remote_ref = $1 AND part = 0`, [`l${i}`, new Date(t0 + (i + 1) * 10)]);
    }
    await s.db.query(`UPDATE messages SET created_at = $1 WHERE remote_ref = 'l0' AND part = 1`, [new Date(t0 + 510)]);
    await s.db.query(`UPDATE messages SET created_at = $1 WHERE event_id = '$x'`, [new Date(t0 + 1500)]);

    const lat = await s.audit!.latency(new Date(t0 - 1000));
    const slack = lat.find((r) => r.network === "slack" && r.direction === "to_matrix")!;
    // Per message: 510 (two parts), 20, 30, …, 200. Sorted: 20..200, 510. n = 20.
    // Nearest rank: p50 = 10th value = 110; p95 = 19th value = 200; max = 510.
    expect(slack).toMatchObject({ roomId: ROOM, samples: 20, p50Ms: 110, p95Ms: 200, maxMs: 510 });
    const tg = lat.find((r) => r.network === "telegram" && r.direction === "from_matrix")!;
    expect(tg).toMatchObject({ samples: 1, p50Ms: 1500, p95Ms: 1500, maxMs: 1500 });
    expect(lat).toHaveLength(2);
    // Messages received before the window are left out.
    expect(await s.audit!.latency(new Date(t0 + 1))).toEqual([]);
  });

  it("last deliveries per linked chat and direction, lane depths and dead letters by reason", async () => {
    const s = await open(backend);
    await seedLinks(s);
    const t0 = Date.now() - 10_000;
    await s.messages.insert([
      row({ roomId: ROOM, eventId: "$1", network: "slack", chat: "T1:C1", remoteRef: "1", origin: "remote", receivedAt: new Date(t0) }),
      row({ roomId: ROOM, eventId: "$2", network: "slack", chat: "T1:C1", remoteRef: "2", origin: "remote", receivedAt: new Date(t0 + 1000) }),
      row({ roomId: ROOM, eventId: "$3", network: "telegram", chat: "-100", remoteRef: "3", origin: "matrix", receivedAt: null }),
    ]);
    await s.db.query(`UPDATE messages SET created_at = $1 WHERE remote_ref = '1'`, [new Date(t0 + 5000)]);
    await s.db.query(`UPDATE messages SET created_at = $1 WHERE remote_ref = '2'`, [new Date(t0 + 1250)]);
    const last = await s.audit!.lastDeliveries();
    expect(last).toHaveLength(2);
    const slack = last.find((r) => r.network === "slack")!;
    expect(slack).toMatchObject({ roomId: ROOM, chat: "T1:C1", direction: "to_matrix", lagMs: 5000 });
    expect(slack.at.getTime()).toBe(t0 + 5000);
    expect(last.find((r) => r.network === "telegram")).toMatchObject({ direction: "from_matrix", lagMs: null });

    expect(await s.audit!.laneDepths()).toEqual([
      { laneKind: "remote", pending: 0, oldestAt: null }, { laneKind: "matrix", pending: 0, oldestAt: null },
    ]);
    await s.queue.enqueue([remoteItem("slack", "T1:C1", "a"), remoteItem("slack", "T1:C1", "b"), ...matrixItems(ROOM, "$q", undefined, "message", "slack"), ...matrixItems(ROOM, "$d", undefined, "message", "slack")]);
    await settle(s, "m:$d:%", "dead", "chat_not_found: gone");
    await settle(s, "slack:b:%", "dead", "not_connected: login x is not connected");
    const depths = await s.audit!.laneDepths();
    expect(depths.map((d) => [d.laneKind, d.pending])).toEqual([["remote", 1], ["matrix", 1]]);
    expect(depths[0]!.oldestAt).toBeInstanceOf(Date);
    expect(await s.audit!.deadByReason()).toEqual([
      { direction: "from_matrix", reason: "chat_not_found", count: 1 },
      { direction: "to_matrix", reason: "not_connected", count: 1 },
    ]);
  });
});
