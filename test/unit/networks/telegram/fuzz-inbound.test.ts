/**
 * Property test of the Telegram update mapper (src/networks/telegram/inbound.ts) on mutated,
 * documented-shape updates: updateToEvents never throws; convertUpdate (which the connection
 * calls inside its own try/catch, to log why an update was skipped) throws nothing but Errors;
 * peopleIn (called first, to remember names) copes; every RemoteEvent is well-formed and its
 * doc renders to Matrix HTML without live markup.
 */
import type { Update } from "grammy/types";
import { describe, expect, it } from "vitest";
import type { RemoteEvent } from "../../../../src/core/types.js";
import { docToHtml } from "../../../../src/formatting/html.js";
import { docToMrkdwn } from "../../../../src/formatting/slack.js";
import { convertUpdate, peopleIn, updateToEvents } from "../../../../src/networks/telegram/inbound.js";
import { htmlProblems, hugeString, mutate, pick, remoteEventProblems, rng, runs, SEEDS, weird } from "../../../support/fuzz.js";

const ctx = { botId: 7001 };
const ivan = { id: 42, is_bot: false, first_name: "<script>alert(1)</script>", last_name: "Petrov", username: "ivan" };
const group = { id: -100123, type: "supergroup", title: "<img src=x onerror=alert(1)>", username: "fleetops" };
const forum = { id: -100555, type: "supergroup", title: "Forum", is_forum: true };
const channel = { id: -100999, type: "channel", title: "News", username: "fleetnews" };
const dm = { id: 42, type: "private", first_name: "Ivan" };
const DATE = 1_700_000_000;
const text = "hi <b>there</b> 👋🏽 Привет @ivan https://x.example/?q=<script>";
const entities = [
  { type: "bold", offset: 0, length: 2 }, { type: "italic", offset: 3, length: 12 }, { type: "text_link", offset: 16, length: 4, url: "javascript:alert(1)" },
  { type: "text_mention", offset: 30, length: 5, user: ivan }, { type: "url", offset: 36, length: 20 }, { type: "pre", offset: 0, length: 5, language: "\"><x" },
  { type: "blockquote", offset: 0, length: 10 }, { type: "custom_emoji", offset: 9, length: 4, custom_emoji_id: "1" }, { type: "spoiler", offset: 1, length: 1 },
];
const base = { message_id: 10, date: DATE, chat: group, from: ivan };
const photo = [{ file_id: "p1", file_unique_id: "u1", width: 90, height: 60, file_size: 1000 }, { file_id: "p2", file_unique_id: "u2", width: 900, height: 600, file_size: 90000 }];

const updates: Array<Record<string, unknown>> = [
  { message: { ...base, text, entities } },
  { message: { ...base, chat: dm, text: "private", reply_to_message: { ...base, chat: dm, message_id: 2, text: "q" } } },
  { message: { ...base, photo, caption: "the <b>dock</b>", caption_entities: [{ type: "bold", offset: 0, length: 3 }] } },
  { message: { ...base, document: { file_id: "d1", file_unique_id: "du", file_name: "<x>.pdf", mime_type: "application/pdf", file_size: 0 } } },
  { message: { ...base, voice: { file_id: "v1", file_unique_id: "vu", duration: 3, mime_type: "audio/ogg", file_size: 100 } } },
  { message: { ...base, video: { file_id: "vi", file_unique_id: "viu", width: 10, height: 10, duration: 2 }, caption: "vid" } },
  { message: { ...base, sticker: { file_id: "s1", file_unique_id: "su", type: "regular", width: 512, height: 512, is_animated: false, is_video: false, emoji: "😀" } } },
  { message: { ...base, location: { latitude: 1.5, longitude: 2.5 } } },
  { message: { ...base, contact: { phone_number: "+100", first_name: "<b>C</b>" } } },
  { message: { ...base, poll: { id: "p", question: "<q>?", options: [{ text: "a", voter_count: 1 }], total_voter_count: 1, is_closed: false, is_anonymous: true, type: "regular", allows_multiple_answers: false } } },
  { message: { ...base, dice: { emoji: "🎲", value: 3 } } },
  { message: { ...base, text: "fwd", forward_origin: { type: "user", date: DATE, sender_user: ivan } } },
  { message: { ...base, text: "fwd2", forward_origin: { type: "hidden_user", date: DATE, sender_user_name: "<i>anon</i>" } } },
  { message: { ...base, chat: forum, message_id: 20, message_thread_id: 15, is_topic_message: true, text: "in topic" } },
  { message: { ...base, chat: forum, message_id: 15, message_thread_id: 15, is_topic_message: true, forum_topic_created: { name: "<b>Topic</b>", icon_color: 1 } } },
  { message: { ...base, new_chat_members: [ivan, { id: 7001, is_bot: true, first_name: "Bot" }] } },
  { message: { ...base, left_chat_member: ivan } },
  { message: { ...base, new_chat_title: "<script>x</script>" } },
  { message: { ...base, new_chat_photo: photo } },
  { message: { ...base, chat: { id: -777, type: "group", title: "old" }, migrate_to_chat_id: -100777 } },
  { channel_post: { message_id: 5, date: DATE, chat: channel, sender_chat: channel, text: "news", author_signature: "<b>Ed</b>" } },
  { edited_message: { ...base, text: "edited", edit_date: DATE + 5, entities: [{ type: "bold", offset: 0, length: 6 }] } },
  { edited_channel_post: { message_id: 5, date: DATE, chat: channel, caption: "new caption", edit_date: DATE + 9 } },
  { message_reaction: { chat: group, message_id: 10, user: ivan, date: DATE, old_reaction: [{ type: "emoji", emoji: "👍" }], new_reaction: [{ type: "emoji", emoji: "❤" }, { type: "custom_emoji", custom_emoji_id: "5" }] } },
  { chat_member: { chat: group, from: ivan, date: DATE, old_chat_member: { status: "left", user: ivan }, new_chat_member: { status: "member", user: ivan } } },
  { my_chat_member: { chat: group, from: ivan, date: DATE, old_chat_member: { status: "left", user: ivan }, new_chat_member: { status: "administrator", user: ivan } } },
  { message_reaction_count: { chat: group, message_id: 10, date: DATE, reactions: [] } },
  { some_future_update: { x: 1 } },
];

