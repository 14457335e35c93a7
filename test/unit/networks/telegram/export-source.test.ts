// The Telegram export source reads folders the tests write from Telegram Desktop's documented
// machine-readable export (test/support/exports/telegram-export.ts) and yields what the live
// connector yields for the Bot API updates of the same messages: same chat ids (-100…), refs, keys.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Update } from "grammy/types";
import { afterAll, describe, expect, it } from "vitest";
import type { HistoryConversation, HistoryWindow } from "../../../../src/core/history-source.js";
import { ExportFormatError } from "../../../../src/networks/export-error.js";
import { updateToEvents } from "../../../../src/networks/telegram/inbound.js";
import { TelegramExportSource } from "../../../../src/networks/telegram/export-source.js";
import { tgMessage, tgService, writeTelegramExport, type TelegramExportChat } from "../../../support/exports/telegram-export.js";

const root = mkdtempSync(join(tmpdir(), "tandem-tg-export-"));
let n = 0;
const newDir = () => join(root, `export-${++n}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const alice = { id: 1001, name: "Alice Smith" };
const bob = { id: 1002, name: "Bob" };
const t0 = 1_704_448_800; // 2024-01-05 10:00 UTC
/** A private supergroup: the export writes its id without the Bot API's -100. */
const SG = 1_234_567_890;
const SG_REF = "-1001234567890";

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function openOne(chat: TelegramExportChat, files?: Record<string, string | Uint8Array>): Promise<{ src: TelegramExportSource; conv: HistoryConversation; dir: string }> {
  const dir = newDir();
  await writeTelegramExport(dir, { chats: [chat], files });
  const src = await TelegramExportSource.open(dir);
  const [conv] = await all(src.conversations());
  return { src, conv: conv!, dir };
}

const events = (c: HistoryConversation, w: HistoryWindow = {}) => all(c.events(w));
const supergroup = (messages: TelegramExportChat["messages"]): TelegramExportChat => ({ name: "Fleet Ops", type: "private_supergroup", id: SG, messages });

describe("Telegram export: chats", () => {
  it("maps supergroup, channel and basic group ids to the Bot API's, and skips chats a bot has no portal for", async () => {
    const dir = newDir();
    await writeTelegramExport(dir, { chats: [
      supergroup([tgMessage(1, t0, alice, ["hi"])]),
      { name: "News", type: "public_channel", id: 2_000_000_001, messages: [] },
      { name: "Old group", type: "private_group", id: 4_242, messages: [] },
      { name: "Bob", type: "personal_chat", id: bob.id, messages: [tgMessage(1, t0, bob, ["private"])] },
      { name: "Saved Messages", type: "saved_messages", id: 77, messages: [] },
    ] });
    const src = await TelegramExportSource.open(join(dir, "result.json"));
    const list = await all(src.conversations());
    expect(list.map((c) => [c.chat, c.info.kind, c.info.roomName, c.info.aliasLocalpart])).toEqual([
      [SG_REF, "group", "Fleet Ops (Telegram)", `telegram_${SG_REF}`],
      ["-1002000000001", "channel", "News (Telegram)", "telegram_-1002000000001"],
      ["-4242", "group", "Old group (Telegram)", "telegram_-4242"],
    ]);
    expect(src.notes().join("\n")).toMatch(/skipped .*Bob \(personal_chat\), Saved Messages \(saved_messages\)/);
    expect(src.describe).toMatch(/3 chats/);
    expect((await all(src.conversations("Fleet Ops"))).map((c) => c.chat)).toEqual([SG_REF]);
    expect((await all(src.conversations("-4242"))).map((c) => c.info.name)).toEqual(["Old group"]);
  });
});

describe("Telegram export: messages", () => {
  it("gives a message the refs, key and doc the live connector gives its Bot API update", async () => {
    const exported = tgMessage(7, t0, alice, [
      "See ", { type: "bold", text: "this" }, " at ", { type: "text_link", text: "the docs", href: "https://example.org/d" },
      ", ", { type: "mention_name", text: "Bob", user_id: bob.id }, " 👍🏽 ", { type: "code", text: "x = 1" },
    ], { reply_to_message_id: 5 });
    const { conv } = await openOne(supergroup([exported]));
    const [ev] = await events(conv);
    // The same message as the Bot API delivers it (core.telegram.org/bots/api#message).
    const text = "See this at the docs, Bob 👍🏽 x = 1";
    const live: Update = {
      update_id: 1, message: {
        message_id: 7, date: t0, chat: { id: Number(SG_REF), type: "supergroup", title: "Fleet Ops" },
        from: { id: alice.id, is_bot: false, first_name: "Alice", last_name: "Smith" }, text,
        entities: [
          { type: "bold", offset: 4, length: 4 }, { type: "text_link", offset: 12, length: 8, url: "https://example.org/d" },
          { type: "text_mention", offset: 22, length: 3, user: { id: bob.id, is_bot: false, first_name: "Bob" } },
          { type: "code", offset: 31, length: 5 },
        ],
        reply_to_message: { message_id: 5, date: t0 - 60, chat: { id: Number(SG_REF), type: "supergroup", title: "Fleet Ops" } } as never,
      },
    };
    const [expected] = updateToEvents(live, { botId: 9 });
    expect(ev).toEqual(expected);
    expect(ev).toMatchObject({ kind: "message", key: `msg:${SG_REF}:7`, ref: `${SG_REF}:7`, sender: "1001", at: t0 * 1000, msg: { replyTo: `${SG_REF}:5` } });
  });

  it("yields oldest first, marks edits, shows forwards, channel posts by the channel, and reactions after their message", async () => {
    const { conv, src } = await openOne(supergroup([
      tgMessage(3, t0 + 120, bob, ["third"], { forwarded_from: "Carol" }),
      tgMessage(1, t0, alice, ["first, edited"], { edited: "2024-01-05T10:05:00", edited_unixtime: String(t0 + 300) }),
      { ...tgMessage(2, t0 + 60, alice, ["as the group"]), from: "Fleet Ops", from_id: `channel${SG}` },
      tgMessage(4, t0 + 180, alice, ["liked"], { reactions: [{ type: "emoji", count: 1, emoji: "❤", recent: [{ from: "Bob", from_id: `user${bob.id}`, date: "2024-01-05T10:04:00" }] }] }),
    ]));
    const evs = await events(conv);
    expect(evs.map((e) => e.key)).toEqual([`msg:${SG_REF}:1`, `msg:${SG_REF}:2`, `msg:${SG_REF}:3`, `msg:${SG_REF}:4`, `react:${SG_REF}:4:1002:import:+❤`]);
    expect(evs[0]).toMatchObject({ editedAt: (t0 + 300) * 1000 });
    expect("editedAt" in evs[1]!).toBe(false);
    expect(evs[1]).toMatchObject({ sender: SG_REF });
    expect(evs[2]!.kind === "message" && evs[2]!.msg.doc[0]).toEqual({ type: "paragraph", children: [{ type: "italic", children: [{ type: "text", text: "Forwarded from Carol" }] }] });
    expect(evs[4]).toMatchObject({ kind: "reaction", target: `${SG_REF}:4`, sender: "1002", at: (t0 + 180) * 1000, on: true });
    expect(await src.userInfo("1002")).toEqual({ name: "Bob" });
    expect(await src.userInfo(SG_REF)).toEqual({ name: "Fleet Ops" });
    expect(await conv.estimateMessages!({ since: (t0 + 60) * 1000 })).toBe(3);
  });

  it("turns joins, leaves, title changes and new topics into the live events, and skips other service messages", async () => {
    const { conv } = await openOne(supergroup([
      tgService(1, t0, alice, "create_group", { title: "Fleet Ops", members: ["Alice Smith"] }),
      tgService(2, t0 + 1, bob, "join_group_by_link", { inviter: "Group" }),
      tgService(3, t0 + 2, alice, "edit_group_title", { title: "Fleet Ops 2" }),
      tgService(4, t0 + 3, alice, "topic_created", { title: "Releases" }),
      tgService(5, t0 + 4, alice, "pin_message", { message_id: 1 }),
      tgService(6, t0 + 5, bob, "remove_members", { members: ["Bob"] }),
      tgMessage(7, t0 + 6, alice, ["sentinel"]),
    ]));
    const evs = await events(conv);
    expect(evs.map((e) => e.key)).toEqual([
      `member:${SG_REF}:1002:join:${t0 + 1}`, `title:${SG_REF}:3`, `msg:${SG_REF}:4`, `member:${SG_REF}:1002:leave:${t0 + 5}`, `msg:${SG_REF}:7`,
    ]);
    expect(evs[1]).toMatchObject({ kind: "chat-info", info: { name: "Fleet Ops 2", roomName: "Fleet Ops 2 (Telegram)" } });
    expect(evs[2]).toMatchObject({ kind: "message", msg: { notice: true, doc: [{ type: "paragraph", children: [{ type: "text", text: "Topic: Releases" }] }] } });
  });

  it("takes the time from date_unixtime, and from the local `date` in older exports that lack it", async () => {
    const { date_unixtime: _drop, ...old } = tgMessage(2, t0 + 60, alice, ["old export"]);
    const { conv } = await openOne(supergroup([tgMessage(1, t0, alice, ["new export"]), old]));
    const evs = await events(conv);
    expect(evs.map((e) => e.at)).toEqual([t0 * 1000, Date.parse(old.date as string)]);
  });

  it("leaves out the bridge bot's own joins when told its id (as live)", async () => {
    const bot = { id: 9, name: "Tandem bot" };
    const dir = newDir();
    await writeTelegramExport(dir, { chats: [supergroup([tgService(1, t0, bot, "join_group_by_link"), tgService(2, t0 + 1, bob, "join_group_by_link")])] });
    const [conv] = await all((await TelegramExportSource.open(dir, { botId: 9 })).conversations());
    expect((await events(conv!)).map((e) => e.key)).toEqual([`member:${SG_REF}:1002:join:${t0 + 1}`]);
  });

  it("reads only the window asked for", async () => {
    const { conv } = await openOne(supergroup([0, 1, 2, 3].map((i) => tgMessage(i + 1, t0 + i * 86_400, alice, [`day ${i}`]))));
    const evs = await events(conv, { since: (t0 + 86_400) * 1000, until: (t0 + 2 * 86_400) * 1000 });
    expect(evs.map((e) => e.key)).toEqual([`msg:${SG_REF}:2`, `msg:${SG_REF}:3`]);
  });
});

describe("Telegram export: media", () => {
  it("photos and files are FileRefs readable through download; a file the export left out is a note", async () => {
    const photo = "photos/photo_1@05-01-2024_10-00-00.jpg";
    const pdf = "files/report.pdf";
    const voice = "voice_messages/audio_1@05-01-2024_10-02-00.ogg";
    const { conv, src } = await openOne(supergroup([
      tgMessage(1, t0, alice, ["a ", { type: "italic", text: "view" }], { photo, photo_file_size: 4, width: 640, height: 480 }),
      tgMessage(2, t0 + 60, bob, [], { file: pdf, file_name: "report.pdf", file_size: 3, mime_type: "application/pdf" }),
      tgMessage(3, t0 + 120, bob, [], { file: voice, file_size: 2, media_type: "voice_message", mime_type: "audio/ogg", duration_seconds: 3 }),
      tgMessage(4, t0 + 180, alice, ["too big"], { file: "(File exceeds maximum size. Change data exporting settings to download.)", file_name: "movie.mp4", media_type: "video_file", mime_type: "video/mp4" }),
    ]), { [photo]: "JPEG", [pdf]: "PDF", [voice]: "OG" });
    const evs = (await events(conv)).filter((e) => e.kind === "message");
    const files = evs.map((e) => e.msg.files ?? []);
    expect(files[0]).toEqual([{
      id: `export:${photo}`, name: "photo_1@05-01-2024_10-00-00.jpg", mime: "image/jpeg", kind: "image", size: 4, width: 640, height: 480,
      caption: [{ type: "paragraph", children: [{ type: "text", text: "a " }, { type: "italic", children: [{ type: "text", text: "view" }] }] }],
      link: `https://t.me/c/${SG}/1`,
    }]);
    expect(files[1]).toMatchObject([{ id: `export:${pdf}`, name: "report.pdf", mime: "application/pdf", kind: "file", size: 3 }]);
    expect(files[2]).toMatchObject([{ id: `export:${voice}`, name: "audio_1@05-01-2024_10-02-00.ogg", kind: "voice", durationMs: 3000 }]);
    expect(files[3]).toEqual([]);
    expect(evs[3]!.msg.doc).toEqual([
      { type: "paragraph", children: [{ type: "text", text: "too big" }] },
      { type: "paragraph", children: [{ type: "text", text: "(movie.mp4: not included in the export)" }] },
    ]);
    expect(await src.download(files[0]![0]!)).toEqual({ data: Buffer.from("JPEG"), mime: "image/jpeg", name: "photo_1@05-01-2024_10-00-00.jpg" });
    expect((await src.download(files[1]![0]!)).data.toString()).toBe("PDF");
  });

  it("download refuses paths that lead out of the export folder, and names a missing media file", async () => {
    const { src, dir } = await openOne(supergroup([tgMessage(1, t0, alice, [], { file: "files/gone.txt", file_name: "gone.txt" })]));
    await expect(src.download({ id: "export:../../etc/passwd", name: "x", mime: "text/plain", kind: "file" })).rejects.toThrow(/leads outside the export folder/);
    const err = await src.download({ id: "export:files/gone.txt", name: "gone.txt", mime: "text/plain", kind: "file" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExportFormatError);
    expect((err as Error).message).toContain(`${dir}: files/gone.txt: media file cannot be read`);
  });
});

