// The Slack export source reads zips the tests write from Slack's documented export format
// (test/support/exports/slack-export.ts) and yields what the live connector yields for the same
// messages: same keys, refs and docs; oldest first with thread replies in their turn.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { crc32 } from "node:zlib";
import { runInNewContext } from "node:vm";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HistoryConversation, HistoryEvent, HistoryWindow } from "../../../../src/core/history-source.js";
import type { RemoteEvent } from "../../../../src/core/types.js";
import { ExportFormatError } from "../../../../src/networks/export-error.js";
import { SlackExportSource } from "../../../../src/networks/slack/export-source.js";
import { FakeSlack } from "../../../fakes/slack.js";
import { byDay, slackChannel, slackMessage, slackTs, slackUser, writeSlackExport } from "../../../support/exports/slack-export.js";
import { openExportSource } from "../../../../src/networks/export-sources.js";
import { connect, loginFor, PNG } from "./support.js";

const T = "T0EXP";
const dir = mkdtempSync(join(tmpdir(), "tandem-slack-export-"));
let n = 0;
const zipPath = () => join(dir, `export-${++n}.zip`);
const day1 = Date.UTC(2024, 0, 5, 9, 0, 0);
const day2 = Date.UTC(2024, 0, 6, 9, 0, 0);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const users = [slackUser(T, "U0001", "Carol"), slackUser(T, "U0002", "Dave")];

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function only(src: SlackExportSource, name: string): Promise<HistoryConversation> {
  const [c] = await all(src.conversations(name));
  if (!c) throw new Error(`no conversation ${name}`);
  return c;
}

const events = async (src: SlackExportSource, name: string, w: HistoryWindow = {}) => all((await only(src, name)).events(w));
const texts = (evs: HistoryEvent[]) => evs.map((e) => (e.kind === "message" ? JSON.stringify(e.msg.doc) : e.kind));

describe("Slack export: conversations", () => {
  it("lists public and private channels, group DMs and DMs with the refs and names the live connector gives them", async () => {
    const file = zipPath();
    await writeSlackExport(file, {
      users,
      channels: [slackChannel("C0001", "general", ["U0001", "U0002"], { topic: { value: "All hands", creator: "U0001", last_set: 1 } })],
      groups: [slackChannel("G0001", "secret-plans", ["U0001"], { is_archived: true })],
      mpims: [slackChannel("G0002", "mpdm-carol--dave-1", ["U0001", "U0002"])],
      dms: [{ id: "D0001", created: 1700000000, members: ["U0001", "U0002"] }],
      days: [
        ...byDay("general", [slackMessage("U0001", slackTs(day1), "hi")]),
        ...byDay("D0001", [slackMessage("U0002", slackTs(day1), "psst")]),
      ],
    });
    const src = await SlackExportSource.open(file, { teamDomain: "acme" });
    const list = await all(src.conversations());
    expect(list.map((c) => [c.chat, c.info.kind, c.info.roomName, c.info.aliasLocalpart])).toEqual([
      [`${T}:C0001`, "channel", "general (Slack)", "slack_acme_general"],
      [`${T}:G0001`, "channel", "secret-plans (Slack)", "slack_acme_secret-plans"],
      [`${T}:G0002`, "group", "Carol, Dave", "slack_acme_g0002"],
      [`${T}:D0001`, "dm", "Carol, Dave", "slack_acme_d0001"],
    ]);
    expect(list[0]!.info).toMatchObject({ topic: "All hands", members: [`${T}:U0001`, `${T}:U0002`] });
    expect(list[1]!.info.archived).toBe(true);
    expect(texts(await events(src, "D0001"))).toEqual([JSON.stringify([{ type: "paragraph", children: [{ type: "text", text: "psst" }] }])]);
    expect((await all(src.conversations("#general"))).map((c) => c.chat)).toEqual([`${T}:C0001`]);
    expect((await all(src.conversations(`${T}:G0001`))).map((c) => c.info.name)).toEqual(["secret-plans"]);
    expect(await src.userInfo(`${T}:U0002`)).toMatchObject({ name: "Dave" });
    expect(src.describe).toContain(T);
    await src.close();
  });

  it("takes the workspace id from users.json, or refuses clearly when nothing names it", async () => {
    const file = zipPath();
    await writeSlackExport(file, { users: [{ id: "U0001", name: "x" }], channels: [slackChannel("C0001", "general", [])] });
    await expect(SlackExportSource.open(file)).rejects.toThrow(/users\.json: no team_id .*team id/);
    const src = await SlackExportSource.open(file, { team: "T0OPT" });
    expect((await all(src.conversations())).map((c) => c.chat)).toEqual(["T0OPT:C0001"]);
    await src.close();
  });
});

