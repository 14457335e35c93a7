/**
 * Slack mrkdwn text → Doc: code fences, "> " quotes, "• "/"- "/"1. " lists, then lines.
 * Inline syntax is in slack-inline.ts.
 */
import type { Block, Doc, Inline } from "./ast.js";
import { normalizeDoc } from "./ast.js";
import { buildNestedLists, type FlatListItem } from "./lists.js";
import { parseMrkdwnLine, slackDisplayText, type SlackParseOptions } from "./slack-inline.js";

export type { SlackParseOptions } from "./slack-inline.js";

/** Nested "> > >" beyond this is kept as text; it bounds recursion on hostile input. */
const MAX_QUOTE_DEPTH = 8;

/**
 * Slack mrkdwn as the Events API delivers it (entities escaped) → Doc. Also accepts raw ">"
 * quote markers, as posted by bots and by our own docToMrkdwn. Blank lines stay inside a
 * paragraph as line breaks, so "a\n\nb" comes back out unchanged.
 */
export function mrkdwnToDoc(text: string, opts: SlackParseOptions = {}): Doc {
  const blocks: Block[] = [];
  // Fences pair up left to right and may start or end mid-line (Slack renders "a ```b``` c" as a
  // block between two lines); an unpaired ``` is literal text.
  const fences: number[] = [];
  for (let i = text.indexOf("```"); i >= 0; i = text.indexOf("```", i + 3)) fences.push(i);
  if (fences.length % 2 === 1) fences.pop();
  let pos = 0;
  for (let f = 0; f < fences.length; f += 2) {
    const open = fences[f] as number;
    const close = fences[f + 1] as number;
    let before = text.slice(pos, open).replace(/\n$/, "");
    if (pos > 0) before = before.replace(/^\n/, "");
    blocks.push(...parseLines(before, opts, 0));
    const code = text.slice(open + 3, close).replace(/^\n/, "").replace(/\n$/, "");
    blocks.push({ type: "pre", text: slackDisplayText(code, opts) });
    pos = close + 3;
  }
  const rest = text.slice(pos);
  blocks.push(...parseLines(pos > 0 ? rest.replace(/^\n/, "") : rest, opts, 0));
  return normalizeDoc(blocks);
}

const QUOTE_RE = /^(?:&gt;|>) ?(.*)$/;
const REST_QUOTE_RE = /^(?:&gt;&gt;&gt;|>>>) ?(.*)$/;
const LIST_RE = /^([ \t]*)(?:([•◦▪▫‣⁃-])[\uFE0E\uFE0F]?|(\d{1,3})[.)])[ \t]+(\S.*)$/;

function parseLines(source: string, opts: SlackParseOptions, depth: number): Block[] {
  if (source === "") return [];
  const lines = source.split("\n");
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = (): void => {
    // Trim blank lines by index: shift() in a loop is quadratic on a message of 100k newlines.
    let from = 0;
    let to = para.length;
    while (from < to && (para[from] as string).trim() === "") from++;
    while (to > from && (para[to - 1] as string).trim() === "") to--;
    if (to > from) blocks.push({ type: "paragraph", children: linesToInlines(para.slice(from, to), opts) });
    para = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (depth < MAX_QUOTE_DEPTH) {
      const rest = REST_QUOTE_RE.exec(line);
      if (rest) {
        // ">>>" quotes everything after it, to the end of the text.
        flush();
        blocks.push({ type: "quote", children: parseLines([rest[1], ...lines.slice(i + 1)].join("\n"), opts, depth + 1) });
        return blocks;
      }
      if (QUOTE_RE.test(line)) {
        flush();
        const quoted: string[] = [];
        for (let m = QUOTE_RE.exec(lines[i] ?? ""); m && i < lines.length; m = QUOTE_RE.exec(lines[++i] ?? "")) {
          quoted.push(m[1] as string);
        }
        blocks.push({ type: "quote", children: parseLines(quoted.join("\n"), opts, depth + 1) });
        continue;
      }
    }
    const run = listRun(lines, i, opts);
    if (run) {
      flush();
      blocks.push(...buildNestedLists(run.items));
      i = run.end;
      continue;
    }
    para.push(line);
    i++;
  }
  flush();
  return blocks;
}

function linesToInlines(lines: string[], opts: SlackParseOptions): Inline[] {
  const out: Inline[] = [];
  lines.forEach((l, i) => {
    if (i > 0) out.push({ type: "br" });
    out.push(...parseMrkdwnLine(l, opts));
  });
  return out;
}

/**
 * Consecutive list lines from `start`, with indented continuation lines folded into the item
 * above. Numbered lines count as an ordered list only when they go 1, 2, 3… at their level, so
 * "2019. What a year" stays a sentence.
 */
function listRun(lines: string[], start: number, opts: SlackParseOptions): { items: FlatListItem[]; end: number } | null {
  const items: { level: number; ordered: boolean; lines: string[] }[] = [];
  const counters: number[] = [];
  let i = start;
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    const m = LIST_RE.exec(line);
    if (m) {
      const spaces = (m[1] as string).replace(/\t/g, "    ").length;
      const level = Math.min(Math.ceil(spaces / 4), 8);
      const ordered = m[3] !== undefined;
      const n = ordered ? Number(m[3]) : 0;
      const ok = !ordered || n === (counters[level] ?? 0) + 1;
      if (ok) {
        counters.length = level + 1;
        counters[level] = n;
        items.push({ level, ordered, lines: [m[4] as string] });
        continue;
      }
    }
    const last = items[items.length - 1];
    if (last && /^(?: {2,}|\t)\S/.test(line)) {
      last.lines.push(line.trim());
      continue;
    }
    break;
  }
  if (items.length === 0) return null;
  return {
    items: items.map((it) => ({ level: it.level, ordered: it.ordered, blocks: [{ type: "paragraph", children: linesToInlines(it.lines, opts) }] })),
    end: i,
  };
}
