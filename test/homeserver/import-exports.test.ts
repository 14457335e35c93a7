/**
 * Issue 14 items 2 and 3 on a real Synapse 1.67: `tandem import slack-export FILE.zip` and
 * `tandem import telegram-export DIR` through the running bridge, from exports the test writes in
 * the documented formats, read back through /messages as a client would: every message once, in
 * order, at its original time, from its author's ghost, threads, replies, edits, reactions and
 * files intact; the portal is the one live traffic then uses; a rerun adds nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { FakeTelegram, type BotHandle } from "../fakes/telegram.js";
import { waitFor } from "../support/bridge-process.js";
import { byDay, slackChannel, slackMessage, slackTs, slackUser, writeSlackExport, type SlackJson } from "../support/exports/slack-export.js";
import { tgMessage, tgService, writeTelegramExport } from "../support/exports/telegram-export.js";
import { SynapseBridge, bodyOf, runCli } from "./support/bridge.js";
import { importProgress, roomHistory, type ImportSnapshot } from "./support/history.js";
import type { ClientEvent, MatrixUser } from "./support/matrix-user.js";
import { Synapse } from "./support/synapse.js";

const DOMAIN = "test.local";
type Relates = { rel_type?: string; event_id?: string; key?: string; "m.in_reply_to"?: { event_id?: string } };
const rel = (e: ClientEvent) => (e.content as { "m.relates_to"?: Relates })["m.relates_to"];
const msgtype = (e: ClientEvent) => (e.content as { msgtype?: string }).msgtype;
const ghost = (user: string) => `@slack_t0001_${user.toLowerCase()}:${DOMAIN}`;
const tgGhost = (id: number) => `@telegram_${id}:${DOMAIN}`;

const IVAN = { id: 42, name: "Ivan Petrov" };
const OLGA = { id: 43, name: "Olga" };
/** Export ids (a supergroup without the Bot API's -100). */
const FLEET = 1_234_567_890;
const LINKED = 1_234_567_891;

/** users.json (without avatars: their URLs would leave loopback). */
const SLACK_USERS = [slackUser("T0001", "U0001", "Carol", { profile: { display_name: "Carol", real_name: "Carol" } }),
  slackUser("T0001", "U0002", "Dave", { profile: { display_name: "Dave", real_name: "Dave" } })];
const T0 = Date.UTC(2024, 0, 5, 9);
const pad = (i: number) => String(i).padStart(String(i).length > 2 ? 3 : 2, "0");

/**
 * `n` exported messages "<prefix> 01"…, `hourStep` hours apart from T0 (so across day files), by
 * Carol and Dave in turn; message 3 (and every `threadEvery`-th) starts a thread of two replies,
 * as the export writes them (replies carry thread_ts and parent_user_id, the root reply_count).
 */
function exportedConversation(prefix: string, n: number, hourStep: number, threadEvery = 0): SlackJson[] {
  const out: SlackJson[] = [];
  let seq = 0;
  for (let i = 1; i <= n; i++) {
    const at = T0 + i * hourStep * 3600_000;
    const m = slackMessage(i % 2 ? "U0001" : "U0002", slackTs(at, seq++), `${prefix} ${pad(i)}`);
    out.push(m);
    if (i === 3 || (threadEvery > 0 && i % threadEvery === 0)) {
      const replies = [1, 2].map((r) => slackMessage(r === 1 ? "U0002" : "U0001", slackTs(at + r * 60_000, seq++),
        `${prefix} ${pad(i)} reply ${r}`, { thread_ts: m.ts, parent_user_id: m.user }));
      Object.assign(m, { thread_ts: m.ts, reply_count: 2, replies: replies.map((x) => ({ user: x.user, ts: x.ts })) });
      out.push(...replies);
    }
  }
  return out;
}

