// Slack Events API payloads (shaped as in Slack's event reference) → RemoteEvent[].
import { describe, expect, it } from "vitest";
import type { RemoteEvent } from "../../../../src/core/types.js";
import {
  envelopeToEvents, eventToRemote, mentionedIds, ownFileShare, userInfoFromSlack, type InboundContext,
} from "../../../../src/networks/slack/inbound.js";

const ctx: InboundContext = { team: "T0001", botUserId: "UBOT", botId: "BBOT", appId: "AAPP" };
const names: InboundContext = { ...ctx, userName: (id) => ({ U0002: "bob" } as Record<string, string>)[id] };

const rich = (...elements: unknown[]) => [{ type: "rich_text", block_id: "b1", elements: [{ type: "rich_text_section", elements }] }];

const fileJson = {
  id: "F0001", created: 1700000000, timestamp: 1700000000, name: "cat.png", title: "A cat", mimetype: "image/png",
  filetype: "png", pretty_type: "PNG", user: "U0001", mode: "hosted", editable: false, is_external: false,
  external_type: "", size: 1234, url_private: "https://files.slack.com/files-pri/T0001-F0001/cat.png",
  url_private_download: "https://files.slack.com/files-pri/T0001-F0001/download/cat.png",
  original_w: 640, original_h: 480, permalink: "https://acme.slack.com/files/U0001/F0001/cat.png",
};

interface Case { name: string; event: Record<string, unknown>; ctx?: InboundContext; expected: RemoteEvent[] }

