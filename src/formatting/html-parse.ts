/**
 * Matrix `formatted_body` → Doc. htmlparser2 tokenizes (it closes implied and misnested tags
 * the way browsers do, e.g. `<b><i>x</b>` closes the `i` first); this file only keeps a stack of
 * open elements, the active inline marks and the block containers. Working on the token stream
 * instead of a DOM keeps the code free of recursion, so absurdly deep input cannot overflow.
 */
import { Parser } from "htmlparser2";
import type { Block, Doc, LeafInline } from "./ast.js";
import { isEmoticonName, normalizeDoc } from "./ast.js";
import { addMark, buildInlines, type Mark, type MarkedLeaf } from "./marks.js";
import { safeUrl } from "./escape.js";
import { parseMatrixLink } from "./matrix-links.js";

/** Deeper blockquotes/lists are flattened; nothing legitimate nests this far. */
const MAX_NESTING = 16;

/** Content that is never shown: the reply fallback (`mx-reply`, stripped per the spec), code, metadata. */
const SKIP = new Set(["mx-reply", "script", "style", "template", "head", "title", "noscript", "iframe", "object", "svg", "math", "textarea", "select"]);
const PARAGRAPH_LIKE = new Set([
  "p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "figure", "figcaption",
  "table", "thead", "tbody", "tfoot", "tr", "caption", "dl", "dt", "dd", "details", "summary", "center", "address", "hr",
]);
const STYLE_TAGS: Record<string, Mark> = {
  b: { type: "bold" }, strong: { type: "bold" },
  i: { type: "italic" }, em: { type: "italic" },
  u: { type: "underline" }, ins: { type: "underline" },
  s: { type: "strike" }, del: { type: "strike" }, strike: { type: "strike" },
};

interface Container {
  kind: "root" | "quote" | "list" | "item";
  blocks: Block[];
  para: MarkedLeaf[];
  ordered: boolean;
  items: Block[][];
}

type Capture =
  | { kind: "pre"; text: string; language?: string }
  | { kind: "code"; text: string }
  | { kind: "mention"; text: string; mxid: string }
  | { kind: "chat"; text: string; room: string };

interface OpenElement {
  close(): void;
}

export function htmlToDoc(html: string): Doc {
  const w = new Walker();
  const parser = new Parser(
    {
      onopentag: (name, attribs) => w.open(name, attribs),
      ontext: (t) => w.text(t),
      onclosetag: () => w.close(),
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeSelfClosing: true },
  );
  parser.write(html);
  parser.end();
  return w.finish();
}

class Walker {
  private readonly containers: Container[] = [newContainer("root")];
  private readonly stack: OpenElement[] = [];
  private marks: readonly Mark[] = [];
  private skipping = 0; // >0 while inside a SKIP element (counts nested open elements)
  private capture: Capture | null = null;

  open(name: string, attribs: Record<string, string>): void {
    if (this.skipping > 0 || SKIP.has(name)) {
      this.skipping++;
      this.stack.push({ close: () => { this.skipping--; } });
      return;
    }
    const cap = this.capture;
    if (cap) {
      // Inside code/pre/pill only text matters; a <code class="language-x"> names the language.
      if (cap.kind === "pre" && name === "code") cap.language ??= languageOf(attribs["class"]);
      if (name === "br") cap.text += "\n";
      this.stack.push({ close: noop });
      return;
    }
    const prevMarks = this.marks;
    const restore = (): void => { this.marks = prevMarks; };
    const style = Object.hasOwn(STYLE_TAGS, name) ? STYLE_TAGS[name] : undefined; // not <constructor>
    if (style) {
      this.marks = addMark(this.marks, style);
      this.stack.push({ close: restore });
      return;
    }
    switch (name) {
      case "span":
      case "font":
        if ("data-mx-spoiler" in attribs) this.marks = addMark(this.marks, { type: "spoiler" });
        this.stack.push({ close: restore });
        return;
      case "br":
        this.leaf({ type: "br" });
        this.stack.push({ close: noop });
        return;
      case "img": {
        // Custom emoji and inline images: their alt text (e.g. ":partyparrot:") is the best we have.
        const alt = (attribs["alt"] ?? attribs["title"] ?? "").trim();
        const code = /^:([^:\s]+):$/.exec(alt)?.[1];
        const src = attribs["src"] ?? "";
        // An MSC2545 emote (`data-mx-emoticon`) keeps its name and image, so it can go back out as `:name:`.
        if ("data-mx-emoticon" in attribs && code && isEmoticonName(code)) this.leaf({ type: "emoticon", name: code, ...(src.startsWith("mxc://") ? { mxc: src } : {}) });
        else if (alt) this.leaf({ type: "text", text: alt });
        this.stack.push({ close: noop });
        return;
      }
      case "code":
        this.startCapture({ kind: "code", text: "" });
        return;
      case "pre":
        this.flush();
        this.startCapture({ kind: "pre", text: "", ...langProp(languageOf(attribs["class"])) });
        return;
      case "a":
        this.openLink(attribs["href"], restore);
        return;
      case "h1": case "h2": case "h3": case "h4": case "h5": case "h6":
        this.flush();
        this.marks = addMark(this.marks, { type: "bold" });
        this.stack.push({ close: () => { this.flush(); restore(); } });
        return;
      case "td": case "th":
        if (this.top().para.length > 0) this.leaf({ type: "text", text: " " });
        this.stack.push({ close: noop });
        return;
    }
    if ((name === "blockquote" || name === "ul" || name === "ol" || name === "li") && this.containers.length < MAX_NESTING) {
      this.openContainer(name);
      return;
    }
    if (PARAGRAPH_LIKE.has(name) || name === "blockquote" || name === "ul" || name === "ol" || name === "li") {
      this.flush();
      this.stack.push({ close: () => this.flush() });
      return;
    }
    this.stack.push({ close: noop }); // unknown tags: their text flows through
  }

