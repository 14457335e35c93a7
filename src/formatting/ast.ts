/**
 * The one intermediate tree every format converts to and from. It is deliberately small: what
 * Matrix HTML, Slack mrkdwn/rich_text and Telegram entities can all express, and nothing else.
 *
 * Invariants the parsers establish (via `normalizeDoc`) and the renderers may rely on:
 * - `text` nodes in paragraphs never contain "\n" (line breaks are `br` nodes) and are never empty;
 * - adjacent `text` nodes are merged; formatting nodes without children are dropped;
 * - paragraphs are never empty. `pre.text` and `code.text` are raw (may contain anything).
 */

export type MentionTarget =
  | { kind: "remote"; network: string; id: string } // id = opaque user ref as given by the caller's mapper
  | { kind: "matrix"; mxid: string };
export type ChatTarget =
  | { kind: "remote"; network: string; id: string }
  | { kind: "matrix"; room: string }; // room id or alias

export type StyleType = "bold" | "italic" | "underline" | "strike" | "spoiler";
export type Inline =
  | { type: "text"; text: string }
  | { type: StyleType; children: Inline[] }
  | { type: "code"; text: string }
  | { type: "link"; url: string; children: Inline[] }
  | { type: "mention"; target: MentionTarget; text: string } // text = display name without '@'
  | { type: "chat-mention"; target: ChatTarget; text: string }
  | { type: "everyone"; text: string } // "@room", "@here", "@channel", "@everyone" (with the '@')
  /** A custom emoji (Slack workspace emoji, a Matrix image-pack emote): `name` without colons; `mxc` once known. */
  | { type: "emoticon"; name: string; mxc?: string }
  | { type: "br" };
export type Block =
  | { type: "paragraph"; children: Inline[] }
  | { type: "pre"; text: string; language?: string }
  | { type: "quote"; children: Block[] }
  | { type: "list"; ordered: boolean; items: Block[][] };
export type Doc = Block[];

/** Inline nodes that carry children. */
export type ContainerInline = Extract<Inline, { children: Inline[] }>;
/** Inline nodes without children (what the mark-based parsers emit as leaves). */
export type LeafInline = Exclude<Inline, ContainerInline>;

// ---------------------------------------------------------------------------------------------
// Builders

export function text(s: string): Inline {
  return { type: "text", text: s };
}

/** A paragraph from inlines or strings; "\n" in strings becomes `br`. */
export function paragraph(...children: (Inline | string)[]): Block {
  const out: Inline[] = [];
  for (const c of children) {
    if (typeof c === "string") out.push(...textWithBreaks(c));
    else out.push(c);
  }
  return { type: "paragraph", children: out };
}

/** A whole document from plain text: one paragraph, lines separated by `br`. */
export function plainDoc(s: string): Doc {
  return normalizeDoc([paragraph(s)]);
}

/** Splits a string on "\n" into text and br nodes (CRLF counts as one break). */
export function textWithBreaks(s: string): Inline[] {
  const out: Inline[] = [];
  const lines = s.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (i > 0) out.push({ type: "br" });
    if (line.length > 0) out.push({ type: "text", text: line });
  });
  return out;
}

/**
 * A name a custom emoji may have and that is safe to write back as `:name:` anywhere (Slack's
 * rule for workspace emoji: lower case, digits, `_ - + '`), with at least one letter.
 */
