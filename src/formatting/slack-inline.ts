/**
 * One line of Slack mrkdwn (as the Events API `text` field delivers it) → inlines.
 *
 * The text arrives escaped: a literal "<", ">" or "&" typed by a user is "&lt;", "&gt;", "&amp;",
 * so every raw "<…>" is a Slack token (link, mention, special command). Tokens and `code` spans
 * are cut out first and become opaque atoms; only then are entities decoded and *bold*, _italic_
 * and ~strike~ matched, so markup inside a URL or inside code is never interpreted.
 */
import type { Inline } from "./ast.js";
import { inlineText, isEmoticonName } from "./ast.js";
import { slackEmojiToUnicode } from "./slack-emoji.js";

export interface SlackParseOptions {
  /** Slack user id → the opaque ref stored in mention targets (default: the id itself). */
  userRef?(slackUserId: string): string;
  /** Slack channel id → the opaque ref stored in chat-mention targets (default: the id itself). */
  chatRef?(slackChannelId: string): string;
  /** Display name for `<@U123>` without a label (the Events API omits it); default: the id. */
  userName?(slackUserId: string): string | undefined;
  /** Channel name for `<#C123>` without a label; default: the id. */
  chatName?(slackChannelId: string): string | undefined;
  /** Handle for a user group (`<!subteam^S1>` without label, rich_text `usergroup`), without '@'. */
  usergroupName?(id: string): string | undefined;
}

/** A single UTF-16 unit of text, or an atom that emphasis never looks inside. */
type Unit = string | Inline[];

