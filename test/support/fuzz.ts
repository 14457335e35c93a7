/**
 * Seeded fuzzing for Tandem's parsers and converters (fast-check is not installed, and the
 * seed in each test name makes a failure reproducible). Three parts:
 * - `weird` and `mutate`: untrusted input as it really goes wrong (fields dropped, wrong types,
 *   huge strings, deep nesting, unicode and markup of every format, prototype-ish keys);
 * - checkers returning a list of problems (empty = fine) for what every converter must
 *   produce: well-formed docs, RemoteEvents and MatrixInbound values, and HTML with no live
 *   markup in it;
 * - `runs`: how many cases per seed (TANDEM_FUZZ_RUNS raises it for a long soak, TANDEM_FUZZ_SEED
 *   picks another seed).
 */
import { Parser } from "htmlparser2";
import { normalizeDoc } from "../../src/formatting/ast.js";
import { NASTY_PIECES, randomString, rng } from "../unit/formatting/helpers.js";

export { randomString, rng };
export type Rng = () => number;

/** Fixed seeds for CI; TANDEM_FUZZ_SEED=<n> runs one other seed (to hunt with new input). */
export const SEEDS = process.env.TANDEM_FUZZ_SEED ? [Number(process.env.TANDEM_FUZZ_SEED)] : [7, 1234, 20240607];
export const runs = (n: number): number => Number(process.env.TANDEM_FUZZ_RUNS ?? n);

export const int = (next: Rng, n: number): number => Math.floor(next() * n);
export const pick = <T>(next: Rng, xs: readonly T[]): T => xs[int(next, xs.length)] as T;

/** Strings that have broken parsers somewhere: control and bidi characters, lone surrogates, markup, ids. */
export const EVIL_STRINGS = [
  "", " ", "\u0000", "\uFFFF", "\uD800", "\uDFFF", "🏳️‍🌈", "👍🏽", "Ω≈ç√", "\u202Eevil", "\u200B", "𝕏", "\r\n", "\t",
  "null", "undefined", "NaN", "__proto__", "constructor", "hasOwnProperty", "<constructor>x</constructor>", "-1", "1e309", "0x10", "1700000000.000100", "42:7",
  "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "<svg/onload=alert(1)>", "javascript:alert(1)",
  "<a href=\"javascript:alert(1)\">x</a>", "<!channel>", "<!here>", "<@U0001>", "<#C0001|general>", "<https://evil.example|click>",
  "&lt;b&gt;", "&amp;", "*bold*", "_it_", "```", "`", "~", "> quote", "@room", "../../etc/passwd", "%00", "${x}", "{{x}}",
  "mxc://evil.example/abc", "!room:example.org", "$event:example.org", "@alice:example.org", "#alias:example.org",
];

/** Field names the payloads use, so injected keys land where parsers look. */
export const FIELD_NAMES = [
  "type", "subtype", "text", "ts", "thread_ts", "event_ts", "user", "bot_id", "app_id", "channel", "id", "name", "elements",
  "blocks", "event", "message", "previous_message", "files", "attachments", "edited", "item", "reaction", "topic", "purpose",
  "date", "chat", "from", "message_id", "entities", "caption", "url", "photo", "document", "reply_to_message", "sender_chat",
  "content", "body", "msgtype", "format", "formatted_body", "m.relates_to", "m.new_content", "event_id", "room_id",
  "sender", "state_key", "redacts", "membership", "info", "__proto__", "constructor", "toString",
];

