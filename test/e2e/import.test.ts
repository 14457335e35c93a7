/**
 * Issue 14 end to end: `tandem import slack` (and `import slack` in the bot DM) on the fake Slack
 * and the fake homeserver, through the real bridge as a child process: a workspace of three
 * conversations (channel, private channel, group DM) with threads, edits, reactions, files and a
 * join; a kill -9 in the middle of the import with a live message waiting; a restart that resumes
 * it; a rerun that adds nothing. Every message once, in order, threads intact, the live message
 * after the history.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHomeserver, type ClientEvent, type FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type MethodHold } from "../fakes/slack.js";
import { BridgeProcess, waitFor } from "../support/bridge-process.js";
import { seedWorkspace, type SeededWorkspace } from "../support/import-workspace.js";

const ROOT = resolve(import.meta.dirname, "../..");
const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);
const rel = (e: ClientEvent) => (e.content as { "m.relates_to"?: { rel_type?: string; event_id?: string; key?: string } })["m.relates_to"];
const KEY = /^(c\d msg \d{4}(?: reply \d)?)/;

/** Runs `tandem import …` against the bridge's config; resolves with its exit code and output. */
function cli(bp: BridgeProcess, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("TANDEM_") && !k.startsWith("VITEST")) env[k] = v;
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "import", ...args, "-c", bp.configPath], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { out += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { out += d; });
    child.once("exit", (code) => done({ code, out }));
  });
}

