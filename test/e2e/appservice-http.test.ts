/**
 * The appservice listener as homeservers really push to it (issue 11 §2, issue 16 row 2):
 * - Synapse 1.67 pushes `PUT /transactions/{txnId}?access_token=…` without the `/_matrix/app/v1`
 *   prefix and does not follow redirects: the whole journey here runs on those legacy paths;
 * - a homeserver restarted on SQLite reuses transaction ids with new events in them: those are
 *   relayed, while a byte-identical retry of a committed transaction changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";

describe("appservice transactions on a homeserver that pushes like Synapse 1.67", () => {
  const net = new LoopbackNetwork();
  net.addAccount("lb-secret-token-7", "acct7", "Loopback Seven");
  net.addChat("ops", "ops");
  net.addUser("ivan", "Ivan Petrov");
  let h: Harness;
  let alice: ReturnType<Harness["user"]>;
  let portal = "";
  const relayed = () => net.sent("ops").map((m) => m.text);

  beforeAll(async () => {
    h = await Harness.start({ connectors: () => [new LoopbackConnector(net)], initialChatCount: { loopback: 10 }, push: { legacyPaths: true } });
    alice = h.user("alice");
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("the bot answers a DM and a login works when transactions come on the legacy unprefixed path", async () => {
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, "login loopback lb-secret-token-7")).toBe("Logged in to loopback account Loopback Seven");
    await waitUntil(() => h.hs.roomByAlias("#loopback_ops:example.org") !== undefined, 10_000, "portal for ops");
    portal = h.hs.roomByAlias("#loopback_ops:example.org")!;
    await alice.join(portal);
    // Every transaction went to /transactions/{id}?access_token=… and was accepted at the first try.
    expect(h.hs.transactions.length).toBeGreaterThan(0);
    expect(h.hs.transactionRetries).toBe(0);
  });

  it("after a homeserver restart that reuses transaction ids, new events are relayed; a retried transaction is not doubled", async () => {
    for (let i = 1; i <= 3; i++) await alice.sendText(portal, `before ${i}`);
    await waitUntil(() => relayed().filter((t) => t.startsWith("before")).length === 3, 10_000, "the first three on the network");
    await h.hs.waitForPushIdle();
    const committed = [...h.hs.transactions];

    h.hs.restartTransactionIds();
    for (let i = 1; i <= 3; i++) await alice.sendText(portal, `after ${i}`);
    await h.hs.waitForPushIdle();
    const reused = h.hs.transactions.slice(committed.length);
    expect(reused.length).toBeGreaterThan(0);
    expect(reused.every((t) => committed.some((c) => c.txnId === t.txnId)), "the new transactions reuse seen ids").toBe(true);

    // A retry of committed transactions, byte for byte: answered 200, nothing handed over again.
    for (const txn of committed.slice(-3)) expect((await h.hs.replayTransaction(txn)).status).toBe(200);
    await alice.sendText(portal, "sentinel");
    await waitUntil(() => relayed().includes("sentinel"), 10_000, "the sentinel on the network");
    expect(relayed().filter((t) => /^(before|after) \d$|^sentinel$/.test(t)))
      .toEqual(["before 1", "before 2", "before 3", "after 1", "after 2", "after 3", "sentinel"]);
    const metrics = await (await fetch(`http://127.0.0.1:${h.bridge.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/tandem_matrix_events_dropped_total\{reason="repeated_transaction"\} [1-9]/);
  }, 30_000);
});
