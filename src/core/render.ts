/**
 * Turning core messages into Matrix event content and back-references: mentions of remote
 * users become pills to their ghosts, chat mentions become links to portal rooms.
 */
import { plainDoc, plainText, type Doc } from "../formatting/ast.js";
import { docToHtml } from "../formatting/html.js";
import type { NetworkConnector } from "./connector.js";
import type { MatrixPort } from "./matrix-port.js";
import type { PortalDirectory } from "./portals.js";

/** `m.mentions` (Matrix 1.7): who an event means to notify. Present on every message the bridge sends. */
export interface Mentions { user_ids?: string[]; room?: true }

/** Message text as Matrix event content. */
export interface MatrixText {
  body: string;
  format?: string;
  formatted_body?: string;
  /**
   * Who the text mentions: every user pill (ghosts and Matrix users) and `room` for an
   * everyone-mention (the homeserver's power levels decide whether that pings). Always present,
   * `{}` when there is none: its presence turns off the legacy push rules that ping anyone
   * whose display name merely appears in the body.
   */
  "m.mentions": Mentions;
}

export function renderForMatrix(
  doc: Doc, connectors: ReadonlyMap<string, NetworkConnector>, matrix: MatrixPort, portals: PortalDirectory,
): MatrixText {
  const out = docToHtml(doc, {
    mention(target) {
      if (target.kind === "matrix") return { mxid: target.mxid, name: "" }; // keep the incoming pill text
      const connector = connectors.get(target.network);
      if (!connector) return null;
      return { mxid: matrix.ghostMxid(connector.ghostLocalpart(target.id)), name: "" };
    },
    chat(target) {
      if (target.kind === "matrix") return { link: target.room, name: target.room };
      const link = portals.linkForChat(target.network, target.id);
      if (!link) return null;
      return { link: link.alias ?? link.roomId, name: link.name };
    },
  });
  const mentions: Mentions = {};
  if (out.mentions.user_ids.length > 0) mentions.user_ids = out.mentions.user_ids;
  if (out.mentions.room) mentions.room = true;
  return out.formatted_body !== undefined
    ? { body: out.body, format: "org.matrix.custom.html", formatted_body: out.formatted_body, "m.mentions": mentions }
    : { body: out.body, "m.mentions": mentions };
}

/** `mentions` with `mxid` added to its users (e.g. the sender of the message replied to). */
export function withMention(mentions: Mentions, mxid: string): Mentions {
  const users = mentions.user_ids ?? [];
  return users.includes(mxid) ? mentions : { ...mentions, user_ids: [...users, mxid] };
}

/**
 * Homeservers refuse events over 65,536 bytes (the whole signed event; Synapse answers 413
 * M_TOO_LARGE), and a 40,000-character Slack message with formatting renders to far more. Event
 * content is kept under this, leaving room for the event's envelope and relations.
 */
export const MATRIX_CONTENT_MAX_BYTES = 60_000;

type Rendered = MatrixText;
const bytes = (c: Rendered): number => Buffer.byteLength(JSON.stringify(c));

/**
 * renderForMatrix, in as many pieces as it takes for each to fit in one Matrix event: whole
 * blocks while they fit, and a block too large on its own as plain text in slices. One piece
 * (the usual case) is exactly renderForMatrix's output.
 */
