// Matrix → Telegram request shapes, driven through the real grammY Api against the fake Bot API.
import { Api } from "grammy";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OutboundMessage } from "../../../../src/core/connector.js";
import { Deferred, RemoteError } from "../../../../src/core/errors.js";
import { silentLogger } from "../../../../src/core/log.js";
import { TelegramOutbound } from "../../../../src/networks/telegram/outbound.js";
import { Pacer } from "../../../../src/networks/pacing.js";
import { FakeTelegram, type BotHandle } from "../../../fakes/telegram.js";
import { b, p } from "../../formatting/helpers.js";

const GROUP = -100123;
const FORUM = -100555;
const BASIC = -777;
const IVAN = 42;
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000100000000808020000004b6d29dc", "hex");

let tg: FakeTelegram;
let bot: BotHandle;
let api: Api;
let moved: Array<[number, number]>;
let out: TelegramOutbound;

const msg = (fields: Partial<OutboundMessage>): OutboundMessage => ({ doc: [p("hello")], sender: { name: "alice" }, sourceId: "$ev", ...fields });
const idOf = (ref: string) => Number(ref.split(":")[1]);
async function rejection(p: Promise<unknown>): Promise<RemoteError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(RemoteError);
  return err as RemoteError;
}

beforeEach(async () => {
  tg = await FakeTelegram.start();
  bot = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet" });
  tg.addUser({ id: IVAN, first_name: "Ivan" });
  tg.addChat({ id: GROUP, type: "supergroup", title: "Fleet Ops", members: [IVAN], admins: [bot.id] });
  tg.addChat({ id: FORUM, type: "supergroup", title: "Forum", is_forum: true, members: [IVAN], admins: [bot.id] });
  tg.addChat({ id: BASIC, type: "group", title: "Old", members: [IVAN, bot.id] });
  api = new Api(bot.token, { apiRoot: tg.apiRoot });
  moved = [];
  out = new TelegramOutbound({
    api, botId: bot.id, log: silentLogger, maxUploadSize: 1000,
    isForum: async (id) => id === FORUM,
    onMoved: async (from, to) => { moved.push([from, to]); },
  });
});

afterEach(async () => {
  await tg.stop();
});

