// Text formatting for the fake Telegram Bot API: parse_mode HTML / MarkdownV2 / Markdown into
// text + MessageEntity[] (offsets and lengths in UTF-16 code units, which is what JS string indices
// already are), the Bot API's post-processing (trim, nesting fixes, sort) and auto-detected
// entities (bot_command, mention, hashtag, url, email).
//
// The HTML parser follows TDLib's `parse_html` (td/telegram/MessageEntity.cpp), including its
// error texts, which the Bot API returns as "Bad Request: can't parse entities: <text>".
import type { MessageEntity, User } from "grammy/types";

export class EntityParseError extends Error {}

/** Resolves `tg://user?id=N` links to a user for text_mention entities. */
export type UserResolver = (id: number) => User | undefined;

/** Entity under construction; `lang` is carried on code entities until <pre> merges them. */
type Draft = MessageEntity & { lang?: string };

const byteOffset = (s: string, i: number): number => Buffer.byteLength(s.slice(0, i), "utf8");
const isSpace = (c: string | undefined): boolean =>
  c === " " || c === "\t" || c === "\r" || c === "\n" || c === "\v" || c === "\0";
const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9]$/.test(c);

// Sort priority of entity types at equal offset/length (TDLib's get_type_priority).
const PRIORITY: Record<string, number> = {
  blockquote: 0, expandable_blockquote: 0, pre: 11, code: 20, text_link: 49, text_mention: 49,
  mention: 50, hashtag: 50, cashtag: 50, bot_command: 50, url: 50, email: 50, phone_number: 50,
  bold: 90, italic: 91, underline: 92, strikethrough: 93, spoiler: 94, custom_emoji: 99,
};

/** Decodes one HTML character reference at `pos` (TDLib rules: only lt/gt/amp/quot by name). */
function decodeHtmlEntity(s: string, pos: number): { ch: string; next: number } | undefined {
  if (s[pos] !== "&") return undefined;
  let end = pos + 1;
  let code = 0;
  if (s[pos + 1] === "#") {
    end++;
    if (s[pos + 2] === "x") {
      end++;
      while (end < s.length && /[0-9a-fA-F]/.test(s[end]!)) code = code * 16 + parseInt(s[end++]!, 16);
    } else {
      while (end < s.length && /[0-9]/.test(s[end]!)) code = code * 10 + Number(s[end++]);
    }
    if (code === 0 || code >= 0x10ffff || end - pos >= 10) return undefined;
    if (code >= 0xd800 && code <= 0xdfff) {
      throw new EntityParseError(
        "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units",
      );
    }
  } else {
    while (end < s.length && /[A-Za-z]/.test(s[end]!)) end++;
    const name = s.slice(pos + 1, end);
    const named: Record<string, number> = { lt: 60, gt: 62, amp: 38, quot: 34 };
    if (!(name in named)) return undefined;
    code = named[name]!;
  }
  if (s[end] === ";") end++;
  return { ch: String.fromCodePoint(code), next: end };
}

