/**
 * Splitting a Doc into Telegram HTML messages. Telegram limits a message to 4096 characters of
 * visible text (after entity parsing; tags do not count). We count UTF-16 code units, which is
 * what Telegram counts and never less than the number of characters.
 *
 * Cuts prefer, in order: a blank line (paragraph boundary) in the second half of the window, a
 * line break in its last three quarters, a space in its second half, any line break, and finally
 * a hard cut that never splits a surrogate pair. The separator stays at the end of the earlier
 * part (Telegram trims it), so the parts' visible texts concatenate to the whole. Tags open at a
 * cut are closed at the end of the part and re-opened at the start of the next.
 */
import type { Doc } from "./ast.js";
import { escapeTelegram } from "./escape.js";
import { renderTokens, type TelegramResolve, type Tok } from "./telegram-html.js";

export const TELEGRAM_MAX_TEXT = 4096;

export function splitTelegramHtml(doc: Doc, limit: number = TELEGRAM_MAX_TEXT, resolve: TelegramResolve = {}): string[] {
  const max = Math.max(2, Math.floor(limit));
  const toks = renderTokens(doc, resolve);
  const visible = toks.map((t) => (t.t === "text" ? t.s : "")).join("");
  if (visible.length === 0) return [];
  const cuts = cutPoints(visible, max);
  return renderParts(toks, cuts);
}

function cutPoints(v: string, max: number): number[] {
  const cuts: number[] = [];
  let start = 0;
  while (v.length - start > max) {
    const window = v.slice(start, start + max);
    const pick = (sep: string, minFraction: number): number | null => {
      const i = window.lastIndexOf(sep);
      return i >= 0 && i + sep.length >= max * minFraction && i + sep.length > 0 ? start + i + sep.length : null;
    };
    let cut = pick("\n\n", 0.5) ?? pick("\n", 0.25) ?? pick(" ", 0.5) ?? pick("\n", 0);
    if (cut === null) {
      cut = start + max;
      const c = v.charCodeAt(cut - 1);
      if (c >= 0xd800 && c <= 0xdbff) cut--; // keep the surrogate pair together
    }
    cuts.push(cut);
    start = cut;
  }
  cuts.push(v.length);
  return cuts;
}

function renderParts(toks: readonly Tok[], cuts: number[]): string[] {
  const parts: string[] = [];
  const stack: Extract<Tok, { t: "open" }>[] = [];
  let ti = 0; // current token
  let within = 0; // offset inside the current text token
  let pos = 0; // visible offset
  cuts.forEach((end, pi) => {
    const last = pi === cuts.length - 1;
    let s = stack.map((o) => o.html).join("");
    while (ti < toks.length) {
      const t = toks[ti] as Tok;
      if (t.t === "open") {
        if (pos >= end && !last) break; // its content belongs to the next part
        s += t.html;
        stack.push(t);
        ti++;
      } else if (t.t === "close") {
        s += stack.pop()?.close ?? "";
        ti++;
      } else {
        if (pos >= end && !last && t.s.length > within) break;
        const take = last ? t.s.length - within : Math.min(t.s.length - within, end - pos);
        s += escapeTelegram(t.s.slice(within, within + take));
        within += take;
        pos += take;
        if (within >= t.s.length) {
          ti++;
          within = 0;
        }
      }
    }
    for (let i = stack.length - 1; i >= 0; i--) s += (stack[i] as Extract<Tok, { t: "open" }>).close;
    parts.push(s);
  });
  return parts;
}
