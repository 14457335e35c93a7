/**
 * Doc → Telegram `parse_mode: "HTML"`, and splitting into messages of ≤ 4096 visible characters.
 *
 * Only the documented subset is produced: b, i, u, s, tg-spoiler, a href, code, pre, pre>code
 * class="language-x", blockquote. Only & < > (and " in attributes) are escaped, as Telegram
 * documents. Rendering goes through a token list (open/close/text) so that splitting can cut
 * inside any element and re-open the same tags in the next part, keeping every part balanced.
 */
import type { Block, ChatTarget, Doc, Inline, MentionTarget } from "./ast.js";
import { blockSeparator, listMarker } from "./ast.js";
import { escapeTelegram, escapeTelegramAttr, safeUrl } from "./escape.js";

export interface TelegramResolve {
  /**
   * How to show a mention on Telegram: a URL (`tg://user?id=N` for a Telegram user, or an
   * https link) to link the mention's text, a string starting with "@" to write that username
   * literally (Telegram links it itself), or null for plain "@Name".
   */
  mention?(target: MentionTarget): string | null;
  /** Same for chat mentions: a URL (e.g. https://t.me/name) or null for plain "#name". */
  chat?(target: ChatTarget): string | null;
}

export type Tok = { t: "open"; html: string; close: string } | { t: "close" } | { t: "text"; s: string };

const LINK_SCHEMES = ["http", "https", "mailto", "tg"];
const TAG = { bold: "b", italic: "i", underline: "u", strike: "s", spoiler: "tg-spoiler" } as const;

export function docToTelegramHtml(doc: Doc, resolve: TelegramResolve = {}): string {
  return tokensToHtml(renderTokens(doc, resolve));
}

export function renderTokens(doc: Doc, resolve: TelegramResolve = {}): Tok[] {
  const out: Tok[] = [];
  blocks(doc, { out, r: resolve, quoteDepth: 0 });
  return out;
}

export function tokensToHtml(toks: readonly Tok[]): string {
  const stack: string[] = [];
  let s = "";
  for (const t of toks) {
    if (t.t === "open") { s += t.html; stack.push(t.close); }
    else if (t.t === "close") s += stack.pop() ?? "";
    else s += escapeTelegram(t.s);
  }
  return s;
}

interface Ctx {
  out: Tok[];
  r: TelegramResolve;
  quoteDepth: number;
}

function blocks(bs: Block[], ctx: Ctx): void {
  bs.forEach((b, i) => {
    if (i > 0) ctx.out.push({ t: "text", s: blockSeparator(bs[i - 1] as Block, b) });
    block(b, ctx, 0);
  });
}

function block(b: Block, ctx: Ctx, listDepth: number): void {
  const { out } = ctx;
  switch (b.type) {
    case "paragraph":
      inlines(b.children, ctx, false);
      return;
    case "pre": {
      const lang = b.language && /^[\w+#.-]+$/.test(b.language) ? b.language : undefined;
      out.push(lang ? { t: "open", html: `<pre><code class="language-${lang}">`, close: "</code></pre>" } : { t: "open", html: "<pre>", close: "</pre>" });
      out.push({ t: "text", s: b.text }, { t: "close" });
      return;
    }
    case "quote": {
      if (ctx.quoteDepth === 0) {
        out.push({ t: "open", html: "<blockquote>", close: "</blockquote>" });
        blocks(b.children, { ...ctx, quoteDepth: 1 });
        out.push({ t: "close" });
        return;
      }
      // Telegram cannot nest blockquotes: inner quotes become "> " lines inside the outer one.
      const inner: Tok[] = [];
      blocks(b.children, { ...ctx, out: inner, quoteDepth: ctx.quoteDepth + 1 });
      out.push(...prefixLines(inner, "> ", "> "));
      return;
    }
    case "list":
      b.items.forEach((item, i) => {
        if (i > 0) out.push({ t: "text", s: "\n" });
        const marker = listMarker(b.ordered, i, listDepth);
        const cont = " ".repeat(marker.length);
        item.forEach((ib, j) => {
          if (j > 0) out.push({ t: "text", s: "\n" });
          if (ib.type === "list") {
            block(ib, ctx, listDepth + 1);
            return;
          }
          const inner: Tok[] = [];
          block(ib, { ...ctx, out: inner }, 0);
          out.push(...prefixLines(inner, j === 0 ? marker : cont, cont));
        });
        if (item.length === 0) out.push({ t: "text", s: marker.trimEnd() });
      });
      return;
  }
}

/** Puts `first` before the first line and `rest` after every newline of the text tokens. */
function prefixLines(toks: Tok[], first: string, rest: string): Tok[] {
  const out: Tok[] = [{ t: "text", s: first }];
  for (const t of toks) out.push(t.t === "text" ? { t: "text", s: t.s.replace(/\n/g, "\n" + rest) } : t);
  return out;
}

function inlines(nodes: Inline[], ctx: Ctx, inLink: boolean): void {
  for (const n of nodes) inline(n, ctx, inLink);
}

function linkTo(url: string, label: string, ctx: Ctx, inLink: boolean): void {
  const safe = inLink ? null : safeUrl(url, LINK_SCHEMES);
  if (!safe) {
    ctx.out.push({ t: "text", s: label });
    return;
  }
  ctx.out.push({ t: "open", html: `<a href="${escapeTelegramAttr(safe)}">`, close: "</a>" }, { t: "text", s: label }, { t: "close" });
}

function inline(n: Inline, ctx: Ctx, inLink: boolean): void {
  const { out } = ctx;
  switch (n.type) {
    case "text": out.push({ t: "text", s: n.text }); return;
    case "br": out.push({ t: "text", s: "\n" }); return;
    case "everyone": out.push({ t: "text", s: n.text }); return;
    case "emoticon": out.push({ t: "text", s: `:${n.name}:` }); return; // Telegram has no custom emoji a bot may send
    case "code":
      out.push({ t: "open", html: "<code>", close: "</code>" }, { t: "text", s: n.text }, { t: "close" });
      return;
    case "bold": case "italic": case "underline": case "strike": case "spoiler": {
      const tag = TAG[n.type];
      out.push({ t: "open", html: `<${tag}>`, close: `</${tag}>` });
      inlines(n.children, ctx, inLink);
      out.push({ t: "close" });
      return;
    }
    case "link": {
      const url = inLink ? null : safeUrl(n.url, LINK_SCHEMES);
      if (!url) {
        inlines(n.children, ctx, inLink);
        return;
      }
      out.push({ t: "open", html: `<a href="${escapeTelegramAttr(url)}">`, close: "</a>" });
      inlines(n.children, ctx, true);
      out.push({ t: "close" });
      return;
    }
    case "mention": {
      const r = ctx.r.mention?.(n.target) ?? null;
      if (r === null) out.push({ t: "text", s: "@" + n.text });
      else if (r.startsWith("@")) out.push({ t: "text", s: r });
      else linkTo(r, n.text, ctx, inLink);
      return;
    }
    case "chat-mention": {
      const r = ctx.r.chat?.(n.target) ?? null;
      if (r === null) out.push({ t: "text", s: "#" + n.text });
      else if (r.startsWith("@")) out.push({ t: "text", s: r });
      else linkTo(r, n.text, ctx, inLink);
      return;
    }
  }
}