const cases: Case[] = [
  {
    name: "plain message (docs shape, text only)",
    event: { type: "message", channel: "C123ABC456", user: "U123ABC456", text: "Hello world", ts: "1355517523.000005" },
    expected: [{
      kind: "message", key: "msg:T0001:C123ABC456:1355517523.000005", chat: "T0001:C123ABC456", at: 1355517523000,
      ref: "T0001:C123ABC456:1355517523.000005", sender: "T0001:U123ABC456",
      msg: { doc: [{ type: "paragraph", children: [{ type: "text", text: "Hello world" }] }] },
    }],
  },
  {
    name: "rich_text blocks win over text; mentions become remote refs with looked-up names",
    ctx: names,
    event: {
      client_msg_id: "x", type: "message", text: "IGNORED *text*", user: "U0001", ts: "1700000000.000100", team: "T0001",
      blocks: rich({ type: "text", text: "hi " }, { type: "text", text: "there", style: { bold: true } }, { type: "text", text: " " }, { type: "user", user_id: "U0002" }),
      channel: "C0001", event_ts: "1700000000.000100", channel_type: "channel",
    },
    expected: [{
      kind: "message", key: "msg:T0001:C0001:1700000000.000100", chat: "T0001:C0001", at: 1700000000000,
      ref: "T0001:C0001:1700000000.000100", sender: "T0001:U0001",
      msg: { doc: [{ type: "paragraph", children: [
        { type: "text", text: "hi " }, { type: "bold", children: [{ type: "text", text: "there" }] }, { type: "text", text: " " },
        { type: "mention", target: { kind: "remote", network: "slack", id: "T0001:U0002" }, text: "bob" },
      ] }] },
    }],
  },
  {
    name: "thread reply → threadRoot is the parent",
    event: { type: "message", channel: "C0001", user: "U0002", text: "in thread", ts: "1700000001.000200", thread_ts: "1700000000.000100", parent_user_id: "U0001" },
    expected: [{
      kind: "message", key: "msg:T0001:C0001:1700000001.000200", chat: "T0001:C0001", at: 1700000001000,
      ref: "T0001:C0001:1700000001.000200", sender: "T0001:U0002",
      msg: { doc: [{ type: "paragraph", children: [{ type: "text", text: "in thread" }] }], threadRoot: "T0001:C0001:1700000000.000100" },
    }],
  },
  {
    name: "thread_broadcast (also sent to channel) keeps its thread",
    event: { type: "message", subtype: "thread_broadcast", channel: "C0001", user: "U0002", text: "to all", ts: "1700000002.000300", thread_ts: "1700000000.000100", root: { ts: "1700000000.000100", text: "parent" } },
    expected: [{
      kind: "message", key: "msg:T0001:C0001:1700000002.000300", chat: "T0001:C0001", at: 1700000002000,
      ref: "T0001:C0001:1700000002.000300", sender: "T0001:U0002",
      msg: { doc: [{ type: "paragraph", children: [{ type: "text", text: "to all" }] }], threadRoot: "T0001:C0001:1700000000.000100" },
    }],
  },
  {
    name: "me_message → emote",
    event: { type: "message", subtype: "me_message", channel: "C0001", user: "U0001", text: "is doing that thing", ts: "1700000003.000100" },
    expected: [{
      kind: "message", key: "msg:T0001:C0001:1700000003.000100", chat: "T0001:C0001", at: 1700000003000,
      ref: "T0001:C0001:1700000003.000100", sender: "T0001:U0001",
      msg: { doc: [{ type: "paragraph", children: [{ type: "text", text: "is doing that thing" }] }], emote: true },
    }],
  },
  {
    name: "file_share → files with kind, size, dimensions and permalink; caption kept",
    event: { type: "message", subtype: "file_share", text: "look", files: [fileJson], upload: false, user: "U0001", display_as_bot: false, ts: "1700000004.000100", channel: "C0001", channel_type: "channel" },
    expected: [{
      kind: "message", key: "msg:T0001:C0001:1700000004.000100", chat: "T0001:C0001", at: 1700000004000,
      ref: "T0001:C0001:1700000004.000100", sender: "T0001:U0001",
      msg: {
        doc: [{ type: "paragraph", children: [{ type: "text", text: "look" }] }],
        files: [{
          id: `F0001|${fileJson.url_private_download}`, name: "cat.png", mime: "image/png", kind: "image", size: 1234,
          width: 640, height: 480, link: fileJson.permalink,
        }],
      },
    }],
  },
  {
    name: "a message from another bot (bot_message with bot_id only) is a normal sender",
    event: { type: "message", subtype: "bot_message", text: "build passed", bot_id: "B0OTHER", username: "CI", ts: "1700000005.000100", channel: "C0001" },
    expected: [{
      kind: "message", key: "msg:T0001:C0001:1700000005.000100", chat: "T0001:C0001", at: 1700000005000,
      ref: "T0001:C0001:1700000005.000100", sender: "T0001:B0OTHER",
      msg: { doc: [{ type: "paragraph", children: [{ type: "text", text: "build passed" }] }] },
    }],
  },
  {
    name: "a bot message with only attachments uses their text",
    event: { type: "message", subtype: "bot_message", text: "", bot_id: "B0OTHER", ts: "1700000005.000200", channel: "C0001", attachments: [{ fallback: "deploy done", title: "Deploy", text: "all green" }] },
    expected: [{
      kind: "message", key: "msg:T0001:C0001:1700000005.000200", chat: "T0001:C0001", at: 1700000005000,
      ref: "T0001:C0001:1700000005.000200", sender: "T0001:B0OTHER",
      msg: { doc: [{ type: "paragraph", children: [{ type: "text", text: "Deploy" }, { type: "br" }, { type: "text", text: "all green" }] }] },
    }],
  },
  {
    name: "message_changed (docs shape) → edit of the original ts",
    event: {
      type: "message", subtype: "message_changed", hidden: true, channel: "C123ABC456", ts: "1358878755.000001",
      message: { type: "message", user: "U123ABC456", text: "Hello, world!", ts: "1355517523.000005", edited: { user: "U123ABC456", ts: "1358878755.000001" } },
    },
    expected: [{
      kind: "edit", key: "edit:T0001:C123ABC456:1355517523.000005:1358878755.000001", chat: "T0001:C123ABC456", at: 1358878755000,
      target: "T0001:C123ABC456:1355517523.000005", sender: "T0001:U123ABC456",
      msg: { doc: [{ type: "paragraph", children: [{ type: "text", text: "Hello, world!" }] }] },
    }],
  },
  {
    name: "message_changed where only unfurls changed → nothing",
    event: {
      type: "message", subtype: "message_changed", hidden: true, channel: "C0001", ts: "1700000010.000001",
      message: { type: "message", user: "U0001", text: "see <https://x.org>", ts: "1700000009.000001", attachments: [{ title: "x" }] },
      previous_message: { type: "message", user: "U0001", text: "see <https://x.org>", ts: "1700000009.000001" },
    },
    expected: [],
  },
  {
    name: "message_changed to a tombstone (thread parent deleted) → delete",
    event: {
      type: "message", subtype: "message_changed", hidden: true, channel: "C0001", ts: "1700000011.000001", event_ts: "1700000011.000001",
      message: { type: "message", subtype: "tombstone", text: "This message was deleted.", user: "USLACKBOT", hidden: true, ts: "1700000000.000100", thread_ts: "1700000000.000100", reply_count: 1 },
    },
    expected: [{ kind: "delete", key: "del:T0001:C0001:1700000000.000100", chat: "T0001:C0001", at: 1700000011000, target: "T0001:C0001:1700000000.000100" }],
  },
  {
    name: "message_deleted (docs shape) → delete",
    event: { type: "message", subtype: "message_deleted", hidden: true, channel: "C123ABC456", ts: "1358878755.000001", deleted_ts: "1358878749.000002" },
    expected: [{ kind: "delete", key: "del:T0001:C123ABC456:1358878749.000002", chat: "T0001:C123ABC456", at: 1358878755000, target: "T0001:C123ABC456:1358878749.000002" }],
  },
  {
    name: "reaction_added (docs shape) → unicode reaction",
    event: { type: "reaction_added", user: "U123ABC456", reaction: "thumbsup", item_user: "U222222222", item: { type: "message", channel: "C123ABC456", ts: "1360782400.498405" }, event_ts: "1360782804.083113" },
    expected: [{
      kind: "reaction", key: "react:T0001:C123ABC456:1360782400.498405:U123ABC456:thumbsup:add:1360782804.083113", chat: "T0001:C123ABC456",
      at: 1360782804083, target: "T0001:C123ABC456:1360782400.498405", sender: "T0001:U123ABC456", emoji: "👍", on: true,
    }],
  },
  {
    name: "reaction_removed of a custom emoji → :name:",
    event: { type: "reaction_removed", user: "U0002", reaction: "party_parrot", item: { type: "message", channel: "C0001", ts: "1700000000.000100" }, event_ts: "1700000020.000100" },
    expected: [{
      kind: "reaction", key: "react:T0001:C0001:1700000000.000100:U0002:party_parrot:remove:1700000020.000100", chat: "T0001:C0001",
      at: 1700000020000, target: "T0001:C0001:1700000000.000100", sender: "T0001:U0002", emoji: ":party_parrot:", on: false,
    }],
  },
  {
    name: "reaction with a skin tone",
    event: { type: "reaction_added", user: "U0002", reaction: "+1::skin-tone-3", item: { type: "message", channel: "C0001", ts: "1700000000.000100" }, event_ts: "1700000021.000100" },
    expected: [{
      kind: "reaction", key: "react:T0001:C0001:1700000000.000100:U0002:+1::skin-tone-3:add:1700000021.000100", chat: "T0001:C0001",
      at: 1700000021000, target: "T0001:C0001:1700000000.000100", sender: "T0001:U0002", emoji: "👍🏼", on: true,
    }],
  },
  {
    name: "channel_rename → name and room name",
    event: { type: "channel_rename", channel: { id: "C02ELGNBH", name: "new_name", created: 1360782804 }, event_ts: "1700000030.000100" },
    expected: [{ kind: "chat-info", key: "rename:T0001:C02ELGNBH:1700000030.000100", chat: "T0001:C02ELGNBH", at: 1700000030000, info: { name: "new_name", roomName: "new_name (Slack)" } }],
  },
  {
    name: "channel_topic message → topic",
    event: { type: "message", subtype: "channel_topic", ts: "1358877455.000010", user: "U2147483828", topic: "hello world", text: "<@U2147483828|cal> set the channel topic: hello world", channel: "C0001" },
    expected: [{ kind: "chat-info", key: "topic:T0001:C0001:1358877455.000010", chat: "T0001:C0001", at: 1358877455000, info: { topic: "hello world" } }],
  },
  {
    name: "channel_purpose message → topic",
    event: { type: "message", subtype: "channel_purpose", ts: "1358877456.000010", user: "U2147483828", purpose: "whatever", text: "<@U2147483828|cal> set the channel purpose: whatever", channel: "C0001" },
    expected: [{ kind: "chat-info", key: "topic:T0001:C0001:1358877456.000010", chat: "T0001:C0001", at: 1358877456000, info: { topic: "whatever" } }],
  },
  {
    name: "channel_archive (docs shape) → archived",
    event: { type: "channel_archive", channel: "C024BE91L", user: "U024BE7LH", event_ts: "1700000040.000100" },
    expected: [{ kind: "chat-info", key: "archive:T0001:C024BE91L:1700000040.000100", chat: "T0001:C024BE91L", at: 1700000040000, info: { archived: true } }],
  },
  {
    name: "group_unarchive → unarchived",
    event: { type: "group_unarchive", channel: "G024BE91L", user: "U024BE7LH", event_ts: "1700000041.000100" },
    expected: [{ kind: "chat-info", key: "unarchive:T0001:G024BE91L:1700000041.000100", chat: "T0001:G024BE91L", at: 1700000041000, info: { archived: false } }],
  },
  {
    name: "member_joined_channel (docs shape) → membership joined",
    event: { type: "member_joined_channel", user: "W06GH7XHN", channel: "C0698JE0H", channel_type: "C", team: "T024BE7LD", inviter: "U123456789", event_ts: "1700000050.000100" },
    expected: [{ kind: "membership", key: "join:T0001:C0698JE0H:W06GH7XHN:1700000050.000100", chat: "T0001:C0698JE0H", at: 1700000050000, user: "T0001:W06GH7XHN", joined: true }],
  },
  {
    name: "member_left_channel → membership left",
    event: { type: "member_left_channel", user: "W06GH7XHN", channel: "C0698JE0H", channel_type: "C", team: "T024BE7LD", event_ts: "1700000051.000100" },
    expected: [{ kind: "membership", key: "leave:T0001:C0698JE0H:W06GH7XHN:1700000051.000100", chat: "T0001:C0698JE0H", at: 1700000051000, user: "T0001:W06GH7XHN", joined: false }],
  },
  {
    name: "user_change → user-info (display_name first)",
    event: {
      type: "user_change", event_ts: "1700000060.000100", cache_ts: 1700000060,
      user: { id: "U0001", team_id: "T0001", name: "alice", real_name: "Alice Liddell", is_bot: false, profile: { display_name: "Ali", real_name: "Alice Liddell", image_192: "https://a/192.png", image_512: "https://a/512.png" } },
    },
    expected: [{ kind: "user-info", key: "user:T0001:U0001:1700000060.000100", chat: "T0001:T0001", at: 1700000060000, user: "T0001:U0001", info: { name: "Ali", avatar: "https://a/512.png", isBot: false } }],
  },
  // ---- echoes of our own app, and things that are not ours to bridge ----
  { name: "our own post (bot_id)", event: { type: "message", subtype: "bot_message", text: "x", bot_id: "BBOT", username: "Alice", ts: "1.000001", channel: "C0001" }, expected: [] },
  { name: "our own post (bot user)", event: { type: "message", text: "x", user: "UBOT", ts: "1.000002", channel: "C0001" }, expected: [] },
  { name: "our own post (app_id)", event: { type: "message", text: "x", user: "U9", app_id: "AAPP", ts: "1.000003", channel: "C0001" }, expected: [] },
  { name: "our own file upload", event: { type: "message", subtype: "file_share", text: "", files: [fileJson], user: "UBOT", bot_id: "BBOT", ts: "1.000004", channel: "C0001" }, expected: [] },
  { name: "our own edit echo", event: { type: "message", subtype: "message_changed", channel: "C0001", ts: "2.1", message: { text: "y", bot_id: "BBOT", user: "UBOT", ts: "1.000001", edited: { user: "UBOT", ts: "2.1" } }, previous_message: { text: "x", bot_id: "BBOT", ts: "1.000001" } }, expected: [] },
  { name: "our own delete echo", event: { type: "message", subtype: "message_deleted", channel: "C0001", ts: "2.2", deleted_ts: "1.000001", previous_message: { text: "x", bot_id: "BBOT", ts: "1.000001" } }, expected: [] },
  { name: "our own reaction echo", event: { type: "reaction_added", user: "UBOT", reaction: "tada", item: { type: "message", channel: "C0001", ts: "1.1" }, event_ts: "2.3" }, expected: [] },
  { name: "the bot joining a channel", event: { type: "member_joined_channel", user: "UBOT", channel: "C0001", event_ts: "2.4" }, expected: [] },
  { name: "channel_join system message", event: { type: "message", subtype: "channel_join", user: "U0001", text: "<@U0001> has joined the channel", ts: "2.5", channel: "C0001" }, expected: [] },
  { name: "reaction on a file", event: { type: "reaction_added", user: "U0001", reaction: "tada", item: { type: "file", file: "F0001" }, event_ts: "2.6" }, expected: [] },
  { name: "unknown event type", event: { type: "emoji_changed", subtype: "add", name: "x", value: "https://x" }, expected: [] },
  { name: "message without channel", event: { type: "message", user: "U0001", text: "x", ts: "1.0" }, expected: [] },
  { name: "message without sender", event: { type: "message", text: "x", ts: "1.0", channel: "C0001" }, expected: [] },
  { name: "empty message", event: { type: "message", user: "U0001", text: "", ts: "1.0", channel: "C0001" }, expected: [] },
  { name: "garbage fields", event: { type: "message", subtype: "message_changed", channel: "C0001", message: "nope" }, expected: [] },
];

