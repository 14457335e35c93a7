// Update → RemoteEvent[] on documented Bot API update shapes (field names as in core.telegram.org/bots/api).
import type { Chat, Message, MessageEntity, Update, User } from "grammy/types";
import { describe, expect, it } from "vitest";
import { startClaim } from "../../../../src/networks/telegram/claims.js";
import { convertUpdate, peopleIn, shortHash, updateToEvents } from "../../../../src/networks/telegram/inbound.js";
import type { RemoteEvent } from "../../../../src/core/types.js";
import { a, b, br, i, mention, p, tgUser, ul } from "../../formatting/helpers.js";

const BOT = 7001;
const ctx = { botId: BOT };
const ivan: User = { id: 42, is_bot: false, first_name: "Ivan", last_name: "Petrov", username: "ivan" };
const group: Chat = { id: -100123, type: "supergroup", title: "Fleet Ops" };
const forum: Chat = { id: -100555, type: "supergroup", title: "Forum", is_forum: true };
const basic: Chat = { id: -777, type: "group", title: "Old group" };
const channel: Chat = { id: -100999, type: "channel", title: "News", username: "fleetnews" };
const DATE = 1_700_000_000;

let nextUpdate = 1;
function msg(fields: Partial<Message>, chat: Chat = group): Message {
  return { message_id: 10, date: DATE, chat, from: ivan, ...fields } as Message;
}
/** An update around a body; message fields are loosely typed on purpose (the converter must cope). */
const upd = (body: Record<string, unknown>): Update => ({ update_id: nextUpdate++, ...body }) as unknown as Update;
const one = (u: Update): RemoteEvent => {
  const evs = convertUpdate(u, ctx);
  expect(evs).toHaveLength(1);
  return evs[0]!;
};
const E = (type: string, offset: number, length: number, extra: object = {}): MessageEntity => ({ type, offset, length, ...extra }) as MessageEntity;

