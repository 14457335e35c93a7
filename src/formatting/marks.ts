/**
 * Building inline trees from "leaves with marks". HTML (where block tags can sit inside inline
 * tags), Telegram entities (which may overlap partially) and Slack rich_text (flat styled runs)
 * all reduce to a flat run of leaves, each carrying the formatting that covers it, outermost
 * first. Grouping consecutive leaves by their first mark, recursively, yields a correct tree.
 */
import type { Inline, LeafInline, StyleType } from "./ast.js";
import { normalizeInlines } from "./ast.js";

export type Mark = { type: StyleType } | { type: "link"; url: string };

export interface MarkedLeaf {
  leaf: LeafInline;
  marks: readonly Mark[];
}

export function sameMark(a: Mark, b: Mark): boolean {
  if (a.type !== b.type) return false;
  return a.type !== "link" || a.url === (b as { url: string }).url;
}

/**
 * Adds a mark unless an equal one is already active. A second link inside a link is dropped too:
 * HTML forbids nested anchors and no target format can express them.
 */
export function addMark(marks: readonly Mark[], m: Mark): readonly Mark[] {
  if (marks.some((x) => x.type === m.type && (m.type !== "link" || sameMark(x, m)))) return marks;
  if (m.type === "link" && marks.some((x) => x.type === "link")) return marks;
  return [...marks, m];
}

/** Mentions are links themselves; putting them inside another link would nest anchors. */
function effectiveMarks(item: MarkedLeaf): readonly Mark[] {
  const t = item.leaf.type;
  if (t === "mention" || t === "chat-mention") return item.marks.filter((m) => m.type !== "link");
  return item.marks;
}

export function buildInlines(items: readonly MarkedLeaf[]): Inline[] {
  const prepared = items.map((it) => ({ leaf: it.leaf, marks: effectiveMarks(it) }));
  return normalizeInlines(group(prepared, 0, prepared.length, 0));
}

function group(items: readonly MarkedLeaf[], lo: number, hi: number, depth: number): Inline[] {
  const out: Inline[] = [];
  let i = lo;
  while (i < hi) {
    const it = items[i] as MarkedLeaf;
    const m = it.marks[depth];
    if (!m) {
      out.push(it.leaf);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < hi) {
      const mj = (items[j] as MarkedLeaf).marks[depth];
      if (!mj || !sameMark(mj, m)) break;
      j++;
    }
    const children = group(items, i, j, depth + 1);
    out.push(m.type === "link" ? { type: "link", url: m.url, children } : { type: m.type, children });
    i = j;
  }
  return out;
}