describe("Slack export: messages", () => {
  it("yields oldest first across day files, thread replies in their turn, edits marked, reactions after their message", async () => {
    const root = slackTs(day1, 1);
    const msgs = [
      // Day files are not necessarily sorted: the source orders by ts.
      slackMessage("U0002", slackTs(day1 + 60_000), "reply in thread", { thread_ts: root, parent_user_id: "U0001" }),
      slackMessage("U0001", root, "*question* for <@U0002>", {
        thread_ts: root, reply_count: 2, replies: [{ user: "U0002", ts: slackTs(day1 + 60_000) }],
        edited: { user: "U0001", ts: slackTs(day1 + 30_000) }, reactions: [{ name: "thumbsup", users: ["U0002", "U0001"], count: 2 }],
      }),
      slackMessage("U0002", slackTs(day1 + 120_000), "top level"),
      slackMessage("U0002", slackTs(day2), "late reply, also sent to the channel", { subtype: "thread_broadcast", thread_ts: root }),
    ];
    const file = zipPath();
    await writeSlackExport(file, { users, channels: [slackChannel("C0001", "general", ["U0001", "U0002"])], days: byDay("general", msgs) });
    const src = await SlackExportSource.open(file);
    const evs = await events(src, "general");
    expect(evs.map((e) => [e.kind, e.key])).toEqual([
      ["message", `msg:${T}:C0001:${root}`],
      ["reaction", `react:${T}:C0001:${root}:U0002:thumbsup:add:import`],
      ["reaction", `react:${T}:C0001:${root}:U0001:thumbsup:add:import`],
      ["message", `msg:${T}:C0001:${slackTs(day1 + 60_000)}`],
      ["message", `msg:${T}:C0001:${slackTs(day1 + 120_000)}`],
      ["message", `msg:${T}:C0001:${slackTs(day2)}`],
    ]);
    const [first, like] = evs;
    expect(first).toMatchObject({ kind: "message", ref: `${T}:C0001:${root}`, sender: `${T}:U0001`, at: Math.round(Number(root) * 1000), editedAt: day1 + 30_000 });
    expect(first!.kind === "message" && first!.msg.doc).toEqual([{ type: "paragraph", children: [
      { type: "bold", children: [{ type: "text", text: "question" }] }, { type: "text", text: " for " },
      { type: "mention", text: "Dave", target: { kind: "remote", network: "slack", id: `${T}:U0002` } },
    ] }]);
    expect(first!.kind === "message" && first!.msg.threadRoot).toBeUndefined();
    expect(like).toMatchObject({ kind: "reaction", target: `${T}:C0001:${root}`, sender: `${T}:U0002`, emoji: "👍", on: true });
    expect(evs[3]).toMatchObject({ msg: { threadRoot: `${T}:C0001:${root}` } });
    expect(evs[5]).toMatchObject({ msg: { threadRoot: `${T}:C0001:${root}` } });
    expect("editedAt" in evs[4]!).toBe(false);
    expect(await (await only(src, "general")).estimateMessages!({})).toBe(4);
    await src.close();
  });

  it("turns joins, leaves, topic and purpose changes, renames and bot posts into the live events", async () => {
    const ts = (i: number) => slackTs(day1, i);
    const file = zipPath();
    await writeSlackExport(file, {
      users, channels: [slackChannel("C0001", "general", ["U0001"])],
      days: byDay("general", [
        slackMessage("U0002", ts(1), "<@U0002> has joined the channel", { subtype: "channel_join" }),
        slackMessage("U0001", ts(2), "set the channel topic: Launch", { subtype: "channel_topic", topic: "Launch" }),
        slackMessage("U0001", ts(3), "set the channel purpose: Ship it", { subtype: "channel_purpose", purpose: "Ship it" }),
        slackMessage("U0001", ts(4), "renamed the channel", { subtype: "channel_name", old_name: "general", name: "launch" }),
        { type: "message", subtype: "bot_message", bot_id: "B0001", username: "Deploy bot", text: "deployed v2", ts: ts(5) },
        slackMessage("U0002", ts(6), "<@U0002> has left the channel", { subtype: "channel_leave" }),
        slackMessage("U0001", ts(7), "pinned a message", { subtype: "pinned_item" }),
      ]),
    });
    const src = await SlackExportSource.open(file);
    const evs = await events(src, "general");
    expect(evs.map((e) => e.key)).toEqual([
      `join:${T}:C0001:U0002:${ts(1)}`, `topic:${T}:C0001:${ts(2)}`, `topic:${T}:C0001:${ts(3)}`,
      `rename:${T}:C0001:${ts(4)}`, `msg:${T}:C0001:${ts(5)}`, `leave:${T}:C0001:U0002:${ts(6)}`,
    ]);
    expect(evs[0]).toMatchObject({ kind: "membership", user: `${T}:U0002`, joined: true });
    expect(evs[1]).toMatchObject({ kind: "chat-info", info: { topic: "Launch" } });
    expect(evs[2]).toMatchObject({ kind: "chat-info", info: { topic: "Ship it" } });
    expect(evs[3]).toMatchObject({ kind: "chat-info", info: { name: "launch", roomName: "launch (Slack)" } });
    expect(evs[4]).toMatchObject({ kind: "message", sender: `${T}:B0001` });
    expect(await src.userInfo(`${T}:B0001`)).toEqual({ name: "Deploy bot", isBot: true });
    await src.close();
  });

  it("reads only the window asked for, skipping day files wholly outside it", async () => {
    const days = [0, 1, 2, 3].map((d) => slackMessage("U0001", slackTs(day1 + d * 86_400_000), `day ${d}`));
    const file = zipPath();
    // A broken day far outside the window is never read.
    await writeSlackExport(file, { users, channels: [slackChannel("C0001", "general", [])], days: byDay("general", days), raw: { "general/2023-01-01.json": "{" } });
    const src = await SlackExportSource.open(file);
    const evs = await events(src, "general", { since: day1 + 86_400_000, until: day1 + 2 * 86_400_000 });
    expect(texts(evs).map((t) => JSON.parse(t)[0].children[0].text)).toEqual(["day 1", "day 2"]);
    expect(await (await only(src, "general")).estimateMessages!({ since: day1 + 86_400_000 })).toBe(3);
    await src.close();
  });
});

