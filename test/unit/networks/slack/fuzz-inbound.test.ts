/**
 * Property test of the Slack inbound mapper (src/networks/slack/inbound.ts) on mutated,
 * recorded-shaped Events API payloads: it never throws, every RemoteEvent it makes is
 * well-formed (the keys of its kind, finite times, docs of known node types), the helpers
 * the connection calls first (mentionedIds, ownFileShare, userInfoFromSlack) cope too, and
 * whatever it makes renders to Matrix HTML without live markup, even when the names the
 * connection looked up are themselves hostile.
 */
import { describe, expect, it } from "vitest";
import type { RemoteEvent } from "../../../../src/core/types.js";
import { docToHtml } from "../../../../src/formatting/html.js";
import { docToMrkdwn } from "../../../../src/formatting/slack.js";
import { docToTelegramHtml } from "../../../../src/formatting/telegram.js";
import {
  envelopeToEvents, eventToRemote, mentionedIds, ownFileShare, userInfoFromSlack, type InboundContext,
} from "../../../../src/networks/slack/inbound.js";
import { htmlProblems, mutate, pick, remoteEventProblems, rng, runs, SEEDS, weird, hugeString, deepNest } from "../../../support/fuzz.js";

const HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>";
const ctx: InboundContext = {
  team: "T0001", botUserId: "UBOT", botId: "BBOT", appId: "AAPP",
  userName: (id) => (id === "U0002" ? HOSTILE : undefined),
  chatName: (id) => (id === "C0002" ? `"><svg onload=alert(1)>` : undefined),
};

const rich = (...elements: unknown[]) => [{ type: "rich_text", block_id: "b1", elements: [
  { type: "rich_text_section", elements },
  { type: "rich_text_list", style: "bullet", indent: 0, elements: [{ type: "rich_text_section", elements: [{ type: "text", text: "item" }] }] },
  { type: "rich_text_preformatted", elements: [{ type: "text", text: "code <b>" }] },
  { type: "rich_text_quote", elements: [{ type: "text", text: "quoted" }] },
] }];

const file = {
  id: "F0001", name: "cat.png", title: "A cat", mimetype: "image/png", filetype: "png", user: "U0001", mode: "hosted",
  size: 1234, url_private: "https://files.slack.com/files-pri/T0001-F0001/cat.png",
  url_private_download: "https://files.slack.com/files-pri/T0001-F0001/download/cat.png",
  original_w: 640, original_h: 480, permalink: "https://acme.slack.com/files/U0001/F0001/cat.png",
};

const events: Array<Record<string, unknown>> = [
  { type: "message", channel: "C0001", user: "U0001", text: "hi <@U0002> in <#C0002> <https://x.example|link> <!here> :wave: *b* _i_ ~s~ `c`", ts: "1700000000.000100",
    blocks: rich({ type: "text", text: "hi " }, { type: "user", user_id: "U0002" }, { type: "channel", channel_id: "C0002" },
      { type: "link", url: "https://x.example", text: "link" }, { type: "emoji", name: "wave" }, { type: "broadcast", range: "here" },
      { type: "text", text: "bold", style: { bold: true, italic: true, strike: true, code: true } }), event_ts: "1700000000.000100", channel_type: "channel" },
  { type: "message", subtype: "me_message", channel: "C0001", user: "U0001", text: "waves", ts: "1700000000.000200" },
  { type: "message", subtype: "file_share", channel: "C0001", user: "U0001", text: "look", ts: "1700000000.000300",
    files: [file, { ...file, id: "F0002", mode: "hidden_by_limit" }, { ...file, id: "F0003", is_external: true }, { id: "F0004", mode: "tombstone" }] },
  { type: "message", subtype: "bot_message", channel: "C0001", bot_id: "B0001", text: "", ts: "1700000000.000400",
    attachments: [{ pretext: "pre", title: "title", text: "att <b>text</b>", fallback: "fb" }],
    blocks: [{ type: "section", text: { type: "mrkdwn", text: "*section*" }, fields: [{ type: "mrkdwn", text: "field" }] }, { type: "context", elements: [{ type: "mrkdwn", text: "ctx" }] }] },
  { type: "message", channel: "C0001", user: "U0002", text: "in thread", ts: "1700000001.000200", thread_ts: "1700000000.000100" },
  { type: "message", subtype: "message_changed", channel: "C0001", hidden: true, ts: "1700000002.000000", event_ts: "1700000002.000000",
    message: { type: "message", user: "U0001", text: "edited <@U0002>", ts: "1700000000.000100", edited: { user: "U0001", ts: "1700000002.000000" } },
    previous_message: { type: "message", user: "U0001", text: "hi", ts: "1700000000.000100" } },
  { type: "message", subtype: "message_changed", channel: "C0001", ts: "1700000003.000000", message: { subtype: "tombstone", ts: "1700000000.000100", text: "" } },
  { type: "message", subtype: "message_deleted", channel: "C0001", ts: "1700000004.000000", deleted_ts: "1700000000.000100", previous_message: { user: "U0001", text: "x", ts: "1700000000.000100" } },
  { type: "message", subtype: "channel_topic", channel: "C0001", user: "U0001", topic: "<script>alert(1)</script> topic", ts: "1700000005.000000" },
  { type: "message", subtype: "channel_purpose", channel: "C0001", user: "U0001", purpose: "purpose", ts: "1700000005.000100" },
  { type: "reaction_added", user: "U0001", reaction: "thumbsup::skin-tone-3", item: { type: "message", channel: "C0001", ts: "1700000000.000100" }, event_ts: "1700000006.000000" },
  { type: "reaction_removed", user: "U0001", reaction: "party_parrot", item: { type: "message", channel: "C0001", ts: "1700000000.000100" }, event_ts: "1700000006.000100" },
  { type: "channel_rename", channel: { id: "C0001", name: "<b>renamed</b>", created: 1 }, event_ts: "1700000007.000000" },
  { type: "channel_archive", channel: "C0001", user: "U0001", event_ts: "1700000008.000000" },
  { type: "group_unarchive", channel: "G0001", user: "U0001", event_ts: "1700000008.000100" },
  { type: "member_joined_channel", user: "U0003", channel: "C0001", channel_type: "C", event_ts: "1700000009.000000" },
  { type: "member_left_channel", user: "U0003", channel: "C0001", event_ts: "1700000009.000100" },
  { type: "user_change", user: { id: "U0001", name: "carol", real_name: "Carol <b>D</b>", profile: { display_name: "\"><img onerror=x>", image_512: "https://avatars.example/c.png" }, updated: 1 }, cache_ts: 1, event_ts: "1700000010.000000" },
  { type: "app_mention", user: "U0001", text: "<@UBOT> hi", ts: "1700000011.000000", channel: "C0001" },
  { type: "some_future_event", whatever: [1, 2, 3] },
];

