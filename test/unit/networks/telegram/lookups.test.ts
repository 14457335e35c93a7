// Chat/user info, files, avatars and chat resolution against the fake Bot API; and `login telegram`.
import { Api } from "grammy";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LoginError, RemoteError } from "../../../../src/core/errors.js";
import { silentLogger } from "../../../../src/core/log.js";
import { TelegramLookups } from "../../../../src/networks/telegram/lookups.js";
import { PRIVACY_WARNING, telegramLoginFlow, TOKEN_PATTERN } from "../../../../src/networks/telegram/login.js";
import { FakeTelegram, type BotHandle } from "../../../fakes/telegram.js";

const GROUP = -100123;
const IVAN = 42;
const ANON = 43;
let tg: FakeTelegram;
let bot: BotHandle;
let look: TelegramLookups;

beforeEach(async () => {
  tg = await FakeTelegram.start();
  bot = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet" });
  tg.addUser({ id: IVAN, first_name: "Ivan", last_name: "Petrov", username: "ivan", photo: Buffer.from("ivan-face") });
  tg.addUser({ id: ANON, first_name: "Nobody" });
  tg.addChat({ id: GROUP, type: "supergroup", title: "Fleet Ops", username: "fleetops", description: "Ops chat", photo: Buffer.from("group-pic"), members: [IVAN, ANON, bot.id] });
  tg.addChat({ id: -100200, type: "supergroup", title: "Private", members: [IVAN, bot.id] });
  look = new TelegramLookups(new Api(bot.token, { apiRoot: tg.apiRoot }), { apiRoot: tg.apiRoot, token: bot.token, maxDownloadSize: 1024, botId: bot.id }, silentLogger);
});

afterEach(async () => {
  await tg.stop();
});

describe("telegram lookups", () => {
  it("chatInfo: title, description, photo, kind, alias and room name", async () => {
    const info = await look.chatInfo(String(GROUP));
    expect(info).toMatchObject({ name: "Fleet Ops", kind: "group", topic: "Ops chat", aliasLocalpart: "telegram_fleetops", roomName: "Fleet Ops (Telegram)" });
    expect(info.avatar).toMatch(/^chat:-100123:/);
    expect((await look.downloadAvatar(info.avatar!)).data.toString()).toBe("group-pic");
    expect(await look.chatInfo("-100200")).toMatchObject({ aliasLocalpart: "telegram_-100200", roomName: "Private (Telegram)" });
  });

  it("userInfo: first + last name seen in updates, profile photo as avatar; unknown users fall back to their id", async () => {
    look.remember([{ id: IVAN, is_bot: false, first_name: "Ivan", last_name: "Petrov" }]);
    const info = await look.userInfo(String(IVAN));
    expect(info.name).toBe("Ivan Petrov");
    expect(info.avatar).toMatch(/^user:42:/);
    expect((await look.downloadAvatar(info.avatar!)).data.toString()).toBe("ivan-face");
    expect(await look.userInfo(String(ANON))).toEqual({ name: String(ANON) });
    expect((await look.userInfo(String(GROUP))).name).toBe("Fleet Ops"); // a chat posting as itself
  });

  it("downloads files by file_id; over max_download_size is a permanent error that says why", async () => {
    tg.userSends(GROUP, IVAN, { document: { data: Buffer.from("pdf bytes"), file_name: "a.pdf" } });
    const doc = tg.messages(GROUP).at(-1)!.document!;
    const dl = await look.download({ id: doc.file_id, name: "a.pdf", mime: "application/pdf", kind: "file", size: doc.file_size });
    expect(dl).toEqual({ data: Buffer.from("pdf bytes"), mime: "application/pdf", name: "a.pdf" });
    const err = await look.download({ id: doc.file_id, name: "big.iso", mime: "x/y", kind: "file", size: 5000, link: "https://t.me/fleetops/9" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ retryable: false, code: "file_too_large" });
    expect((err as RemoteError).userMessage).toMatch(/big\.iso.*\(5 KB\).*larger than the 1 KB.*https:\/\/t\.me\/fleetops\/9/);
  });

  it("files come only from the configured Bot API root: a file_path climbing out of /file/bot<token>/ is refused", async () => {
    const api = new Api(bot.token, { apiRoot: tg.apiRoot });
    api.config.use(async (prev, method, payload, signal) => {
      if (method === "getFile") return { ok: true, result: { file_id: "x", file_unique_id: "x", file_path: "documents/../../../status.json" } } as never;
      return prev(method, payload, signal);
    });
    const sly = new TelegramLookups(api, { apiRoot: tg.apiRoot, token: bot.token, maxDownloadSize: 1024, botId: bot.id }, silentLogger);
    await expect(sly.download({ id: "x", name: "status.json", mime: "application/json", kind: "file" }))
      .rejects.toMatchObject({ code: "file_unavailable", retryable: false, message: "getFile gave a file_path with . or .." });
  });

  it("getFile's own 'file is too big' becomes the same permanent error", async () => {
    const big = new TelegramLookups(new Api(bot.token, { apiRoot: tg.apiRoot }), { apiRoot: tg.apiRoot, token: bot.token, maxDownloadSize: 100 * 1024 * 1024, botId: bot.id }, silentLogger);
    tg.userSends(GROUP, IVAN, { document: { data: Buffer.alloc(21 * 1024 * 1024), file_name: "huge.bin" } });
    const doc = tg.messages(GROUP).at(-1)!.document!;
    await expect(big.download({ id: doc.file_id, name: "huge.bin", mime: "x/y", kind: "file" })).rejects.toMatchObject({ retryable: false, code: "file_too_large" });
  });

  it("resolveChat: numeric ids, @usernames and t.me links; null when the bot cannot see it", async () => {
    expect(await look.resolveChat(String(GROUP))).toBe(String(GROUP));
    expect(await look.resolveChat("@fleetops")).toBe(String(GROUP));
    expect(await look.resolveChat("https://t.me/fleetops")).toBe(String(GROUP));
    expect(await look.resolveChat("-100404")).toBeNull();
    tg.addChat({ id: IVAN, type: "private", members: [bot.id] });
    expect(await look.resolveChat(String(IVAN))).toBe(`${IVAN}@${bot.id}`);
    expect(await look.chatInfo(`${IVAN}@${bot.id}`)).toMatchObject({ kind: "dm", name: "Ivan Petrov", roomName: "Ivan Petrov", aliasLocalpart: "telegram_ivan" });
    expect(await look.resolveChat("#general")).toBeNull();
  });

  it("isForum asks getChat once and remembers", async () => {
    tg.addChat({ id: -100555, type: "supergroup", title: "F", is_forum: true, members: [bot.id] });
    expect(await look.isForum(-100555)).toBe(true);
    expect(await look.isForum(-100555)).toBe(true);
    expect(tg.calls("getChat")).toHaveLength(1);
  });
});

