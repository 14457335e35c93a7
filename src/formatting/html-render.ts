/**
 * Doc → Matrix message content (`body` + optional `formatted_body`). Output uses only tags from
 * the spec's recommended set; every text, name and URL is escaped, and only http(s)/mailto links
 * (matrix.to is https) survive, so nothing from a remote network can become live HTML.
 */
import type { Block, ChatTarget, Doc, Inline, MentionTarget } from "./ast.js";
import { plainText } from "./ast.js";
import { escapeHtml, safeUrl } from "./escape.js";
import { matrixToUrl } from "./matrix-links.js";

export interface MatrixResolve {
  /**
   * A mention's Matrix user: the ghost for a remote user, or null to render plain "@Name".
   * `name` is the pill text; when empty the mention's own text is used.
   */
  mention?(target: MentionTarget): { mxid: string; name: string } | null;
  /** A chat mention's room: `link` is an alias or room id; `name` as above. */
  chat?(target: ChatTarget): { link: string; name: string } | null;
  /** A custom emoji's image (mxc URI) by name, when the node does not carry one; null: plain ":name:". */
  emoticon?(name: string): string | null;
}

export interface MatrixContent {
  body: string;
  /** Absent when the message has no formatting, so the sender can omit `format` too. */
  formatted_body?: string;
  /**
   * Intentional mentions (`m.mentions`) implied by the doc: every resolved user pill, and
   * `room: true` when the doc has an `everyone` node. Whether to ping is the caller's policy
   * (a remote "@channel" may not deserve an @room).
   */
  mentions: { user_ids: string[]; room?: true };
}

type MentionNode = Extract<Inline, { type: "mention" }>;
type ChatNode = Extract<Inline, { type: "chat-mention" }>;
interface Resolved { href: string; display: string; mxid?: string }

interface Ctx {
  rich: boolean;
  users: string[];
  room: boolean;
  cache: Map<Inline, Resolved | null>;
  resolve: MatrixResolve;
}

export function docToHtml(doc: Doc, resolve: MatrixResolve = {}): MatrixContent {
  const ctx: Ctx = { rich: false, users: [], room: false, cache: new Map(), resolve };
  const html = renderBlocks(doc, ctx);
  const body = plainText(doc, {
    mention: (n) => resolveMention(n, ctx)?.display ?? "@" + n.text,
    chat: (n) => resolveChat(n, ctx)?.display ?? "#" + n.text,
  });
  const mentions: MatrixContent["mentions"] = { user_ids: ctx.users };
  if (ctx.room) mentions.room = true;
  return ctx.rich ? { body, formatted_body: html, mentions } : { body, mentions };
}

function resolveMention(n: MentionNode, ctx: Ctx): Resolved | null {
  if (ctx.cache.has(n)) return ctx.cache.get(n) ?? null;
  const r = ctx.resolve.mention?.(n.target) ?? (n.target.kind === "matrix" ? { mxid: n.target.mxid, name: "" } : null);
  const out = r && r.mxid ? { href: matrixToUrl(r.mxid), display: r.name || n.text || r.mxid, mxid: r.mxid } : null;
  ctx.cache.set(n, out);
  return out;
}

function resolveChat(n: ChatNode, ctx: Ctx): Resolved | null {
  if (ctx.cache.has(n)) return ctx.cache.get(n) ?? null;
  const r = ctx.resolve.chat?.(n.target) ?? (n.target.kind === "matrix" ? { link: n.target.room, name: "" } : null);
  const out = r && r.link ? { href: matrixToUrl(r.link), display: r.name || n.text || r.link } : null;
  ctx.cache.set(n, out);
  return out;
}

/**
 * Paragraphs get <p> only when a container holds more than one: a lone paragraph renders bare
 * (as Element sends single-line messages), and bare text next to a block parses back to the
 * same paragraphs, so html → doc → html is stable.
 */