describe("Slack event → RemoteEvent", () => {
  it.each(cases)("$name", ({ event, ctx: c, expected }) => {
    expect(eventToRemote(event, c ?? ctx)).toEqual(expected);
  });

  it("never throws on malformed input", () => {
    for (const bad of [null, undefined, 42, "message", [], { type: "message", channel: 7, ts: {} }, { type: "reaction_added", item: null }, { type: "user_change", user: [] }]) {
      expect(eventToRemote(bad, ctx)).toEqual([]);
      expect(envelopeToEvents(bad, ctx)).toEqual([]);
    }
  });

  it("a redelivered envelope yields the same keys", () => {
    const payload = { type: "event_callback", api_app_id: "AAPP", team_id: "T0001", event_id: "Ev1", event_time: 1700000070, event: { type: "message", channel: "C0001", user: "U0001", text: "hi", ts: "1700000070.000100" } };
    const a = envelopeToEvents(payload, ctx).map((e) => e.key);
    const b = envelopeToEvents(structuredClone(payload), ctx).map((e) => e.key);
    expect(a).toEqual(["msg:T0001:C0001:1700000070.000100"]);
    expect(b).toEqual(a);
  });

  it("the envelope's api_app_id identifies our own app; event_id stands in for a missing event_ts", () => {
    const own = { type: "event_callback", api_app_id: "A0MINE", event: { type: "message", channel: "C0001", user: "U9", app_id: "A0MINE", text: "echo", ts: "1.000001" } };
    expect(envelopeToEvents(own, { team: "T0001" })).toEqual([]);
    const rename = { type: "event_callback", event_id: "Ev0RENAME", event_time: 1700000080, event: { type: "channel_rename", channel: { id: "C0001", name: "ops" } } };
    expect(envelopeToEvents(rename, ctx)).toEqual([{ kind: "chat-info", key: "rename:T0001:C0001:Ev0RENAME", chat: "T0001:C0001", at: 1700000080000, info: { name: "ops", roomName: "ops (Slack)" } }]);
    expect(envelopeToEvents({ type: "app_rate_limited" }, ctx)).toEqual([]);
  });

  it("finds our own file upload and the mentioned ids", () => {
    const payload = { type: "event_callback", api_app_id: "AAPP", event: { type: "message", subtype: "file_share", files: [{ id: "F1" }, { id: "F2" }], user: "UBOT", bot_id: "BBOT", ts: "5.000001", channel: "C0001" } };
    expect(ownFileShare(payload, ctx)).toEqual({ channel: "C0001", ts: "5.000001", fileIds: ["F1", "F2"] });
    expect(ownFileShare({ ...payload, event: { ...payload.event, user: "U0001", bot_id: undefined } }, { team: "T0001", botUserId: "UBOT", botId: "BBOT" })).toBeNull();
    const msg = { event: { type: "message", text: "hi <@U0003> in <#C0009|ops>", blocks: rich({ type: "user", user_id: "U0002" }, { type: "channel", channel_id: "C0008" }) } };
    const ids = mentionedIds(msg);
    expect(ids.users.sort()).toEqual(["U0002", "U0003"]);
    expect(ids.channels.sort()).toEqual(["C0008", "C0009"]);
  });

  it("user profiles: display_name, else real_name, else name; bots too", () => {
    expect(userInfoFromSlack({ id: "U1", name: "bob", real_name: "Bob Builder", profile: { display_name: "", real_name: "Bob Builder", image_192: "https://b/192" } }))
      .toEqual({ name: "Bob Builder", avatar: "https://b/192", isBot: false });
    expect(userInfoFromSlack({ id: "U2", name: "carol", profile: {} })).toEqual({ name: "carol", avatar: undefined, isBot: false });
    expect(userInfoFromSlack({ id: "U3", name: "ci", is_bot: true, profile: { real_name: "CI", image_72: "https://c/72" } })).toEqual({ name: "CI", avatar: "https://c/72", isBot: true });
    expect(userInfoFromSlack("nope")).toBeNull();
  });
});