describe("login telegram", () => {
  it("validates the token with getMe and says who it is; privacy mode gets a warning with the fix", async () => {
    const flow = telegramLoginFlow(tg.apiRoot);
    expect(flow.id).toBe("telegram");
    expect(flow.steps).toEqual([expect.objectContaining({ key: "token", secret: true })]);
    expect(TOKEN_PATTERN.test(bot.token)).toBe(true);
    expect(TOKEN_PATTERN.test("xoxb-123")).toBe(false);
    const result = await flow.complete({ token: bot.token });
    expect(result).toMatchObject({ remoteId: "7001", name: "@fleet_bot", secrets: { token: bot.token } });
    expect(result.reply).toMatch(/^Logged in as @fleet_bot/);
    expect(result.warnings).toEqual([PRIVACY_WARNING]);
    expect(PRIVACY_WARNING).toMatch(/\/setprivacy/);
    expect(PRIVACY_WARNING).toMatch(/admin/);
  });

  it("no warning when the bot reads all group messages", async () => {
    const open = tg.createBot({ id: 7002, username: "open_bot", first_name: "Open", canReadAllGroupMessages: true });
    expect((await telegramLoginFlow(tg.apiRoot).complete({ token: open.token })).warnings).toBeUndefined();
  });

  it("a wrong token is refused with the BotFather hint; an unreachable server says so", async () => {
    const err = await telegramLoginFlow(tg.apiRoot).complete({ token: "7001:AAwrongwrongwrongwrongwrongwrongwrong" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginError);
    expect((err as LoginError).userMessage).toMatch(/not valid.*BotFather \/token/);
    const down = await telegramLoginFlow("http://127.0.0.1:9").complete({ token: bot.token }).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(LoginError);
    expect((down as LoginError).userMessage).toMatch(/Could not reach Telegram/);
    expect((down as LoginError).userMessage).not.toContain(bot.token);
  });
});
