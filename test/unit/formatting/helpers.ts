/** Terse builders for expected docs, a seeded random generator, and an HTML text extractor. */
import { Parser } from "htmlparser2";
import type { Block, ChatTarget, Inline, MentionTarget } from "../../../src/formatting/ast.js";

export const t = (text: string): Extract<Inline, { type: "text" }> => ({ type: "text", text });
export const br: Inline = { type: "br" };
const kids = (c: (Inline | string)[]): Inline[] => c.map((x) => (typeof x === "string" ? t(x) : x));
export const b = (...c: (Inline | string)[]): Inline => ({ type: "bold", children: kids(c) });
export const i = (...c: (Inline | string)[]): Inline => ({ type: "italic", children: kids(c) });
export const u = (...c: (Inline | string)[]): Inline => ({ type: "underline", children: kids(c) });
export const s = (...c: (Inline | string)[]): Inline => ({ type: "strike", children: kids(c) });
export const spoiler = (...c: (Inline | string)[]): Inline => ({ type: "spoiler", children: kids(c) });
export const code = (text: string): Inline => ({ type: "code", text });
export const a = (url: string, ...c: (Inline | string)[]): Inline => ({ type: "link", url, children: kids(c) });
export const mention = (target: MentionTarget, text: string): Inline => ({ type: "mention", target, text });
export const chat = (target: ChatTarget, text: string): Inline => ({ type: "chat-mention", target, text });
export const everyone = (text: string): Inline => ({ type: "everyone", text });
export const slackUser = (id: string): MentionTarget => ({ kind: "remote", network: "slack", id });
export const tgUser = (id: string): MentionTarget => ({ kind: "remote", network: "telegram", id });
export const mx = (mxid: string): MentionTarget => ({ kind: "matrix", mxid });

export const p = (...c: (Inline | string)[]): Block => ({ type: "paragraph", children: kids(c) });
export const pre = (text: string, language?: string): Block => (language ? { type: "pre", text, language } : { type: "pre", text });
export const quote = (...children: Block[]): Block => ({ type: "quote", children });
export const ul = (...items: Block[][]): Block => ({ type: "list", ordered: false, items });
export const ol = (...items: Block[][]): Block => ({ type: "list", ordered: true, items });

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let r = Math.imul(x ^ (x >>> 15), 1 | x);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pieces that stress every parser: markup of all three formats, entities, emoji, newlines. */
export const NASTY_PIECES = [
  "a", "b", "word", " ", "  ", "\n", "\n\n", "\t", "<", ">", "&", "&amp;", "&lt;", "&gt;", "&#x3c;", "\"", "'",
  "*", "_", "~", "`", "```", "|", ":", ":smile:", ":+1::skin-tone-3:", "•", "- ", "1. ", "> ", "&gt; ", ">>>",
  "<b>", "</b>", "<i>", "<p>", "</p>", "<br>", "<pre><code>", "</code></pre>", "<blockquote>", "<ul><li>", "</li>",
  "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><img onerror=alert(1)>", "<a href=\"javascript:alert(1)\">",
  "<a href=\"https://matrix.to/#/@u:s\">", "</a>", "<span data-mx-spoiler>", "<mx-reply>", "@room", "<svg onload=alert(1)>",
  "<@U1>", "<#C1|gen>", "<!here>", "<https://x.y|l>", "<mailto:a@b>", "<!date^1^x|d>",
  "👋", "🏽", "👍🏽", "\uD83D", "\uDE00", "Привет", "日本語", "\u200B", "\u0000",
];

export function randomString(next: () => number, maxPieces = 24): string {
  const n = Math.floor(next() * maxPieces);
  let out = "";
  for (let k = 0; k < n; k++) {
    if (next() < 0.7) out += NASTY_PIECES[Math.floor(next() * NASTY_PIECES.length)];
    else out += String.fromCharCode(32 + Math.floor(next() * 95));
  }
  return out;
}

/** What Telegram shows for an HTML message: the text content with entities decoded. */
export function visibleText(html: string): string {
  let out = "";
  const parser = new Parser({ ontext: (x) => { out += x; } }, { decodeEntities: true });
  parser.write(html);
  parser.end();
  return out;
}

/** Tag names in order of opening and closing, to check balance. */
export function tagEvents(html: string): string[] {
  const ev: string[] = [];
  const parser = new Parser({
    onopentag: (name) => ev.push("+" + name),
    onclosetag: (name, implied) => ev.push((implied ? "~" : "-") + name),
  });
  parser.write(html);
  parser.end();
  return ev;
}
