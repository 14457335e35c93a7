/**
 * Property test of the Matrix event parser (src/matrix/events.ts), which sees every event of
 * every appservice transaction: on mutated client-format events and on arbitrary values it
 * never throws (one bad event must not make the homeserver retry the whole transaction
 * forever), and what it returns is a well-formed MatrixInbound whose doc, rendered back to
 * HTML, Slack mrkdwn or Telegram HTML, carries no live markup.
 */
import { describe, expect, it } from "vitest";
import type { MatrixInbound } from "../../../src/core/matrix-port.js";
import { docToHtml } from "../../../src/formatting/html.js";
import { docToMrkdwn } from "../../../src/formatting/slack.js";
import { docToTelegramHtml, splitTelegramHtml } from "../../../src/formatting/telegram.js";
import { parseMatrixEvent, type RawEvent } from "../../../src/matrix/events.js";
import { deepNest, htmlProblems, hugeString, matrixInboundProblems, mutate, pick, rng, runs, SEEDS, weird } from "../../support/fuzz.js";

const ev = (type: string, content: Record<string, unknown>, extra: Record<string, unknown> = {}): RawEvent => ({
  type, event_id: "$e1:example.org", room_id: "!r:example.org", sender: "@alice:example.org", origin_server_ts: 1_700_000_000_000, content, ...extra,
});
const html = "<b>hi</b> <a href=\"javascript:alert(1)\">x</a><img src=x onerror=alert(1)><script>alert(1)</script>" +
  "<a href=\"https://matrix.to/#/@slack_t1_u1:example.org\">Carol</a><pre><code class=\"language-js\">x</code></pre><blockquote>q</blockquote><ul><li>i</li></ul>";

const events: RawEvent[] = [
  ev("m.room.message", { msgtype: "m.text", body: "hello" }),
  ev("m.room.message", { msgtype: "m.text", body: "> <@bob:x> q\n\nanswer", format: "org.matrix.custom.html", formatted_body: `<mx-reply>q</mx-reply>${html}`,
    "m.relates_to": { "m.in_reply_to": { event_id: "$q" } } }),
  ev("m.room.message", { msgtype: "m.notice", body: "n" }),
  ev("m.room.message", { msgtype: "m.emote", body: "waves" }),
  ev("m.room.message", { msgtype: "m.text", body: "in thread", "m.relates_to": { rel_type: "m.thread", event_id: "$root", is_falling_back: true, "m.in_reply_to": { event_id: "$last" } } }),
  ev("m.room.message", { msgtype: "m.text", body: "* new", "m.new_content": { msgtype: "m.text", body: "new", format: "org.matrix.custom.html", formatted_body: html },
    "m.relates_to": { rel_type: "m.replace", event_id: "$old" } }),
  ev("m.room.message", { msgtype: "m.image", body: "cat.png", url: "mxc://example.org/abc", info: { mimetype: "image/png", size: 1234, w: 16, h: 8 } }),
  ev("m.room.message", { msgtype: "m.file", body: "a caption", filename: "doc.pdf", url: "mxc://example.org/def", info: { mimetype: "application/pdf", size: 0 } }),
  ev("m.room.message", { msgtype: "m.audio", body: "voice", url: "mxc://example.org/v", info: { duration: 3000 }, "org.matrix.msc3245.voice": {} }),
  ev("m.sticker", { body: "sticker", url: "mxc://example.org/s", info: { mimetype: "image/webp" } }),
  ev("m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: "$t", key: "👍" } }),
  ev("m.room.redaction", {}, { redacts: "$t" }),
  ev("m.room.redaction", { redacts: "$t2" }),
  ev("m.room.member", { membership: "invite", is_direct: true }, { state_key: "@tandembot:example.org" }),
  ev("m.room.member", { membership: "leave" }, { state_key: "@alice:example.org" }),
  ev("m.room.encrypted", { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "x" }),
  ev("m.poll.start", { "org.matrix.msc3381.poll.start": {} }),
  ev("org.example.custom", { anything: true }),
];

function check(out: MatrixInbound | null): void {
  if (out === null) return;
  expect(matrixInboundProblems(out), JSON.stringify((out as { file?: unknown }).file ?? out).slice(0, 600)).toEqual([]);
  expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  if ("doc" in out) {
    expect(htmlProblems(docToHtml(out.doc).formatted_body ?? "")).toEqual([]);
    const tg = docToTelegramHtml(out.doc);
    expect(htmlProblems(tg)).toEqual([]);
    expect(() => splitTelegramHtml(out.doc, 4096)).not.toThrow();
    // Slack mrkdwn: no live <...> token that Slack would act on (links are <http…|…>, broadcasts come only from @room).
    expect(docToMrkdwn(out.doc)).not.toMatch(/<(?!https?:|mailto:|!here>|!channel>|!everyone>|@U|#C)/);
  }
}

describe.each(SEEDS)("Matrix event parser fuzz, seed %i", (seed) => {
  it("the starting shapes parse (and unknown types are ignored)", () => {
    const parsed = events.map(parseMatrixEvent);
    parsed.forEach(check);
    expect(parsed.filter(Boolean)).toHaveLength(events.length - 3);
  });

  it("mutated events: never throws, output well-formed and safe", () => {
    const next = rng(seed);
    for (let k = 0; k < runs(1500); k++) {
      const raw = mutate(pick(next, events), next, 0.3) as RawEvent;
      let out: MatrixInbound | null = null;
      expect(() => { out = parseMatrixEvent(raw); }).not.toThrow();
      check(out);
    }
  });

  it("arbitrary values in place of an event (null, numbers, arrays, deep nesting)", () => {
    const next = rng(seed + 1);
    for (let k = 0; k < runs(500); k++) {
      const raw = weird(next) as RawEvent;
      let out: MatrixInbound | null = null;
      expect(() => { out = parseMatrixEvent(raw); }).not.toThrow();
      check(out);
    }
  });
});

describe("Matrix event parser extremes", () => {
  it("a 64 KiB formatted body, 5,000-deep HTML and a deeply nested content object", () => {
    const big = ev("m.room.message", { msgtype: "m.text", body: hugeString(rng(3), 60_000, "word "), format: "org.matrix.custom.html",
      formatted_body: hugeString(rng(3), 60_000, "<b>x</b><i>y</i> ") });
    check(parseMatrixEvent(big));
    const deepHtml = ev("m.room.message", { msgtype: "m.text", body: "deep", format: "org.matrix.custom.html", formatted_body: "<blockquote><ul><li>".repeat(5000) + "x" });
    check(parseMatrixEvent(deepHtml));
    const deepContent = ev("m.room.message", { msgtype: "m.text", body: "x", "m.relates_to": deepNest(5000, "object") });
    check(parseMatrixEvent(deepContent));
    for (const x of [null, undefined, 0, "", [], "m.room.message", [ev("m.room.message", { msgtype: "m.text", body: "in an array" })]]) {
      expect(parseMatrixEvent(x as unknown as RawEvent)).toBeNull();
    }
  });
});