let id = 1;
const asUpdate = (body: unknown): Update => ({ update_id: id++, ...(body as object) }) as Update;

function checkAll(evs: RemoteEvent[]): void {
  for (const ev of evs) {
    expect(remoteEventProblems(ev), JSON.stringify(ev).slice(0, 300)).toEqual([]);
    expect(JSON.parse(JSON.stringify(ev))).toEqual(ev);
    if (ev.kind === "message" || ev.kind === "edit") {
      const docs = [ev.msg.doc, ...(ev.msg.files ?? []).map((f) => f.caption ?? [])];
      for (const doc of docs) {
        expect(htmlProblems(docToHtml(doc).formatted_body ?? "")).toEqual([]);
        expect(() => docToMrkdwn(doc)).not.toThrow();
      }
    }
  }
}

describe.each(SEEDS)("Telegram inbound fuzz, seed %i", (seed) => {
  it("the documented shapes map cleanly (the generator's starting points are valid)", () => {
    const all = updates.flatMap((u) => updateToEvents(asUpdate(u), ctx));
    checkAll(all);
    expect(all.length).toBeGreaterThan(20);
  });

  it("mutated updates: never throws (or only an Error from convertUpdate), output well-formed and safe", () => {
    const next = rng(seed);
    for (let k = 0; k < runs(1500); k++) {
      const u = pick(next, updates);
      const update = (next() < 0.85 ? asUpdate(mutate(u, next, 0.25)) : mutate(asUpdate(u), next, 0.2)) as Update;
      let evs: RemoteEvent[] = [];
      expect(() => { evs = updateToEvents(update, ctx); }).not.toThrow();
      checkAll(evs);
      try {
        checkAll(convertUpdate(update, ctx));
      } catch (err) {
        expect(err).toBeInstanceOf(Error); // the connection logs err.message and moves on
      }
      try {
        peopleIn(update);
      } catch (err) {
        expect(err).toBeInstanceOf(Error);
      }
    }
  });

  it("arbitrary values in place of an update", () => {
    const next = rng(seed + 1);
    for (let k = 0; k < runs(500); k++) {
      const x = weird(next) as Update;
      let evs: RemoteEvent[] = [];
      expect(() => { evs = updateToEvents(x, ctx); }).not.toThrow();
      checkAll(evs);
    }
  });
});

describe("Telegram inbound extremes", () => {
  it("a 100 kB text with 10,000 entities maps to one message, quickly", () => {
    const big = hugeString(rng(2), 100_000, "word Привет 👋 ");
    const many = Array.from({ length: 10_000 }, (_, i) => ({ type: pick(rng(i), ["bold", "italic", "code", "spoiler"]), offset: i * 10, length: 5 }));
    const t0 = Date.now();
    const evs = updateToEvents(asUpdate({ message: { ...base, text: big, entities: many } }), ctx);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(evs).toHaveLength(1);
    checkAll(evs);
  });
});
