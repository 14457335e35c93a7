/**
 * Issue 5, item 2 (outbound pacing), end to end: the fake Slack enforces chat.postMessage's
 * per-channel limit (about 1 a second, short bursts) and answers 429 beyond it, as Slack does.
 * A burst of Matrix messages into one channel must arrive complete and in order without a
 * single 429 (the bridge queues instead), while a message for another channel, sent after the
 * burst, is not held behind it (a paced chat frees its queue worker).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { Harness, waitUntil } from "../support/harness.js";

describe("outbound pacing (Slack)", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  let h: Harness;
  let alice: FakeMatrixClient;
  let general: string;
  let random: string;

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
    slack.addChannel(team, { id: "C0002", name: "random", members: ["U0001"], botMember: true });
    // Slack's limit with a little room over the bridge's own bucket (1/s, bursts of 4).
    slack.postLimit(1, 5);
    h = await Harness.start({ config: { slack: { api_url: slack.apiUrl, backfill_count: 0 }, telegram: { enabled: false }, bridge: { download_allowed_origins: new URL(slack.apiUrl).origin } } });
    alice = h.user("alice");
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/^Logged in to Slack workspace Acme/);
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_general:example.org") && !!h.hs.roomByAlias("#slack_acme_random:example.org"), 10_000, "portals");
    general = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    random = h.hs.roomByAlias("#slack_acme_random:example.org")!;
    await alice.join(general);
    await alice.join(random);
  });

  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("a burst into one channel is paced (no 429s, in order) and does not hold another channel", async () => {
    const burst = Array.from({ length: 9 }, (_, i) => `burst ${i + 1}`);
    for (const text of burst) await alice.sendText(general, text);
    await alice.sendText(random, "meanwhile in random");

    await slack.waitForMessage(team, "C0001", (m) => m.text === "burst 9", 30_000);
    await slack.waitForMessage(team, "C0002", (m) => m.text === "meanwhile in random", 5000);

    const posted = slack.messages(team, "C0001").map((m) => m.text).filter((t) => t?.startsWith("burst "));
    expect(posted).toEqual(burst);
    const posts = slack.calls.filter((c) => c.method === "chat.postMessage");
    expect(posts.filter((c) => c.status === 429)).toEqual([]);

    // Paced, not just fast: 4 go at once, the other 5 about a second apart.
    const at = (text: string) => posts.find((c) => c.params.text === text)!.at;
    expect(at("burst 9") - at("burst 1")).toBeGreaterThanOrEqual(4000);
    // Sent after the whole burst, posted long before its end: the waiting channel held no worker.
    expect(at("meanwhile in random")).toBeLessThan(at("burst 9"));

    // The waits were queue deferrals, not failed attempts.
    expect(h.bridge.core.queue.counts.deferred).toBeGreaterThan(0);
    expect(h.bridge.core.queue.counts.retried).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${h.bridge.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/tandem_queue_items_total\{outcome="deferred"\} [1-9]/);
  });
});