describe("Telegram export: bad input", () => {
  it("result.json that is not JSON fails naming the folder and the file", async () => {
    const dir = newDir();
    await writeTelegramExport(dir, { chats: [], rawResult: '{"name": "Fleet Ops", "messages": [' });
    await expect(TelegramExportSource.open(dir)).rejects.toThrow(new RegExp(`${dir}: result\\.json: not valid JSON`));
  });

  it("a broken message stops the export at open, naming the chat and the message, before anything is yielded", async () => {
    const dir = newDir();
    await writeTelegramExport(dir, { chats: [supergroup([tgMessage(1, t0, alice, ["fine"]), { id: 2, type: "message", text: "no date" }])] });
    await expect(TelegramExportSource.open(dir)).rejects.toThrow(/result\.json: chat "Fleet Ops" \(1234567890\), message 1: no valid "date_unixtime" or "date"/);
    const dir2 = newDir();
    await writeTelegramExport(dir2, { chats: [supergroup([{ ...tgMessage(1, t0, alice, ["x"]), id: "1" }, tgMessage(2, t0, alice, ["y"], { type: "note" })])] });
    await expect(TelegramExportSource.open(dir2)).rejects.toThrow(/message 0: no valid "id"/);
    const dir3 = newDir();
    await writeTelegramExport(dir3, { chats: [supergroup([tgMessage(2, t0, alice, ["y"], { type: "note" })])] });
    await expect(TelegramExportSource.open(dir3)).rejects.toThrow(/message 0: unknown "type" "note"/);
  });

  it("a result.json cut short fails at open, naming the file and where, before anything is yielded", async () => {
    const dir = newDir();
    await writeTelegramExport(dir, { chats: [supergroup([tgMessage(1, t0, alice, ["one"]), tgMessage(2, t0 + 1, alice, ["two"])])] });
    const whole = readFileSync(join(dir, "result.json"), "utf8");
    writeFileSync(join(dir, "result.json"), whole.slice(0, whole.indexOf('"two"')));
    await expect(TelegramExportSource.open(dir)).rejects.toThrow(new RegExp(`${dir}: result\\.json: not valid JSON: unexpected end of file \\(truncated\\?\\) at byte \\d+`));
  });

  it("something that is neither a chat nor a full export, or a missing folder, is refused clearly", async () => {
    const dir = newDir();
    await writeTelegramExport(dir, { chats: [], rawResult: '{"about": "x"}' });
    await expect(TelegramExportSource.open(dir)).rejects.toThrow(/neither a chat \("messages"\) nor a full export/);
    await expect(TelegramExportSource.open(join(root, "nowhere"))).rejects.toThrow(/nowhere: cannot open/);
  });
});

