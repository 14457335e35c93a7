/**
 * Bad input on the Telegram side (issue 5, item 6), through the real connector (grammY), the fake
 * Bot API and the fake homeserver:
 * - malformed updates are skipped with the bad field named in the log; polling goes on;
 * - HTML and script in Telegram names, titles and messages stay text in Matrix, and a Matrix
 *   name or message full of HTML stays text in Telegram (escaped in parse_mode HTML);
 * - 40,001 characters from Matrix arrive in Telegram whole, in parts of at most 4,096;
 * - a zero-byte Matrix file and one over 50 MB give a clear notice, not a crash or silence.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientEvent, FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeTelegram, type BotHandle } from "../fakes/telegram.js";
import { htmlProblems } from "../support/fuzz.js";
import { Harness, waitUntil } from "../support/harness.js";

const GROUP = -100321;
const MALLORY = 66;
const GHOST = "@telegram_66:example.org";
const EVIL = "<img src=x onerror=alert(1)>Mal<script>alert(2)</script>";
const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);

describe("Telegram: bad input", () => {
  let tg: FakeTelegram;
  let bot: BotHandle;
  let h: Harness;
  let alice: FakeMatrixClient;
  let portal: string;
  const fromBot = () => tg.messages(GROUP).filter((m) => m.from?.id === bot.id);

  beforeAll(async () => {
    tg = await FakeTelegram.start();
    bot = tg.createBot({ id: 7101, username: "guard_bot", first_name: "Guard", canReadAllGroupMessages: true });
    tg.addUser({ id: MALLORY, first_name: EVIL, last_name: "&amp; <b>", username: "mallory" });
    tg.addChat({ id: GROUP, type: "supergroup", title: `<script>alert("title")</script> Ops`, description: "<b>desc</b>", members: [MALLORY], admins: [bot.id] });
    h = await Harness.start({ config: { telegram: { api_root: tg.apiRoot }, slack: { enabled: false } } });
    alice = h.user("alice");
    await alice.setDisplayName("<b>Alice</b> & <i>co</i>");
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, `login telegram ${bot.token}`)).toMatch(/Logged in as @guard_bot/);
    tg.userSends(GROUP, MALLORY, { text: "first" });
    await waitUntil(() => h.hs.rooms().some((r) => h.messages(r, GHOST).length > 0), 10_000, "the portal");
    portal = h.hs.rooms().find((r) => h.messages(r, GHOST).length > 0)!;
    await alice.join(portal);
  });
  afterAll(async () => {
    await h?.stop();
    await tg?.stop();
  });

  it("malformed updates are skipped, naming the field; polling goes on", async () => {
    const junk: Array<Record<string, unknown>> = [
      { message: null }, { message: "text" }, { message: { message_id: "1", date: 1, chat: { id: GROUP, type: "supergroup" } } },
      { message: { message_id: 5, date: "yesterday", chat: { id: GROUP, type: "supergroup" }, text: "x" } },
      { message: { message_id: 6, date: 1700000000, chat: { id: "-100", type: "supergroup" }, text: "x" } },
      { message: { message_id: 7, date: 1700000000, chat: { id: GROUP, type: "supergroup" }, from: { id: MALLORY }, text: { html: "<b>" } } },
      { message: { message_id: 8, date: 1700000000, chat: { id: GROUP, type: "supergroup" }, from: { id: MALLORY }, text: "ok?", entities: [{ type: "bold", offset: "0", length: 2 }] } },
      { message: { message_id: 9, date: 1700000000, chat: { id: GROUP, type: "supergroup" }, from: { id: MALLORY }, document: { file_id: "" } } },
      { message_reaction: { chat: { id: GROUP, type: "supergroup" }, message_id: 1, date: 1, old_reaction: [], new_reaction: [{ type: "emoji" }] } },
      { edited_message: { message_id: 1, chat: null } }, { chat_member: { chat: { id: GROUP, type: "supergroup" } } }, { some_update_from_2030: { x: 1 } },
    ];
    for (const u of junk) tg.injectUpdate(bot.id, u);
    tg.userSends(GROUP, MALLORY, { text: "after the junk" });
    await h.hs.waitForEvent({ room_id: portal, sender: GHOST, content: { body: "after the junk" } });
    expect(h.logs).toMatch(/update\.message\.date is missing or of the wrong type.*skipping a Telegram update that could not be read/);
    expect(h.logs).not.toMatch(/Cannot read properties/);
    expect(h.messages(portal, GHOST).map(body)).toEqual(["first", "after the junk"]);
    expect(await h.bridge.store.queue.deadItems(10)).toEqual([]);
  });

  it("HTML and script in Telegram names, titles and messages stay text in Matrix", async () => {
    expect(String(h.hs.stateContent(portal, "m.room.name")?.name)).toContain(`<script>alert("title")</script> Ops`);
    expect(h.hs.profile(GHOST)?.displayname).toBe(`${EVIL} &amp; <b>`);
    tg.userSends(GROUP, MALLORY, {
      text: "<b>not bold</b> bold <img src=x onerror=alert(1)> link",
      entities: [{ type: "bold", offset: 16, length: 4 }, { type: "text_link", offset: 47, length: 4, url: "javascript:alert(1)" }],
    });
    const ev = await h.hs.waitForEvent({ room_id: portal, sender: GHOST, content: { body: /not bold/ } });
    expect(htmlProblems(String(ev.content.formatted_body ?? ""))).toEqual([]);
    expect(body(ev)).toContain("<b>not bold</b>");
    expect(String(ev.content.formatted_body)).toContain("&lt;b&gt;not bold&lt;/b&gt; <strong>bold</strong>");
  });

  it("HTML in a Matrix name and message stays text in Telegram", async () => {
    await alice.sendHtml(portal, "<b>raw</b> & <a href='tg://user?id=1'>x</a>", "&lt;b&gt;raw&lt;/b&gt; &amp; <a href=\"javascript:alert(1)\">x</a> <b>real</b>");
    await tg.waitFor(() => fromBot().some((m) => /raw/.test(m.text ?? "")), 10_000, "the message in Telegram");
    const m = fromBot().find((x) => /raw/.test(x.text ?? ""))!;
    expect(m.text).toBe("<b>Alice</b> & <i>co</i>: <b>raw</b> & x real");
    const bold = (m.entities ?? []).filter((e) => e.type === "bold").map((e) => m.text!.slice(e.offset, e.offset + e.length));
    expect(bold).toEqual(["<b>Alice</b> & <i>co</i>", "real"]);
    expect((m.entities ?? []).some((e) => e.type === "text_link")).toBe(false);
  });

  // Ten parts at Telegram's pace for groups (20 a minute, after a burst) take a while.
  it("40,001 characters from Matrix arrive whole, in parts of at most 4,096", { timeout: 120_000 }, async () => {
    const text = Array.from({ length: 6000 }, (_, i) => `w${String(i).padStart(4, "0")}x`).join(" ").slice(0, 40_001);
    const before = fromBot().length;
    const id = await alice.sendText(portal, text);
    await waitUntil(async () => (await h.bridge.store.messages.byEvent(id)).length >= 10, 110_000, "all the parts");
    const parts = fromBot().slice(before);
    for (const p of parts) expect((p.text ?? "").length).toBeLessThanOrEqual(4096);
    expect(text.length).toBe(40_001);
    expect(parts.map((p) => p.text).join("").replace(/\s+/g, "")).toBe(`<b>Alice</b> & <i>co</i>: ${text}`.replace(/\s+/g, ""));
    expect((await h.bridge.store.messages.byEvent(id)).length).toBe(parts.length);
  });

  it("a zero-byte file and one over 50 MB from Matrix: a clear notice each", async () => {
    const empty = await alice.upload(Buffer.alloc(0), "text/plain", "nothing.txt");
    await alice.sendMessage(portal, { msgtype: "m.file", body: "nothing.txt", url: empty, info: { mimetype: "text/plain", size: 0 } });
    const n1 = await h.waitForBot(portal, /nothing\.txt/);
    expect(n1.content.msgtype).toBe("m.notice");
    expect(body(n1)).toMatch(/nothing\.txt.*empty|empty.*nothing\.txt/i);
    const small = await alice.upload(Buffer.from("tiny"), "application/octet-stream", "huge.iso");
    await alice.sendMessage(portal, { msgtype: "m.file", body: "huge.iso", url: small, info: { mimetype: "application/octet-stream", size: 60 * 1024 * 1024 } });
    const n2 = await h.waitForBot(portal, /huge\.iso is too large for Telegram \(limit 50 MB\)/);
    expect(n2.content.msgtype).toBe("m.notice");
    expect(tg.messages(GROUP).some((m) => (m as { document?: { file_name?: string } }).document?.file_name === "huge.iso")).toBe(false);
  });
});