describe("telegram outbound", () => {
  it("sends text as HTML with the sender in bold and returns <chat>:<message>", async () => {
    const refs = await out.send(String(GROUP), msg({ doc: [p("deploy ", b("now"))] }));
    expect(refs).toHaveLength(1);
    expect(refs[0]).toMatch(/^-100123:\d+$/);
    const call = tg.calls("sendMessage").at(-1)!;
    expect(call.params).toMatchObject({ chat_id: GROUP, parse_mode: "HTML", text: "<b>alice</b>: deploy <b>now</b>" });
    const sent = tg.message(GROUP, idOf(refs[0]!))!;
    expect(sent.text).toBe("alice: deploy now");
    expect(sent.entities).toEqual([{ type: "bold", offset: 0, length: 5 }, { type: "bold", offset: 14, length: 3 }]);
  });

  it("private chats: sends to the user's chat id and returns refs scoped by the bot", async () => {
    tg.addChat({ id: IVAN, type: "private", members: [bot.id] });
    const hello = tg.userSends(IVAN, IVAN, { text: "/start" });
    const [ref] = await out.send(`${IVAN}@${bot.id}`, msg({ replyTo: `${IVAN}@${bot.id}:${hello}` }));
    expect(ref).toMatch(new RegExp(`^${IVAN}@${bot.id}:\\d+$`));
    expect(tg.calls("sendMessage").at(-1)!.params).toMatchObject({ chat_id: IVAN, reply_parameters: { message_id: hello } });
    await out.edit(`${IVAN}@${bot.id}`, ref!, msg({ doc: [p("changed")] }));
    expect(tg.message(IVAN, idOf(ref!))!.text).toBe("alice: changed");
  });

  it("replies with reply_parameters (allow_sending_without_reply)", async () => {
    const target = tg.userSends(GROUP, IVAN, { text: "question?" });
    const [ref] = await out.send(String(GROUP), msg({ replyTo: `${GROUP}:${target}` }));
    expect(tg.calls("sendMessage").at(-1)!.params.reply_parameters).toEqual({ message_id: target, allow_sending_without_reply: true });
    expect(tg.message(GROUP, idOf(ref!))!.reply_to_message?.message_id).toBe(target);
    // A reply to a message that is gone still goes out.
    tg.userDeletes(GROUP, target);
    expect(await out.send(String(GROUP), msg({ replyTo: `${GROUP}:${target}` }))).toHaveLength(1);
  });

  it("threads: a forum topic by message_thread_id; elsewhere a reply to the thread root", async () => {
    await out.send(String(FORUM), msg({ threadRoot: `${FORUM}:9` }));
    expect(tg.calls("sendMessage").at(-1)!.params).toMatchObject({ message_thread_id: 9 });
    expect(tg.calls("sendMessage").at(-1)!.params.reply_parameters).toBeUndefined();
    const root = tg.userSends(GROUP, IVAN, { text: "root" });
    await out.send(String(GROUP), msg({ threadRoot: `${GROUP}:${root}` }));
    expect(tg.calls("sendMessage").at(-1)!.params).toMatchObject({ reply_parameters: { message_id: root } });
    expect(tg.calls("sendMessage").at(-1)!.params.message_thread_id).toBeUndefined();
  });

  it("splits long text into several messages, in order, one ref each", async () => {
    const long = Array.from({ length: 1000 }, (_, n) => `w${n}`).join(" ");
    const refs = await out.send(String(GROUP), msg({ doc: [p(long)] }));
    expect(refs.length).toBe(2);
    expect(idOf(refs[1]!)).toBe(idOf(refs[0]!) + 1);
    const texts = refs.map((r) => tg.message(GROUP, idOf(r))!.text!);
    expect(texts[0]!.startsWith("alice: w0 ")).toBe(true);
    expect(texts.join(" ").replace(/\s+/g, " ")).toBe(`alice: ${long}`);
  });

  it("a 429 on a later part is waited out in place, so earlier parts are not sent twice", async () => {
    let sends = 0;
    api.config.use(async (prev, method, payload, signal) => {
      if (method === "sendMessage" && ++sends === 2) {
        return { ok: false, error_code: 429, description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 } } as never;
      }
      return prev(method, payload, signal);
    });
    const long = Array.from({ length: 1000 }, (_, n) => `w${n}`).join(" ");
    const refs = await out.send(String(GROUP), msg({ doc: [p(long)] }));
    expect(refs).toHaveLength(2);
    expect(tg.messages(GROUP).filter((m) => m.from?.id === bot.id)).toHaveLength(2);
  });

  it("files go out with the right method, caption with the sender; editing one edits its caption", async () => {
    const refs = await out.send(String(GROUP), msg({ doc: [p("the plan")], files: [{ name: "plan.png", mime: "image/png", kind: "image", data: PNG }] }));
    expect(refs).toHaveLength(1);
    const call = tg.calls("sendPhoto").at(-1)!;
    expect(call.params).toMatchObject({ chat_id: String(GROUP), caption: "<b>alice</b>: the plan", parse_mode: "HTML" });
    expect(String(call.params.photo)).toMatch(/^<file plan\.png, \d+ bytes>$/);
    expect(tg.message(GROUP, idOf(refs[0]!))!.caption).toBe("alice: the plan");
    await out.edit(String(GROUP), refs[0]!, msg({ doc: [p("the new plan")] }));
    expect(tg.calls("editMessageCaption")).toHaveLength(1);
    expect(tg.message(GROUP, idOf(refs[0]!))!.caption).toBe("alice: the new plan");
    const voice = await out.send(String(GROUP), msg({ doc: [], files: [{ name: "v.ogg", mime: "audio/ogg", kind: "voice", data: Buffer.from("OggS....") }] }));
    expect(tg.calls("sendVoice")).toHaveLength(1);
    expect(tg.message(GROUP, idOf(voice[0]!))!.caption).toBe("alice");
  });

  it("a message longer than max_message_parts messages sends its first parts and the rest as one text file", async () => {
    const capped = new TelegramOutbound({
      api, botId: bot.id, log: silentLogger, maxUploadSize: 50 * 1024 * 1024, maxParts: 3,
      isForum: async () => false, onMoved: async () => undefined,
    });
    const long = Array.from({ length: 20_000 }, (_, n) => `w${n}`).join(" "); // about 30 parts of 4,096
    const refs = await capped.send(String(GROUP), msg({ doc: [p(long)] }));
    expect(refs).toHaveLength(3);
    expect(tg.calls("sendMessage")).toHaveLength(2);
    const doc = tg.message(GROUP, idOf(refs[2]!))!.document!;
    expect(doc.file_name).toBe("message-continued.txt");
    const sentTexts = tg.messages(GROUP).filter((m) => m.from?.id === bot.id && m.text).map((m) => m.text!);
    const rest = tg.file(doc.file_id)!.data.toString();
    // Nothing lost: the two messages and the file hold the whole text.
    expect(`${sentTexts.join(" ")} ${rest}`.replace(/\s+/g, " ").trim()).toBe(`alice: ${long}`);
  });

  it("refuses files over max_upload_size without calling Telegram", async () => {
    const err = await rejection(out.send(String(GROUP), msg({ files: [{ name: "big.bin", mime: "application/octet-stream", kind: "file", data: Buffer.alloc(2000) }] })));
    expect(err).toMatchObject({ code: "file_too_large", retryable: false });
    expect(err.userMessage).toMatch(/big\.bin.*larger than/);
    expect(tg.calls("sendDocument")).toHaveLength(0);
  });

  it("edits text with editMessageText; an unchanged edit is fine; a media message without a known ref falls back to the caption", async () => {
    const [ref] = await out.send(String(GROUP), msg({}));
    await out.edit(String(GROUP), ref!, msg({ doc: [p("hello again")] }));
    expect(tg.calls("editMessageText").at(-1)!.params).toMatchObject({ text: "<b>alice</b>: hello again", parse_mode: "HTML" });
    expect(tg.message(GROUP, idOf(ref!))!.text).toBe("alice: hello again");
    await out.edit(String(GROUP), ref!, msg({ doc: [p("hello again")] })); // "message is not modified"
    // After a restart the connection no longer knows which refs are media: it learns from the error.
    const [photo] = await out.send(String(GROUP), msg({ doc: [p("c")], files: [{ name: "a.png", mime: "image/png", kind: "image", data: PNG }] }));
    const fresh = new TelegramOutbound({ api, botId: bot.id, log: silentLogger, maxUploadSize: 1000, isForum: async () => false, onMoved: async () => undefined });
    await fresh.edit(String(GROUP), photo!, msg({ doc: [p("c2")] }));
    expect(tg.message(GROUP, idOf(photo!))!.caption).toBe("alice: c2");
  });

  it("deletes; a message already gone is fine; past 48 hours is a permanent error with a clear reason", async () => {
    const [ref] = await out.send(String(BASIC), msg({}));
    await out.delete(String(BASIC), ref!);
    expect(tg.message(BASIC, idOf(ref!))).toBeUndefined();
    await out.delete(String(BASIC), ref!);
    const [old] = await out.send(String(GROUP), msg({}));
    tg.setMemberStatus(GROUP, bot.id, "member");
    tg.advance(49 * 3600);
    const err = await rejection(out.delete(String(GROUP), old!));
    expect(err.retryable).toBe(false);
    expect(err.userMessage).toMatch(/48 hours/);
  });

  it("reactions: one per message, the newest Matrix reaction wins; disallowed emoji are skipped", async () => {
    const target = tg.userSends(GROUP, IVAN, { text: "react to me" });
    const ref = `${GROUP}:${target}`;
    const mine = () => tg.reactionsOf(GROUP, target).find((r) => r.actorId === bot.id)?.reaction ?? [];
    await out.react(String(GROUP), ref, "👍", true);
    expect(mine()).toEqual([{ type: "emoji", emoji: "👍" }]);
    await out.react(String(GROUP), ref, "❤️", true);
    expect(mine()).toEqual([{ type: "emoji", emoji: "❤" }]);
    const calls = tg.calls("setMessageReaction").length;
    await out.react(String(GROUP), ref, "👍", false); // not the shown one: nothing to change
    expect(tg.calls("setMessageReaction")).toHaveLength(calls);
    await out.react(String(GROUP), ref, "🦖", true);
    expect(tg.calls("setMessageReaction")).toHaveLength(calls);
    await out.react(String(GROUP), ref, "❤️", false);
    expect(mine()).toEqual([]);
  });

  it("follows a group upgraded to a supergroup and tells the core", async () => {
    const newId = tg.migrateToSupergroup(BASIC);
    const refs = await out.send(String(BASIC), msg({}));
    expect(moved).toEqual([[BASIC, newId]]);
    expect(refs[0]).toMatch(new RegExp(`^${newId}:\\d+$`));
    await out.send(String(BASIC), msg({}));
    expect(moved).toHaveLength(1); // remembered: no second failing call
  });

  it("pins a message (the cutover notice)", async () => {
    const [ref] = await out.send(String(GROUP), msg({ doc: [p("Matrix is now primary")] }));
    await out.pin(String(GROUP), ref!);
    expect(tg.chat(GROUP).pinned).toEqual([idOf(ref!)]);
  });

  /** An outbound with a pacer on a fake clock: sleeping advances it and is recorded in `waits`. */
  const pacedOutbound = () => {
    const clock = { now: 0, waits: [] as number[] };
    const pacer = new Pacer(() => clock.now, async (ms) => { clock.waits.push(ms); clock.now += ms; });
    const paced = new TelegramOutbound({ api, botId: bot.id, log: silentLogger, maxUploadSize: 1000, isForum: async () => false, onMoved: async () => undefined, pacer });
    return { clock, paced, waits: clock.waits };
  };

  it("paces to the per-group send limit: a far slot goes back to the queue (Deferred), nothing is sent", async () => {
    const { clock, paced, waits } = pacedOutbound();
    for (let n = 0; n < 20; n++) await paced.send(String(GROUP), msg({ doc: [p(`m${n}`)] }));
    const before = tg.messages(GROUP).length;
    // The 21st message in a minute has no slot for 3 s (20/min per group): not sent, deferred.
    const err = await paced.send(String(GROUP), msg({ doc: [p("m20")] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Deferred);
    expect((err as Deferred).retryAfterMs).toBeGreaterThan(2000);
    expect(tg.messages(GROUP).length).toBe(before);
    expect(waits).toEqual([]);
    await paced.send(`${IVAN}@${bot.id}`, msg({})).catch(() => undefined); // private chats: only the per-bot bucket
    expect(waits).toEqual([]);
    // When the queue comes back after the delay, it goes.
    clock.now += (err as Deferred).retryAfterMs;
    await paced.send(String(GROUP), msg({ doc: [p("m20")] }));
    expect(tg.messages(GROUP).length).toBe(before + 1);
  });

  it("a split message waits for its later parts' slots rather than deferring after the first part went", async () => {
    const { paced, waits } = pacedOutbound();
    for (let n = 0; n < 19; n++) await paced.send(String(GROUP), msg({ doc: [p(`m${n}`)] }));
    // One slot left in the group's burst; this message takes two (text over 4096 characters).
    const refs = await paced.send(String(GROUP), msg({ doc: [p("x".repeat(5000))] }));
    expect(refs).toHaveLength(2);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(2000);
  });

  it("maps Bot API errors: 429 retryable with retry_after, 5xx retryable, kicked and unknown chat permanent", async () => {
    tg.failNext("sendMessage", 1, { error_code: 429, retry_after: 3 });
    expect(await rejection(out.send(String(GROUP), msg({})))).toMatchObject({ retryable: true, retryAfterMs: 3000 });
    tg.failNext("sendMessage", 1, { status: 502 });
    expect(await rejection(out.send(String(GROUP), msg({})))).toMatchObject({ retryable: true });
    tg.failNext("sendMessage", 1, { network: "reset" });
    expect(await rejection(out.send(String(GROUP), msg({})))).toMatchObject({ retryable: true, code: "network" });
    const unknown = await rejection(out.send("-100404", msg({})));
    expect(unknown).toMatchObject({ retryable: false });
    expect(unknown.userMessage).toMatch(/chat was not found/);
    tg.botRemoved(GROUP, bot.id);
    const kicked = await rejection(out.send(String(GROUP), msg({})));
    expect(kicked).toMatchObject({ retryable: false, code: "forbidden" });
    expect(kicked.userMessage).toMatch(/removed/);
  });
});
