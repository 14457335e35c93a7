/**
 * Telegram text + entities → Doc.
 *
 * Offsets and lengths are in UTF-16 code units, which is exactly how JS strings index, so slicing
 * needs no conversion; an entity edge that falls inside a surrogate pair (only a buggy sender does
 * that) is widened to the whole character so no lone surrogate is produced.
 *
 * Entities may nest and overlap partially (bold 0–5 with italic 3–8). Cutting the text at every
 * entity edge gives segments each covered by a set of entities; ordering those outermost-first
 * and grouping (marks.ts) yields a correct tree: bold("abc", italic("de")), italic("fgh").
 * pre and blockquote become blocks; code and text_mention are atomic leaves.
 */
import type { MessageEntity } from "grammy/types";
import type { Block, Doc, LeafInline } from "./ast.js";
import { normalizeDoc } from "./ast.js";
import { addMark, buildInlines, type Mark, type MarkedLeaf } from "./marks.js";

export interface TelegramParseOptions {
  /** Telegram user id → the opaque ref stored in mention targets (default: String(id)). */
  userRef?(tgUserId: number): string;
}

interface Ent {
  start: number;
  end: number;
  /** The unclipped range, for entities whose meaning is their text (url, email, mention). */
  full: [number, number];
  e: MessageEntity;
  order: number;
}

const BLOCK_TYPES = new Set(["pre", "blockquote", "expandable_blockquote"]);
const MAX_DEPTH = 4;

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

export function entitiesToDoc(text: string, entities: readonly MessageEntity[] = [], opts: TelegramParseOptions = {}): Doc {
  const ents = normalizeEntities(text, entities);
  return normalizeDoc(blocksIn(text, 0, text.length, ents, opts, 0));
}

function normalizeEntities(text: string, entities: readonly MessageEntity[]): Ent[] {
  const out: Ent[] = [];
  entities.forEach((e, i) => {
    if (!e || typeof e.offset !== "number" || typeof e.length !== "number") return;
    if (!Number.isFinite(e.offset) || !Number.isFinite(e.length)) return;
    let start = Math.max(0, Math.min(text.length, Math.floor(e.offset)));
    let end = Math.max(0, Math.min(text.length, Math.floor(e.offset + e.length)));
    if (start > 0 && start < text.length && isLow(text.charCodeAt(start)) && isHigh(text.charCodeAt(start - 1))) start--;
    if (end > 0 && end < text.length && isLow(text.charCodeAt(end)) && isHigh(text.charCodeAt(end - 1))) end++;
    if (end > start) out.push({ start, end, full: [start, end], e, order: i });
  });
  // Outermost first: earlier start, then longer; ties keep the sender's order.
  return out.sort((a, b) => a.start - b.start || b.end - a.end || a.order - b.order);
}

function clip(ents: Ent[], lo: number, hi: number): Ent[] {
  const out: Ent[] = [];
  for (const x of ents) {
    const start = Math.max(x.start, lo);
    const end = Math.min(x.end, hi);
    if (end > start) out.push(start === x.start && end === x.end ? x : { ...x, start, end });
  }
  return out;
}

function blocksIn(text: string, lo: number, hi: number, ents: Ent[], opts: TelegramParseOptions, depth: number): Block[] {
  const blocks: Block[] = [];
  const chosen: Ent[] = [];
  let lastEnd = lo;
  if (depth < MAX_DEPTH) {
    for (const x of ents) {
      if (BLOCK_TYPES.has(x.e.type) && x.start >= lastEnd) {
        chosen.push(x);
        lastEnd = x.end;
      }
    }
  }
  let cursor = lo;
  for (const b of chosen) {
    paragraphIn(text, cursor, b.start, cursor > lo, true, ents, opts, blocks);
    if (b.e.type === "pre") {
      const lang = (b.e as { language?: unknown }).language;
      const pre: Block = { type: "pre", text: text.slice(b.start, b.end) };
      if (typeof lang === "string" && lang !== "") pre.language = lang;
      blocks.push(pre);
    } else {
      const inner = clip(ents.filter((x) => x !== b), b.start, b.end);
      blocks.push({ type: "quote", children: blocksIn(text, b.start, b.end, inner, opts, depth + 1) });
    }
    cursor = b.end;
  }
  paragraphIn(text, cursor, hi, cursor > lo, false, ents, opts, blocks);
  return blocks;
}