export function hugeString(next: Rng, size = 100_000, unit = pick(next, ["a", "ab ", "<b>x</b>", "*x* ", "👍", "\n", "&amp;", "<@U1> ", "Привет "])): string {
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

/** `{a:{a:…}}` or `[[…]]`, built without recursion so the builder itself cannot overflow. */
export function deepNest(depth: number, kind: "object" | "array", leaf: unknown = "x"): unknown {
  let v: unknown = leaf;
  const keys = ["elements", "children", "message", "event", "content"];
  for (let i = 0; i < depth; i++) v = kind === "object" ? { type: "rich_text_section", [keys[i % keys.length]!]: i % 2 ? v : [v] } : [v];
  return v;
}

/** Any JSON-ish value, plus what JSON cannot carry but a buggy caller might (NaN, undefined). */
export function weird(next: Rng, depth = 0): unknown {
  switch (int(next, 13)) {
    case 0: return null;
    case 1: return undefined;
    case 2: return next() < 0.5;
    case 3: return pick(next, [0, -1, 1, 1.5, NaN, Infinity, -Infinity, 2 ** 53 + 1, 1e308, 1_700_000_000]);
    case 4: return pick(next, EVIL_STRINGS);
    case 5: return randomString(next);
    case 6: return next() < 0.15 ? hugeString(next, 20_000 + int(next, 100_000)) : randomString(next, 200);
    case 7: return depth > 3 ? [] : Array.from({ length: int(next, 4) }, () => weird(next, depth + 1));
    case 8:
      return depth > 3 ? {} : Object.fromEntries(Array.from({ length: int(next, 4) }, () => [pick(next, FIELD_NAMES), weird(next, depth + 1)]));
    case 9: return deepNest(100 + int(next, 3000), next() < 0.5 ? "object" : "array");
    case 10: return String(int(next, 1_000_000));
    case 11: return pick(next, NASTY_PIECES);
    default: return {};
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A broken copy of `v`: each node may be replaced by a weird value, object keys dropped or
 * added, arrays shortened, doubled or salted, strings swapped for evil or huge ones. `rate` is
 * the chance per node; deeper nodes mutate a little less so the payload stays recognisable.
 */
export function mutate(v: unknown, next: Rng, rate = 0.15, depth = 0): unknown {
  const p = rate / (1 + depth * 0.3);
  if (next() < p * 0.5) return weird(next, depth);
  if (Array.isArray(v)) {
    let out = v.map((x) => mutate(x, next, rate, depth + 1));
    if (next() < p) out = out.slice(0, int(next, out.length + 1));
    if (next() < p) out = [...out, ...out];
    if (next() < p) out.splice(int(next, out.length + 1), 0, weird(next, depth + 1));
    return out;
  }
  if (isObj(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (next() < p) continue; // field dropped
      out[k] = mutate(x, next, rate, depth + 1);
    }
    if (next() < p) Object.defineProperty(out, pick(next, FIELD_NAMES), { value: weird(next, depth + 1), enumerable: true, writable: true, configurable: true });
    return out;
  }
  if (typeof v === "string" && next() < p) {
    const r = next();
    return r < 0.4 ? pick(next, EVIL_STRINGS) : r < 0.6 ? hugeString(next, 10_000 + int(next, 90_000)) : r < 0.8 ? v + randomString(next) : randomString(next);
  }
  if (typeof v === "number" && next() < p) return pick(next, [0, -1, NaN, Infinity, 1e21, 3.5, v === 0 ? -1 : -v, String(v)]);
  return v;
}

// ---- checkers ------------------------------------------------------------------------------

const BLOCKS = new Set(["paragraph", "pre", "quote", "list"]);
const STYLES = new Set(["bold", "italic", "underline", "strike", "spoiler"]);
const str = (v: unknown): v is string => typeof v === "string";

/** Problems with a Doc: only known node types, fields of the right types, normalized. */
export function docProblems(doc: unknown, where = "doc"): string[] {
  const out: string[] = [];
  const inline = (n: unknown, at: string): void => {
    if (!isObj(n)) { out.push(`${at}: not an object`); return; }
    switch (n.type) {
      case "text": if (!str(n.text) || n.text === "" || n.text.includes("\n")) out.push(`${at}: bad text ${JSON.stringify(n.text)?.slice(0, 40)}`); return;
      case "br": return;
      case "code": case "everyone": if (!str(n.text)) out.push(`${at}: ${n.type} without text`); return;
      case "link":
        if (!str(n.url)) out.push(`${at}: link without url`);
        children(n.children, at);
        return;
      case "mention": case "chat-mention": {
        const t = n.target;
        if (!str(n.text)) out.push(`${at}: ${n.type} without text`);
        if (!isObj(t) || (t.kind === "remote" ? !str(t.network) || !str(t.id) : t.kind === "matrix" ? !str(n.type === "mention" ? t.mxid : t.room) : true)) {
          out.push(`${at}: ${n.type} with a bad target`);
        }
        return;
      }
      default:
        if (!STYLES.has(String(n.type))) { out.push(`${at}: unknown inline ${String(n.type)}`); return; }
        children(n.children, at);
    }
  };
  const children = (c: unknown, at: string): void => {
    if (!Array.isArray(c)) { out.push(`${at}: children is not a list`); return; }
    c.forEach((n, i) => inline(n, `${at}.${i}`));
  };
  const blocks = (bs: unknown, at: string): void => {
    if (!Array.isArray(bs)) { out.push(`${at}: not a list of blocks`); return; }
    bs.forEach((b, i) => {
      const here = `${at}[${i}]`;
      if (!isObj(b) || !BLOCKS.has(String(b.type))) { out.push(`${here}: unknown block ${isObj(b) ? String(b.type) : typeof b}`); return; }
      if (b.type === "paragraph") children(b.children, here);
      else if (b.type === "pre") { if (!str(b.text) || (b.language !== undefined && !str(b.language))) out.push(`${here}: bad pre`); }
      else if (b.type === "quote") blocks(b.children, here);
      else if (typeof b.ordered !== "boolean" || !Array.isArray(b.items)) out.push(`${here}: bad list`);
      else b.items.forEach((item, j) => blocks(item, `${here}.items[${j}]`));
    });
  };
  blocks(doc, where);
  if (out.length === 0 && JSON.stringify(normalizeDoc(doc as never)) !== JSON.stringify(doc)) out.push(`${where}: not normalized`);
  return out;
}

const FILE_KINDS = new Set(["image", "video", "audio", "voice", "file", "sticker"]);
const nonEmpty = (v: unknown): boolean => str(v) && v !== "";
const optional = (v: unknown, ok: (x: unknown) => boolean): boolean => v === undefined || ok(v);
const finite = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);

function fileProblems(f: unknown, at: string): string[] {
  if (!isObj(f)) return [`${at}: file is not an object`];
  const out: string[] = [];
  if (!nonEmpty(f.id) || !nonEmpty(f.name) || !str(f.mime) || !FILE_KINDS.has(String(f.kind))) out.push(`${at}: file without id/name/mime/kind`);
  for (const k of ["size", "width", "height", "durationMs"]) if (!optional(f[k], (x) => finite(x) && (x as number) >= 0)) out.push(`${at}: file ${k} is ${String(f[k])}`);
  if (!optional(f.link, str)) out.push(`${at}: file link is not a string`);
  if (f.caption !== undefined) out.push(...docProblems(f.caption, `${at}.caption`));
  return out;
}

function coreMessageProblems(m: unknown, at: string): string[] {
  if (!isObj(m)) return [`${at}: msg is not an object`];
  const out = docProblems(m.doc, `${at}.doc`);
  if (!optional(m.emote, (x) => typeof x === "boolean") || !optional(m.notice, (x) => typeof x === "boolean")) out.push(`${at}: emote/notice not boolean`);
  if (!optional(m.replyTo, nonEmpty) || !optional(m.threadRoot, nonEmpty)) out.push(`${at}: replyTo/threadRoot not a ref`);
  if (m.files !== undefined) {
    if (!Array.isArray(m.files)) out.push(`${at}: files is not a list`);
    else m.files.forEach((f, i) => out.push(...fileProblems(f, `${at}.files[${i}]`)));
  }
  return out;
}

/** Problems with a RemoteEvent: the keys of its kind present and of the right types. */
export function remoteEventProblems(ev: unknown): string[] {
  if (!isObj(ev)) return ["event is not an object"];
  const out: string[] = [];
  const at = `${String(ev.kind)} ${String(ev.key).slice(0, 60)}`;
  if (!nonEmpty(ev.key) || !nonEmpty(ev.chat)) out.push(`${at}: key or chat missing`);
  if (!finite(ev.at) || (ev.at as number) < 0) out.push(`${at}: at is ${String(ev.at)}`);
  const refs = (...ks: string[]) => { for (const k of ks) if (!nonEmpty(ev[k])) out.push(`${at}: ${k} missing`); };
  switch (ev.kind) {
    case "message": refs("ref", "sender"); out.push(...coreMessageProblems(ev.msg, at)); break;
    case "edit": refs("target", "sender"); out.push(...coreMessageProblems(ev.msg, at)); break;
    case "delete": refs("target"); if (!optional(ev.sender, nonEmpty)) out.push(`${at}: bad sender`); break;
    case "reaction": refs("target", "sender", "emoji"); if (typeof ev.on !== "boolean") out.push(`${at}: on not boolean`); break;
    case "membership": refs("user"); if (typeof ev.joined !== "boolean") out.push(`${at}: joined not boolean`); break;
    case "chat-moved": refs("to"); break;
    case "user-info": {
      refs("user");
      const info = ev.info;
      if (!isObj(info) || !nonEmpty(info.name) || !optional(info.avatar, str) || !optional(info.isBot, (x) => typeof x === "boolean")) out.push(`${at}: bad user info`);
      break;
    }
    case "chat-info": {
      const info = ev.info;
      if (!isObj(info)) { out.push(`${at}: info is not an object`); break; }
      for (const [k, v] of Object.entries(info)) {
        const ok = k === "archived" ? typeof v === "boolean" : ["name", "topic", "avatar", "roomName"].includes(k) ? str(v) : false;
        if (!ok) out.push(`${at}: info.${k} = ${String(v).slice(0, 40)}`);
      }
      break;
    }
    default: out.push(`unknown kind ${String(ev.kind)}`);
  }
  return out;
}

/** Problems with a MatrixInbound (src/matrix/events.ts output). */
export function matrixInboundProblems(ev: unknown): string[] {
  if (!isObj(ev)) return ["not an object"];
  const out: string[] = [];
  for (const k of ["roomId", "eventId", "sender"]) if (!nonEmpty(ev[k])) out.push(`${k} missing`);
  if (!finite(ev.ts)) out.push(`ts is ${String(ev.ts)}`);
  switch (ev.kind) {
    case "message": {
      if (!["text", "notice", "emote", "file"].includes(String(ev.msgtype))) out.push(`msgtype ${String(ev.msgtype)}`);
      if (!str(ev.body)) out.push("body not a string");
      out.push(...docProblems(ev.doc));
      if (!optional(ev.replyTo, nonEmpty) || !optional(ev.threadRoot, nonEmpty)) out.push("bad relation");
      if (ev.msgtype === "file") {
        const f = ev.file;
        if (!isObj(f) || !str(f.mxc) || !f.mxc.startsWith("mxc://") || !nonEmpty(f.name) || !str(f.mime) || !FILE_KINDS.has(String(f.kind))) out.push("bad file");
        else for (const k of ["size", "width", "height"]) if (!optional(f[k], finite)) out.push(`file ${k} is ${String(f[k])}`);
      } else if (ev.file !== undefined) out.push("file on a text message");
      break;
    }
    case "edit": if (!nonEmpty(ev.target) || !str(ev.body)) out.push("bad edit"); out.push(...docProblems(ev.doc)); break;
    case "redaction": if (!nonEmpty(ev.target)) out.push("bad redaction"); break;
    case "reaction": if (!nonEmpty(ev.target) || !nonEmpty(ev.key)) out.push("bad reaction"); break;
    case "invite": if (!nonEmpty(ev.target) || typeof ev.isDirect !== "boolean") out.push("bad invite"); break;
    case "membership": if (!nonEmpty(ev.target) || !nonEmpty(ev.membership)) out.push("bad membership"); break;
    default: out.push(`unknown kind ${String(ev.kind)}`);
  }
  return out;
}

const SAFE_SCHEMES = new Set(["http", "https", "mailto", "tg"]);

/** Live markup in HTML: scripts, event handlers, styles, frames, or links to anything but web/mail/tg. */
export function htmlProblems(html: string): string[] {
  const out: string[] = [];
  const parser = new Parser({
    onopentag(name, attrs) {
      if (["script", "iframe", "object", "embed", "svg", "math", "style", "img", "form", "input", "meta", "link", "base"].includes(name)) out.push(`live tag <${name}>`);
      for (const [k, v] of Object.entries(attrs)) {
        if (/^on/i.test(k) || k === "style" || k === "srcdoc") out.push(`attribute ${k} on <${name}>`);
        if ((k === "href" || k === "src") && !SAFE_SCHEMES.has((/^([a-z][a-z0-9+.-]*):/i.exec(v.trim())?.[1] ?? "").toLowerCase())) out.push(`${k}="${v.slice(0, 40)}"`);
      }
    },
  }, { decodeEntities: true });
  parser.write(html);
  parser.end();
  return out;
}