describe("Slack export: files", () => {
  it("without a login, a file becomes a link line and download says why it cannot fetch", async () => {
    const file = zipPath();
    const f = { id: "F0001", name: "plan.pdf", mimetype: "application/pdf", size: 3, url_private: "https://files.slack.com/files-pri/T0EXP-F0001/plan.pdf", url_private_download: "https://files.slack.com/files-pri/T0EXP-F0001/download/plan.pdf", permalink: "https://acme.slack.com/files/U0001/F0001/plan.pdf" };
    await writeSlackExport(file, { users, channels: [slackChannel("C0001", "general", [])], days: byDay("general", [slackMessage("U0001", slackTs(day1), "the plan", { subtype: "file_share", files: [f] })]) });
    const src = await SlackExportSource.open(file);
    const [ev] = await events(src, "general");
    expect(ev!.kind === "message" && ev!.msg.files).toBeUndefined();
    expect(ev!.kind === "message" && ev!.msg.doc[1]).toEqual({ type: "paragraph", children: [{ type: "text", text: "File: " }, { type: "link", url: f.permalink, children: [{ type: "text", text: "plan.pdf" }] }] });
    expect(src.notes().join("\n")).toMatch(/files are imported as links/);
    await expect(src.download({ id: "F0001|x", name: "plan.pdf", mime: "application/pdf", kind: "file" })).rejects.toThrow(/F0001 is only a link in the export/);
    await src.close();
  });
});

