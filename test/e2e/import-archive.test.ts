/**
 * Issue 14 item 4: Matrix can only append. A chat whose room already has messages gets its
 * history in an archive room "<name> (Slack history)", never interleaved into the live room: the
 * archive names the live room as its successor (m.room.tombstone) and the live room carries a
 * pinned link to the archive. Messages already bridged live stay where they are (not doubled).
 */
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { createSlackConnector } from "../../src/networks/slack/index.js";
import type { ClientEvent } from "../fakes/homeserver.js";
import { FakeSlack } from "../fakes/slack.js";
import { Harness, waitUntil } from "../support/harness.js";
import { seedWorkspace } from "../support/import-workspace.js";

const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);

describe("import into a room that already has messages", () => {
  let slack: FakeSlack;
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("goes into an archive room linked both ways; the live room keeps its messages, nothing doubled", async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    const ws = seedWorkspace(slack, { perConversation: 30, threadEvery: 10, replies: 2, fileEvery: 0, conversations: 1 });
    h = await Harness.start({
      config: { slack: { api_url: slack.apiUrl, conversation_count: 0, backfill_count: 0 }, telegram: { enabled: false }, bridge: { download_allowed_origins: new URL(slack.apiUrl).origin } },
      connectors: (x) => [createSlackConnector(x.config, silentLogger, { socket: { startTimeoutMs: 5000 } })],
    });
    const admin = h.user("admin");
    const dm = await h.dm(admin);
    expect(await h.command(admin, dm, `login app ${ws.team.botToken} ${ws.team.appToken}`)).toMatch(/Logged in/);
    await waitUntil(() => h.bridge.core.health.all().some((x) => x.state === "connected"), 10_000, "connected");
    // A live message makes the portal and is bridged: the room now has a message newer than all the history.
    slack.userPosts(ws.team, "C0001", "U0001", "live before the import");
    const live = await h.hs.waitForEvent((e) => body(e) === "live before the import", { timeoutMs: 10_000 });
    const liveRoom = live.room_id;

    await h.command(admin, dm, "import slack");
    await waitUntil(() => h.bridge.core.imports.snapshot()?.state === "done", 30_000, "import done");

    const archive = h.hs.rooms().find((r) => h.hs.stateContent(r, "m.room.name")?.name === "general (Slack history)");
    expect(archive).toBeDefined();
    const history = h.messages(archive!).filter((e) => e.sender.startsWith("@slack_"));
    expect(history.map(body).map((b) => b.replace(/ _?\(edited\)_?$/, ""))).toEqual(ws.messages.map((m) => m.text));
    // The live room got no history, and its live message is still the only one from a ghost.
    expect(h.messages(liveRoom).filter((e) => e.sender.startsWith("@slack_")).map(body)).toEqual(["live before the import"]);
    expect(h.hs.stateContent(archive!, "m.room.tombstone")).toMatchObject({ replacement_room: liveRoom });
    const pinned = h.hs.stateContent(liveRoom, "m.room.pinned_events")?.pinned as string[];
    expect(pinned).toHaveLength(1);
    expect(body(h.hs.event(pinned[0]!)!)).toContain(encodeURIComponent(archive!));
    // The admin is in the archive room.
    expect(h.hs.members(archive!)[admin.userId]).toBe("invite");
  }, 90_000);
});