export function isEmoticonName(name: string): boolean {
  return /^[a-z0-9_+'-]{1,100}$/.test(name) && /[a-z]/.test(name);
}

export function hasChildren(n: Inline): n is ContainerInline {
  return "children" in n;
}

// ---------------------------------------------------------------------------------------------
// Traversal

/** Visits every inline (pre-order), including those inside quotes and list items. */
export function walkInlines(doc: Doc, visit: (node: Inline, parents: readonly Inline[]) => void): void {
  const walk = (nodes: Inline[], parents: Inline[]): void => {
    for (const n of nodes) {
      visit(n, parents);
      if (hasChildren(n)) walk(n.children, [...parents, n]);
    }
  };
  const walkBlocks = (blocks: Block[]): void => {
    for (const b of blocks) {
      if (b.type === "paragraph") walk(b.children, []);
      else if (b.type === "quote") walkBlocks(b.children);
      else if (b.type === "list") b.items.forEach(walkBlocks);
    }
  };
  walkBlocks(doc);
}

/**
 * Returns a new doc with inlines rewritten bottom-up: children are mapped first, then `fn` gets the
 * node (with mapped children) and returns a replacement node, several nodes, `null` to delete it,
 * or `undefined` to keep it. The input is not mutated. The result is normalized.
 */
export function mapInlines(doc: Doc, fn: (node: Inline) => Inline | Inline[] | null | undefined): Doc {
  const mapList = (nodes: Inline[]): Inline[] => {
    const out: Inline[] = [];
    for (const n of nodes) {
      const node: Inline = hasChildren(n) ? { ...n, children: mapList(n.children) } : n;
      const r = fn(node);
      if (r === undefined) out.push(node);
      else if (r === null) continue;
      else if (Array.isArray(r)) out.push(...r);
      else out.push(r);
    }
    return out;
  };
  const mapBlocks = (blocks: Block[]): Block[] =>
    blocks.map((b): Block => {
      switch (b.type) {
        case "paragraph": return { type: "paragraph", children: mapList(b.children) };
        case "quote": return { type: "quote", children: mapBlocks(b.children) };
        case "list": return { type: "list", ordered: b.ordered, items: b.items.map(mapBlocks) };
        default: return b;
      }
    });
  return normalizeDoc(mapBlocks(doc));
}

/** Plain text of inlines (mentions as "@Name", chat mentions as "#name"). */
export function inlineText(nodes: Inline[], hooks: PlainTextHooks = {}): string {
  let s = "";
  for (const n of nodes) {
    switch (n.type) {
      case "text": case "code": s += n.text; break;
      case "br": s += "\n"; break;
      case "everyone": s += n.text; break;
      case "emoticon": s += `:${n.name}:`; break;
      case "mention": s += hooks.mention ? hooks.mention(n) : "@" + n.text; break;
      case "chat-mention": s += hooks.chat ? hooks.chat(n) : "#" + n.text; break;
      case "link": {
        const label = inlineText(n.children, hooks);
        s += hooks.link ? hooks.link(n, label) : label;
        break;
      }
      default: s += inlineText(n.children, hooks);
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Plain text

export interface PlainTextHooks {
  mention?(node: Extract<Inline, { type: "mention" }>): string;
  chat?(node: Extract<Inline, { type: "chat-mention" }>): string;
  /** Default: the label, plus " (url)" when the label is not the URL itself (see plainText). */
  link?(node: Extract<Inline, { type: "link" }>, label: string): string;
}

/**
 * Separator between two sibling blocks in line-oriented output (plain text, mrkdwn, Telegram):
 * two paragraphs in a row need a blank line or they would merge into one when parsed back; any
 * other boundary is a single newline because quotes, lists and fences are recognisable by syntax.
 */
export function blockSeparator(prev: Block, next: Block): string {
  return prev.type === "paragraph" && next.type === "paragraph" ? "\n\n" : "\n";
}

/** "• ", "◦ ", "▪ " by depth; ordered items are "N. ". Indent is 4 spaces per level (Slack's own). */
export function listMarker(ordered: boolean, index: number, depth: number): string {
  const indent = "    ".repeat(depth);
  if (ordered) return `${indent}${index + 1}. `;
  return indent + (["•", "◦", "▪"][depth % 3] as string) + " ";
}

/**
 * What a client without HTML shows (the Matrix `body`). Links keep their URL visible
 * ("label (url)") because the URL would otherwise be lost; code blocks are fenced with ```, quote
 * lines start with "> " and list items with "• " / "1. ", as people type them.
 */
export function plainText(doc: Doc, hooks: PlainTextHooks = {}): string {
  const h: PlainTextHooks = {
    link: (node, label) => linkPlain(node.url, label),
    ...hooks,
  };
  return blocksPlain(doc, h, 0);
}

function linkPlain(url: string, label: string): string {
  const bare = url.replace(/^mailto:/i, "");
  if (label === "" ) return url;
  if (label === url || label === bare || "http://" + label === url || "https://" + label === url) return label;
  return `${label} (${url})`;
}

function blocksPlain(blocks: Block[], h: PlainTextHooks, depth: number): string {
  let out = "";
  blocks.forEach((b, i) => {
    if (i > 0) out += blockSeparator(blocks[i - 1] as Block, b);
    out += blockPlain(b, h, depth);
  });
  return out;
}

function blockPlain(b: Block, h: PlainTextHooks, depth: number): string {
  switch (b.type) {
    case "paragraph": return inlineText(b.children, h);
    case "pre": return "```" + (b.language ?? "") + "\n" + b.text + "\n```";
    case "quote": return prefixLines(blocksPlain(b.children, h, 0), "> ");
    case "list": return renderListText(b, depth, (inner, d) => blockPlain(inner, h, d));
  }
}

/**
 * Line-oriented list layout shared by plain text and mrkdwn: "• item" per line, nested lists
 * indented by listMarker, further blocks of an item indented to the item's text. `render(b, d)`
 * renders one block; it is called with depth+1 for nested lists and 0 for other blocks.
 */
export function renderListText(list: Extract<Block, { type: "list" }>, depth: number, render: (b: Block, depth: number) => string): string {
  return list.items.map((item, i) => {
    const marker = listMarker(list.ordered, i, depth);
    const cont = " ".repeat(marker.length);
    let out = "";
    item.forEach((b, j) => {
      if (b.type === "list") {
        out += (j > 0 ? "\n" : "") + render(b, depth + 1);
      } else {
        out += (j > 0 ? "\n" + cont : marker) + render(b, 0).split("\n").join("\n" + cont);
      }
    });
    return out === "" ? marker.trimEnd() : out;
  }).join("\n");
}

export function prefixLines(s: string, prefix: string): string {
  return s.split("\n").map((l) => (l === "" ? prefix.trimEnd() : prefix + l)).join("\n");
}

/**
 * True when the doc has no formatting at all: only paragraphs of text, line breaks and
 * `everyone` (which is plain text in every format). Mentions are formatting (pills/links).
 */
export function isPlain(doc: Doc): boolean {
  return doc.every((b) => b.type === "paragraph" && b.children.every((n) => n.type === "text" || n.type === "br" || n.type === "everyone"));
}

// ---------------------------------------------------------------------------------------------
// Normalization

/** Establishes the invariants listed at the top of this file. Idempotent; returns new arrays. */
export function normalizeDoc(doc: Doc): Doc {
  const out: Block[] = [];
  for (const b of doc) {
    switch (b.type) {
      case "paragraph": {
        const children = normalizeInlines(b.children);
        if (children.length > 0) out.push({ type: "paragraph", children });
        break;
      }
      case "pre": out.push(b.language ? { type: "pre", text: b.text, language: b.language } : { type: "pre", text: b.text }); break;
      case "quote": {
        const children = normalizeDoc(b.children);
        if (children.length > 0) out.push({ type: "quote", children });
        break;
      }
      case "list": {
        const items = b.items.map(normalizeDoc);
        if (items.length > 0) out.push({ type: "list", ordered: b.ordered, items });
        break;
      }
    }
  }
  return out;
}

export function normalizeInlines(nodes: Inline[]): Inline[] {
  const out: Inline[] = [];
  const pushText = (t: string): void => {
    if (t === "") return;
    const last = out[out.length - 1];
    if (last && last.type === "text") out[out.length - 1] = { type: "text", text: last.text + t };
    else out.push({ type: "text", text: t });
  };
  for (const n of nodes) {
    if (n.type === "text") {
      const parts = n.text.split(/\r?\n/);
      parts.forEach((p, i) => {
        if (i > 0) out.push({ type: "br" });
        pushText(p);
      });
    } else if (hasChildren(n)) {
      const children = normalizeInlines(n.children);
      if (children.length > 0) out.push({ ...n, children });
    } else if (n.type === "code") {
      if (n.text !== "") out.push(n);
    } else {
      out.push(n);
    }
  }
  return out;
}

/** Structural equality helper for tests and callers (JSON shape). */
export function docEquals(a: Doc, b: Doc): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
