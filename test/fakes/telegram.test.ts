// Drives the fake Telegram Bot API with the real grammY client.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Bot, BotError, GrammyError, HttpError, InputFile, webhookCallback } from "grammy";
import type { Update } from "grammy/types";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeTelegram, parseHtml, type BotHandle } from "./telegram.js";

const GROUP = -100123;
const IVAN = 42;

let tg: FakeTelegram;
let fleet: BotHandle;
const bots: Bot[] = [];

function grammy(handle: { token: string }): Bot {
  const bot = new Bot(handle.token, { client: { apiRoot: tg.apiRoot } });
  bots.push(bot);
  return bot;
}

/** bot.start() as a promise that never rejects unobserved: resolves "stopped" or the error. */
function run(bot: Bot, opts: Parameters<Bot["start"]>[0] = {}): Promise<unknown> {
  return bot.start(opts).then(() => "stopped", (err: unknown) => err);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

const polling = (id: number): boolean => tg.getUpdatesCalls.some((c) => c.botId === id && (c.timeout ?? 0) > 0);

beforeEach(async () => {
  tg = await FakeTelegram.start();
  fleet = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet" });
  tg.addUser({ id: IVAN, first_name: "Ivan", username: "ivan" });
  tg.addChat({ id: GROUP, type: "supergroup", title: "Fleet Ops", members: [IVAN], admins: [fleet.id] });
});

afterEach(async () => {
  for (const bot of bots.splice(0)) if (bot.isRunning()) await bot.stop().catch(() => undefined);
  await tg.stop();
});

describe("FakeTelegram with grammY", () => {
  it("answers getMe with the bot's user and privacy flag", async () => {
    const me = await grammy(fleet).api.getMe();
    expect(me).toMatchObject({ id: 7001, is_bot: true, first_name: "Fleet", username: "fleet_bot", can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false });
    expect(fleet.token).toMatch(/^7001:AA[\w-]{33}$/);
  });

  it("long-polls messages, edits and reactions with allowed_updates", async () => {
    const bot = grammy(fleet);
    const got: Update[] = [];
    bot.on(["message", "edited_message", "message_reaction"], (ctx) => { got.push(ctx.update); });
    const running = run(bot, { allowed_updates: ["message", "edited_message", "message_reaction"] });
    await tg.waitFor(() => polling(fleet.id));
    expect(tg.getUpdatesCalls[0]!.allowed_updates).toEqual(["message", "edited_message", "message_reaction"]);

    const mid = tg.userSends(GROUP, IVAN, { text: "hello fleet" });
    await tg.waitFor(() => got.length === 1);
    tg.userEdits(GROUP, mid, "hello fleet!");
    await tg.waitFor(() => got.length === 2);
    tg.userReacts(GROUP, mid, IVAN, ["👍"]);
    await tg.waitFor(() => got.length === 3);

    expect(got[0]!.message).toMatchObject({ message_id: mid, text: "hello fleet", from: { id: IVAN, is_bot: false }, chat: { id: GROUP, type: "supergroup", title: "Fleet Ops" } });
    expect(got[1]!.edited_message).toMatchObject({ message_id: mid, text: "hello fleet!", edit_date: expect.any(Number) });
    expect(got[2]!.message_reaction).toMatchObject({ message_id: mid, user: { id: IVAN }, old_reaction: [], new_reaction: [{ type: "emoji", emoji: "👍" }] });
    expect(got.map((u) => u.update_id)).toEqual([got[0]!.update_id, got[0]!.update_id + 1, got[0]!.update_id + 2]);

    await bot.stop();
    expect(await running).toBe("stopped");
    expect(tg.pendingUpdates(fleet.token)).toEqual([]);
    expect(tg.confirmedOffset(fleet.token)).toBe(got[2]!.update_id + 1);
  });

  it("filters by the remembered allowed_updates (reactions are off by default)", async () => {
    const bot = grammy(fleet);
    await bot.api.getUpdates({ allowed_updates: [] });
    const mid = tg.userSends(GROUP, IVAN, { text: "x" });
    tg.userReacts(GROUP, mid, IVAN, ["🔥"]);
    expect(tg.pendingUpdates(fleet.id).map((u) => Object.keys(u)[1])).toEqual(["message"]);
    await bot.api.getUpdates({ allowed_updates: ["message_reaction"] });
    await bot.api.getUpdates({});
    tg.userReacts(GROUP, mid, IVAN, ["🎉"]);
    tg.userSends(GROUP, IVAN, { text: "not wanted" });
    const updates = await bot.api.getUpdates({ offset: -1 });
    expect(updates[0]!.message_reaction?.old_reaction).toEqual([{ type: "emoji", emoji: "🔥" }]);
  });

  it("confirms offsets: a restarted bot skips handled updates and gets the one that died mid-handler", async () => {
    const gate = deferred();
    const first: string[] = [];
    const bot1 = grammy(fleet);
    bot1.on("message:text", async (ctx) => {
      first.push(ctx.message.text);
      if (ctx.message.text === "B") await gate.promise; // the process "dies" while handling B
    });
    const run1 = run(bot1);
    await tg.waitFor(() => polling(fleet.id));
    tg.userSends(GROUP, IVAN, { text: "A" });
    await tg.waitFor(() => first.includes("A"));
    tg.userSends(GROUP, IVAN, { text: "B" });
    await tg.waitFor(() => first.includes("B"));
    // bot1's getUpdates after A carried offset A+1, so A is confirmed; B is not.
    expect(tg.pendingUpdates(fleet.token).map((u) => u.message?.text)).toEqual(["B"]);

    const second: string[] = [];
    const bot2 = grammy(fleet);
    bot2.on("message:text", (ctx) => { second.push(ctx.message.text); });
    const run2 = run(bot2);
    await tg.waitFor(() => second.length > 0);
    expect(second).toEqual(["B"]);
    await bot2.stop(); // confirms B
    expect(await run2).toBe("stopped");
    expect(tg.pendingUpdates(fleet.token)).toEqual([]);

    const third: string[] = [];
    const bot3 = grammy(fleet);
    bot3.on("message:text", (ctx) => { third.push(ctx.message.text); });
    const run3 = run(bot3);
    tg.userSends(GROUP, IVAN, { text: "C" });
    await tg.waitFor(() => third.length > 0);
    expect(third).toEqual(["C"]);
    await bot3.stop();
    await run3;

    await bot1.stop();
    gate.resolve();
    expect(await run1).toBe("stopped");
  });

  it("answers 409 to the older of two concurrent long polls; grammY's bot.start rejects", async () => {
    const a = grammy(fleet);
    const b = grammy(fleet);
    const seenByB: string[] = [];
    b.on("message:text", (ctx) => { seenByB.push(ctx.message.text); });
    const runA = run(a);
    await tg.waitFor(() => polling(fleet.id));
    const runB = run(b);
    const errA = await runA;
    expect(errA).toBeInstanceOf(GrammyError);
    expect(errA).toMatchObject({ error_code: 409, description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running" });
    tg.userSends(GROUP, IVAN, { text: "to b" });
    await tg.waitFor(() => seenByB.length > 0);
    await b.stop();
    expect(await runB).toBe("stopped");
  });

  it("hands middleware errors to bot.catch and keeps polling", async () => {
    const bot = grammy(fleet);
    const caught: BotError[] = [];
    const handled: string[] = [];
    bot.on("message:text", (ctx) => {
      if (ctx.message.text === "boom") throw new Error("handler failed");
      handled.push(ctx.message.text);
    });
    bot.catch((err) => { caught.push(err); });
    const running = run(bot);
    tg.userSends(GROUP, IVAN, { text: "boom" });
    tg.userSends(GROUP, IVAN, { text: "after" });
    await tg.waitFor(() => handled.includes("after"));
    expect(caught).toHaveLength(1);
    expect(caught[0]).toBeInstanceOf(BotError);
    expect((caught[0]!.error as Error).message).toBe("handler failed");
    expect(caught[0]!.ctx.update.message?.text).toBe("boom");
    await bot.stop();
    await running;
  });

  it("keeps polling through 429 (sleeps retry_after) and 5xx (sleeps 3 s)", async () => {
    const bot = grammy(fleet);
    const got: string[] = [];
    bot.on("message:text", (ctx) => { got.push(ctx.message.text); });
    tg.failNext("getUpdates", 1, { error_code: 429, retry_after: 1 });
    tg.failNext("getUpdates", 1, { status: 502 });
    tg.userSends(GROUP, IVAN, { text: "eventually" });
    const started = Date.now();
    const running = run(bot);
    await tg.waitFor(() => got.length > 0, 8_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_900);
    expect(tg.calls("getUpdates").length).toBeGreaterThanOrEqual(3);
    await bot.stop();
    expect(await running).toBe("stopped");
  }, 15_000);

  it("parses HTML into entities with UTF-16 offsets and does not echo the bot's own message", async () => {
    const bot = grammy(fleet);
    const html = '👋 <b>Bold 😀</b> <i>it</i> <a href="https://example.org/x">link</a> <code>c</code> '
      + '<pre><code class="language-ts">let x = 1;</code></pre> <tg-spoiler>s</tg-spoiler> <blockquote>q</blockquote> &lt;tag&gt; &amp;';
    const msg = await bot.api.sendMessage(GROUP, html, { parse_mode: "HTML" });
    const text = "👋 Bold 😀 it link c let x = 1; s q <tag> &";
    expect(msg.text).toBe(text);
    const at = (s: string): number => text.indexOf(s);
    expect(msg.entities).toEqual([
      { type: "bold", offset: 3, length: 7 },
      { type: "italic", offset: at("it "), length: 2 },
      { type: "text_link", offset: at("link"), length: 4, url: "https://example.org/x" },
      { type: "code", offset: at("c let"), length: 1 },
      { type: "pre", offset: at("let"), length: 10, language: "ts" },
      { type: "spoiler", offset: at("s q"), length: 1 },
      { type: "blockquote", offset: at("q <"), length: 1 },
    ]);
    expect(msg).toMatchObject({ from: { id: 7001, is_bot: true, username: "fleet_bot" }, chat: { id: GROUP }, date: expect.any(Number) });
    expect(tg.messages(GROUP).at(-1)).toEqual(msg);
    expect(tg.pendingUpdates(fleet.token)).toEqual([]);

    const reply = await bot.api.sendMessage(GROUP, "re", { reply_parameters: { message_id: msg.message_id } });
    expect(reply.message_id).toBe(msg.message_id + 1);
    expect(reply.reply_to_message).toMatchObject({ message_id: msg.message_id, text });
  });

  it("rejects malformed HTML with can't parse entities", async () => {
    const api = grammy(fleet).api;
    const cases: Array<[string, string]> = [
      ["<b>bold", 'Can\'t find end tag corresponding to start tag "b"'],
      ["<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'],
      ["é<b>x</i>", 'Unmatched end tag at byte offset 6, expected "</b>", found "</i>"'],
      ["a < b", 'Unsupported start tag "" at byte offset 2'],
    ];
    for (const [html, why] of cases) {
      const err = await api.sendMessage(GROUP, html, { parse_mode: "HTML" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrammyError);
      expect(err).toMatchObject({ error_code: 400, description: `Bad Request: can't parse entities: ${why}` });
    }
  });

  it("parses MarkdownV2 and enforces escaping", async () => {
    const api = grammy(fleet).api;
    const msg = await api.sendMessage(GROUP, "*b* _i_ __u__ ~s~ ||p|| `c` [l](https://e.org) 1\\.", { parse_mode: "MarkdownV2" });
    expect(msg.text).toBe("b i u s p c l 1.");
    expect(msg.entities?.map((e) => e.type)).toEqual(["bold", "italic", "underline", "strikethrough", "spoiler", "code", "text_link"]);
    await expect(api.sendMessage(GROUP, "1.", { parse_mode: "MarkdownV2" })).rejects.toMatchObject({
      description: "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'",
    });
  });

  it("uploads a document as multipart, then getFile and downloads it", async () => {
    const bot = grammy(fleet);
    const bytes = Buffer.from("hello from a file\n");
    const msg = await bot.api.sendDocument(GROUP, new InputFile(bytes, "notes.txt"), { caption: "<b>notes</b>", parse_mode: "HTML" });
    expect(msg.document).toMatchObject({ file_name: "notes.txt", mime_type: "text/plain", file_size: bytes.length });
    expect(msg.caption).toBe("notes");
    expect(msg.caption_entities).toEqual([{ type: "bold", offset: 0, length: 5 }]);
    expect(tg.calls("sendDocument")[0]!.params.document).toBe(`<file notes.txt, ${bytes.length} bytes>`);

    const file = await bot.api.getFile(msg.document!.file_id);
    expect(file).toMatchObject({ file_id: msg.document!.file_id, file_size: bytes.length, file_path: expect.stringMatching(/^documents\/file_\d+\.txt$/) });
    const res = await fetch(`${tg.apiRoot}/file/bot${fleet.token}/${file.file_path}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    expect(tg.file(file.file_id)?.data).toEqual(bytes);

    const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000002000000030806000000", "hex");
    const photo = await bot.api.sendPhoto(GROUP, new InputFile(png));
    expect(photo.photo).toEqual([{ file_id: expect.any(String), file_unique_id: expect.any(String), width: 2, height: 3, file_size: png.length }]);

    // the same file again by file_id, as a reply
    const again = await bot.api.sendDocument(GROUP, msg.document!.file_id, { reply_parameters: { message_id: msg.message_id } });
    expect(again.document?.file_id).toBe(msg.document!.file_id);
  });

  it("enforces the 50 MB upload and 20 MB download limits", async () => {
    const api = grammy(fleet).api;
    const tooBig = await api.sendDocument(GROUP, new InputFile(Buffer.alloc(50 * 1024 * 1024 + 1), "big.bin")).catch((e: unknown) => e);
    expect(tooBig).toMatchObject({ error_code: 413, description: "Request Entity Too Large" });
    const doc = await api.sendDocument(GROUP, new InputFile(Buffer.alloc(21 * 1024 * 1024), "mid.bin"));
    await expect(api.getFile(doc.document!.file_id)).rejects.toMatchObject({ error_code: 400, description: "Bad Request: file is too big" });
  });

  it("surfaces 429 as GrammyError with parameters.retry_after, then recovers", async () => {
    const api = grammy(fleet).api;
    tg.failNext("sendMessage", 1, { error_code: 429, retry_after: 7 });
    const err = await api.sendMessage(GROUP, "hi").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrammyError);
    expect(err).toMatchObject({ error_code: 429, description: "Too Many Requests: retry after 7", parameters: { retry_after: 7 } });
    await expect(api.sendMessage(GROUP, "hi")).resolves.toMatchObject({ text: "hi" });
  });

  it("lets grammY tell JSON errors (GrammyError) from HTML 5xx and dropped connections (HttpError)", async () => {
    const api = grammy(fleet).api;
    tg.failNext("sendMessage", 1, { status: 502 });
    tg.failNext("sendMessage", 1, { status: 502, body: "<html><body>502 Bad Gateway</body></html>" });
    tg.failNext("sendMessage", 1, { network: "reset" });
    expect(await api.sendMessage(GROUP, "1").catch((e: unknown) => e)).toMatchObject({ constructor: GrammyError, error_code: 502, description: "Bad Gateway" });
    expect(await api.sendMessage(GROUP, "2").catch((e: unknown) => e)).toBeInstanceOf(HttpError);
    expect(await api.sendMessage(GROUP, "3").catch((e: unknown) => e)).toBeInstanceOf(HttpError);
    await expect(api.sendMessage(GROUP, "4")).resolves.toMatchObject({ text: "4" });
    expect(tg.messages(GROUP).map((m) => m.text)).toEqual(["4"]);
  });

  it("answers 401 for a wrong or revoked token", async () => {
    const wrong = grammy({ token: "7001:AAwrongwrongwrongwrongwrongwrongwrong" });
    await expect(wrong.api.getMe()).rejects.toMatchObject({ error_code: 401, description: "Unauthorized" });
    expect(await run(wrong)).toMatchObject({ error_code: 401 });

    const bot = grammy(fleet);
    const running = run(bot);
    await tg.waitFor(() => polling(fleet.id));
    const oldToken = fleet.token;
    const newToken = tg.revokeToken(oldToken);
    expect(await running).toMatchObject({ error_code: 401 });
    expect(newToken).not.toBe(oldToken);
    await expect(grammy({ token: newToken }).api.getMe()).resolves.toMatchObject({ id: 7001 });
  });

  it("refuses to delete messages older than 48 hours", async () => {
    const api = grammy(fleet).api;
    tg.addChat({ id: -555, type: "group", title: "Basic", members: [IVAN, fleet.id] });
    tg.setNow(1_700_000_000);
    const old = await api.sendMessage(-555, "old");
    const fresh = await api.sendMessage(-555, "fresh");
    const theirs = tg.userSends(-555, IVAN, { text: "user's" });
    tg.advance(48 * 3600 + 1);
    const young = await api.sendMessage(-555, "young");
    await expect(api.deleteMessage(-555, old.message_id)).rejects.toMatchObject({ error_code: 400, description: "Bad Request: message can't be deleted for everyone" });
    await expect(api.deleteMessage(-555, theirs)).rejects.toMatchObject({ description: "Bad Request: message can't be deleted" });
    await expect(api.deleteMessage(-555, young.message_id)).resolves.toBe(true);
    await expect(api.deleteMessage(-555, young.message_id)).rejects.toMatchObject({ description: "Bad Request: message to delete not found" });
    expect(tg.messages(-555).map((m) => m.message_id)).toEqual([old.message_id, fresh.message_id, theirs]);
  });

  it("validates reactions and edits", async () => {
    const api = grammy(fleet).api;
    const mid = tg.userSends(GROUP, IVAN, { text: "react to me" });
    await expect(api.setMessageReaction(GROUP, mid, [{ type: "emoji", emoji: "👍" }])).resolves.toBe(true);
    expect(tg.reactionsOf(GROUP, mid)).toEqual([{ actorId: 7001, isBot: true, reaction: [{ type: "emoji", emoji: "👍" }] }]);
    await expect(api.setMessageReaction(GROUP, mid, [{ type: "emoji", emoji: "❤️" as never }])).rejects.toMatchObject({ description: "Bad Request: REACTION_INVALID" });

    const sent = await api.sendMessage(GROUP, "v1");
    await expect(api.editMessageText(GROUP, sent.message_id, "v1")).rejects.toMatchObject({ description: expect.stringMatching(/^Bad Request: message is not modified/) });
    await expect(api.editMessageText(GROUP, mid, "hijack")).rejects.toMatchObject({ description: "Bad Request: message can't be edited" });
    await expect(api.editMessageText(GROUP, 9999, "x")).rejects.toMatchObject({ description: "Bad Request: message to edit not found" });
    const edited = await api.editMessageText(GROUP, sent.message_id, "<i>v2</i>", { parse_mode: "HTML" });
    expect(edited).toMatchObject({ text: "v2", entities: [{ type: "italic", offset: 0, length: 2 }], edit_date: expect.any(Number) });
    await expect(api.sendMessage(GROUP, "x".repeat(4097))).rejects.toMatchObject({ description: "Bad Request: message is too long" });
  });

  it("applies privacy mode to group messages", () => {
    const shy = tg.createBot({ id: 7002, username: "shy_bot", first_name: "Shy" });
    const nosy = tg.createBot({ id: 7003, username: "nosy_bot", first_name: "Nosy", canReadAllGroupMessages: true });
    tg.addChat({ id: -777, type: "group", title: "G", members: [IVAN, shy.id, nosy.id] });
    const texts = (b: BotHandle): Array<string | undefined> => tg.pendingUpdates(b.token).map((u) => u.message?.text);
    tg.userSends(-777, IVAN, { text: "just chatting" });
    tg.userSends(-777, IVAN, { text: "/status@shy_bot" });
    tg.userSends(-777, IVAN, { text: "hey @shy_bot" });
    tg.userSends(-777, IVAN, { text: "/status@nosy_bot" });
    expect(texts(shy)).toEqual(["/status@shy_bot", "hey @shy_bot"]);
    expect(texts(nosy)).toEqual(["just chatting", "/status@shy_bot", "hey @shy_bot", "/status@nosy_bot"]);
    expect(tg.pendingUpdates(shy.token)[0]!.message?.entities).toEqual([{ type: "bot_command", offset: 0, length: 15 }]);
  });

  it("migrates a group to a supergroup", async () => {
    const api = grammy(fleet).api;
    tg.addChat({ id: -4242, type: "group", title: "Old", members: [IVAN, fleet.id] });
    const newId = tg.migrateToSupergroup(-4242);
    expect(newId).toBe(-1004242);
    const err = await api.sendMessage(-4242, "hi").catch((e: unknown) => e);
    expect(err).toMatchObject({ error_code: 400, description: "Bad Request: group chat was upgraded to a supergroup chat", parameters: { migrate_to_chat_id: newId } });
    const msgs = tg.pendingUpdates(fleet.token).map((u) => u.message);
    expect(msgs.map((m) => [m?.chat.id, m?.migrate_to_chat_id ?? m?.migrate_from_chat_id])).toEqual([[-4242, newId], [newId, -4242]]);
    await expect(api.sendMessage(newId, "hi")).resolves.toMatchObject({ chat: { id: newId, type: "supergroup" } });
  });

  it("delivers to a webhook with the secret token, runs webhook replies, blocks getUpdates meanwhile", async () => {
    // canUseWebhookReply: grammY answers the webhook request with the sendMessage call itself.
    const bot = new Bot(fleet.token, { client: { apiRoot: tg.apiRoot, canUseWebhookReply: (m) => m === "sendMessage" } });
    const got: string[] = [];
    bot.on("message:text", async (ctx) => { got.push(ctx.message.text); await ctx.reply("pong"); });
    const headers: Array<string | undefined> = [];
    const handler = webhookCallback(bot, "http", { secretToken: "s3cret" });
    const server: Server = createServer((req, res) => {
      headers.push(req.headers["x-telegram-bot-api-secret-token"] as string | undefined);
      void handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      await bot.api.setWebhook(url, { secret_token: "s3cret" });
      tg.userSends(GROUP, IVAN, { text: "via webhook" });
      await tg.waitFor(() => got.length > 0);
      expect(got).toEqual(["via webhook"]);
      expect(headers).toEqual(["s3cret"]);
      await tg.waitFor(() => tg.messages(GROUP).some((m) => m.text === "pong"));
      expect(tg.calls("sendMessage")).toEqual([]); // it came back in the webhook response
      await tg.waitFor(() => tg.pendingUpdates(fleet.token).length === 0);
      await expect(bot.api.getWebhookInfo()).resolves.toMatchObject({ url, pending_update_count: 0 });
      await expect(bot.api.getUpdates()).rejects.toMatchObject({ error_code: 409, description: expect.stringContaining("can't use getUpdates method while webhook is active") });
      await bot.api.deleteWebhook();
      await expect(bot.api.getUpdates()).resolves.toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("serves chats, members, profile photos and join/leave/title updates", async () => {
    const api = grammy(fleet).api;
    const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000002000000030806000000", "hex");
    tg.addUser({ id: 43, first_name: "Olga", last_name: "K", photo: png });
    tg.addChat({ id: -100900, type: "supergroup", title: "Photo", username: "photochat", description: "desc", photo: png, members: [IVAN], admins: [fleet.id], creator: IVAN });
    const info = await api.getChat("@photochat");
    expect(info).toMatchObject({ id: -100900, type: "supergroup", title: "Photo", username: "photochat", description: "desc", photo: { small_file_id: expect.any(String), big_file_id: expect.any(String) } });
    await expect(api.getChatMember(-100900, IVAN)).resolves.toMatchObject({ status: "creator", user: { id: IVAN } });
    await expect(api.getChatMember(-100900, 43)).resolves.toMatchObject({ status: "left" });
    expect((await api.getChatAdministrators(-100900)).map((m) => m.user.id).sort()).toEqual([IVAN, 7001]);
    const photos = await api.getUserProfilePhotos(43);
    expect(photos).toMatchObject({ total_count: 1, photos: [[{ width: 2, height: 3, file_size: png.length }]] });
    await api.getUpdates({ allowed_updates: ["message", "chat_member"] });
    tg.userJoins(-100900, 43);
    tg.setTitle(-100900, "Renamed");
    tg.userLeaves(-100900, 43);
    const kinds = tg.pendingUpdates(fleet.token).map((u) => u.chat_member ? `member:${u.chat_member.new_chat_member.status}` : Object.keys(u.message!).find((k) => ["new_chat_members", "new_chat_title", "left_chat_member"].includes(k)));
    expect(kinds).toEqual(["member:member", "new_chat_members", "new_chat_title", "left_chat_member", "member:left"]);
    const sent = await api.sendMessage(-100900, "pin me");
    await expect(api.pinChatMessage(-100900, sent.message_id)).resolves.toBe(true);
    expect((await api.getChat(-100900)).pinned_message).toMatchObject({ message_id: sent.message_id });
    await expect(api.leaveChat(-100900)).resolves.toBe(true);
    await expect(api.sendMessage(-100900, "x")).rejects.toMatchObject({ error_code: 403, description: "Forbidden: bot is not a member of the supergroup chat" });
    await expect(api.sendMessage(-1, "x")).rejects.toMatchObject({ error_code: 400, description: "Bad Request: chat not found" });
  });
});

describe("FakeTelegram chats", () => {
  it("handles private chats, blocking, channels and replies across chats", async () => {
    const api = grammy(fleet).api;
    tg.addUser({ id: 43, first_name: "Olga" });
    tg.addChat({ id: IVAN, type: "private", members: [fleet.id] });
    tg.addChat({ id: -100500, type: "channel", title: "News", username: "news", members: [{ id: fleet.id, status: "administrator" }], creator: IVAN });
    const dm = tg.userSends(IVAN, IVAN, { text: "/start" });
    const post = tg.userSends(-100500, IVAN, { text: "breaking" });
    const [first, second] = tg.pendingUpdates(fleet.token);
    expect(first!.message).toMatchObject({ message_id: dm, chat: { id: IVAN, type: "private", first_name: "Ivan", username: "ivan" }, entities: [{ type: "bot_command", offset: 0, length: 6 }] });
    expect(second!.channel_post).toMatchObject({ message_id: post, sender_chat: { id: -100500, type: "channel" }, chat: { id: -100500 } });
    expect(second!.channel_post?.from).toBeUndefined();

    const quoted = await api.sendMessage(IVAN, "you saw this?", { reply_parameters: { message_id: post, chat_id: -100500 } });
    expect(quoted.external_reply).toMatchObject({ origin: { type: "channel", chat: { id: -100500 }, message_id: post }, message_id: post });
    const mine = await api.sendMessage("@news", "channel post by bot");
    expect(mine).toMatchObject({ sender_chat: { id: -100500 }, chat: { type: "channel" } });
    expect(mine.from).toBeUndefined();

    await expect(api.sendMessage(43, "hi")).rejects.toMatchObject({ error_code: 403, description: "Forbidden: bot can't initiate conversation with a user" });
    tg.blockBot(IVAN, fleet.id);
    await expect(api.sendMessage(IVAN, "hi")).rejects.toMatchObject({ error_code: 403, description: "Forbidden: bot was blocked by the user" });
    expect(tg.pendingUpdates(fleet.token).at(-1)?.my_chat_member?.new_chat_member.status).toBe("kicked");
  });

  it("adds a bot to a group: my_chat_member for it, new_chat_members for everyone", () => {
    const other = tg.createBot({ id: 7009, username: "other_bot", first_name: "Other" });
    tg.addChat({ id: -900, type: "group", title: "G", members: [IVAN, fleet.id], creator: IVAN });
    tg.botAdded(-900, other.id);
    const mine = tg.pendingUpdates(other.token);
    expect(mine[0]!.my_chat_member).toMatchObject({ chat: { id: -900 }, from: { id: IVAN }, old_chat_member: { status: "left" }, new_chat_member: { status: "member", user: { id: 7009 } } });
    expect(mine[1]!.message?.new_chat_members).toEqual([{ id: 7009, is_bot: true, first_name: "Other", username: "other_bot" }]);
    expect(tg.pendingUpdates(fleet.token).map((u) => u.message?.new_chat_members?.[0]?.id)).toEqual([7009]);
  });

  it("accepts GET queries, form-encoded bodies and case-insensitive method names", async () => {
    const base = `${tg.apiRoot}/bot${fleet.token}`;
    const get = await (await fetch(`${base}/GETME`)).json();
    expect(get).toMatchObject({ ok: true, result: { id: 7001 } });
    const form = await fetch(`${base}/sendMessage`, {
      method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ chat_id: String(GROUP), text: "<b>x</b>", parse_mode: "HTML", reply_parameters: JSON.stringify({ message_id: 99, allow_sending_without_reply: true }) }),
    });
    expect(await form.json()).toMatchObject({ ok: true, result: { text: "x", entities: [{ type: "bold", offset: 0, length: 1 }] } });
    const unknown = await fetch(`${base}/noSuchMethod`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ ok: false, error_code: 404, description: "Not Found" });
    const missing = await fetch(`${base}/sendMessage?chat_id=${GROUP}`);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ ok: false, error_code: 400, description: "Bad Request: message text is empty" });
  });
});

// Cases from TDLib's test/message_entities.cpp (check_parse_html), which the Bot API runs.
describe("HTML parse mode matches TDLib", () => {
  it("reports TDLib's errors", () => {
    const cases: Array<[string, string]> = [
      ["🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"],
      ["🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'],
      ["🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'],
      ["🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'],
      ["🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"],
      ["🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"],
      ["🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"],
      ["&#57311;", "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units"],
    ];
    for (const [html, error] of cases) expect(() => parseHtml(html), html).toThrow(error);
  });

  it("produces TDLib's text and entities", () => {
    const cases: Array<[string, string, unknown[]]> = [
      ["&ge;&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;", '&ge;<>&"&laquo;&raquo;&#12345678;', []],
      ["🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>", "🏟 🏟🏟 ><🏟", [{ type: "italic", offset: 5, length: 7 }, { type: "bold", offset: 9, length: 3 }]],
      ["🏟 🏟&lt;<i>a</    >", "🏟 🏟<a", [{ type: "italic", offset: 6, length: 1 }]],
      ["<a   href=  'telegram.org?&lt;'   > </a>", " ", [{ type: "text_link", offset: 0, length: 1, url: "http://telegram.org/?<" }]],
      ["<a>telegram.org </a>", "telegram.org ", []],
      ["🏟 🏟&lt;<code class=\"language-fift\"><pre>🏟 🏟&lt;</></>", "🏟 🏟<🏟 🏟<", [{ type: "pre", offset: 6, length: 6, language: "fift" }]],
      ["🏟 🏟&lt;<pre><code class=\"language-fift\">🏟 🏟&lt;</> </>", "🏟 🏟<🏟 🏟< ", [{ type: "pre", offset: 6, length: 7 }, { type: "code", offset: 6, length: 6 }]],
      ["<blockquote   expandable=false>a&lt;<pre  >b;</></>", "a<b;", [{ type: "expandable_blockquote", offset: 0, length: 4 }, { type: "pre", offset: 2, length: 2 }]],
      ["🏟 🏟<b aba   =   caba><tg-emoji emoji-id=\"1\">🏟</tg-emoji>1</b>", "🏟 🏟🏟1", [{ type: "bold", offset: 5, length: 3 }, { type: "custom_emoji", offset: 5, length: 2, custom_emoji_id: "1" }]],
    ];
    for (const [html, text, entities] of cases) {
      const parsed = parseHtml(html);
      expect(parsed.text, html).toBe(text);
      expect(parsed.entities, html).toEqual(entities);
    }
  });
});
