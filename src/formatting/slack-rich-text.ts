/**
 * Slack `rich_text` blocks → Doc. Messages typed in a Slack client carry these next to the mrkdwn
 * `text`; they are unambiguous (no escaping, explicit styles, real list nesting), so prefer them.
 * Input is untrusted JSON: every field is checked and unknown element types are skipped, never
 * thrown on (Slack adds element types over time).
 */
import type { Block, Doc, LeafInline } from "./ast.js";
import { isEmoticonName, normalizeDoc } from "./ast.js";
import { buildInlines, type Mark, type MarkedLeaf } from "./marks.js";
import { buildNestedLists, type FlatListItem } from "./lists.js";
import type { SlackParseOptions } from "./slack-inline.js";
import { mrkdwnToDoc } from "./slack-mrkdwn.js";
import { slackEmojiToUnicode, unicodeFromHex } from "./slack-emoji.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** True when `blocks` contains at least one `rich_text` block. */
export function hasRichText(blocks: unknown): boolean {
  return arr(blocks).some((b) => isObj(b) && b["type"] === "rich_text");
}

/** The `rich_text` blocks of a message (other block types are ignored) → Doc. */
export function richTextToDoc(blocks: unknown, opts: SlackParseOptions = {}): Doc {
  const out: Block[] = [];
  for (const b of arr(blocks)) {
    if (!isObj(b) || b["type"] !== "rich_text") continue;
    out.push(...containerElements(arr(b["elements"]), opts));
  }
  return normalizeDoc(out);
}

/** A Slack message → Doc: its rich_text blocks when present, else its mrkdwn `text`. */
export function slackMessageToDoc(msg: { text?: string; blocks?: unknown }, opts: SlackParseOptions = {}): Doc {
  return hasRichText(msg.blocks) ? richTextToDoc(msg.blocks, opts) : mrkdwnToDoc(msg.text ?? "", opts);
}

function containerElements(elements: unknown[], opts: SlackParseOptions): Block[] {
  const out: Block[] = [];
  let listRun: FlatListItem[] = [];
  const flushList = (): void => {
    if (listRun.length > 0) out.push(...buildNestedLists(listRun));
    listRun = [];
  };
  for (const el of elements) {
    if (!isObj(el)) continue;
    const type = el["type"];
    if (type === "rich_text_list") {
      const ordered = el["style"] === "ordered";
      const indent = typeof el["indent"] === "number" && Number.isFinite(el["indent"]) ? Math.min(Math.max(0, el["indent"]), 8) : 0;
      for (const item of arr(el["elements"])) {
        const children = isObj(item) ? sectionInlines(arr(item["elements"]), opts) : [];
        listRun.push({ level: indent, ordered, blocks: [{ type: "paragraph", children }] });
      }
      continue;
    }
    flushList();
    if (type === "rich_text_section") {
      out.push({ type: "paragraph", children: trimTrailingBreaks(sectionInlines(arr(el["elements"]), opts)) });
    } else if (type === "rich_text_quote") {
      out.push({ type: "quote", children: [{ type: "paragraph", children: trimTrailingBreaks(sectionInlines(arr(el["elements"]), opts)) }] });
    } else if (type === "rich_text_preformatted") {
      out.push({ type: "pre", text: preText(arr(el["elements"]), opts) });
    }
  }
  flushList();
  return out;
}

function trimTrailingBreaks<T extends { type: string }>(nodes: T[]): T[] {
  let end = nodes.length;
  while (end > 0 && (nodes[end - 1] as T).type === "br") end--;
  return nodes.slice(0, end);
}

function styleMarks(style: unknown): Mark[] {
  if (!isObj(style)) return [];
  const marks: Mark[] = [];
  if (style["bold"] === true) marks.push({ type: "bold" });
  if (style["italic"] === true) marks.push({ type: "italic" });
  if (style["strike"] === true) marks.push({ type: "strike" });
  if (style["underline"] === true) marks.push({ type: "underline" });
  return marks;
}

const isCode = (style: unknown): boolean => isObj(style) && style["code"] === true;