const EMOJI_RE = /:([a-z0-9_+'-]+(?:::skin-tone-[2-6])?):/iy;
const ENTITY_RE = /&(amp|lt|gt);/y;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">" };

export function decodeSlackEntities(s: string): string {
  return s.replace(/&(amp|lt|gt);/g, (_, e: string) => ENTITIES[e] as string);
}

/** Slack's fallback for `<!date^ts^format|fallback>` without fallback: the time in ISO form. */
function dateFallback(parts: string[]): string {
  const ts = Number(parts[1]);
  return Number.isFinite(ts) && Math.abs(ts) < 8.64e12 ? new Date(ts * 1000).toISOString() : "";
}

/** The inside of a `<…>` token → inlines. Unknown shapes stay literal text. */
export function angleToken(inner: string, opts: SlackParseOptions): Inline[] {
  const bar = inner.indexOf("|");
  const head = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? decodeSlackEntities(inner.slice(bar + 1)) : undefined;
  if (head.startsWith("@") && head.length > 1) {
    const id = head.slice(1);
    const name = (label ?? opts.userName?.(id) ?? id).replace(/^@/, "");
    return [{ type: "mention", target: { kind: "remote", network: "slack", id: opts.userRef ? opts.userRef(id) : id }, text: name }];
  }
  if (head.startsWith("#") && head.length > 1) {
    const id = head.slice(1);
    const name = (label ?? opts.chatName?.(id) ?? id).replace(/^#/, "");
    return [{ type: "chat-mention", target: { kind: "remote", network: "slack", id: opts.chatRef ? opts.chatRef(id) : id }, text: name }];
  }
  if (head.startsWith("!")) {
    const parts = head.slice(1).split("^");
    const cmd = parts[0] as string;
    if (cmd === "here" || cmd === "channel" || cmd === "everyone") return [{ type: "everyone", text: "@" + cmd }];
    if (cmd === "subteam") {
      const id = parts[1] ?? "";
      return [{ type: "text", text: label ?? "@" + (opts.usergroupName?.(id) ?? id) }];
    }
    if (cmd === "date") return [{ type: "text", text: label ?? dateFallback(parts) }];
    return [{ type: "text", text: label ?? "@" + cmd }];
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(head)) {
    const url = decodeSlackEntities(head);
    const text = label !== undefined && label !== "" ? label : url.replace(/^mailto:/i, "");
    return [{ type: "link", url, children: [{ type: "text", text }] }];
  }
  return [{ type: "text", text: "<" + decodeSlackEntities(inner) + ">" }];
}

/** Code and pre content: tokens shown as their text (a link as its label or URL), entities decoded. */
export function slackDisplayText(raw: string, opts: SlackParseOptions): string {
  return decodeSlackEntities(raw.replace(/<([^<>\n]*)>/g, (_, inner: string) => inlineText(angleToken(inner, opts))));
}

function tokenize(line: string, opts: SlackParseOptions): Unit[] {
  const units: Unit[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === "<") {
      const close = line.indexOf(">", i + 1);
      const nextOpen = line.indexOf("<", i + 1);
      if (close > i + 1 && (nextOpen < 0 || nextOpen > close)) {
        units.push(angleToken(line.slice(i + 1, close), opts));
        i = close + 1;
        continue;
      }
    } else if (c === "`") {
      const close = line.indexOf("`", i + 1);
      if (close > i + 1) {
        units.push([{ type: "code", text: slackDisplayText(line.slice(i + 1, close), opts) }]);
        i = close + 1;
        continue;
      }
    } else if (c === ":") {
      EMOJI_RE.lastIndex = i;
      const m = EMOJI_RE.exec(line);
      const u = m ? slackEmojiToUnicode(m[1] as string) : null;
      if (m && u) {
        units.push([{ type: "text", text: u }]);
        i += m[0].length;
        continue;
      }
      // Not a standard emoji: a workspace's custom one (or just colons; it renders back as the same text).
      if (m && isEmoticonName(m[1] as string)) {
        units.push([{ type: "emoticon", name: m[1] as string }]);
        i += m[0].length;
        continue;
      }
    } else if (c === "&") {
      ENTITY_RE.lastIndex = i;
      const m = ENTITY_RE.exec(line);
      if (m) {
        units.push(ENTITIES[m[1] as string] as string);
        i += m[0].length;
        continue;
      }
    }
    units.push(c);
    i++;
  }
  return units;
}

const MARKERS = { "*": "bold", _: "italic", "~": "strike" } as const;
type Marker = keyof typeof MARKERS;

const isWs = (u: Unit | undefined): boolean => typeof u === "string" && /\s/.test(u);
const isWord = (u: Unit | undefined): boolean => typeof u === "string" && /[\p{L}\p{N}]/u.test(u);

/** Inlines of one line of mrkdwn. */
export function parseMrkdwnLine(line: string, opts: SlackParseOptions = {}): Inline[] {
  const units = tokenize(line, opts);
  // Slack's rule: an opening marker follows a non-word character and precedes a non-space; a
  // closing marker follows a non-space and precedes a non-word character. So snake_case_names
  // and 2*3*4 stay literal. Closers are precomputed per marker, making the parse O(n log n).
  const closers: Record<Marker, number[]> = { "*": [], _: [], "~": [] };
  units.forEach((u, j) => {
    if (typeof u !== "string" || !(u in MARKERS)) return;
    const prev = units[j - 1];
    const next = units[j + 1];
    if (prev !== undefined && !isWs(prev) && prev !== u && !isWord(next) && next !== u) closers[u as Marker].push(j);
  });
  const canOpen = (i: number, c: string): boolean => {
    const prev = units[i - 1];
    const next = units[i + 1];
    return next !== undefined && !isWs(next) && next !== c && !isWord(prev) && prev !== c;
  };
  const findClose = (i: number, hi: number, c: Marker): number => {
    const list = closers[c];
    let lo = 0;
    let up = list.length;
    while (lo < up) {
      const mid = (lo + up) >> 1;
      if ((list[mid] as number) < i + 2) lo = mid + 1;
      else up = mid;
    }
    const j = list[lo];
    return j !== undefined && j < hi ? j : -1;
  };
  const parseRange = (lo: number, hi: number): Inline[] => {
    const out: Inline[] = [];
    let buf = "";
    const flush = (): void => {
      if (buf) out.push({ type: "text", text: buf });
      buf = "";
    };
    for (let i = lo; i < hi; i++) {
      const u = units[i] as Unit;
      if (typeof u !== "string") {
        flush();
        out.push(...u);
        continue;
      }
      if (u in MARKERS && canOpen(i, u)) {
        const j = findClose(i, hi, u as Marker);
        if (j >= 0) {
          flush();
          out.push({ type: MARKERS[u as Marker], children: parseRange(i + 1, j) });
          i = j;
          continue;
        }
      }
      buf += u;
    }
    flush();
    return out;
  };
  return parseRange(0, units.length);
}