describe("telegram inbound: messages", () => {
  it("text with entities becomes a message with a doc, keyed by chat and message id", () => {
    const ev = one(upd({ message: msg({ text: "hello world", entities: [E("bold", 0, 5)] }) }));
    expect(ev).toEqual({
      kind: "message", key: "msg:-100123:10", chat: "-100123", at: DATE * 1000, ref: "-100123:10", sender: "42",
      msg: { doc: [p(b("hello"), " world")] },
    });
  });

  it("uses UTF-16 offsets: emoji and Cyrillic before an entity, nested entities, text_mention → pill", () => {
    const text = "👋🏽 Привет Bob, see docs";
    // "👋🏽 " is 5 UTF-16 units, "Привет " 7 more.
    const ev = one(upd({ message: msg({
      text, entities: [E("italic", 5, 6), E("bold", 12, 13), E("text_mention", 12, 3, { user: { id: 99, is_bot: false, first_name: "Bob" } }), E("text_link", 21, 4, { url: "https://d.example/" })],
    }) }));
    expect(ev.kind === "message" && ev.msg.doc).toEqual([p("👋🏽 ", i("Привет"), " ", b(mention(tgUser("99"), "Bob"), ", see ", a("https://d.example/", "docs")))]);
  });

  it("a private chat is scoped by our bot: chat 42@7001, refs 42@7001:<id>", () => {
    const dm: Chat = { id: 42, type: "private", first_name: "Ivan" };
    expect(one(upd({ message: msg({ text: "hi bot", reply_to_message: msg({ message_id: 2 }, dm) as never }, dm) }))).toMatchObject({
      kind: "message", chat: "42@7001", ref: "42@7001:10", key: "msg:42@7001:10", sender: "42", msg: { replyTo: "42@7001:2" },
    });
    expect(one(upd({ edited_message: msg({ text: "hi!", edit_date: DATE + 1 }, dm) }))).toMatchObject({ chat: "42@7001", target: "42@7001:10" });
  });

  it("reply_to_message → replyTo ref", () => {
    const ev = one(upd({ message: msg({ message_id: 11, text: "yes", reply_to_message: msg({ message_id: 3, text: "q?" }) as never }) }));
    expect(ev.kind === "message" && ev.msg.replyTo).toBe("-100123:3");
  });

  it("forum topics: a topic message gets threadRoot = the topic's first message; its implicit reply to the root is dropped", () => {
    const root = msg({ message_id: 5, message_thread_id: 5, is_topic_message: true, forum_topic_created: { name: "Deploys", icon_color: 0 } }, forum);
    const rootEv = one(upd({ message: root }));
    expect(rootEv).toMatchObject({ kind: "message", ref: "-100555:5", msg: { doc: [p("Topic: Deploys")], notice: true } });
    expect(rootEv.kind === "message" && rootEv.msg.threadRoot).toBeUndefined();
    const inTopic = one(upd({ message: msg({ message_id: 6, text: "shipping", message_thread_id: 5, is_topic_message: true, reply_to_message: root as never }, forum) }));
    expect(inTopic).toMatchObject({ msg: { threadRoot: "-100555:5" } });
    expect(inTopic.kind === "message" && inTopic.msg.replyTo).toBeUndefined();
    const reply = one(upd({ message: msg({ message_id: 7, text: "ok", message_thread_id: 5, is_topic_message: true, reply_to_message: msg({ message_id: 6, text: "shipping" }, forum) as never }, forum) }));
    expect(reply).toMatchObject({ msg: { threadRoot: "-100555:5", replyTo: "-100555:6" } });
  });

  it("message_thread_id outside forums (reply chains in supergroups) is not a thread", () => {
    const ev = one(upd({ message: msg({ text: "x", message_thread_id: 3 }) }));
    expect(ev.kind === "message" && ev.msg.threadRoot).toBeUndefined();
  });

  it("channel_post: the channel is the sender; the signature is kept", () => {
    const ev = one(upd({ channel_post: { message_id: 4, date: DATE, chat: channel, sender_chat: channel, text: "news!", author_signature: "Ann" } as Message }));
    expect(ev).toMatchObject({ kind: "message", chat: "-100999", sender: "-100999", ref: "-100999:4" });
    expect(ev.kind === "message" && ev.msg.doc).toEqual([p("news!"), p(i("— Ann"))]);
  });

  it("anonymous admins post as the group (sender_chat)", () => {
    expect(one(upd({ message: msg({ text: "hi", sender_chat: group }) }))).toMatchObject({ sender: "-100123" });
  });

  it("forwards say where they come from", () => {
    const ev = one(upd({ message: msg({ text: "fwd", forward_origin: { type: "user", date: DATE, sender_user: ivan } }) }));
    expect(ev.kind === "message" && ev.msg.doc).toEqual([p(i("Forwarded from Ivan Petrov")), p("fwd")]);
  });

  it("location, venue, contact, poll and dice become text", () => {
    const loc = one(upd({ message: msg({ location: { latitude: 52.5, longitude: 13.4 } }) }));
    expect(loc.kind === "message" && loc.msg.doc).toEqual([p("📍 Location: ", a("https://www.openstreetmap.org/?mlat=52.5&mlon=13.4#map=16/52.5/13.4", "52.5, 13.4"))]);
    const contact = one(upd({ message: msg({ contact: { phone_number: "+4930123", first_name: "Ann", last_name: "Lee" } }) }));
    expect(contact.kind === "message" && contact.msg.doc).toEqual([p("👤 Contact: Ann Lee, +4930123")]);
    const venue = one(upd({ message: msg({ location: { latitude: 1, longitude: 2 }, venue: { location: { latitude: 1, longitude: 2 }, title: "Dock", address: "Pier 3" } }) }));
    expect(venue.kind === "message" && venue.msg.doc[0]).toEqual(p("📍 Dock, Pier 3 (", a("https://www.openstreetmap.org/?mlat=1&mlon=2#map=16/1/2", "1, 2"), ")"));
    const poll = one(upd({ message: msg({ poll: { id: "1", question: "Lunch?", options: [{ text: "yes", voter_count: 0 }, { text: "no", voter_count: 0 }], total_voter_count: 0, is_closed: false, is_anonymous: true, type: "regular", allows_multiple_answers: false } as never }) }));
    expect(poll.kind === "message" && poll.msg.doc).toEqual([p("📊 Poll: Lunch?"), ul([p("yes")], [p("no")])]);
    expect(one(upd({ message: msg({ dice: { emoji: "🎲", value: 4 } }) }))).toMatchObject({ msg: { doc: [p("🎲 rolled 4")] } });
  });

  it("unknown or unmirrored content gives no events, and malformed updates never throw", () => {
    expect(convertUpdate(upd({ message: msg({ pinned_message: msg({ text: "x" }) as never }) }), ctx)).toEqual([]);
    expect(convertUpdate(upd({ callback_query: { id: "1", from: ivan, chat_instance: "x" } as never }), ctx)).toEqual([]);
    expect(convertUpdate({ update_id: 9 } as Update, ctx)).toEqual([]);
    expect(updateToEvents({ update_id: 10, message: { chat: null } } as unknown as Update, ctx)).toEqual([]);
    expect(updateToEvents({ update_id: 11, edited_message: { text: 5 } } as unknown as Update, ctx)).toEqual([]);
  });
});