function sectionInlines(elements: unknown[], opts: SlackParseOptions) {
  const leaves: MarkedLeaf[] = [];
  const push = (leaf: LeafInline, marks: readonly Mark[]): void => {
    if (leaf.type !== "text") {
      leaves.push({ leaf, marks });
      return;
    }
    leaf.text.split("\n").forEach((line, i) => {
      if (i > 0) leaves.push({ leaf: { type: "br" }, marks });
      if (line) leaves.push({ leaf: { type: "text", text: line }, marks });
    });
  };
  for (const el of elements) {
    if (!isObj(el)) continue;
    const marks = styleMarks(el["style"]);
    const code = isCode(el["style"]);
    switch (el["type"]) {
      case "text": {
        const t = str(el["text"]) ?? "";
        push(code ? { type: "code", text: t } : { type: "text", text: t }, marks);
        break;
      }
      case "link": {
        const url = str(el["url"]) ?? "";
        const t = str(el["text"]) || url;
        const linkMarks: Mark[] = url ? [...marks, { type: "link", url }] : marks;
        push(code ? { type: "code", text: t } : { type: "text", text: t }, linkMarks);
        break;
      }
      case "user": {
        const id = str(el["user_id"]) ?? "";
        const name = opts.userName?.(id) ?? id;
        push({ type: "mention", target: { kind: "remote", network: "slack", id: opts.userRef ? opts.userRef(id) : id }, text: name }, marks);
        break;
      }
      case "channel": {
        const id = str(el["channel_id"]) ?? "";
        const name = opts.chatName?.(id) ?? id;
        push({ type: "chat-mention", target: { kind: "remote", network: "slack", id: opts.chatRef ? opts.chatRef(id) : id }, text: name }, marks);
        break;
      }
      case "emoji": {
        const name = str(el["name"]) ?? "";
        const tone = typeof el["skin_tone"] === "number" ? `::skin-tone-${el["skin_tone"]}` : "";
        const fromHex = str(el["unicode"]) ? unicodeFromHex(str(el["unicode"]) as string) : null;
        const unicode = fromHex ?? slackEmojiToUnicode(name + tone);
        push(unicode || !isEmoticonName(name) ? { type: "text", text: unicode ?? `:${name}:` } : { type: "emoticon", name }, marks);
        break;
      }
      case "broadcast": {
        const range = str(el["range"]) ?? "here";
        push({ type: "everyone", text: "@" + range }, marks);
        break;
      }
      case "usergroup": {
        const id = str(el["usergroup_id"]) ?? "";
        push({ type: "text", text: "@" + (opts.usergroupName?.(id) ?? id) }, marks);
        break;
      }
      case "date": {
        const fb = str(el["fallback"]);
        const ts = typeof el["timestamp"] === "number" ? el["timestamp"] : Number.NaN;
        const t = fb ?? (Number.isFinite(ts) && Math.abs(ts) < 8.64e12 ? new Date(ts * 1000).toISOString() : "");
        push({ type: "text", text: t }, marks);
        break;
      }
      case "color":
        push({ type: "text", text: str(el["value"]) ?? "" }, marks);
        break;
      default:
        break; // unknown element types (and "team") carry nothing we can show
    }
  }
  return buildInlines(leaves);
}

/** Preformatted blocks hold the same inline elements; only their text matters. */
function preText(elements: unknown[], opts: SlackParseOptions): string {
  let s = "";
  for (const el of elements) {
    if (!isObj(el)) continue;
    switch (el["type"]) {
      case "text": s += str(el["text"]) ?? ""; break;
      case "link": s += str(el["text"]) || (str(el["url"]) ?? ""); break;
      case "user": { const id = str(el["user_id"]) ?? ""; s += "@" + (opts.userName?.(id) ?? id); break; }
      case "channel": { const id = str(el["channel_id"]) ?? ""; s += "#" + (opts.chatName?.(id) ?? id); break; }
      case "emoji": { const n = str(el["name"]) ?? ""; s += slackEmojiToUnicode(n) ?? `:${n}:`; break; }
      case "broadcast": s += "@" + (str(el["range"]) ?? "here"); break;
      default: break;
    }
  }
  return s.replace(/\n$/, "");
}
