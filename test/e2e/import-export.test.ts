/**
 * Issue 14 items 2 and 5 through the importer: `import slack-export FILE.zip` in the bot DM reads
 * a Slack export (written by the test in Slack's documented format) of a conversation the app
 * is not in, into a new portal, once and in order; a second run adds nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { createSlackConnector } from "../../src/networks/slack/index.js";
import type { ClientEvent } from "../fakes/homeserver.js";
import { FakeSlack } from "../fakes/slack.js";
import { byDay, slackChannel, slackMessage, slackTs, slackUser, writeSlackExport } from "../support/exports/slack-export.js";
import { Harness, waitUntil } from "../support/harness.js";

const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);

describe("import from a Slack export", () => {
  let slack: FakeSlack;
  let h: Harness;
  const dir = mkdtempSync(join(tmpdir(), "tandem-export-"));
  afterEach(async () => {
    await h?.stop();
    await slack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes an export's conversation into a new portal once, in order; a rerun adds nothing", async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    const team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", display_name: "Carol" });
    const start = Date.UTC(2024, 0, 5, 9);
    const messages = Array.from({ length: 60 }, (_, i) => slackMessage(i % 2 ? "U0001" : "U0002", slackTs(start + i * 3600_000, i), `old ${i + 1}`));
    const file = join(dir, "export.zip");
    await writeSlackExport(file, {
      users: [slackUser("T0001", "U0001", "Carol"), slackUser("T0001", "U0002", "Dave")],
      channels: [slackChannel("C0500", "archive-only", ["U0001", "U0002"])],
      days: byDay("archive-only", messages),
    });
    h = await Harness.start({
      config: { slack: { api_url: slack.apiUrl, conversation_count: 0, backfill_count: 0 }, telegram: { enabled: false }, bridge: { download_allowed_origins: new URL(slack.apiUrl).origin } },
      connectors: (x) => [createSlackConnector(x.config, silentLogger, { socket: { startTimeoutMs: 5000 } })],
    });
    const admin = h.user("admin");
    const dm = await h.dm(admin);
    expect(await h.command(admin, dm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/Logged in/);

    expect(await h.command(admin, dm, "import slack-export")).toMatch(/needs the export's path first/);
    await h.command(admin, dm, `import slack-export ${file}`);
    await waitUntil(() => h.bridge.core.imports.snapshot()?.state === "done", 30_000, "done");
    const snap = h.bridge.core.imports.snapshot()!;
    expect(snap.messages).toBe(60);
    const roomId = snap.conversations[0]!.roomId!;
    expect(h.messages(roomId).filter((e) => e.sender.startsWith("@slack_")).map(body)).toEqual(messages.map((m) => m.text));

    await h.command(admin, dm, `import slack-export ${file}`);
    await waitUntil(() => h.bridge.core.imports.snapshot()?.id !== snap.id && h.bridge.core.imports.snapshot()?.state === "done", 30_000, "rerun done");
    expect(h.bridge.core.imports.snapshot()).toMatchObject({ messages: 0, alreadyIn: 60 });
    expect(h.messages(roomId).filter((e) => e.sender.startsWith("@slack_"))).toHaveLength(60);
  }, 90_000);
});