describe("Slack export: the same messages as the live connector", () => {
  let slack: FakeSlack;
  beforeAll(async () => { slack = await FakeSlack.start({ ackTimeoutMs: 400, pingIntervalMs: 1000 }); });
  afterAll(async () => { await slack?.stop(); });

  it("gives live messages the same keys, refs, senders and docs, and downloads files with the login's token", async () => {
    const team = slack.createTeam({ id: "T0LIVE", name: "Live", domain: "live" });
    slack.addUser(team, { id: "U0001", name: "carol", display_name: "Carol" });
    slack.addUser(team, { id: "U0002", name: "dave", display_name: "Dave" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001", "U0002"], botMember: true });
    const { conn, sink } = await connect(slack, team);
    const root = slack.userPosts(team, "C0001", "U0001", "a *bold* start for <@U0002>");
    slack.userPosts(team, "C0001", "U0002", "in the thread", { thread_ts: root });
    slack.userPosts(team, "C0001", "U0002", "a picture", { files: [{ name: "pic.png", data: PNG, mimetype: "image/png" }] });
    const live = await slack.waitFor(() => {
      const m = sink.events.filter((e): e is Extract<RemoteEvent, { kind: "message" }> => e.kind === "message");
      return m.length === 3 && m;
    }, 5000, "three live messages");

    // The export holds what Slack stores: the same message objects conversations.history returns,
    // and the bridge's own post (a Matrix message already), which the login's isOwnUser leaves out.
    const stored = slack.messages(team, "C0001").map(({ _request, ...m }) => m);
    const own = slackMessage(team.botUserId, slackTs(Number(stored.at(-1)!.ts) * 1000 + 1000), "from Matrix", { bot_id: team.botId, reactions: [{ name: "eyes", users: [team.botUserId], count: 1 }] });
    const file = zipPath();
    await writeSlackExport(file, {
      users: [slackUser("T0LIVE", "U0001", "Carol"), slackUser("T0LIVE", "U0002", "Dave")],
      channels: [slackChannel("C0001", "general", ["U0001", "U0002"])],
      days: byDay("general", [...stored, own]),
    });
    const src = await openExportSource("slack-export", file, { live: { login: loginFor(team), connection: conn } });
    const all = await events(src as SlackExportSource, "general");
    expect(all.every((e) => e.kind === "message")).toBe(true);
    const imported = all.filter((e) => e.kind === "message");
    expect(imported.map((e) => [e.key, e.ref, e.sender, e.at])).toEqual(live.map((e) => [e.key, e.ref, e.sender, e.at]));
    expect(imported.map((e) => e.msg)).toEqual(live.map((e) => e.msg));
    const got = await src.download(imported[2]!.msg.files![0]!);
    expect(got.data.equals(PNG)).toBe(true);
    await src.close();

    // Another workspace's login cannot open this export's files: links, and a note saying why.
    const other = zipPath();
    await writeSlackExport(other, { users, channels: [slackChannel("C0001", "general", [])], days: byDay("general", stored.slice(2)) });
    const foreign = await openExportSource("slack-export", other, { live: { login: loginFor(team), connection: conn } });
    const [pic] = await events(foreign as SlackExportSource, "general");
    expect(pic!.kind === "message" && pic!.msg.files).toBeUndefined();
    expect(foreign.notes!().join("\n")).toContain("the Slack login is for workspace T0LIVE, the export is of T0EXP: files are imported as links");
    await foreign.close();
    await conn.stop();
  });
});

describe("Slack export: bad input", () => {
  const base = { users, channels: [slackChannel("C0001", "general", [])] };

  it("a day file that is not JSON fails naming the zip and the entry, after the good days and with nothing of the bad one", async () => {
    const file = zipPath();
    await writeSlackExport(file, {
      ...base, days: byDay("general", [slackMessage("U0001", slackTs(day1), "good day")]),
      raw: { "general/2024-01-06.json": '[{"type":"message","user":"U0001","ts":"1704531600.000000","text":"half"},' },
    });
    const src = await SlackExportSource.open(file);
    const seen: HistoryEvent[] = [];
    const err = await (async () => { for await (const e of (await only(src, "general")).events({})) seen.push(e); })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExportFormatError);
    expect((err as ExportFormatError).message).toMatch(new RegExp(`${file.replace(/[.\\]/g, "\\$&")}: general/2024-01-06\\.json: not valid JSON`));
    expect((err as ExportFormatError).entry).toBe("general/2024-01-06.json");
    expect(texts(seen)).toEqual([JSON.stringify([{ type: "paragraph", children: [{ type: "text", text: "good day" }] }])]);
    await src.close();
  });

  it("a message without a ts fails naming the entry and the message", async () => {
    const file = zipPath();
    await writeSlackExport(file, { ...base, raw: { "general/2024-01-05.json": JSON.stringify([slackMessage("U0001", slackTs(day1), "ok"), { type: "message", text: "no ts" }]) } });
    const src = await SlackExportSource.open(file);
    await expect(events(src, "general")).rejects.toThrow(/general\/2024-01-05\.json: message 1 has no valid "ts"/);
    await src.close();
  });

  it("a truncated or corrupt zip fails naming the file (and the entry when one is to blame)", async () => {
    const file = zipPath();
    await writeSlackExport(file, { ...base, days: byDay("general", [slackMessage("U0001", slackTs(day1), "x".repeat(5000))]) });
    const bytes = readFileSync(file);
    const truncated = zipPath();
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 40));
    await expect(SlackExportSource.open(truncated)).rejects.toThrow(new RegExp(`${truncated.replace(/[.\\]/g, "\\$&")}: not a zip file|central directory`));
    const notZip = zipPath();
    writeFileSync(notZip, "hello");
    await expect(SlackExportSource.open(notZip)).rejects.toThrow(/not a zip file/);
    await expect(SlackExportSource.open(join(dir, "missing.zip"))).rejects.toThrow(/missing\.zip: cannot open/);
    // Flip a byte inside the day file's compressed data: its check fails, naming it.
    const corrupt = zipPath();
    const flipped = Buffer.from(bytes);
    const at = flipped.indexOf(Buffer.from("general/2024-01-05.json")) + "general/2024-01-05.json".length + 20;
    flipped[at] = flipped[at]! ^ 0xff;
    writeFileSync(corrupt, flipped);
    const src = await SlackExportSource.open(corrupt);
    await expect(events(src, "general")).rejects.toThrow(/general\/2024-01-05\.json: (corrupt compressed data|CRC-32 does not match|inflate)/);
    await src.close();
    // A stored (uncompressed) entry with one byte changed is caught by its CRC-32.
    const stored = zipPath();
    const day = JSON.stringify([slackMessage("U0001", slackTs(day1), "stored")]);
    const raw = Buffer.from(zipSync({ "users.json": strToU8(JSON.stringify(users)), "channels.json": strToU8(JSON.stringify(base.channels)), "general/2024-01-05.json": [strToU8(day), { level: 0 }] }));
    raw[raw.indexOf(Buffer.from('"stored"')) + 1] = "S".charCodeAt(0);
    writeFileSync(stored, raw);
    const src2 = await SlackExportSource.open(stored);
    await expect(events(src2, "general")).rejects.toThrow(/general\/2024-01-05\.json: CRC-32 does not match/);
    await src2.close();
  });
});