describe("Telegram export: order and size", () => {
  it("an export not in id order still comes oldest first", async () => {
    const { conv } = await openOne(supergroup([3, 1, 2].map((id) => tgMessage(id, t0 + id, alice, [`m${id}`]))));
    expect((await events(conv)).map((e) => e.key)).toEqual([1, 2, 3].map((id) => `msg:${SG_REF}:${id}`));
  });

  it("streams 50,000 messages from result.json oldest first without holding them (heap after GC stays far below their size)", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const pad = "lorem ipsum ".repeat(25);
    const messages = Array.from({ length: 50_000 }, (_, i) => tgMessage(i + 1, t0 + i, i % 2 ? alice : bob, [`${i} ${pad}`, { type: "bold", text: "b" }]));
    const dir = newDir();
    await writeTelegramExport(dir, { chats: [supergroup(messages)] });
    messages.length = 0;
    gc();
    const before = process.memoryUsage().heapUsed;
    const src = await TelegramExportSource.open(dir);
    const [conv] = await all(src.conversations());
    let count = 0;
    let last = 0;
    let ordered = true;
    let peak = 0;
    for await (const e of conv!.events({})) {
      if (e.kind !== "message") continue;
      if (e.at <= last) ordered = false;
      last = e.at;
      if (++count % 5000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - before);
      }
    }
    expect(count).toBe(50_000);
    expect(ordered).toBe(true);
    expect(await conv!.estimateMessages!({})).toBe(50_000);
    // Holding the parsed messages instead takes about 55 MB (measured the same way).
    expect(peak).toBeLessThan(15 * 1024 * 1024);
  }, 180_000);
});