describe("tandem import slack (fake Slack, fake homeserver, the bridge as a process)", () => {
  let hs: FakeHomeserver;
  let slack: FakeSlack;
  let bp: BridgeProcess;
  let ws: SeededWorkspace;
  let admin: FakeMatrixClient;
  let dm: string;

  beforeAll(async () => {
    hs = await FakeHomeserver.start({ domain: "example.org", retry: { initialMs: 20, maxMs: 250 } });
    slack = await FakeSlack.start({ echoLeadMs: 0, ackTimeoutMs: 1000, pingIntervalMs: 5000 });
    ws = seedWorkspace(slack, { perConversation: 120, threadEvery: 10, replies: 3, fileEvery: 20 });
    // No portals or last-50 backfill at login: the import makes the rooms.
    bp = await BridgeProcess.create({ hs, slack, config: { slack: { conversation_count: 0, backfill_count: 0, outbound_pacing: false } } });
    await bp.start();
    admin = bp.user("admin");
    dm = await bp.dm(admin);
    await bp.loginSlack(admin, dm, ws.team);
    await bp.waitConnected(1);
  }, 120_000);

  afterAll(async () => {
    await bp?.stop().catch(() => undefined);
    await slack?.stop().catch(() => undefined);
    await hs?.stop().catch(() => undefined);
  });

  const ghostRooms = () => hs.rooms().filter((r) => hs.timeline(r).some((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_")));
  const roomOf = (conv: string) => {
    const first = ws.messages.find((m) => m.conv === conv)!.text;
    return ghostRooms().find((r) => hs.timeline(r).some((e) => body(e).startsWith(first)));
  };
  const texts = (roomId: string) => hs.timeline(roomId).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_") && (e.content as { msgtype?: string }).msgtype === "m.text");

  it("a dry run counts and estimates, and writes nothing", async () => {
    const r = await cli(bp, ["slack", "--dry-run"]);
    expect(r.out).toContain(`${ws.messages.length} messages found`);
    expect(r.out).toMatch(/Estimate: about \d+ minutes/);
    expect(r.code).toBe(0);
    expect(ghostRooms()).toEqual([]);
  }, 120_000);

  it("bad options get a clear error and start nothing", async () => {
    const r = await cli(bp, ["slack", "--since", "yesterday-ish"]);
    expect(r.code).toBe(2);
    expect(r.out).toContain('--since: "yesterday-ish" is not a date');
  }, 60_000);

  it("imports everything once, in order, through a kill -9 midway, with a live message after the history", async () => {
    // Slack holds the threads' replies: the import is then midway through each conversation, the
    // three read at once (bridge.import_conversations_at_once: 3, the default; one at a time,
    // only the first would ever ask).
    let held: MethodHold | null = slack.hold("conversations.replies");
    const reply = await bp.command(admin, dm, "import slack");
    expect(reply).toMatch(/^Import from Slack workspace Acme \(T0001\): running/);
    await held.arrivedFor("channel", 3);
    const general = roomOf("C0001")!;
    expect(general).toBeDefined();
    const before = texts(general).length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(ws.messages.filter((m) => m.conv === "C0001").length);
    // A live message now waits in its lane for the history.
    slack.userPosts(ws.team, "C0001", "U0002", "live after the history");
    await new Promise((r) => setTimeout(r, 300)); // let Slack deliver it before the kill (its queue row is what must survive)
    await bp.kill("SIGKILL");
    held.release();
    held = null;
    await bp.start();
    await waitFor(() => hs.timeline(general).some((e) => body(e) === "live after the history"), 180_000, "the live message after the resumed import", 200);
    await waitFor(async () => ((await (await fetch(`http://127.0.0.1:${bp.metricsPort}/import`)).json()) as { state?: string } | null)?.state === "done", 60_000, "import done");

    expect(ghostRooms().length).toBe(3); // channel, private channel, group DM; never the channel the app is not in
    for (const conv of ws.conversations) {
      const roomId = roomOf(conv.id)!;
      const expected = ws.messages.filter((m) => m.conv === conv.id);
      const events = texts(roomId).filter((e) => KEY.test(body(e)));
      const keys = events.map((e) => KEY.exec(body(e))![1]);
      expect(keys).toEqual(expected.map((m) => KEY.exec(m.text)![1])); // each once, in order
      const byTs = new Map(expected.map((m, i) => [m.ts, events[i]!]));
      for (const [i, m] of expected.entries()) {
        const e = events[i]!;
        expect(e.origin_server_ts).toBe(Math.round(Number(m.ts) * 1000)); // the original time
        if (m.root) expect(rel(e)).toMatchObject({ rel_type: "m.thread", event_id: byTs.get(m.root)!.event_id });
        else expect(rel(e)?.rel_type).toBeUndefined();
        if (m.edited) expect(body(e)).toMatch(/ edited _?\(edited\)_?$/);
      }
      const reactions = hs.timeline(roomId).filter((e) => e.type === "m.reaction");
      expect(reactions.length).toBe(expected.reduce((n, m) => n + m.reactions, 0));
      for (const r of reactions) expect(expected[events.findIndex((e) => e.event_id === rel(r)!.event_id)]?.reactions).toBe(1);
      const files = hs.timeline(roomId).filter((e) => (e.content as { msgtype?: string }).msgtype === "m.file");
      expect(files.map(body)).toEqual(expected.filter((m) => m.file).map((m) => m.file));
      for (const f of files) expect(hs.media(String(f.content.url))?.data.toString()).toBe(`contents of ${body(f)}`);
    }
    const tl = hs.timeline(general).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_"));
    expect(tl.at(-1) && body(tl.at(-1)!)).toBe("live after the history");
    expect(tl.filter((e) => body(e) === "live after the history")).toHaveLength(1);
    // The join mid-history made Erin's ghost a member.
    expect(hs.joinedMembers(general)).toContain("@slack_t0001_u0003:example.org");
  }, 300_000);

  it("a rerun adds nothing, says so, and status and /metrics show the import", async () => {
    const count = hs.eventCount;
    const r = await cli(bp, ["slack"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`0 messages, 0 files, ${ws.messages.length + 1} already in Matrix`); // + the live message
    // Sentinel: a live message after the rerun arrives, and nothing else was written before it.
    slack.userPosts(ws.team, "C0001", "U0001", "sentinel");
    const sentinel = await hs.waitForEvent((e) => body(e) === "sentinel", { timeoutMs: 30_000 });
    const written = hs.allEvents().slice(count);
    expect(written.filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_")).map((e) => e.event_id)).toEqual([sentinel.event_id]);
    const metrics = await (await fetch(`http://127.0.0.1:${bp.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^tandem_import_conversations\{state="done"\} 3$/m);
    expect(metrics).toMatch(/^tandem_import_running 0$/m);
    expect(await bp.command(admin, dm, "status")).toMatch(/Import from Slack workspace Acme \(T0001\): done, 3\/3 conversations/);
  }, 120_000);
});