describe("telegram inbound: files", () => {
  const file = (u: Update) => {
    const ev = one(u);
    if (ev.kind !== "message") throw new Error("not a message");
    return { doc: ev.msg.doc, files: ev.msg.files ?? [] };
  };

  it("photo: the largest size, with the caption (entities kept) on the file", () => {
    const { doc, files } = file(upd({ message: msg({
      photo: [
        { file_id: "small", file_unique_id: "s", width: 90, height: 60, file_size: 1000 },
        { file_id: "big", file_unique_id: "B", width: 1280, height: 853, file_size: 90_000 },
        { file_id: "mid", file_unique_id: "m", width: 320, height: 213, file_size: 9000 },
      ],
      caption: "look here", caption_entities: [E("bold", 5, 4)],
    }) }));
    expect(doc).toEqual([]);
    expect(files).toEqual([{
      id: "big", name: "photo_B.jpg", mime: "image/jpeg", kind: "image", size: 90_000, width: 1280, height: 853,
      caption: [p("look ", b("here"))], link: "https://t.me/c/123/10",
    }]);
  });

  it("voice → kind voice with duration; audio keeps its name", () => {
    expect(file(upd({ message: msg({ voice: { file_id: "v", file_unique_id: "v1", duration: 3, mime_type: "audio/ogg", file_size: 5000 } }) })).files[0])
      .toMatchObject({ id: "v", kind: "voice", mime: "audio/ogg", durationMs: 3000, size: 5000, name: "voice.ogg" });
    expect(file(upd({ message: msg({ audio: { file_id: "a", file_unique_id: "a1", duration: 200, performer: "Band", title: "Song", mime_type: "audio/mpeg" } }) })).files[0])
      .toMatchObject({ kind: "audio", name: "Band - Song.mp3", durationMs: 200_000 });
  });

  it("document, video, video note, animation", () => {
    expect(file(upd({ message: msg({ document: { file_id: "d", file_unique_id: "d1", file_name: "report.pdf", mime_type: "application/pdf", file_size: 12 } }) })).files[0])
      .toEqual({ id: "d", name: "report.pdf", mime: "application/pdf", kind: "file", size: 12, link: "https://t.me/c/123/10" });
    expect(file(upd({ message: msg({ video: { file_id: "x", file_unique_id: "x1", width: 640, height: 360, duration: 5, mime_type: "video/mp4" } }) })).files[0])
      .toMatchObject({ kind: "video", width: 640, height: 360, durationMs: 5000, name: "video.mp4" });
    expect(file(upd({ message: msg({ video_note: { file_id: "n", file_unique_id: "n1", length: 240, duration: 4 } }) })).files[0])
      .toMatchObject({ kind: "video", width: 240, height: 240, durationMs: 4000, mime: "video/mp4" });
    // Telegram sends animations with a `document` copy: one file, as video.
    const anim = { file_id: "g", file_unique_id: "g1", width: 200, height: 100, duration: 2, file_name: "cat.mp4", mime_type: "video/mp4" };
    const both = file(upd({ message: msg({ animation: anim, document: { file_id: "g", file_unique_id: "g1", file_name: "cat.mp4" } }) }));
    expect(both.files).toHaveLength(1);
    expect(both.files[0]).toMatchObject({ id: "g", kind: "video", name: "cat.mp4" });
  });

  it("stickers: static as an image (emoji as its text), animated as a file, video as video", () => {
    const base = { file_unique_id: "u", type: "regular", width: 512, height: 512, is_animated: false, is_video: false, emoji: "😀" } as const;
    expect(file(upd({ message: msg({ sticker: { ...base, file_id: "st" } }) })).files[0])
      .toMatchObject({ id: "st", kind: "sticker", mime: "image/webp", width: 512, caption: [p("😀")] });
    expect(file(upd({ message: msg({ sticker: { ...base, file_id: "an", is_animated: true } }) })).files[0]).toMatchObject({ kind: "file", mime: "application/x-tgsticker" });
    expect(file(upd({ message: msg({ sticker: { ...base, file_id: "vd", is_video: true } }) })).files[0]).toMatchObject({ kind: "video", mime: "video/webm" });
  });

  it("a file over 20 MB keeps its size (the core and download() refuse it) and a link", () => {
    const f = file(upd({ message: msg({ document: { file_id: "huge", file_unique_id: "h", file_name: "big.iso", file_size: 25 * 1024 * 1024 } }, channel) })).files[0]!;
    expect(f).toMatchObject({ size: 25 * 1024 * 1024, link: "https://t.me/fleetnews/10" });
  });
});