/**
 * A zip in the Zip64 layout (APPNOTE 4.3.14, 4.5.3): sizes and offsets in the Zip64 extra field
 * with 0xFFFFFFFF in the headers, a Zip64 end record and its locator. Exports past 4 GiB are
 * written so; fflate does not write it, so it is built here byte by byte (entries stored).
 */
function zip64(entries: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(entries)) {
    const data = Buffer.from(text);
    const nameBuf = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30 + nameBuf.length + 20);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(45, 4); local.writeUInt16LE(0x0800, 6); local.writeUInt16LE(0, 8);
    local.writeUInt16LE(0x21, 12); local.writeUInt32LE(crc, 14); local.writeUInt32LE(0xffffffff, 18); local.writeUInt32LE(0xffffffff, 22);
    local.writeUInt16LE(nameBuf.length, 26); local.writeUInt16LE(20, 28); nameBuf.copy(local, 30);
    local.writeUInt16LE(0x0001, 30 + nameBuf.length); local.writeUInt16LE(16, 32 + nameBuf.length);
    local.writeBigUInt64LE(BigInt(data.length), 34 + nameBuf.length); local.writeBigUInt64LE(BigInt(data.length), 42 + nameBuf.length);
    const head = Buffer.alloc(46 + nameBuf.length + 28);
    head.writeUInt32LE(0x02014b50, 0); head.writeUInt16LE(45, 4); head.writeUInt16LE(45, 6); head.writeUInt16LE(0x0800, 8); head.writeUInt16LE(0, 10);
    head.writeUInt16LE(0x21, 14); head.writeUInt32LE(crc, 16); head.writeUInt32LE(0xffffffff, 20); head.writeUInt32LE(0xffffffff, 24);
    head.writeUInt16LE(nameBuf.length, 28); head.writeUInt16LE(28, 30); head.writeUInt32LE(0xffffffff, 42); nameBuf.copy(head, 46);
    const x = 46 + nameBuf.length;
    head.writeUInt16LE(0x0001, x); head.writeUInt16LE(24, x + 2); head.writeBigUInt64LE(BigInt(data.length), x + 4);
    head.writeBigUInt64LE(BigInt(data.length), x + 12); head.writeBigUInt64LE(BigInt(offset), x + 20);
    parts.push(local, data);
    central.push(head);
    offset += local.length + data.length;
  }
  const cd = Buffer.concat(central);
  const count = BigInt(central.length);
  const end64 = Buffer.alloc(56);
  end64.writeUInt32LE(0x06064b50, 0); end64.writeBigUInt64LE(44n, 4); end64.writeUInt16LE(45, 12); end64.writeUInt16LE(45, 14);
  end64.writeBigUInt64LE(count, 24); end64.writeBigUInt64LE(count, 32); end64.writeBigUInt64LE(BigInt(cd.length), 40); end64.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0); locator.writeBigUInt64LE(BigInt(offset + cd.length), 8); locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(0xffff, 8); end.writeUInt16LE(0xffff, 10); end.writeUInt32LE(0xffffffff, 12); end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([...parts, cd, end64, locator, end]);
}

