/**
 * Property tests over seeded random input (fast-check is not installed; mulberry32 in helpers.ts
 * keeps failures reproducible: the seed is in the test name).
 */
import { describe, expect, it } from "vitest";
import { Parser } from "htmlparser2";
import type { MessageEntity } from "grammy/types";
import { normalizeDoc, type Doc } from "../../../src/formatting/ast.js";
import { docToHtml, htmlToDoc } from "../../../src/formatting/html.js";
import { docToMrkdwn, mrkdwnToDoc, richTextToDoc } from "../../../src/formatting/slack.js";
import { docToTelegramHtml, entitiesToDoc, splitTelegramHtml } from "../../../src/formatting/telegram.js";
import { randomString, rng, tagEvents, visibleText } from "./helpers.js";

const RUNS = 600;
const SEEDS = [1, 42, 20240601];

const ENTITY_TYPES = [
  "bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre", "text_link", "url", "email", "mention",
  "text_mention", "blockquote", "expandable_blockquote", "hashtag", "custom_emoji", "bot_command",
];

function randomEntities(next: () => number, len: number, types = ENTITY_TYPES): MessageEntity[] {
  const n = Math.floor(next() * 8);
  const out: MessageEntity[] = [];
  for (let k = 0; k < n; k++) {
    const offset = Math.floor(next() * (len + 2)) - 1;
    const length = Math.floor(next() * (len + 2));
    const type = types[Math.floor(next() * types.length)] as string;
    out.push({
      type, offset, length, language: "py", url: next() < 0.5 ? "https://x.y/\"'<>" : "javascript:alert(1)",
      user: { id: Math.floor(next() * 1000), is_bot: false, first_name: "<b>x</b>" }, custom_emoji_id: "1",
    } as MessageEntity);
  }
  return out;
}

/** Every element and attribute in `html`, to check against an allow-list. */
function elements(html: string): { tags: Set<string>; attrs: Set<string> } {
  const tags = new Set<string>();
  const attrs = new Set<string>();
  const parser = new Parser({
    onopentag: (name, a) => {
      tags.add(name);
      for (const k of Object.keys(a)) attrs.add(`${name}.${k}=${k === "href" ? (a[k] as string).split(":")[0] : ""}`);
    },
  });
  parser.write(html);
  parser.end();
  return { tags, attrs };
}

const MATRIX_TAGS = new Set(["strong", "em", "u", "del", "span", "code", "pre", "a", "br", "p", "blockquote", "ul", "ol", "li"]);
/** Every attribute as tag.name=scheme: only link schemes we allow, no event handlers or styles. */
const MATRIX_ATTRS = ["a.href=https", "a.href=http", "a.href=mailto", "code.class=", "span.data-mx-spoiler="];
const TELEGRAM_TAGS = new Set(["b", "i", "u", "s", "tg-spoiler", "a", "code", "pre", "blockquote"]);

describe.each(SEEDS)("seed %i", (seed) => {
  it("no parser throws on random input, and all produce normalized docs", () => {
    const next = rng(seed);
    for (let k = 0; k < RUNS; k++) {
      const x = randomString(next);
      const docs: Doc[] = [
        htmlToDoc(x),
        mrkdwnToDoc(x),
        entitiesToDoc(x, randomEntities(next, x.length)),
        richTextToDoc([{ type: "rich_text", elements: [{ type: "rich_text_section", elements: [{ type: "text", text: x, style: { bold: next() < 0.5 } }] }] }]),
      ];
      for (const d of docs) expect(normalizeDoc(d)).toEqual(d);
    }
  });

  it("docToHtml(htmlToDoc(x)) never contains live HTML, and is a fixed point after one pass", () => {
    const next = rng(seed);
    for (let k = 0; k < RUNS; k++) {
      const x = randomString(next);
      const once = docToHtml(htmlToDoc(x));
      const f = once.formatted_body ?? "";
      expect(f).not.toMatch(/<script|<img|<svg|<iframe/i);
      const { tags, attrs } = elements(f);
      for (const tag of tags) expect(MATRIX_TAGS.has(tag), `tag ${tag} in ${f}`).toBe(true);
      for (const attr of attrs) expect(MATRIX_ATTRS).toContain(attr);
      if (once.formatted_body !== undefined) expect(docToHtml(htmlToDoc(once.formatted_body))).toEqual(once);
    }
  });

  it("other sources rendered to Matrix HTML are safe too", () => {
    const next = rng(seed + 1);
    for (let k = 0; k < RUNS; k++) {
      const x = randomString(next);
      for (const d of [mrkdwnToDoc(x), entitiesToDoc(x, randomEntities(next, x.length))]) {
        const f = docToHtml(d, { mention: () => ({ mxid: "@a:b", name: x }) }).formatted_body ?? "";
        const { tags, attrs } = elements(f);
        for (const tag of tags) expect(MATRIX_TAGS.has(tag), `tag ${tag} in ${f}`).toBe(true);
        for (const attr of attrs) expect(MATRIX_ATTRS).toContain(attr);
      }
    }
  });

  it("mrkdwn output never carries raw < > & outside Slack tokens", () => {
    const next = rng(seed + 2);
    for (let k = 0; k < RUNS; k++) {
      const out = docToMrkdwn(htmlToDoc(randomString(next)));
      // Remove what may legitimately be raw: link tokens, broadcasts, and "> " quote markers at
      // line starts (after list markers); text ">" is always escaped, so nothing else can hide there.
      const stripped = out.replace(/<(?:https?:|mailto:)[^<>|\s]*(?:\|[^<>]*)?>|<![a-z]+>/g, "").replace(/^[\s•◦▪\d.>]*/gm, "");
      expect(stripped).not.toMatch(/[<>]|&(?!amp;|lt;|gt;)/);
    }
  });

  it("style entities → doc → Telegram HTML keeps the exact text", () => {
    const next = rng(seed + 3);
    const styles = ["bold", "italic", "underline", "strikethrough", "spoiler", "code", "text_link", "url"];
    for (let k = 0; k < RUNS; k++) {
      const x = randomString(next).replace(/\r/g, "");
      if (x.trim() === "") continue;
      const html = docToTelegramHtml(entitiesToDoc(x, randomEntities(next, x.length, styles)));
      expect(visibleText(html)).toBe(x);
      expect(tagEvents(html).filter((e) => e.startsWith("~"))).toEqual([]);
    }
  });

  it("splitTelegramHtml: parts fit, balance, use Telegram tags, and concatenate to the whole", () => {
    const next = rng(seed + 4);
    for (let k = 0; k < RUNS / 2; k++) {
      const x = Array.from({ length: 1 + Math.floor(next() * 6) }, () => randomString(next, 60)).join("");
      const doc = next() < 0.5 ? htmlToDoc(x) : entitiesToDoc(x, randomEntities(next, x.length));
      const limit = 8 + Math.floor(next() * 120);
      const parts = splitTelegramHtml(doc, limit);
      const whole = visibleText(docToTelegramHtml(doc));
      expect(parts.map(visibleText).join("")).toBe(whole);
      for (const part of parts) {
        expect(visibleText(part).length).toBeLessThanOrEqual(limit);
        expect(tagEvents(part).filter((e) => e.startsWith("~"))).toEqual([]);
        for (const tag of elements(part).tags) expect(TELEGRAM_TAGS.has(tag)).toBe(true);
      }
      if (whole.length <= limit && whole.length > 0) expect(parts).toEqual([docToTelegramHtml(doc)]);
    }
  });
});
