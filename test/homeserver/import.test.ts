/**
 * Issue 14 on a real Synapse 1.67: `import slack` of three conversations (channel, private
 * channel, group DM) × 300 messages with threads, edits, reactions and files from the fake Slack,
 * through a kill -9 of the bridge midway and a rerun; read back through /messages: every message
 * once, in order, with its original time, threads intact.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type MethodHold } from "../fakes/slack.js";
import { waitFor } from "../support/bridge-process.js";
import { seedWorkspace, type SeededWorkspace } from "../support/import-workspace.js";
import { SynapseBridge, bodyOf, runCli } from "./support/bridge.js";
import type { ClientEvent, MatrixUser } from "./support/matrix-user.js";
import { importProgress, roomHistory } from "./support/history.js";
import { Synapse } from "./support/synapse.js";

const KEY = /^(c\d msg \d{4}(?: reply \d)?)/;
const rel = (e: ClientEvent) => (e.content as { "m.relates_to"?: { rel_type?: string; event_id?: string } })["m.relates_to"];

describe("history import into a real Synapse", () => {
  let hs: Synapse;
  let bridge: SynapseBridge;
  let slack: FakeSlack;
  let ws: SeededWorkspace;
  let admin: MatrixUser;
  let dm: string;
  const progress = () => importProgress(bridge.metricsPort);

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 2000, pingIntervalMs: 5000 });
    ws = seedWorkspace(slack, { perConversation: 240, threadEvery: 10, replies: 3, fileEvery: 40 }); // 3 × 312 messages
    hs = await Synapse.create("test.local");
    bridge = await SynapseBridge.create(hs, { slack, config: { slack: { conversation_count: 0, backfill_count: 0 } } });
    await hs.start();
    await bridge.start();
    admin = await hs.mkuser("admin", { admin: true });
    dm = await bridge.dm(admin);
    expect((await bridge.command(admin, dm, `login app ${ws.team.botToken} ${ws.team.appToken}`)).reply).toMatch(/^Logged in to Slack/);
    await bridge.waitHealthy();
  }, 180_000);

  afterAll(async () => {
    await admin?.stopSync();
    await bridge?.stop();
    await hs?.destroy();
    await slack?.stop();
  });

  it("every message once, in order, threads intact, through a kill -9 midway and a rerun", async () => {
    // The second conversation's first thread is held: the import is then midway.
    let firstThreadOfSecond = false;
    const second = ws.conversations[1]!.id;
    let held: MethodHold | null = null;
    const watch = setInterval(() => {
      if (held || firstThreadOfSecond) return;
      if (slack.calls.some((c) => c.method === "conversations.history" && c.params.channel === second)) {
        firstThreadOfSecond = true;
        held = slack.hold("conversations.replies");
      }
    }, 5);
    const { reply } = await bridge.command(admin, dm, "import slack");
    expect(reply).toMatch(/^Import from Slack workspace Acme/);
    await waitFor(() => held !== null, 120_000, "the import reaching the second conversation");
    clearInterval(watch);
    await held!.arrived(1);
    const mid = await progress();
    expect(mid!.messages).toBeGreaterThan(0);
    expect(mid!.messages).toBeLessThan(ws.messages.length);
    await bridge.kill("SIGKILL");
    held!.release();
    await bridge.start();
    await waitFor(async () => (await progress())?.state === "done", 180_000, "the resumed import", 500);

    const rerun = await runCli(["import", "slack", "-c", bridge.configPath], 120_000);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain(`0 messages, 0 files, ${ws.messages.length} already in Matrix`);

    const rooms = (await progress())!.conversations;
    expect(rooms).toHaveLength(3);
    for (const [i, conv] of ws.conversations.entries()) {
      const roomId = rooms.find((c) => c.chat === `T0001:${conv.id}`)!.roomId!;
      await admin.join(roomId);
      const events = (await roomHistory(admin, roomId)).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_") && KEY.test(bodyOf(e)) && (e.content as { msgtype?: string }).msgtype === "m.text");
      const expected = ws.messages.filter((m) => m.conv === conv.id);
      expect(events.map((e) => KEY.exec(bodyOf(e))![1]), `conversation ${i + 1}`).toEqual(expected.map((m) => KEY.exec(m.text)![1]));
      const byTs = new Map(expected.map((m, j) => [m.ts, events[j]!]));
      for (const [j, m] of expected.entries()) {
        expect(events[j]!.origin_server_ts).toBe(Math.round(Number(m.ts) * 1000));
        if (m.root) expect(rel(events[j]!)).toMatchObject({ rel_type: "m.thread", event_id: byTs.get(m.root)!.event_id });
      }
    }
  }, 600_000);
});