  close(): void {
    this.stack.pop()?.close();
  }

  text(raw: string): void {
    if (this.skipping > 0) return;
    if (this.capture) {
      this.capture.text += raw;
      return;
    }
    // The tokenizer may deliver one text node in several chunks (around entities): join them
    // so that whitespace and "@room" are judged on the whole text in flush().
    const para = this.top().para;
    const last = para[para.length - 1];
    if (last && last.leaf.type === "text" && last.marks === this.marks) {
      para[para.length - 1] = { leaf: { type: "text", text: last.leaf.text + raw }, marks: last.marks };
    } else {
      this.leaf({ type: "text", text: raw });
    }
  }

  finish(): Doc {
    while (this.stack.length > 0) this.close();
    this.flush();
    return normalizeDoc((this.containers[0] as Container).blocks);
  }

  private openLink(href: string | undefined, restore: () => void): void {
    const target = href ? parseMatrixLink(href) : null;
    if (target?.kind === "user") {
      this.startCapture({ kind: "mention", text: "", mxid: target.mxid });
      return;
    }
    if (target?.kind === "room") {
      this.startCapture({ kind: "chat", text: "", room: target.room });
      return;
    }
    const url = href ? safeUrl(href) : null;
    // Unsafe or missing href (javascript:, relative, data:): keep the text, drop the link.
    if (url) this.marks = addMark(this.marks, { type: "link", url });
    this.stack.push({ close: restore });
  }

  private startCapture(c: Capture): void {
    this.capture = c;
    this.stack.push({ close: () => this.endCapture(c) });
  }

