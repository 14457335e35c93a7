/**
 * Issue 14 item 6: `import stop` (what Ctrl-C in the CLI asks for) stops the import cleanly at
 * the next message, says so, and the next run resumes: every message once and in order.
 */
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { createSlackConnector } from "../../src/networks/slack/index.js";
import type { ClientEvent } from "../fakes/homeserver.js";
import { FakeSlack } from "../fakes/slack.js";
import { Harness, waitUntil } from "../support/harness.js";
import { seedWorkspace } from "../support/import-workspace.js";

const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);

describe("import stop and resume", () => {
  let slack: FakeSlack;
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("stops at the next message and a rerun adds the rest, each once, in order", async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    const ws = seedWorkspace(slack, { perConversation: 40, threadEvery: 10, replies: 2, fileEvery: 0, conversations: 2 });
    h = await Harness.start({
      config: { slack: { api_url: slack.apiUrl, conversation_count: 0, backfill_count: 0 }, telegram: { enabled: false }, bridge: { download_allowed_origins: new URL(slack.apiUrl).origin } },
      connectors: (x) => [createSlackConnector(x.config, silentLogger, { socket: { startTimeoutMs: 5000 } })],
    });
    const admin = h.user("admin");
    const dm = await h.dm(admin);
    expect(await h.command(admin, dm, `login app ${ws.team.botToken} ${ws.team.appToken}`)).toMatch(/Logged in/);
    await waitUntil(() => h.bridge.core.health.all().some((x) => x.state === "connected"), 10_000, "connected");

    const held = slack.hold("conversations.replies"); // midway through each conversation (both are read at once)
    expect(await h.command(admin, dm, "import slack")).toMatch(/^Import from Slack workspace Acme \(T0001\): running/);
    await held.arrivedFor("channel", 2);
    const atStop = h.bridge.core.imports.snapshot()!.messages;
    await admin.sendText(dm, "import stop");
    try {
      await h.waitForBot(dm, /^Stopping at the next message/);
    } finally {
      held.release();
    }
    await waitUntil(() => h.bridge.core.imports.snapshot()?.state === "stopped", 10_000, "stopped");
    const stopped = h.bridge.core.imports.snapshot()!;
    expect(stopped.messages).toBeGreaterThan(0);
    expect(stopped.messages).toBeLessThanOrEqual(atStop + 1); // at the next message, not at the end of the conversation
    expect(stopped.conversations.filter((c) => c.state === "done")).toHaveLength(0);

    await h.command(admin, dm, "import slack");
    await waitUntil(() => h.bridge.core.imports.snapshot()?.state === "done", 30_000, "done");
    const again = h.bridge.core.imports.snapshot()!;
    expect(again.alreadyIn).toBe(stopped.messages);
    expect(again.messages + again.alreadyIn).toBe(ws.messages.length);
    for (const c of again.conversations) {
      const texts = h.messages(c.roomId!).filter((e) => e.sender.startsWith("@slack_")).map(body).map((b) => b.replace(/ _?\(edited\)_?$/, ""));
      expect(texts).toEqual(ws.messages.filter((m) => `T0001:${m.conv}` === c.chat).map((m) => m.text));
    }
  }, 90_000);
});