/** Normalises a link the way Telegram does (scheme added, trailing slash); undefined if invalid. */
export function normalizeUrl(raw: string): string | undefined {
  const trimmed = raw;
  if (trimmed === "" || /\s/.test(trimmed)) return undefined;
  const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?([^/?#]+)(.*)$/i.exec(trimmed);
  if (!m) return /^(tg|mailto|tel):/i.test(trimmed) ? trimmed : undefined;
  const scheme = (m[1] ?? "http").toLowerCase();
  if (scheme !== "http" && scheme !== "https") return /^[a-z][a-z0-9+.-]*:/i.test(trimmed) ? trimmed : undefined;
  const host = m[2]!.toLowerCase();
  try {
    const u = new URL(`${scheme}://${host}/`);
    if (!u.hostname.includes(".") && u.hostname !== "localhost") return undefined;
  } catch {
    return undefined;
  }
  const rest = m[3]!;
  return `${scheme}://${host}${rest.startsWith("/") ? rest : `/${rest}`}`;
}

function linkEntity(url: string, offset: number, length: number, users: UserResolver): Draft | undefined {
  const mention = /^tg:\/\/user\?id=(\d+)$/.exec(url.trim());
  if (mention) {
    const user = users(Number(mention[1]));
    return user ? { type: "text_mention", offset, length, user } : undefined;
  }
  const normalized = normalizeUrl(url);
  return normalized ? { type: "text_link", offset, length, url: normalized } : undefined;
}

const HTML_TAGS = new Set([
  "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span",
  "pre", "code", "blockquote",
]);
const SIMPLE_HTML: Record<string, MessageEntity["type"]> = {
  b: "bold", strong: "bold", i: "italic", em: "italic", u: "underline", ins: "underline",
  s: "strikethrough", strike: "strikethrough", del: "strikethrough", "tg-spoiler": "spoiler",
  span: "spoiler",
};

interface OpenTag { tag: string; arg: string; offset: number; consumed: boolean }

/** Telegram's HTML parse mode. Throws EntityParseError with TDLib's message on malformed input. */
export function parseHtml(html: string, users: UserResolver = () => undefined): { text: string; entities: MessageEntity[] } {
  const n = html.length;
  const fail = (msg: string): never => { throw new EntityParseError(msg); };
  let out = "";
  const stack: OpenTag[] = [];
  const entities: Draft[] = [];
  let i = 0;
  while (i < n) {
    const c = html[i]!;
    if (c === "&") {
      const dec = decodeHtmlEntity(html, i);
      if (dec) { out += dec.ch; i = dec.next; continue; }
    }
    if (c !== "<") { out += c; i++; continue; }
    const begin = i++;
    if (html[i] !== "/") {
      while (i < n && !isSpace(html[i]) && html[i] !== ">") i++;
      if (i >= n) fail(`Unclosed start tag at byte offset ${byteOffset(html, begin)}`);
      const tag = html.slice(begin + 1, i).toLowerCase();
      if (!HTML_TAGS.has(tag)) fail(`Unsupported start tag "${tag}" at byte offset ${byteOffset(html, begin)}`);
      let arg = "";
      while (html[i] !== ">") {
        while (i < n && isSpace(html[i])) i++;
        if (i >= n) fail(`Unclosed start tag at byte offset ${byteOffset(html, begin)}`);
        if (html[i] === ">") break;
        const nameStart = i;
        while (i < n && !isSpace(html[i]) && html[i] !== "=" && html[i] !== ">") i++;
        const attr = html.slice(nameStart, i).toLowerCase();
        if (attr === "") fail(`Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(html, begin)}`);
        while (i < n && isSpace(html[i])) i++;
        if (html[i] !== "=") {
          if (tag === "blockquote" && attr === "expandable") arg = "expandable";
          continue;
        }
        i++;
        while (i < n && isSpace(html[i])) i++;
        if (i >= n) fail(`Unclosed start tag "${tag}" at byte offset ${byteOffset(html, begin)}`);
        let value = "";
        const q = html[i];
        if (q !== "'" && q !== '"') {
          const tokenStart = i;
          while (i < n && (isAlnum(html[i]) || html[i] === "." || html[i] === "-")) i++;
          value = html.slice(tokenStart, i).toLowerCase();
          if (!isSpace(html[i]) && html[i] !== ">") {
            fail(`Unexpected end of name token at byte offset ${byteOffset(html, tokenStart)}`);
          }
        } else {
          i++;
          while (i < n && html[i] !== q) {
            const dec = html[i] === "&" ? decodeHtmlEntity(html, i) : undefined;
            if (dec) { value += dec.ch; i = dec.next; } else value += html[i++];
          }
          if (i >= n) fail(`Unclosed start tag at byte offset ${byteOffset(html, begin)}`);
          i++;
        }
        if (tag === "a" && attr === "href") arg = value;
        else if (tag === "code" && attr === "class" && value.startsWith("language-")) arg = value.slice(9);
        else if (tag === "span" && attr === "class") arg = value;
        else if (tag === "tg-emoji" && attr === "emoji-id") arg = value;
        else if (tag === "blockquote" && attr === "expandable") arg = "expandable";
      }
      if (tag === "span" && arg !== "tg-spoiler") {
        fail(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(html, begin)}`);
      }
      stack.push({ tag, arg, offset: out.length, consumed: false });
      i++;
      continue;
    }
    // end tag
    if (stack.length === 0) fail(`Unexpected end tag at byte offset ${byteOffset(html, begin)}`);
    i++;
    while (i < n && !isSpace(html[i]) && html[i] !== ">") i++;
    const endName = html.slice(begin + 2, i).toLowerCase();
    while (i < n && isSpace(html[i])) i++;
    if (html[i] !== ">") fail(`Unclosed end tag at byte offset ${byteOffset(html, begin)}`);
    i++;
    const open = stack.pop()!;
    if (endName !== "" && endName !== open.tag) {
      fail(`Unmatched end tag at byte offset ${byteOffset(html, begin)}, expected "</${open.tag}>", found "</${endName}>"`);
    }
    const offset = open.offset;
    const length = out.length - offset;
    if (length <= 0) continue;
    const simple = SIMPLE_HTML[open.tag];
    const parent = stack[stack.length - 1];
    if (simple) entities.push({ type: simple, offset, length } as Draft);
    else if (open.tag === "tg-emoji") {
      if (!/^\d+$/.test(open.arg)) fail("Invalid custom emoji identifier specified");
      entities.push({ type: "custom_emoji", offset, length, custom_emoji_id: open.arg });
    } else if (open.tag === "a") {
      const e = linkEntity(open.arg || out.slice(offset), offset, length, users);
      if (e) entities.push(e);
    } else if (open.tag === "blockquote") {
      entities.push({ type: open.arg === "expandable" ? "expandable_blockquote" : "blockquote", offset, length });
    } else if (open.tag === "code") {
      if (open.consumed) continue;
      const inPre = parent?.tag === "pre" && parent.offset === offset && open.arg !== "";
      entities.push(inPre ? { type: "code", offset, length, lang: open.arg } : { type: "code", offset, length });
    } else if (open.tag === "pre") {
      const last = entities[entities.length - 1];
      if (last?.type === "code" && last.offset === offset && last.length === length && last.lang) {
        entities[entities.length - 1] = { type: "pre", offset, length, language: last.lang };
      } else if (parent?.tag === "code" && parent.offset === offset && parent.arg !== "") {
        parent.consumed = true;
        entities.push({ type: "pre", offset, length, language: parent.arg });
      } else entities.push({ type: "pre", offset, length });
    }
  }
  if (stack.length > 0) fail(`Can't find end tag corresponding to start tag "${stack[stack.length - 1]!.tag}"`);
  return { text: out, entities: sortEntities(entities.map(({ lang: _lang, ...e }) => e as MessageEntity)) };
}

const MDV2_RESERVED = "_*[]()~`>#+-=|{}.!";

/** Telegram's MarkdownV2 parse mode (TDLib parse_markdown_v2, simplified but with its errors). */
export function parseMarkdownV2(md: string, users: UserResolver = () => undefined): { text: string; entities: MessageEntity[] } {
  type Open = { type: MessageEntity["type"]; offset: number; begin: number };
  const n = md.length;
  const fail = (msg: string): never => { throw new EntityParseError(msg); };
  const names: Record<string, string> = {
    bold: "Bold", italic: "Italic", underline: "Underline", strikethrough: "Strikethrough", spoiler: "Spoiler",
    code: "Code", pre: "Pre", text_link: "TextUrl", custom_emoji: "CustomEmoji",
  };
  let out = "";
  const stack: Open[] = [];
  const entities: MessageEntity[] = [];
  let quote: { offset: number; expandable: boolean } | undefined;
  let preLang = "";
  const closeQuote = (): void => {
    if (quote && out.length > quote.offset) {
      entities.push({ type: quote.expandable ? "expandable_blockquote" : "blockquote", offset: quote.offset, length: out.length - quote.offset });
    }
    quote = undefined;
  };
  let i = 0;
  while (i < n) {
    const c = md[i]!;
    const top = stack[stack.length - 1];
    const lineStart = i === 0 || md[i - 1] === "\n";
    if (lineStart && !top && (c === ">" || (c === "*" && md[i + 1] === "*" && md[i + 2] === ">"))) {
      if (!quote) quote = { offset: out.length, expandable: c === "*" };
      i += c === ">" ? 1 : 3;
      continue;
    }
    if (c === "\n" && quote && !top && md[i + 1] !== ">") closeQuote();
    if (c === "\\" && i + 1 < n && md.charCodeAt(i + 1) > 0 && md.charCodeAt(i + 1) <= 126) {
      out += md[i + 1];
      i += 2;
      continue;
    }
    if (top && (top.type === "code" || top.type === "pre")) {
      const ends = top.type === "code" ? c === "`" : md.startsWith("```", i);
      if (!ends) { out += c; i++; continue; }
    }
    if (quote?.expandable && !top && c === "|" && md[i + 1] === "|" && (i + 2 >= n || md[i + 2] === "\n")) {
      closeQuote();
      i += 2;
      continue;
    }
    if (!MDV2_RESERVED.includes(c)) { out += c; i++; continue; }
    let isEnd = false;
    if (top) {
      switch (top.type) {
        case "bold": isEnd = c === "*"; break;
        case "italic": isEnd = c === "_" && (md[i + 1] !== "_" || md[i + 2] === "_"); break;
        case "underline": isEnd = c === "_" && md[i + 1] === "_"; break;
        case "strikethrough": isEnd = c === "~"; break;
        case "spoiler": isEnd = c === "|" && md[i + 1] === "|"; break;
        case "code": isEnd = c === "`"; break;
        case "pre": isEnd = md.startsWith("```", i); break;
        case "text_link": case "custom_emoji": isEnd = c === "]"; break;
        default: break;
      }
    }
    if (!isEnd) {
      const begin = byteOffset(md, i);
      let type: MessageEntity["type"];
      if (c === "_" && md[i + 1] === "_") { type = "underline"; i += 2; }
      else if (c === "_") { type = "italic"; i++; }
      else if (c === "*") { type = "bold"; i++; }
      else if (c === "~") { type = "strikethrough"; i++; }
      else if (c === "|" && md[i + 1] === "|") { type = "spoiler"; i += 2; }
      else if (c === "[") { type = "text_link"; i++; }
      else if (c === "!" && md[i + 1] === "[") { type = "custom_emoji"; i += 2; }
      else if (md.startsWith("```", i)) {
        type = "pre";
        i += 3;
        const nl = md.indexOf("\n", i);
        const firstLine = nl === -1 ? "" : md.slice(i, nl);
        preLang = nl !== -1 && /^[^\s`]+$/.test(firstLine) ? firstLine : "";
        if (preLang || (nl === i)) i = nl + 1;
      } else if (c === "`") { type = "code"; i++; }
      else return fail(`Character '${c}' is reserved and must be escaped with the preceding '\\'`);
      stack.push({ type, offset: out.length, begin });
      continue;
    }
    const open = stack.pop()!;
    const offset = open.offset;
    const length = out.length - offset;
    if (open.type === "text_link" || open.type === "custom_emoji") {
      i++;
      let url = "";
      if (md[i] === "(") {
        const urlBegin = byteOffset(md, i + 1);
        i++;
        while (i < n && md[i] !== ")") {
          if (md[i] === "\\" && i + 1 < n) { url += md[i + 1]; i += 2; } else url += md[i++];
        }
        if (i >= n) fail(`Can't find end of a URL at byte offset ${urlBegin}`);
        i++;
      } else if (open.type === "text_link") url = out.slice(offset);
      if (open.type === "custom_emoji") {
        const m = /^tg:\/\/emoji\?id=(\d+)$/.exec(url);
        if (!url) fail("The entity must contain a tg://emoji or tg://time URL");
        if (!m) fail("Invalid tg://emoji or tg://time URL specified");
        if (length > 0) entities.push({ type: "custom_emoji", offset, length, custom_emoji_id: m![1]! });
      } else if (length > 0) {
        const e = linkEntity(url, offset, length, users);
        if (e) entities.push(e);
      }
      continue;
    }
    i += open.type === "pre" ? 3 : open.type === "underline" || open.type === "spoiler" ? 2 : 1;
    if (length <= 0) continue;
    if (open.type === "pre") entities.push(preLang ? { type: "pre", offset, length, language: preLang } : { type: "pre", offset, length });
    else entities.push({ type: open.type, offset, length } as MessageEntity);
  }
  if (stack.length > 0) {
    const open = stack[stack.length - 1]!;
    const name = open.type === "pre" && preLang ? "PreCode" : names[open.type] ?? open.type;
    fail(`Can't find end of ${name} entity at byte offset ${open.begin}`);
  }
  closeQuote();
  return { text: out, entities: sortEntities(entities) };
}

/** Legacy "Markdown" parse mode: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting. */
export function parseMarkdownLegacy(md: string, users: UserResolver = () => undefined): { text: string; entities: MessageEntity[] } {
  let out = "";
  const entities: MessageEntity[] = [];
  let i = 0;
  while (i < md.length) {
    const c = md[i]!;
    if (c === "\\" && "_*`[".includes(md[i + 1] ?? "")) { out += md[i + 1]; i += 2; continue; }
    if (!"_*`[".includes(c)) { out += c; i++; continue; }
    const begin = byteOffset(md, i);
    const fail = (): never => { throw new EntityParseError(`Can't find end of the entity starting at byte offset ${begin}`); };
    if (c === "[") {
      const close = md.indexOf("]", i + 1);
      if (close === -1) fail();
      const label = md.slice(i + 1, close);
      let url = label;
      i = close + 1;
      if (md[i] === "(") {
        const end = md.indexOf(")", i);
        if (end === -1) fail();
        url = md.slice(i + 1, end);
        i = end + 1;
      }
      const e = linkEntity(url, out.length, label.length, users);
      if (e && label.length > 0) entities.push(e);
      out += label;
      continue;
    }
    const fence = c === "`" && md.startsWith("```", i) ? "```" : c;
    const end = md.indexOf(fence, i + fence.length);
    if (end === -1) fail();
    let inner = md.slice(i + fence.length, end);
    let language: string | undefined;
    if (fence === "```") {
      const nl = inner.indexOf("\n");
      if (nl > 0 && /^[^\s`]+$/.test(inner.slice(0, nl))) { language = inner.slice(0, nl); inner = inner.slice(nl + 1); }
    }
    const type = fence === "```" ? "pre" : c === "`" ? "code" : c === "*" ? "bold" : "italic";
    if (inner.length > 0) {
      entities.push(language ? { type: "pre", offset: out.length, length: inner.length, language } : { type, offset: out.length, length: inner.length } as MessageEntity);
    }
    out += inner;
    i = end + fence.length;
  }
  return { text: out, entities };
}

/** Entities Telegram detects by itself in any text (bot_command, mention, hashtag, url, email). */
export function detectEntities(text: string): MessageEntity[] {
  const found: MessageEntity[] = [];
  const rules: Array<[MessageEntity["type"], RegExp]> = [
    ["email", /(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w@])/g],
    ["url", /(?<![\w@/.])(?:https?:\/\/[^\s<>"]+|www\.[^\s<>"]+)/gi],
    ["bot_command", /(?<![\w/@])\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])/g],
    ["mention", /(?<![\w@/])@[A-Za-z0-9_]{3,32}(?![\w@])/g],
    ["hashtag", /(?<![\w#&])#[\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*/gu],
  ];
  for (const [type, re] of rules) {
    for (const m of text.matchAll(re)) {
      let value = m[0];
      if (type === "url") value = value.replace(/[.,;:!?)\]]+$/, "");
      const offset = m.index;
      if (found.some((e) => offset < e.offset + e.length && e.offset < offset + value.length)) continue;
      found.push({ type, offset, length: value.length } as MessageEntity);
    }
  }
  return found;
}

export function sortEntities(entities: MessageEntity[]): MessageEntity[] {
  return [...entities].sort((a, b) =>
    a.offset - b.offset || b.length - a.length || (PRIORITY[a.type] ?? 50) - (PRIORITY[b.type] ?? 50));
}

/**
 * The Bot API's post-processing of formatted text: trims surrounding whitespace (shifting and
 * clipping entities), drops empty entities and code nested in pre, adds auto-detected entities
 * where no code/pre/link covers the text, and sorts.
 */
export function finalizeText(text: string, entities: MessageEntity[], autoDetect = true): { text: string; entities: MessageEntity[] } {
  const lead = text.length - text.trimStart().length;
  const trimmed = text.trim();
  let result: MessageEntity[] = [];
  for (const e of entities) {
    const start = Math.max(e.offset - lead, 0);
    const end = Math.min(e.offset + e.length - lead, trimmed.length);
    if (end > start) result.push({ ...e, offset: start, length: end - start });
  }
  result = result.filter((e) => !(e.type === "code" && result.some((p) =>
    p.type === "pre" && p.offset <= e.offset && e.offset + e.length <= p.offset + p.length)));
  if (autoDetect) {
    const blockers = new Set(["code", "pre", "text_link", "text_mention", "url", "email", "mention", "bot_command", "hashtag", "custom_emoji"]);
    for (const d of detectEntities(trimmed)) {
      const blocked = result.some((e) => blockers.has(e.type) && d.offset < e.offset + e.length && e.offset < d.offset + d.length);
      if (!blocked) result.push(d);
    }
  }
  return { text: trimmed, entities: sortEntities(result) };
}

/** Parses `text` in the given parse_mode (undefined/"" = plain). */
export function parseFormatted(text: string, parseMode: string | undefined, users: UserResolver): { text: string; entities: MessageEntity[] } {
  switch ((parseMode ?? "").toLowerCase()) {
    case "": return { text, entities: [] };
    case "html": return parseHtml(text, users);
    case "markdownv2": return parseMarkdownV2(text, users);
    case "markdown": return parseMarkdownLegacy(text, users);
    default: throw new EntityParseError(`Unsupported parse_mode`);
  }
}

/** Validates caller-supplied entities against the text (UTF-16 bounds). */
export function checkEntities(text: string, entities: MessageEntity[]): void {
  for (const e of entities) {
    if (!Number.isInteger(e.offset) || !Number.isInteger(e.length) || e.offset < 0 || e.length < 0) {
      throw new EntityParseError("entity offset or length is invalid");
    }
    if (e.offset + e.length > text.length) throw new EntityParseError("entity ends after the end of the text");
  }
}