describe("history import from exports into a real Synapse", () => {
  let hs: Synapse;
  let bridge: SynapseBridge;
  let slack: FakeSlack;
  let team: TeamHandle;
  let tg: FakeTelegram;
  let bot: BotHandle;
  let admin: MatrixUser;
  let dm: string;
  const dir = mkdtempSync(join(tmpdir(), "tandem-hs-exports-"));
  const progress = async () => (await importProgress(bridge.metricsPort))!;

  /** Runs `tandem import …` against the running bridge; resolves with its progress output. */
  async function cliImport(args: string[]): Promise<string> {
    const run = await runCli(["import", ...args, "-c", bridge.configPath], 180_000);
    expect(run.code, `${run.stdout}${run.stderr}\n${bridge.tail()}`).toBe(0);
    return run.stdout;
  }

  /** A room's messages and reactions as Element shows them (after the person joined it). */
  async function history(roomId: string): Promise<ClientEvent[]> {
    await admin.join(roomId);
    return (await roomHistory(admin, roomId)).filter((e) => e.type === "m.room.message" || e.type === "m.reaction");
  }

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 2000, pingIntervalMs: 5000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", display_name: "Carol" });
    slack.addUser(team, { id: "U0002", name: "dave", display_name: "Dave" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001", "U0002"], botMember: true });
    slack.addChannel(team, { id: "C0500", name: "archive-only", members: ["U0001", "U0002"], botMember: false });
    slack.addChannel(team, { id: "C0002", name: "ops-live", members: ["U0001", "U0002"], botMember: true });
    slack.addChannel(team, { id: "C0003", name: "sentinel", members: ["U0001"], botMember: true });
    tg = await FakeTelegram.start();
    bot = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet", canReadAllGroupMessages: true });
    tg.addUser({ id: IVAN.id, first_name: "Ivan", last_name: "Petrov", username: "ivan" });
    tg.addUser({ id: OLGA.id, first_name: "Olga" });
    for (const [id, title] of [[FLEET, "Fleet Ops"], [LINKED, "Ops Linked"]] as const) {
      tg.addChat({ id: Number(`-100${id}`), type: "supergroup", title, members: [IVAN.id, OLGA.id], admins: [bot.id], earlierMessages: 100 });
    }
    hs = await Synapse.create(DOMAIN);
    bridge = await SynapseBridge.create(hs, { slack, telegram: tg, config: { slack: { conversation_count: 0, backfill_count: 0 } } });
    await hs.start();
    await bridge.start();
    admin = await hs.mkuser("admin", { admin: true });
    dm = await bridge.dm(admin);
    expect((await bridge.command(admin, dm, `login app ${team.botToken} ${team.appToken}`)).reply).toMatch(/^Logged in to Slack/);
    expect((await bridge.command(admin, dm, `login telegram ${bot.token}`)).reply).toMatch(/^Logged in as @fleet_bot/);
    await bridge.waitHealthy();
  }, 180_000);

  afterAll(async () => {
    await admin?.stopSync();
    await bridge?.stop();
    await hs?.destroy();
    await slack?.stop();
    await tg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("Slack export zip: a channel the app is in (its live portal) and one it is not in, once, in order; a rerun adds nothing", async () => {
    // The file lives on the (fake) Slack, as in a real export: the zip has only its url_private link.
    const fileTs = slack.userPosts(team, "C0500", "U0001", "", { silent: true, files: [{ name: "plan.txt", data: Buffer.from("the plan, in full"), mimetype: "text/plain" }] });
    const fileJson = slack.message(team, "C0500", fileTs)!.files![0]!;
    const general = exportedConversation("g", 10, 5); // across three days
    Object.assign(general[6]!, { text: "g 05 final", edited: { user: "U0001", ts: slackTs(T0 + 30 * 3600_000) } }); // g 05, edited
    Object.assign(general[7]!, { reactions: [{ name: "thumbsup", users: ["U0002", "U0001"], count: 2 }, { name: "heart", users: ["U0002"], count: 1 }] });
    Object.assign(general[9]!, { files: [fileJson], text: "g 08 with the plan" });
    const joined = slackMessage("U0002", slackTs(T0, 0), "<@U0002> has joined the channel", { subtype: "channel_join" });
    const outside = exportedConversation("a", 6, 2);
    // A private channel (groups.json), a group DM (mpims.json) and a DM (dms.json), none with the app in them.
    const others = { G0700: exportedConversation("p", 4, 3), G0701: exportedConversation("m", 4, 3), D0702: exportedConversation("d", 4, 3) };
    const total = general.length + outside.length + Object.values(others).reduce((n, l) => n + l.length, 0);
    const file = join(dir, "acme-export.zip");
    await writeSlackExport(file, {
      users: SLACK_USERS,
      channels: [slackChannel("C0001", "general", ["U0001", "U0002"]), slackChannel("C0500", "archive-only", ["U0001", "U0002"])],
      groups: [slackChannel("G0700", "secret-plans", ["U0001", "U0002"])],
      mpims: [slackChannel("G0701", "mpdm-carol--dave-1", ["U0001", "U0002"])],
      dms: [{ id: "D0702", created: 1700000000, members: ["U0001", "U0002"] }],
      days: [...byDay("general", [joined, ...general]), ...byDay("archive-only", outside),
        ...byDay("secret-plans", others.G0700), ...byDay("mpdm-carol--dave-1", others.G0701), ...byDay("D0702", others.D0702)],
    });

    const out = await cliImport(["slack-export", file]);
    expect(out).toContain(`Import from Slack export ${file} (T0001, 5 conversations): done, 5/5 conversations, ${total} messages, 1 files`);
    const snap = await progress();
    const roomOf = (chat: string) => snap.conversations.find((c) => c.chat === `T0001:${chat}`)!.roomId!;

    // Each room holds exactly the export's messages, in order, at their times, from their authors' ghosts.
    for (const [chat, expected] of [["C0001", general], ["C0500", outside], ...Object.entries(others)] as const) {
      const events = (await history(roomOf(chat))).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_") && msgtype(e) === "m.text");
      expect(events.map((e) => bodyOf(e).replace(/ _?\(edited\)_?$/, "")), chat).toEqual(expected.map((m) => m.text));
      expect(events.map((e) => e.sender)).toEqual(expected.map((m) => ghost(m.user as string)));
      expect(events.map((e) => e.origin_server_ts)).toEqual(expected.map((m) => Math.round(Number(m.ts) * 1000)));
      const root = events[2]!;
      for (const reply of [events[3]!, events[4]!]) expect(rel(reply)).toMatchObject({ rel_type: "m.thread", event_id: root.event_id });
    }
    const all = await history(roomOf("C0001"));
    const byBody = (text: string) => all.find((e) => bodyOf(e).startsWith(text))!;
    expect(bodyOf(byBody("g 05 final"))).toMatch(/\(edited\)/);
    const reactions = all.filter((e) => e.type === "m.reaction" && rel(e)?.event_id === byBody("g 06").event_id);
    expect(reactions.map((e) => [e.sender, rel(e)!.key]).sort()).toEqual([[ghost("U0001"), "👍"], [ghost("U0002"), "❤️"], [ghost("U0002"), "👍"]].sort());
    // The file was fetched from its url_private with the login's token and re-uploaded to the media repo.
    const fileEvent = all.find((e) => msgtype(e) === "m.file")!;
    expect(fileEvent).toMatchObject({ sender: ghost("U0002"), content: { body: "plan.txt" } });
    const mxc = String(fileEvent.content.url).slice("mxc://".length);
    expect(await (await fetch(`${hs.url}/_matrix/media/v3/download/${mxc}`)).text()).toBe("the plan, in full");
    expect(all.indexOf(fileEvent)).toBe(all.indexOf(byBody("g 08 with the plan")) + 1);

    // Live traffic of the channel the app is in uses the same room, after all of its history.
    slack.userPosts(team, "C0001", "U0001", "live after the export");
    await admin.waitForEvent((e) => bodyOf(e) === "live after the export", { what: "the live message" });
    const after = (await history(roomOf("C0001"))).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_") && msgtype(e) === "m.text");
    expect(after.map(bodyOf).at(-1)).toBe("live after the export");
    expect(after).toHaveLength(general.length + 1);

    // A rerun finds everything in.
    const again = await cliImport(["slack-export", file]);
    expect(again).toContain(`0 messages, 0 files, ${total} already in Matrix`);
    for (const [chat, n] of [["C0001", general.length + 1], ["C0500", outside.length]] as const) {
      expect((await history(roomOf(chat))).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_") && msgtype(e) === "m.text"), chat).toHaveLength(n);
    }
  }, 300_000);

  it("Telegram Desktop export: formatting, a reply, an edit, a forward, service messages, a photo, a document and a reaction into the portal; a linked room's into an archive room", async () => {
    const t0 = 1_704_448_800; // 2024-01-05 10:00 UTC
    const fleet = [
      tgService(1, t0, IVAN, "join_group_by_link", { inviter: "Group" }),
      tgMessage(2, t0 + 60, IVAN, ["t 02 see ", { type: "bold", text: "this" }, " at ", { type: "text_link", text: "the docs", href: "https://example.org/d" }, " ", { type: "mention", text: "@olga" }]),
      tgMessage(3, t0 + 120, OLGA, ["t 03 a reply"], { reply_to_message_id: 2 }),
      tgMessage(4, t0 + 180, IVAN, ["t 04 final text"], { edited: "2024-01-05T10:05:00", edited_unixtime: String(t0 + 300) }),
      tgMessage(5, t0 + 240, OLGA, ["t 05 forwarded"], { forwarded_from: "News Desk" }),
      tgService(6, t0 + 300, IVAN, "pin_message", { message_id: 2 }),
      tgMessage(7, t0 + 360, IVAN, ["t 07 photo caption"], { photo: "photos/photo_7@05-01-2024_10-06-00.jpg", width: 2, height: 2, edited: "2024-01-05T10:07:00", edited_unixtime: String(t0 + 420) }),
      tgMessage(8, t0 + 420, OLGA, [], { file: "files/report.txt", file_name: "report.txt", mime_type: "text/plain" }),
      tgMessage(9, t0 + 480, IVAN, ["t 09 last"], { reactions: [{ type: "emoji", count: 1, emoji: "👍", recent: [{ from: OLGA.name, from_id: `user${OLGA.id}`, date: "2024-01-05T10:09:00" }] }] }),
    ];
    const linked = [1, 2, 3].map((i) => tgMessage(i, t0 + i * 60, i % 2 ? IVAN : OLGA, [`old ${i}`]));
    const exportDir = join(dir, "telegram-export");
    await writeTelegramExport(exportDir, {
      chats: [{ name: "Fleet Ops", type: "private_supergroup", id: FLEET, messages: fleet }, { name: "Ops Linked", type: "private_supergroup", id: LINKED, messages: linked }],
      files: { "photos/photo_7@05-01-2024_10-06-00.jpg": Buffer.from("not really a jpeg"), "files/report.txt": "the report" },
    });
    // A linked room that already has messages: its history must go into an archive room.
    const room = await admin.createRoom({ name: "Ops", invite: [bridge.botMxid], power_level_content_override: { users: { [admin.userId]: 100, [bridge.botMxid]: 100 } } });
    await admin.waitForEvent((e) => e.room_id === room && e.sender === bridge.botMxid && /Hello/.test(bodyOf(e)), { what: "the bot's hello" });
    expect((await bridge.command(admin, room, `!tandem link telegram -100${LINKED}`)).reply).toMatch(/^Linked this room to Telegram/);
    await admin.sendText(room, "a Matrix message before the import");

    const out = await cliImport(["telegram-export", exportDir]);
    expect(out).toContain("done, 2/2 conversations, 10 messages, 2 files");
    const snap = await progress();
    const fleetRow = snap.conversations.find((c) => c.chat === `-100${FLEET}`)!;
    const linkedRow = snap.conversations.find((c) => c.chat === `-100${LINKED}`)!;
    expect(fleetRow.roomId).toBe(await admin.resolveAlias(`#telegram_-100${FLEET}:${DOMAIN}`));
    expect(linkedRow).toMatchObject({ archive: true });
    expect(linkedRow.roomId).not.toBe(room);

    const events = (await history(fleetRow.roomId!)).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@telegram_"));
    expect(events.map((e) => [e.sender, msgtype(e), bodyOf(e)])).toEqual([
      [tgGhost(IVAN.id), "m.text", expect.stringMatching(/^t 02 see this at the docs \(https:\/\/example\.org\/d\) @olga/)],
      [tgGhost(OLGA.id), "m.text", expect.stringContaining("t 03 a reply")],
      [tgGhost(IVAN.id), "m.text", expect.stringMatching(/^t 04 final text.*\(edited\)/)],
      [tgGhost(OLGA.id), "m.text", expect.stringMatching(/Forwarded from News Desk[\s\S]*t 05 forwarded/)],
      [tgGhost(IVAN.id), "m.image", expect.stringMatching(/^t 07 photo caption.*\(edited\)/)], // as live: the caption is the file's body
      [tgGhost(OLGA.id), "m.file", "report.txt"],
      [tgGhost(IVAN.id), "m.text", "t 09 last"],
    ]);
    const ts = (id: number) => (t0 + (id - 2) * 60 + 60) * 1000;
    expect(events.map((e) => e.origin_server_ts)).toEqual([ts(2), ts(3), ts(4), ts(5), ts(7), ts(8), ts(9)]);
    const formatted = String(events[0]!.content.formatted_body);
    expect(formatted).toContain("<strong>this</strong>");
    expect(formatted).toContain('<a href="https://example.org/d">the docs</a>');
    expect(rel(events[1]!)?.["m.in_reply_to"]?.event_id).toBe(events[0]!.event_id);
    for (const [i, data] of [[4, "not really a jpeg"], [5, "the report"]] as const) {
      const mxc = String(events[i]!.content.url).slice("mxc://".length);
      expect(await (await fetch(`${hs.url}/_matrix/media/v3/download/${mxc}`)).text()).toBe(data);
    }
    const reactions = (await history(fleetRow.roomId!)).filter((e) => e.type === "m.reaction");
    expect(reactions.map((e) => [e.sender, rel(e)?.event_id, rel(e)?.key])).toEqual([[tgGhost(OLGA.id), events[6]!.event_id, "👍"]]);
    // The join made Ivan's ghost a member; the pin (not shown live either) added nothing.
    expect((await admin.members(fleetRow.roomId!))[tgGhost(IVAN.id)]).toBe("join");

    const archived = (await history(linkedRow.roomId!)).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@telegram_"));
    expect(archived.map(bodyOf)).toEqual(["old 1", "old 2", "old 3"]);
    expect((await history(room)).filter((e) => e.sender.startsWith("@telegram_"))).toEqual([]);
    expect((await admin.getState(linkedRow.roomId!, "m.room.tombstone")).replacement_room).toBe(room);

    // Live messages of the chat follow in its portal; a rerun adds nothing.
    tg.userSends(Number(`-100${FLEET}`), IVAN.id, { text: "live after the export" });
    await admin.waitForEvent((e) => e.room_id === fleetRow.roomId && bodyOf(e) === "live after the export", { what: "the live Telegram message" });
    const again = await cliImport(["telegram-export", exportDir]);
    expect(again).toContain("0 messages, 0 files, 10 already in Matrix");
    const final = (await history(fleetRow.roomId!)).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@telegram_"));
    expect(final.map(bodyOf)).toEqual([...events.map(bodyOf), "live after the export"]);
  }, 300_000);
  it("kill -9 midway through an export import, restart, rerun: every message once, in order, threads intact", async () => {
    const convs = [["C0601", "kill-one"], ["C0602", "kill-two"], ["C0603", "kill-three"]] as const;
    const messages = new Map(convs.map(([id], i) => [id, exportedConversation(`k${i + 1}`, 60, 1, 10)])); // 60 + 7 threads × 2 = 74 each
    const total = [...messages.values()].reduce((n, list) => n + list.length, 0);
    const file = join(dir, "kill-export.zip");
    await writeSlackExport(file, {
      users: SLACK_USERS, groups: [], mpims: [], dms: [],
      channels: convs.map(([id, name]) => slackChannel(id, name, ["U0001", "U0002"])),
      days: convs.flatMap(([id, name]) => byDay(name, messages.get(id)!)),
    });
    expect((await bridge.command(admin, dm, `import slack-export ${file}`)).reply).toMatch(/^Import from Slack export/);
    // Killed once the import is well under way (some conversations' messages written, not all).
    let mid: ImportSnapshot | null = null;
    await waitFor(async () => {
      mid = await progress();
      return mid.source.includes("kill-export") && mid.messages >= 90;
    }, 120_000, "the import past its first conversation", 20);
    await bridge.kill("SIGKILL");
    expect(mid!.messages).toBeLessThan(total);
    await bridge.start();
    // The job was stored as running: the restarted bridge resumes it by itself.
    await waitFor(async () => (await progress().catch(() => null))?.state === "done", 120_000, "the resumed import", 200);
    await bridge.waitHealthy();

    const rerun = await cliImport(["slack-export", file]);
    expect(rerun).toContain(`0 messages, 0 files, ${total} already in Matrix`);
    const rooms = (await progress()).conversations;
    for (const [id] of convs) {
      const expected = messages.get(id)!;
      const events = (await history(rooms.find((c) => c.chat === `T0001:${id}`)!.roomId!))
        .filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_") && msgtype(e) === "m.text");
      expect(events.map(bodyOf), id).toEqual(expected.map((m) => m.text));
      expect(events.map((e) => e.origin_server_ts)).toEqual(expected.map((m) => Math.round(Number(m.ts) * 1000)));
      const eventOf = new Map(expected.map((m, j) => [m.ts as string, events[j]!.event_id]));
      for (const [j, m] of expected.entries()) {
        if (m.parent_user_id) expect(rel(events[j]!), `${id} ${String(m.text)}`).toMatchObject({ rel_type: "m.thread", event_id: eventOf.get(m.thread_ts as string) });
      }
    }
  }, 420_000);

  it("live first: a live Slack message sent while its portal's history is being imported follows all of it, once", async () => {
    // The channel's history on the (fake) Slack: 30 messages, a thread under the 10th and the 20th.
    const past: string[] = [];
    for (let i = 1; i <= 30; i++) {
      const ts = slack.userPosts(team, "C0002", i % 2 ? "U0001" : "U0002", `ops ${pad(i)}`, { silent: true });
      past.push(`ops ${pad(i)}`);
      if (i % 10 === 0 && i < 30) {
        for (const r of [1, 2]) {
          slack.userPosts(team, "C0002", "U0002", `ops ${pad(i)} reply ${r}`, { thread_ts: ts, silent: true });
          past.push(`ops ${pad(i)} reply ${r}`);
        }
      }
    }
    slack.clearPendingEvents(team);
    // A chat whose live traffic is not held: its messages prove the live relay is working meanwhile.
    const invited = new Set(admin.invites);
    slack.userPosts(team, "C0003", "U0001", "sentinel 1");
    await waitFor(() => [...admin.invites].some((r) => !invited.has(r)), 60_000, "the sentinel portal's invite");
    const sentinelRoom = [...admin.invites].find((r) => !invited.has(r))!;
    await admin.join(sentinelRoom);
    await admin.waitForEvent((e) => e.room_id === sentinelRoom && bodyOf(e) === "sentinel 1", { what: "sentinel 1" });

    // The import stops at the first thread: the portal exists, its history is half in.
    const held = slack.hold("conversations.replies");
    expect((await bridge.command(admin, dm, "import slack --conversation #ops-live")).reply).toMatch(/^Import from Slack workspace Acme/);
    await held.arrived(1);
    const portal = (await progress()).conversations[0]!.roomId!;
    await admin.join(portal);
    slack.userPosts(team, "C0002", "U0001", "live during the import");
    slack.userPosts(team, "C0003", "U0001", "sentinel 2");
    await admin.waitForEvent((e) => e.room_id === sentinelRoom && bodyOf(e) === "sentinel 2", { what: "sentinel 2" });
    const texts = async () => (await history(portal)).filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_") && msgtype(e) === "m.text").map(bodyOf);
    expect(await texts()).not.toContain("live during the import");

    held.release();
    await waitFor(async () => (await progress()).state === "done", 120_000, "the import", 200);
    await admin.waitForEvent((e) => e.room_id === portal && bodyOf(e) === "live during the import", { what: "the live message after the import" });
    slack.userPosts(team, "C0002", "U0001", "live after the import");
    await admin.waitForEvent((e) => e.room_id === portal && bodyOf(e) === "live after the import", { what: "the next live message" });
    expect(await texts()).toEqual([...past, "live during the import", "live after the import"]);
  }, 300_000);
});