  private endCapture(c: Capture): void {
    this.capture = null;
    switch (c.kind) {
      case "code":
        this.leaf({ type: "code", text: c.text });
        return;
      case "pre": {
        // Browsers drop the newline right after <pre>; Element ends code blocks with one.
        const text = c.text.replace(/^\r?\n/, "").replace(/\r?\n$/, "");
        this.top().blocks.push({ type: "pre", text, ...langProp(c.language) });
        return;
      }
      case "mention": {
        const name = collapse(c.text).replace(/^@/, "");
        this.leaf({ type: "mention", target: { kind: "matrix", mxid: c.mxid }, text: name || c.mxid.slice(1) });
        return;
      }
      case "chat": {
        const name = collapse(c.text).replace(/^#/, "");
        this.leaf({ type: "chat-mention", target: { kind: "matrix", room: c.room }, text: name || c.room.replace(/^#/, "") });
        return;
      }
    }
  }

  private openContainer(name: "blockquote" | "ul" | "ol" | "li"): void {
    this.flush();
    const parent = this.top();
    if (name === "li" && parent.kind !== "list") {
      // A stray <li> outside a list: treat it as a paragraph.
      this.stack.push({ close: () => this.flush() });
      return;
    }
    const kind = name === "blockquote" ? "quote" : name === "li" ? "item" : "list";
    const c = newContainer(kind, name === "ol");
    this.containers.push(c);
    this.stack.push({
      close: () => {
        this.flush();
        this.containers.pop();
        if (c.kind === "quote") {
          if (c.blocks.length > 0) parent.blocks.push({ type: "quote", children: c.blocks });
        } else if (c.kind === "item") {
          parent.items.push(c.blocks);
        } else {
          if (c.blocks.length > 0) c.items.push(c.blocks); // stray content directly inside <ul>
          if (c.items.length > 0) parent.blocks.push({ type: "list", ordered: c.ordered, items: c.items });
        }
      },
    });
  }

  private top(): Container {
    return this.containers[this.containers.length - 1] as Container;
  }

  private leaf(leaf: LeafInline): void {
    this.top().para.push({ leaf, marks: this.marks });
  }

  /** Ends the current paragraph of the innermost container. */
  private flush(): void {
    const c = this.top();
    if (c.para.length === 0) return;
    const leaves = splitEveryone(settleWhitespace(c.para));
    c.para = [];
    if (leaves.every((l) => l.leaf.type === "text" && /^\s*$/.test(l.leaf.text))) return;
    const children = buildInlines(leaves);
    if (children.length > 0) c.blocks.push({ type: "paragraph", children });
  }
}

function newContainer(kind: Container["kind"], ordered = false): Container {
  return { kind, blocks: [], para: [], ordered, items: [] };
}

function noop(): void {}

function collapse(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

function languageOf(cls: string | undefined): string | undefined {
  const m = cls ? /(?:^|\s)language-([\w+#.-]+)/.exec(cls) : null;
  return m ? m[1] : undefined;
}

function langProp(language: string | undefined): { language?: string } {
  return language ? { language } : {};
}

/**
 * Whitespace runs containing a newline are source formatting: dropped at the start and end of a
 * line (paragraph edges, around <br>), a single space in between, as a browser renders them.
 */
function settleWhitespace(input: MarkedLeaf[]): MarkedLeaf[] {
  const leaves = input.map((l) => (l.leaf.type === "text" ? { leaf: { type: "text" as const, text: l.leaf.text.replace(/[ \t\r\f]*\n\s*/g, "\n") }, marks: l.marks } : l));
  const out: MarkedLeaf[] = [];
  const trimTrailing = (): void => {
    for (;;) {
      const last = out[out.length - 1];
      if (!last || last.leaf.type !== "text" || !last.leaf.text.endsWith("\n")) return;
      const t = last.leaf.text.replace(/\n+$/, "");
      if (t === "") out.pop();
      else out[out.length - 1] = { leaf: { type: "text", text: t }, marks: last.marks };
    }
  };
  let lineStart = true;
  for (const l of leaves) {
    if (l.leaf.type === "text") {
      const t = lineStart ? l.leaf.text.replace(/^\n+/, "") : l.leaf.text;
      if (t === "") continue;
      out.push({ leaf: { type: "text", text: t }, marks: l.marks });
      lineStart = false;
    } else if (l.leaf.type === "br") {
      trimTrailing();
      out.push(l);
      lineStart = true;
    } else {
      out.push(l);
      lineStart = false;
    }
  }
  trimTrailing();
  return out.map((l) => (l.leaf.type === "text" ? { leaf: { type: "text", text: l.leaf.text.replace(/\n/g, " ") }, marks: l.marks } : l));
}

const WORD = /[A-Za-z0-9_]/;

/**
 * "@room" as a word is the legacy whole-room mention. Word boundaries follow the push rule's
 * definition (any character but A-Z, a-z, 0-9, _) and look across neighbouring text leaves, so
 * `<b>@room</b>x` is not a mention and re-rendering a doc never changes what is detected.
 * Text inside links is left alone.
 */
function splitEveryone(leaves: MarkedLeaf[]): MarkedLeaf[] {
  const out: MarkedLeaf[] = [];
  leaves.forEach((l, idx) => {
    if (l.leaf.type !== "text" || l.marks.some((m) => m.type === "link") || !l.leaf.text.includes("@room")) {
      out.push(l);
      return;
    }
    const prev = leaves[idx - 1]?.leaf;
    const next = leaves[idx + 1]?.leaf;
    const before = prev?.type === "text" ? prev.text.slice(-1) : "";
    const after = next?.type === "text" ? next.text.slice(0, 1) : "";
    const t = l.leaf.text;
    let last = 0;
    for (let i = t.indexOf("@room"); i >= 0; i = t.indexOf("@room", i + 1)) {
      const b = i > 0 ? (t[i - 1] as string) : before;
      const a = i + 5 < t.length ? (t[i + 5] as string) : after;
      if (WORD.test(b) || WORD.test(a) || i < last) continue;
      if (i > last) out.push({ leaf: { type: "text", text: t.slice(last, i) }, marks: l.marks });
      out.push({ leaf: { type: "everyone", text: "@room" }, marks: l.marks });
      last = i + 5;
    }
    if (last < t.length) out.push({ leaf: { type: "text", text: t.slice(last) }, marks: l.marks });
  });
  return out;
}
