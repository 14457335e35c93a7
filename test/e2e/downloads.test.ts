/**
 * Issue 16 row 6: downloads go only where the network keeps its files, and a file host that is down
 * does not hold a chat for hours.
 * - a Slack file whose URL points at the bridge's own /status.json (loopback) is not fetched: the
 *   room gets a notice and the chat goes on; a real file from the (allowed) fake still arrives;
 * - a download that keeps failing at the network level is tried DOWNLOAD_ATTEMPTS times with the
 *   queue's backoff, then dead-lettered with a notice, and the chat's next message follows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteError } from "../../src/core/errors.js";
import { DOWNLOAD_ATTEMPTS } from "../../src/core/remote-inbound.js";
import type { ClientEvent } from "../fakes/homeserver.js";
import { FakeSlack, type Json, type TeamHandle } from "../fakes/slack.js";
import { eventCallback, type SocketHub } from "../fakes/slack-socket.js";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";

const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);
const CAROL = "@slack_t0001_u0001:example.org";

describe("Slack file URLs stay on Slack's file hosts", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  let h: Harness;
  let general: string;
  const inject = (payload: Json) => (slack as unknown as { hub: SocketHub }).hub.deliver(team.id, payload);
  const wrap = (event: unknown) => ({ ...eventCallback(slack.team(team.id) as never, { type: "placeholder" }), event }) as Json;

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", display_name: "Carol" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
    h = await Harness.start({ config: {
      slack: { api_url: slack.apiUrl, conversation_count: 10, backfill_count: 0 }, telegram: { enabled: false },
      // The fake serves its files on loopback: allowed by this documented setting, never by default.
      bridge: { download_allowed_origins: new URL(slack.apiUrl).origin },
    } });
    const alice = h.user("alice");
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/Logged in to Slack workspace Acme/);
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_general:example.org"), 10_000, "general portal");
    general = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    await alice.join(general);
    await waitUntil(() => h.bridge.core.health.all().some((x) => x.state === "connected"), 10_000, "Socket Mode connected");
  });
  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("a file URL on the bridge's own status page is not fetched: a notice, and the chat goes on", async () => {
    const statusUrl = `http://127.0.0.1:${h.config.metrics.port}/status.json`;
    expect((await fetch(statusUrl)).status).toBe(200); // the page is there to be stolen
    await inject(wrap({
      type: "message", subtype: "file_share", channel: "C0001", user: "U0001", ts: "1800000000.000100", text: "",
      files: [{ id: "F0STATUS", name: "status.json", title: "status.json", mimetype: "application/json", filetype: "json", size: 100,
        url_private: statusUrl, url_private_download: statusUrl }],
    }));
    const notice = await h.waitForBot(general, /could not be bridged/);
    expect(body(notice)).toMatch(/the file's address \(127\.0\.0\.1\) is not one the bridge downloads from/);
    // Nothing from the status page reached the room or the media repository.
    const files = h.messages(general, CAROL).filter((e) => (e.content as { msgtype?: string }).msgtype !== "m.text");
    expect(files).toEqual([]);
    expect(JSON.stringify(h.hs.allEvents((e) => e.room_id === general))).not.toMatch(/"rooms"|parity/);

    // The chat goes on, and a real Slack file (from the allowed origin) still arrives.
    slack.userPosts(team, "C0001", "U0001", "a real file", { files: [{ name: "notes.txt", data: Buffer.from("hello notes") }] });
    const file = await h.hs.waitForEvent((e) => e.room_id === general && e.sender === CAROL && (e.content as { msgtype?: string }).msgtype === "m.file");
    expect((file.content as { filename?: string }).filename).toBe("notes.txt");
    expect(await h.bridge.store.queue.deadItems(10)).toHaveLength(1);
  });
});

describe("a file host that is down", () => {
  const net = new LoopbackNetwork();
  net.addAccount("lb-secret-token-1", "acct1", "Loopback One");
  net.addChat("ops", "ops");
  net.addUser("ivan", "Ivan Petrov");
  let h: Harness;
  let room: string;

  beforeAll(async () => {
    h = await Harness.start({ connectors: () => [new LoopbackConnector(net)], initialChatCount: { loopback: 10 } });
    const alice = h.user("alice");
    const dm = await h.dm(alice);
    await h.command(alice, dm, "login loopback lb-secret-token-1");
    await waitUntil(() => h.hs.roomByAlias("#loopback_ops:example.org") !== undefined, 10_000, "portal for ops");
    room = h.hs.roomByAlias("#loopback_ops:example.org")!;
  });
  afterAll(async () => {
    await h?.stop();
  });

  it(`is tried ${DOWNLOAD_ATTEMPTS} times, then the message is dead-lettered with a notice and the chat's next message follows`, async () => {
    net.downloadFailure = new RemoteError("network", "connect ETIMEDOUT 203.0.113.9:443", { retryable: true, userMessage: "the file could not be downloaded (ETIMEDOUT)" });
    const callsBefore = net.downloadCalls;
    try {
      await net.post("ops", "ivan", "", { file: { name: "report.pdf", data: Buffer.from("%PDF"), mime: "application/pdf" } });
      const notice = await h.waitForBot(room, /could not be bridged/, 20_000);
      expect(body(notice)).toMatch(new RegExp(`the file report\\.pdf could not be downloaded after ${DOWNLOAD_ATTEMPTS} tries \\(the file could not be downloaded \\(ETIMEDOUT\\)\\)`));
    } finally {
      net.downloadFailure = null;
    }
    expect(net.downloadCalls - callsBefore).toBe(DOWNLOAD_ATTEMPTS);
    // Sentinel on the same lane: the chat is not held.
    await net.post("ops", "ivan", "after the dead file");
    await h.hs.waitForEvent({ room_id: room, content: { body: "after the dead file" } });
    const dead = await h.bridge.store.queue.deadItems(10);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.lastError).toMatch(/^download_failed: report\.pdf: gave up after/);
  });
});
