/**
 * Nested lists from flat (level, ordered, content) items, as Slack text ("• a\n    ◦ b") and Slack
 * rich_text (`rich_text_list` with `indent`) both describe them.
 */
import type { Block } from "./ast.js";

export interface FlatListItem {
  level: number;
  ordered: boolean;
  blocks: Block[];
}

type ListBlock = Extract<Block, { type: "list" }>;

/**
 * Returns the top-level list blocks. A deeper item nests into the previous item of the shallower
 * list (skipped levels collapse to one step, since an item cannot hang off nothing); a change of
 * ordered/bullet at the same level starts a new sibling list.
 */
export function buildNestedLists(items: readonly FlatListItem[]): Block[] {
  const top: Block[] = [];
  const stack: { level: number; list: ListBlock }[] = [];
  for (const it of items) {
    const level = Math.max(0, it.level);
    while (stack.length > 0 && (stack[stack.length - 1] as { level: number }).level > level) stack.pop();
    let cur = stack[stack.length - 1];
    if (cur && cur.level === level && cur.list.ordered !== it.ordered) {
      stack.pop();
      cur = stack[stack.length - 1];
    }
    if (!cur || cur.level < level) {
      const list: ListBlock = { type: "list", ordered: it.ordered, items: [] };
      if (!cur) {
        top.push(list);
      } else {
        const parentItems = cur.list.items;
        if (parentItems.length === 0) parentItems.push([]);
        (parentItems[parentItems.length - 1] as Block[]).push(list);
      }
      cur = { level, list };
      stack.push(cur);
    }
    cur.list.items.push([...it.blocks]);
  }
  return top;
}