describe("Slack export: Zip64", () => {
  it("reads an export written in the Zip64 layout (as exports past 4 GiB are)", async () => {
    const file = zipPath();
    writeFileSync(file, zip64({
      "users.json": JSON.stringify(users),
      "channels.json": JSON.stringify([slackChannel("C0001", "general", [])]),
      "general/2024-01-05.json": JSON.stringify([slackMessage("U0001", slackTs(day1), "from a big export")]),
    }));
    const src = await SlackExportSource.open(file);
    expect(texts(await events(src, "general"))).toEqual([JSON.stringify([{ type: "paragraph", children: [{ type: "text", text: "from a big export" }] }])]);
    await src.close();
  });
});

describe("Slack export: a large export", () => {
  it("streams 50,000 messages oldest first without holding them (heap after GC stays far below their size)", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const perDay = 500;
    const days = 100;
    const pad = "lorem ipsum ".repeat(25); // 300 characters a message: 15 MB of text in all
    const file = zipPath();
    await writeSlackExport(file, {
      users, channels: [slackChannel("C0001", "general", [])],
      dayStream: (function* () {
        for (let d = 0; d < days; d++) {
          const msgs = [];
          for (let i = 0; i < perDay; i++) msgs.push(slackMessage("U0001", slackTs(day1 + d * 86_400_000 + i * 1000), `${d * perDay + i} ${pad}`));
          yield* byDay("general", msgs);
        }
      })(),
    });
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    let count = 0;
    let last = -1;
    let ordered = true;
    const src = await SlackExportSource.open(file);
    for await (const e of (await only(src, "general")).events({})) {
      if (e.kind !== "message") continue;
      if (e.at <= last) ordered = false;
      last = e.at;
      if (++count % 5000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - before);
      }
    }
    await src.close();
    expect(count).toBe(perDay * days);
    expect(ordered).toBe(true);
    // Holding them all takes about 57 MB (measured the same way, keeping the events); one day's file is 0.2 MB.
    expect(peak).toBeLessThan(15 * 1024 * 1024);
  }, 180_000);
});