const envelope = (event: unknown) => ({
  token: "x", team_id: "T0001", api_app_id: "AAPP", event, type: "event_callback", event_id: "Ev0001", event_time: 1700000000,
  authorizations: [{ team_id: "T0001", user_id: "UBOT", is_bot: true }],
});

function checkAll(evs: RemoteEvent[]): void {
  for (const ev of evs) {
    expect(remoteEventProblems(ev), JSON.stringify(ev).slice(0, 300)).toEqual([]);
    // What the queue stores is JSON: the event must survive the round trip unchanged.
    expect(JSON.parse(JSON.stringify(ev))).toEqual(ev);
    if (ev.kind === "message" || ev.kind === "edit") {
      const out = docToHtml(ev.msg.doc, { mention: () => ({ mxid: "@slack_t0001_u0002:example.org", name: HOSTILE }) });
      expect(htmlProblems(out.formatted_body ?? ""), out.formatted_body).toEqual([]);
      expect(() => docToMrkdwn(ev.msg.doc)).not.toThrow();
      expect(htmlProblems(docToTelegramHtml(ev.msg.doc))).toEqual([]);
    }
  }
}

describe.each(SEEDS)("Slack inbound fuzz, seed %i", (seed) => {
  it("well-formed recorded shapes map cleanly (the generator's starting points are valid)", () => {
    for (const ev of events) checkAll(envelopeToEvents(envelope(ev), ctx));
    expect(events.flatMap((ev) => envelopeToEvents(envelope(ev), ctx)).length).toBeGreaterThan(15);
  });

  it("mutated events and envelopes: never throws, output always well-formed and safe", () => {
    const next = rng(seed);
    for (let k = 0; k < runs(1500); k++) {
      const base = pick(next, events);
      const payload = next() < 0.8 ? envelope(mutate(base, next, 0.25)) : mutate(envelope(base), next, 0.2);
      const c = next() < 0.2 ? { ...ctx, botUserId: undefined, botId: undefined, appId: undefined } : ctx;
      let evs: RemoteEvent[] = [];
      expect(() => { evs = envelopeToEvents(payload, c); }).not.toThrow();
      checkAll(evs);
      expect(() => eventToRemote((payload as { event?: unknown } | null)?.event, c)).not.toThrow();
      expect(() => mentionedIds(payload)).not.toThrow();
      expect(() => ownFileShare(payload, c)).not.toThrow();
      const user = ((payload as { event?: { user?: unknown } } | null)?.event ?? {}).user;
      const info = userInfoFromSlack(user);
      if (info) expect(typeof info.name === "string" && info.name.length > 0).toBe(true);
    }
  });

  it("arbitrary values in place of a payload or an event", () => {
    const next = rng(seed + 1);
    for (let k = 0; k < runs(500); k++) {
      const x = weird(next);
      expect(envelopeToEvents(x, ctx)).toEqual([]);
      checkAll(eventToRemote(x, ctx));
      expect(() => mentionedIds(x)).not.toThrow();
      expect(ownFileShare(x, ctx) === null || typeof ownFileShare(x, ctx) === "object").toBe(true);
    }
  });
});

describe("Slack inbound extremes", () => {
  it("a 100 kB message, 10,000 mentions and 5,000-deep blocks map without throwing or hanging", () => {
    const big = envelopeToEvents(envelope({ type: "message", channel: "C0001", user: "U0001", ts: "1.1", text: hugeString(rng(1), 100_000, "word *bold* ") }), ctx);
    expect(big).toHaveLength(1);
    checkAll(big);
    const t0 = Date.now();
    const mentions = envelopeToEvents(envelope({ type: "message", channel: "C0001", user: "U0001", ts: "1.2", text: "<@U0002> ".repeat(10_000) }), ctx);
    checkAll(mentions);
    const deep = envelope({ type: "message", channel: "C0001", user: "U0001", ts: "1.3", text: "deep", blocks: [deepNest(5000, "object")] });
    checkAll(envelopeToEvents(deep, ctx));
    expect(mentionedIds(deep)).toEqual({ users: [], channels: [] });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