export function renderPartsForMatrix(
  doc: Doc, connectors: ReadonlyMap<string, NetworkConnector>, matrix: MatrixPort, portals: PortalDirectory, maxBytes = MATRIX_CONTENT_MAX_BYTES,
): Rendered[] {
  const render = (d: Doc) => renderForMatrix(d, connectors, matrix, portals);
  const whole = render(doc);
  if (bytes(whole) <= maxBytes) return [whole];
  // Blocks that fit alone, and slices of plain text for those that do not.
  const units: Array<{ doc: Doc; size: number }> = [];
  for (const block of doc) {
    const one = render([block]);
    const size = bytes(one);
    if (size <= maxBytes) units.push({ doc: [block], size });
    // Slices are plain text (a body, no formatted_body) and fill an event each: never grouped.
    else for (const slice of sliceText(one.body, maxBytes)) units.push({ doc: plainDoc(slice), size: maxBytes });
  }
  // Greedy groups by estimated size (a group renders to about the sum of its blocks), checked after.
  const out: Rendered[] = [];
  let group: Doc = [];
  let size = 0;
  const flush = () => {
    if (group.length === 0) return;
    const r = render(group);
    if (bytes(r) <= maxBytes || group.length === 1) out.push(r);
    else for (const b of group) out.push(render([b]));
    group = [];
    size = 0;
  };
  for (const u of units) {
    if (size + u.size + 64 > maxBytes) flush();
    group.push(...u.doc);
    size += u.size + 64;
  }
  flush();
  return out;
}

/**
 * renderPartsForMatrix with at most `maxParts` pieces: past that, the first `maxParts - 1` and
 * the rest of the text (for a file). A text longer than `maxParts` full events is not rendered
 * with its formatting at all: rendering megabytes blocks the event loop for seconds (a 10 MB
 * paragraph took 5 s, long enough for Socket Mode to drop), so it goes as plain text slices.
 */
export function renderCappedForMatrix(
  doc: Doc, connectors: ReadonlyMap<string, NetworkConnector>, matrix: MatrixPort, portals: PortalDirectory, maxParts: number,
  maxBytes = MATRIX_CONTENT_MAX_BYTES,
): { pieces: Rendered[]; rest?: string } {
  const keep = Math.max(0, maxParts - 1);
  const text = plainText(doc);
  if (text.length > maxParts * maxBytes) {
    // Each event holds fewer characters than maxBytes: this cannot fit, and only the head is sliced.
    let end = keep * maxBytes;
    if (/[\uD800-\uDBFF]/.test(text[end - 1] ?? "")) end--; // never split a surrogate pair
    const slices = sliceText(text.slice(0, end), maxBytes).slice(0, keep);
    const used = slices.reduce((n, s) => n + s.length, 0);
    return { pieces: slices.map((body) => ({ body, "m.mentions": {} })), rest: text.slice(used) };
  }
  const all = renderPartsForMatrix(doc, connectors, matrix, portals, maxBytes);
  if (all.length <= maxParts) return { pieces: all };
  return { pieces: all.slice(0, keep), rest: all.slice(keep).map((r) => r.body).join("\n\n") };
}

/** Bytes one code point takes inside a JSON string (UTF-8, escapes included), as JSON.stringify writes it. */
function jsonBytes(ch: string): number {
  const c = ch.codePointAt(0)!;
  if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) return 2;
  if (c < 0x20) return 6;
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdfff) return 6; // a lone surrogate is escaped
  return c < 0x10000 ? 3 : 4;
}

/** Plain text in slices whose JSON (escapes included) fits in `maxBytes` as an event's body. */
function sliceText(text: string, maxBytes: number): string[] {
  const chars = [...text]; // whole code points: never split a surrogate pair
  const out: string[] = [];
  const budget = maxBytes - 256;
  let i = 0;
  while (i < chars.length) {
    let n = Math.min(chars.length - i, Math.max(1, Math.floor(budget / 6))); // 6 bytes: the largest JSON escape of one unit
    let used = 0;
    for (let k = 0; k < n; k++) used += jsonBytes(chars[i + k]!);
    // Grow while it fits (most text is 1–3 bytes a character).
    while (i + n < chars.length && used + jsonBytes(chars[i + n]!) <= budget) used += jsonBytes(chars[i + n++]!);
    // Prefer to cut at a line break or a space in the last tenth of the slice.
    if (i + n < chars.length) {
      const floor = Math.floor(n * 0.9);
      for (let k = n; k > floor; k--) if (chars[i + k - 1] === "\n" || chars[i + k - 1] === " ") { n = k; break; }
    }
    out.push(chars.slice(i, i + n).join(""));
    i += n;
  }
  return out;
}