describe("telegram inbound: edits, reactions, membership, chat changes", () => {
  it("edited_message → edit keyed by edit date and content", () => {
    const ev = one(upd({ edited_message: msg({ text: "fixed", edit_date: DATE + 60 }) }));
    expect(ev).toEqual({
      kind: "edit", key: `edit:-100123:10:${DATE + 60}:${shortHash("fixed")}`, chat: "-100123", at: (DATE + 60) * 1000,
      target: "-100123:10", sender: "42", msg: { doc: [p("fixed")] },
    });
    const again = one(upd({ edited_message: msg({ text: "fixed", edit_date: DATE + 60 }) }));
    expect(again.key).toBe(ev.key); // a replay is the same event
    expect(one(upd({ edited_message: msg({ text: "fixed twice", edit_date: DATE + 60 }) })).key).not.toBe(ev.key);
  });

  it("an edited caption is an edit; edited_channel_post too", () => {
    expect(one(upd({ edited_message: msg({ caption: "new caption", photo: [], edit_date: DATE + 1 }) }))).toMatchObject({ kind: "edit", msg: { doc: [p("new caption")] } });
    expect(one(upd({ edited_channel_post: { message_id: 4, date: DATE, edit_date: DATE + 2, chat: channel, sender_chat: channel, text: "v2" } as Message })))
      .toMatchObject({ kind: "edit", target: "-100999:4", sender: "-100999" });
  });

  it("message_reaction: the difference between old and new reactions; emoji only; ❤ gets its emoji form", () => {
    const evs = convertUpdate(upd({ message_reaction: {
      chat: group, message_id: 10, user: ivan, date: DATE,
      old_reaction: [{ type: "emoji", emoji: "👍" }, { type: "emoji", emoji: "🔥" }],
      new_reaction: [{ type: "emoji", emoji: "🔥" }, { type: "emoji", emoji: "❤" }, { type: "custom_emoji", custom_emoji_id: "123" }],
    } }), ctx);
    expect(evs).toEqual([
      { kind: "reaction", key: `react:-100123:10:42:${DATE}:-👍`, chat: "-100123", at: DATE * 1000, target: "-100123:10", sender: "42", emoji: "👍", on: false },
      { kind: "reaction", key: `react:-100123:10:42:${DATE}:+❤`, chat: "-100123", at: DATE * 1000, target: "-100123:10", sender: "42", emoji: "❤️", on: true },
    ]);
  });

  it("new_chat_members / left_chat_member → membership (not for our own bot), same keys as chat_member", () => {
    const bot: User = { id: BOT, is_bot: true, first_name: "Fleet", username: "fleet_bot" };
    const joins = convertUpdate(upd({ message: msg({ new_chat_members: [ivan, bot] }) }), ctx);
    expect(joins).toEqual([{ kind: "membership", key: `member:-100123:42:join:${DATE}`, chat: "-100123", at: DATE * 1000, user: "42", joined: true }]);
    expect(one(upd({ message: msg({ left_chat_member: ivan }) }))).toMatchObject({ kind: "membership", user: "42", joined: false });
    expect(convertUpdate(upd({ message: msg({ left_chat_member: bot }) }), ctx)).toEqual([]);
    const cm = one(upd({ chat_member: { chat: group, from: ivan, date: DATE, old_chat_member: { status: "left", user: ivan }, new_chat_member: { status: "member", user: ivan } } }));
    expect(cm.key).toBe(joins[0]!.key);
    expect(convertUpdate(upd({ chat_member: { chat: channel, from: ivan, date: DATE, old_chat_member: { status: "left", user: ivan }, new_chat_member: { status: "member", user: ivan } } }), ctx)).toEqual([]);
    expect(convertUpdate(upd({ my_chat_member: { chat: group, from: ivan, date: DATE, old_chat_member: { status: "left", user: bot }, new_chat_member: { status: "member", user: bot } } }), ctx)).toEqual([]);
  });

  it("new_chat_title and new_chat_photo → chat-info", () => {
    expect(one(upd({ message: msg({ new_chat_title: "Fleet Ops 2" }) }))).toEqual({
      kind: "chat-info", key: "title:-100123:10", chat: "-100123", at: DATE * 1000, info: { name: "Fleet Ops 2", roomName: "Fleet Ops 2 (Telegram)" },
    });
    const photo = one(upd({ message: msg({ new_chat_photo: [{ file_id: "s", file_unique_id: "s", width: 160, height: 160 }, { file_id: "L", file_unique_id: "L", width: 640, height: 640 }] }) }));
    expect(photo).toMatchObject({ kind: "chat-info", info: { avatar: "L" } });
  });

  it("migrate_to_chat_id → chat-moved; the supergroup's migrate_from_chat_id message is ignored", () => {
    expect(one(upd({ message: msg({ migrate_to_chat_id: -1000777 }, basic) }))).toEqual({
      kind: "chat-moved", key: "moved:-777:-1000777", chat: "-777", at: DATE * 1000, to: "-1000777",
    });
    expect(convertUpdate(upd({ message: msg({ migrate_from_chat_id: -777 }, { id: -1000777, type: "supergroup", title: "Old group" }) }), ctx)).toEqual([]);
  });

  it("peopleIn lists the users and chats an update shows", () => {
    expect(peopleIn(upd({ message: msg({ text: "x", new_chat_members: [{ id: 5, is_bot: false, first_name: "N" }] }) })).map((x) => x.id)).toEqual([42, 5]);
    expect(peopleIn(upd({ channel_post: { message_id: 1, date: DATE, chat: channel, sender_chat: channel, text: "x" } as Message })).map((x) => x.id)).toEqual([-100999, -100999]);
  });
});

void br;

describe("/start CODE (claims)", () => {
  it("is a claim only as text in a private chat with a code; a bare /start or one in a group is not", () => {
    const msg = (chat: Record<string, unknown>, text: unknown) => ({ update_id: 1, message: { message_id: 1, date: 0, chat, from: { id: 42, is_bot: false, first_name: "I" }, text } }) as never;
    expect(startClaim(msg({ id: 42, type: "private", first_name: "I" }, "/start ABCD2345"))).toEqual({ chatId: 42, user: "42", code: "ABCD2345" });
    expect(startClaim(msg({ id: 42, type: "private", first_name: "I" }, "/start@fleet_bot ABCD2345 "))).toMatchObject({ code: "ABCD2345" });
    expect(startClaim(msg({ id: 42, type: "private", first_name: "I" }, "/start"))).toBeNull();
    expect(startClaim(msg({ id: -100, type: "supergroup", title: "G" }, "/start ABCD2345"))).toBeNull();
    expect(startClaim(msg({ id: 42, type: "private", first_name: "I" }, 5))).toBeNull();
    expect(startClaim({ update_id: 2, message: { message_id: "x", chat: null, text: 5 } } as never)).toBeNull();
  });
});
