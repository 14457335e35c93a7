/**
 * Doc → Slack mrkdwn for chat.postMessage / chat.update `text`.
 *
 * Slack has no escape for * _ ~ `, only for & < >; so literal markers in text can still format on
 * Slack (a known gap shared by every mrkdwn bridge). Formatting markers are placed per line and
 * outside edge whitespace, because Slack ignores "* bold *" and markers spanning a newline.
 */
import type { Block, ChatTarget, Doc, Inline, MentionTarget } from "./ast.js";
import { blockSeparator, inlineText, prefixLines, renderListText } from "./ast.js";
import { safeUrl } from "./escape.js";

export interface SlackResolve {
  /** The Slack user id to ping (rendered `<@U123>`), or null for plain "@Name". */
  mention?(target: MentionTarget): string | null;
  /** The Slack channel id to link (rendered `<#C123>`), or null for plain "#name". */
  chat?(target: ChatTarget): string | null;
}

export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Inside <…|…> a "|" or ">" would end the URL early; percent-encode what Slack would misread. */
function escapeSlackUrl(url: string): string {
  return url.replace(/&/g, "&amp;").replace(/[<>| ]/g, (c) => encodeURIComponent(c));
}

const MARKER = { bold: "*", italic: "_", strike: "~" } as const;
const BROADCAST: Record<string, string> = { "@here": "<!here>", "@channel": "<!channel>", "@everyone": "<!everyone>" };

export function docToMrkdwn(doc: Doc, resolve: SlackResolve = {}): string {
  return renderBlocks(doc, resolve);
}

function renderBlocks(blocks: Block[], r: SlackResolve): string {
  let out = "";
  blocks.forEach((b, i) => {
    if (i > 0) out += blockSeparator(blocks[i - 1] as Block, b);
    out += renderBlock(b, r, 0);
  });
  return out;
}

function renderBlock(b: Block, r: SlackResolve, depth: number): string {
  switch (b.type) {
    case "paragraph": return renderInlines(b.children, r, new Set());
    // Slack has no language tag on code blocks; the text is escaped like any other text.
    case "pre": return "```\n" + escapeMrkdwn(b.text) + "\n```";
    case "quote": return prefixLines(renderBlocks(b.children, r), "> ");
    case "list": return renderListText(b, depth, (inner, d) => renderBlock(inner, r, d));
  }
}

/** Wraps each line's non-blank core in the marker, leaving edge whitespace outside. */
function wrapLines(marker: string, inner: string): string {
  return inner.split("\n").map((line) => {
    const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(line) as RegExpExecArray;
    return m[2] ? `${m[1]}${marker}${m[2]}${marker}${m[3]}` : line;
  }).join("\n");
}

function renderInlines(nodes: Inline[], r: SlackResolve, active: Set<string>): string {
  return nodes.map((n) => renderInline(n, r, active)).join("");
}

function renderInline(n: Inline, r: SlackResolve, active: Set<string>): string {
  switch (n.type) {
    case "text": return escapeMrkdwn(n.text);
    case "br": return "\n";
    case "code": return wrapLines("`", escapeMrkdwn(n.text));
    case "bold": case "italic": case "strike": {
      const marker = MARKER[n.type];
      if (active.has(marker)) return renderInlines(n.children, r, active);
      const inner = renderInlines(n.children, r, new Set([...active, marker]));
      return wrapLines(marker, inner);
    }
    // Slack mrkdwn has no underline or spoiler: the text goes through unmarked.
    case "underline": case "spoiler": return renderInlines(n.children, r, active);
    case "link": return renderLink(n, r, active);
    case "mention": {
      const id = r.mention?.(n.target);
      return id ? `<@${escapeMrkdwn(id)}>` : escapeMrkdwn("@" + n.text);
    }
    case "chat-mention": {
      const id = r.chat?.(n.target);
      return id ? `<#${escapeMrkdwn(id)}>` : escapeMrkdwn("#" + n.text);
    }
    case "emoticon": return `:${n.name}:`; // the workspace's own emoji, by name (a name Slack lacks shows as text)
    case "everyone":
      // Only a broadcast that came from Slack pings on Slack; "@room" from Matrix stays text.
      return BROADCAST[n.text] ?? escapeMrkdwn(n.text);
  }
}

/**
 * `<url|label>`; the label is plain text (Slack does not format inside it), but formatting that
 * wraps the whole label is moved outside: link(bold(x)) → *<url|x>*.
 */
function renderLink(n: Extract<Inline, { type: "link" }>, r: SlackResolve, active: Set<string>): string {
  const url = safeUrl(n.url);
  if (!url) return renderInlines(n.children, r, active);
  const markers: string[] = [];
  let children = n.children;
  for (;;) {
    const only = children.length === 1 ? children[0] : undefined;
    if (!only || (only.type !== "bold" && only.type !== "italic" && only.type !== "strike")) break;
    const marker = MARKER[only.type];
    if (!active.has(marker) && !markers.includes(marker)) markers.push(marker);
    children = only.children;
  }
  const label = inlineText(children).replace(/\n/g, " ");
  const link = label === "" || label === url
    ? `<${escapeSlackUrl(url)}>`
    : `<${escapeSlackUrl(url)}|${escapeMrkdwn(label)}>`;
  return markers.reduce((s, m) => m + s + m, link);
}
