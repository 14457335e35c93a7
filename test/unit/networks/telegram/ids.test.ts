import { describe, expect, it } from "vitest";
import {
  aliasLocalpart, chatIdOf, chatRefOf, describeChat, displayName, formatSize, ghostLocalpart, messageLink, messageRef, parseMessageRef, roomName, userFromGhostLocalpart,
} from "../../../../src/networks/telegram/ids.js";
import { ReactionStack, toMatrixEmoji, toTelegramEmoji } from "../../../../src/networks/telegram/reactions.js";

const LOCALPART = /^[a-z0-9._=\-/]+$/;

describe("telegram ids", () => {
  it("message refs are <chat>:<message> and parse back", () => {
    expect(messageRef(-100123, 5)).toBe("-100123:5");
    expect(parseMessageRef("-100123:5")).toEqual({ chat: "-100123", chatId: -100123, messageId: 5 });
    expect(parseMessageRef("C1:123.4")).toBeNull();
    expect(chatIdOf("-100123")).toBe(-100123);
    expect(chatIdOf("general")).toBeNaN();
  });

  it("private chats are scoped by the bot (same user id, separate message ids per bot)", () => {
    expect(chatRefOf({ id: 42, type: "private" }, 7001)).toBe("42@7001");
    expect(chatRefOf({ id: 42, type: "private" }, 7002)).toBe("42@7002");
    expect(chatRefOf({ id: -100123, type: "supergroup" }, 7001)).toBe("-100123");
    expect(chatIdOf("42@7001")).toBe(42);
    expect(messageRef("42@7001", 7)).toBe("42@7001:7");
    expect(parseMessageRef("42@7001:7")).toEqual({ chat: "42@7001", chatId: 42, messageId: 7 });
  });

  it("sizes for people", () => {
    expect(formatSize(20 * 1048576)).toBe("20 MB");
    expect(formatSize(21.5 * 1048576)).toBe("21.5 MB");
    expect(formatSize(5000)).toBe("5 KB");
  });

  it.each([
    ["42", "telegram_42"],
    ["-100999", "telegram_-100999"],
  ])("ghost localpart of %s is %s, valid and reversible", (user, localpart) => {
    expect(ghostLocalpart(user)).toBe(localpart);
    expect(localpart).toMatch(LOCALPART);
    expect(userFromGhostLocalpart(localpart)).toBe(user);
  });

  it("other localparts are not Telegram ghosts", () => {
    expect(userFromGhostLocalpart("slack_t1_u1")).toBeNull();
    expect(userFromGhostLocalpart("telegram_bob")).toBeNull();
    expect(userFromGhostLocalpart("telegram_")).toBeNull();
  });

  it.each([
    [-100123, "FleetOps", "telegram_fleetops"],
    [-100123, undefined, "telegram_-100123"],
    [42, "Ivan_P", "telegram_ivan_p"],
  ])("alias localpart of %s/%s is %s (lowercase, valid)", (id, username, expected) => {
    expect(aliasLocalpart(id, username)).toBe(expected);
    expect(expected).toMatch(LOCALPART);
  });

  it("room names: groups get the network suffix, private chats are the person", () => {
    expect(roomName("Fleet Ops", "group")).toBe("Fleet Ops (Telegram)");
    expect(roomName("News", "channel")).toBe("News (Telegram)");
    expect(roomName("Ivan Petrov", "dm")).toBe("Ivan Petrov");
  });

  it("display names: first + last, then @username, then id", () => {
    expect(displayName({ first_name: "Ivan", last_name: "Petrov" })).toBe("Ivan Petrov");
    expect(displayName({ first_name: "Ivan" })).toBe("Ivan");
    expect(displayName({ first_name: " ", username: "ivan" })).toBe("@ivan");
    expect(displayName({ first_name: "", id: 42 })).toBe("42");
  });

  it("message links for public chats and private supergroups only", () => {
    expect(messageLink(-100123, 5, "fleet")).toBe("https://t.me/fleet/5");
    expect(messageLink(-100123, 5)).toBe("https://t.me/c/123/5");
    expect(messageLink(-777, 5)).toBeUndefined();
  });
});

describe("telegram reactions", () => {
  it("maps Matrix keys to Telegram's allowed emoji, ignoring U+FE0F", () => {
    expect(toTelegramEmoji("❤️")).toBe("❤");
    expect(toTelegramEmoji("👍")).toBe("👍");
    expect(toTelegramEmoji("❤️‍🔥")).toBe("❤‍🔥");
    expect(toTelegramEmoji("🦖")).toBeNull();
    expect(toTelegramEmoji("+1")).toBeNull();
    expect(toMatrixEmoji("❤")).toBe("❤️");
    expect(toMatrixEmoji("🔥")).toBe("🔥");
  });

  it("one reaction per message: the newest wins, removing falls back to the newest remaining", () => {
    const s = new ReactionStack();
    expect(s.apply("m", "👍", true)).toBe("👍");
    expect(s.apply("m", "🔥", true)).toBe("🔥");
    expect(s.apply("m", "❤", true)).toBe("❤");
    expect(s.apply("m", "🔥", false)).toBe("❤"); // an older one removed: ❤ stays
    expect(s.apply("m", "❤", false)).toBe("👍");
    expect(s.apply("m", "👍", false)).toBeNull();
    expect(s.current("m")).toBeNull();
  });

  it("forgets the oldest messages past its bound", () => {
    const s = new ReactionStack(2);
    s.apply("a", "👍", true);
    s.apply("b", "👍", true);
    s.apply("c", "👍", true);
    expect(s.current("a")).toBeNull();
    expect(s.current("c")).toBe("👍");
  });
});

describe("telegram m.bridge description", () => {
  const bot = { id: "telegram:7001", network: "telegram", ownerMxid: "@a:x", remoteId: "7001", name: "@fleet_bot", secrets: {} };

  it("a group is keyed by its id, with the bot as the network", () => {
    expect(describeChat("-1001234", "Fleet Ops", bot)).toEqual({
      key: "-1001234",
      network: { id: "7001", displayname: "@fleet_bot", external_url: "https://t.me/fleet_bot" },
      channel: { id: "-1001234", displayname: "Fleet Ops" },
    });
    expect(describeChat("-1001234", "Fleet Ops").network).toBeUndefined(); // bot logged out: not known
  });

  it("a private chat (one per bot) is keyed by bot and user, and names its bot even after a logout", () => {
    expect(describeChat("42@7001", "Ivan", bot)).toMatchObject({ key: "7001/42", channel: { id: "42", displayname: "Ivan" } });
    expect(describeChat("42@7001", "Ivan").network).toEqual({ id: "7001", displayname: "7001" });
  });
});