function renderBlocks(blocks: Block[], ctx: Ctx): string {
  const wrap = blocks.filter((b) => b.type === "paragraph").length > 1;
  return blocks.map((b) => renderBlock(b, ctx, wrap)).join("");
}

function renderBlock(b: Block, ctx: Ctx, wrapParagraph: boolean): string {
  switch (b.type) {
    case "paragraph": {
      const inner = renderInlines(b.children, ctx, false);
      return wrapParagraph ? `<p>${inner}</p>` : inner;
    }
    case "pre": {
      ctx.rich = true;
      const lang = b.language && /^[\w+#.-]+$/.test(b.language) ? ` class="language-${b.language}"` : "";
      // The parser (like a browser) drops one newline after <pre> and one before </pre>, and
      // Element ends code with a newline; writing both keeps html → doc → html stable.
      const lead = b.text.startsWith("\n") ? "\n" : "";
      return `<pre><code${lang}>${lead}${escapeHtml(b.text)}\n</code></pre>`;
    }
    case "quote":
      ctx.rich = true;
      return `<blockquote>${renderBlocks(b.children, ctx)}</blockquote>`;
    case "list": {
      ctx.rich = true;
      const tag = b.ordered ? "ol" : "ul";
      return `<${tag}>${b.items.map((item) => `<li>${renderBlocks(item, ctx)}</li>`).join("")}</${tag}>`;
    }
  }
}

const TAGS = { bold: "strong", italic: "em", underline: "u", strike: "del" } as const;

function renderInlines(nodes: Inline[], ctx: Ctx, inLink: boolean): string {
  let s = "";
  for (const n of nodes) s += renderInline(n, ctx, inLink);
  return s;
}

function renderInline(n: Inline, ctx: Ctx, inLink: boolean): string {
  switch (n.type) {
    case "text": return escapeHtml(n.text);
    case "br": return "<br>";
    case "code":
      ctx.rich = true;
      return `<code>${escapeHtml(n.text)}</code>`;
    case "everyone":
      ctx.room = true;
      return escapeHtml(n.text);
    case "emoticon": {
      // MSC2545 inline emote: Element and the other clients show the image, the alt text elsewhere.
      const mxc = n.mxc ?? ctx.resolve.emoticon?.(n.name) ?? null;
      const code = escapeHtml(`:${n.name}:`);
      if (!mxc || !/^mxc:\/\/[^/\s"]+\/[^\s"]+$/.test(mxc)) return code;
      ctx.rich = true;
      return `<img data-mx-emoticon src="${escapeHtml(mxc)}" alt="${code}" title="${code}" height="32">`;
    }
    case "bold": case "italic": case "underline": case "strike": {
      ctx.rich = true;
      const tag = TAGS[n.type];
      return `<${tag}>${renderInlines(n.children, ctx, inLink)}</${tag}>`;
    }
    case "spoiler":
      ctx.rich = true;
      return `<span data-mx-spoiler>${renderInlines(n.children, ctx, inLink)}</span>`;
    case "link": {
      const url = inLink ? null : safeUrl(n.url);
      const inner = renderInlines(n.children, ctx, inLink || url !== null);
      if (!url) return inner;
      ctx.rich = true;
      return `<a href="${escapeHtml(url)}">${inner}</a>`;
    }
    case "mention": {
      const r = resolveMention(n, ctx);
      if (!r) return escapeHtml("@" + n.text);
      if (r.mxid && !ctx.users.includes(r.mxid)) ctx.users.push(r.mxid);
      if (inLink) return escapeHtml(r.display);
      ctx.rich = true;
      return `<a href="${escapeHtml(r.href)}">${escapeHtml(r.display)}</a>`;
    }
    case "chat-mention": {
      const r = resolveChat(n, ctx);
      if (!r) return escapeHtml("#" + n.text);
      if (inLink) return escapeHtml(r.display);
      ctx.rich = true;
      return `<a href="${escapeHtml(r.href)}">${escapeHtml(r.display)}</a>`;
    }
  }
}