/** The text between blocks; the single newline that separates it from a block is not content. */
function paragraphIn(
  text: string, a: number, b: number, afterBlock: boolean, beforeBlock: boolean,
  ents: Ent[], opts: TelegramParseOptions, out: Block[],
): void {
  if (afterBlock && text[a] === "\n") a++;
  if (beforeBlock && b > a && text[b - 1] === "\n") b--;
  if (b <= a) return;
  const inner = clip(ents, a, b).filter((x) => !BLOCK_TYPES.has(x.e.type));
  if (inner.length === 0 && text.slice(a, b).trim() === "") return;
  out.push({ type: "paragraph", children: buildInlines(inlineLeaves(text, a, b, inner, opts)) });
}

function markOf(x: Ent, text: string): Mark | null {
  const e = x.e;
  switch (e.type) {
    case "bold": return { type: "bold" };
    case "italic": return { type: "italic" };
    case "underline": return { type: "underline" };
    case "strikethrough": return { type: "strike" };
    case "spoiler": return { type: "spoiler" };
    case "text_link": return { type: "link", url: e.url };
    case "url": {
      // The entity covers the URL as typed; Telegram opens scheme-less ones as web links.
      const u = text.slice(...x.full);
      return { type: "link", url: /^[a-z][a-z0-9+.-]*:/i.test(u) ? u : "https://" + u };
    }
    case "email": return { type: "link", url: "mailto:" + text.slice(...x.full) };
    case "mention": {
      const name = text.slice(...x.full).replace(/^@/, "");
      return /^\w+$/.test(name) ? { type: "link", url: "https://t.me/" + name } : null;
    }
    default: return null; // hashtag, cashtag, bot_command, phone_number, custom_emoji, date_time: plain text
  }
}

/** A user reference as an entity: text_mention, or a text_link to tg://user?id=N. */
function mentionUserId(e: MessageEntity): number | null {
  if (e.type === "text_mention") return typeof e.user?.id === "number" ? e.user.id : null;
  if (e.type === "text_link") {
    const m = /^tg:\/\/user\?id=(\d+)$/i.exec(e.url ?? "");
    return m ? Number(m[1]) : null;
  }
  return null;
}

function inlineLeaves(text: string, a: number, b: number, ents: Ent[], opts: TelegramParseOptions): MarkedLeaf[] {
  // Atomic leaves: code and user mentions cannot be cut by other entities' edges.
  const atoms: Ent[] = [];
  let atomEnd = a;
  for (const x of ents) {
    if ((x.e.type === "code" || mentionUserId(x.e) !== null) && x.start >= atomEnd) {
      atoms.push(x);
      atomEnd = x.end;
    }
  }
  const marks = ents.filter((x) => !atoms.includes(x)).map((x) => ({ x, m: markOf(x, text) })).filter((p): p is { x: Ent; m: Mark } => p.m !== null);
  const insideAtom = (p: number): boolean => atoms.some((t) => p > t.start && p < t.end);
  const cuts = new Set<number>([a, b]);
  for (const x of [...atoms, ...marks.map((p) => p.x)]) {
    if (!insideAtom(x.start)) cuts.add(x.start);
    if (!insideAtom(x.end)) cuts.add(x.end);
  }
  const points = [...cuts].sort((p, q) => p - q);
  const leaves: MarkedLeaf[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const s = points[i] as number;
    const e = points[i + 1] as number;
    const covering = marks.filter((p) => p.x.start <= s && p.x.end >= e).reduce<readonly Mark[]>((acc, p) => addMark(acc, p.m), []);
    const atom = atoms.find((t) => t.start === s);
    if (atom) {
      leaves.push({ leaf: atomLeaf(atom, text, opts), marks: covering });
      continue;
    }
    text.slice(s, e).split("\n").forEach((line, j) => {
      if (j > 0) leaves.push({ leaf: { type: "br" }, marks: covering });
      if (line) leaves.push({ leaf: { type: "text", text: line }, marks: covering });
    });
  }
  return leaves;
}

function atomLeaf(x: Ent, text: string, opts: TelegramParseOptions): LeafInline {
  const covered = text.slice(x.start, x.end);
  const uid = mentionUserId(x.e);
  if (uid === null) return { type: "code", text: covered };
  const id = opts.userRef ? opts.userRef(uid) : String(uid);
  return { type: "mention", target: { kind: "remote", network: "telegram", id }, text: covered.replace(/^@/, "") };
}
