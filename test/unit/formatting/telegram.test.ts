import { describe, expect, it } from "vitest";
import type { MessageEntity } from "grammy/types";
import type { Doc } from "../../../src/formatting/ast.js";
import { docToTelegramHtml, entitiesToDoc, splitTelegramHtml, type TelegramResolve } from "../../../src/formatting/telegram.js";
import { a, b, br, chat, code, everyone, i, mention, mx, ol, p, pre, quote, s, slackUser, spoiler, tagEvents, tgUser, u, ul, visibleText } from "./helpers.js";

const user = (id: number) => ({ id, is_bot: false, first_name: "X" });
const E = (type: string, offset: number, length: number, extra: object = {}): MessageEntity =>
  ({ type, offset, length, ...extra }) as MessageEntity;

describe("entitiesToDoc", () => {
  it("uses UTF-16 offsets (emoji with skin tone is 4 units)", () => {
    const text = "Привет 👋🏽 мир";
    expect("Привет 👋🏽 ".length).toBe(12);
    expect(entitiesToDoc(text, [E("bold", 12, 3)])).toEqual([p("Привет 👋🏽 ", b("мир"))]);
  });

  const cases: [string, string, MessageEntity[], Doc][] = [
    ["no entities", "just text", [], [p("just text")]],
    ["newlines become br", "a\nb\n\nc", [], [p("a", br, "b", br, br, "c")]],
    ["nested", "hello world", [E("bold", 0, 11), E("italic", 6, 5)], [p(b("hello ", i("world")))]],
    ["partial overlap builds a correct tree", "abcdefgh", [E("bold", 0, 5), E("italic", 3, 5)], [p(b("abc", i("de")), i("fgh"))]],
    ["same range, all styles", "x", [E("bold", 0, 1), E("italic", 0, 1), E("underline", 0, 1), E("strikethrough", 0, 1), E("spoiler", 0, 1)], [p(b(i(u(s(spoiler("x"))))))]],
    ["entities out of order", "ab cd", [E("italic", 3, 2), E("bold", 0, 2)], [p(b("ab"), " ", i("cd"))]],
    ["code is atomic; bold edge inside it is ignored", "ab cd ef", [E("bold", 0, 4), E("code", 3, 2)], [p(b("ab "), code("cd"), " ef")]],
    ["code inside bold", "run ls now", [E("bold", 0, 10), E("code", 4, 2)], [p(b("run ", code("ls"), " now"))]],
    ["pre with language; separating newlines are not content", "see:\nlet x = 1;\ny()\nok", [E("pre", 5, 14, { language: "js" })], [p("see:"), pre("let x = 1;\ny()", "js"), p("ok")]],
    ["blockquote with inner bold", "quote here\nnext", [E("blockquote", 0, 10), E("bold", 6, 4)], [quote(p("quote ", b("here"))), p("next")]],
    ["expandable blockquote", "a\nlong\nquote", [E("expandable_blockquote", 2, 10)], [p("a"), quote(p("long", br, "quote"))]],
    ["text_link, url, email", "site x.org a@b.c", [E("text_link", 0, 4, { url: "https://s.t/" }), E("url", 5, 5), E("email", 11, 5)],
      [p(a("https://s.t/", "site"), " ", a("https://x.org", "x.org"), " ", a("mailto:a@b.c", "a@b.c"))]],
    ["@username mention → t.me link", "hi @durov", [E("mention", 3, 6)], [p("hi ", a("https://t.me/durov", "@durov"))]],
    ["text_mention → remote mention", "hi Bob!", [E("text_mention", 3, 3, { user: user(42) })], [p("hi ", mention(tgUser("42"), "Bob"), "!")]],
    ["tg://user link → remote mention", "hi Al", [E("text_link", 3, 2, { url: "tg://user?id=7" })], [p("hi ", mention(tgUser("7"), "Al"))]],
    ["plain entity types", "#tag $USD /start +1-212 ☺", [E("hashtag", 0, 4), E("cashtag", 5, 4), E("bot_command", 10, 6), E("phone_number", 17, 6), E("custom_emoji", 24, 1, { custom_emoji_id: "1" })],
      [p("#tag $USD /start +1-212 ☺")]],
    ["Japanese with a flag (4 units)", "🇯🇵 日本語 テスト", [E("italic", 5, 3), E("bold", 9, 3)], [p("🇯🇵 ", i("日本語"), " ", b("テスト"))]],
    ["edge inside a surrogate pair is widened", "😀x", [E("bold", 1, 2)], [p(b("😀x"))]],
    ["invalid entities ignored", "abc", [E("bold", -5, 2), E("italic", 1, 0), E("underline", 10, 3), E("bold", Number.NaN, 1)], [p("abc")]],
    ["entity past the end is clipped", "abc", [E("bold", 1, 99)], [p("a", b("bc"))]],
    ["markup-looking text stays text", "<b>*x*</b> &amp;", [], [p("<b>*x*</b> &amp;")]],
  ];
  it.each(cases)("%s", (_, text, entities, expected) => {
    expect(entitiesToDoc(text, entities)).toEqual(expected);
  });

  it("maps user ids through userRef", () => {
    expect(entitiesToDoc("Bob", [E("text_mention", 0, 3, { user: user(5) })], { userRef: (id) => `u${id}` })).toEqual([p(mention(tgUser("u5"), "Bob"))]);
  });
});

describe("docToTelegramHtml", () => {
  const resolve: TelegramResolve = {
    mention: (tg) => (tg.kind === "remote" && tg.network === "telegram" ? `tg://user?id=${tg.id}` : tg.kind === "matrix" && tg.mxid === "@dur:s" ? "@durov" : null),
    chat: (tg) => (tg.kind === "remote" && tg.id === "c" ? "https://t.me/chan" : null),
  };
  const cases: [string, Doc, string][] = [
    ["escapes only & < >", [p(`a & <b> "q" 'x'`)], `a &amp; &lt;b&gt; "q" 'x'`],
    ["styles", [p(b("b"), i("i"), u("u"), s("s"), spoiler("x"))], "<b>b</b><i>i</i><u>u</u><s>s</s><tg-spoiler>x</tg-spoiler>"],
    ["link with quote in URL", [p(a('https://x.y/?q="1"&a', "go"))], '<a href="https://x.y/?q=&quot;1&quot;&amp;a">go</a>'],
    ["unsafe link → text", [p(a("javascript:alert(1)", "x"))], "x"],
    ["code", [p(code("a<b"))], "<code>a&lt;b</code>"],
    ["pre with and without language", [pre("x<1", "py"), pre("y")], '<pre><code class="language-py">x&lt;1</code></pre>\n<pre>y</pre>'],
    ["quote, nested quote flattened", [quote(p("a"), quote(p("b", br, "c")))], "<blockquote>a\n&gt; b\n&gt; c</blockquote>"],
    ["lists", [ul([p("a")], [p("b"), ol([p("c")], [p("d")])])], "• a\n• b\n    1. c\n    2. d"],
    ["multi-block item", [ul([p("a"), p("more")])], "• a\n  more"],
    ["mentions: tg link, literal username, unresolved", [p(mention(tgUser("42"), "Bob"), " ", mention(mx("@dur:s"), "Pavel"), " ", mention(slackUser("U1"), "<Al>"))],
      '<a href="tg://user?id=42">Bob</a> @durov @&lt;Al&gt;'],
    ["chat mentions", [p(chat({ kind: "remote", network: "telegram", id: "c" }, "Chan"), " ", chat({ kind: "matrix", room: "#r:s" }, "room"))], '<a href="https://t.me/chan">Chan</a> #room'],
    ["everyone is text", [p(everyone("@room"))], "@room"],
    ["link inside bold", [p(b("x ", a("https://y.z", "y")))], '<b>x <a href="https://y.z">y</a></b>'],
    ["tg: links kept, data: links dropped", [p(a("tg://resolve?domain=x", "t"), a("data:text/html,x", "d"))], '<a href="tg://resolve?domain=x">t</a>d'],
    ["paragraph separation", [p("a"), p("b"), quote(p("c"))], "a\n\nb\n<blockquote>c</blockquote>"],
    ["non-Latin + emoji", [p("Привет 👋🏽 ", b("мир"))], "Привет 👋🏽 <b>мир</b>"],
  ];
  it.each(cases)("%s", (_, doc, expected) => {
    expect(docToTelegramHtml(doc, resolve)).toBe(expected);
  });

  it("entities → doc → Telegram HTML keeps the formatting", () => {
    const text = "Привет 👋🏽 мир and code";
    const doc = entitiesToDoc(text, [E("bold", 12, 3), E("italic", 7, 8), E("code", 20, 4)]);
    expect(docToTelegramHtml(doc)).toBe("Привет <i>👋🏽 <b>мир</b></i> and <code>code</code>");
  });

  it("injection in names and URLs is escaped", () => {
    const html = docToTelegramHtml([p(a('https://x/"><script>', "<script>alert(1)</script>"), mention(tgUser("1"), "<img onerror=x>"))], { mention: () => 'tg://user?id=1"><b>' });
    expect(html).not.toMatch(/<script|<img|"><b>/);
    expect(visibleText(html)).toBe("<script>alert(1)</script><img onerror=x>");
  });
});

describe("splitTelegramHtml", () => {
  const limit = 100;
  const lines = Array.from({ length: 30 }, (_, k) => `line ${k} with some words`).join("\n");

  it("returns one part when it fits, none when empty", () => {
    expect(splitTelegramHtml([p(b("x"))])).toEqual(["<b>x</b>"]);
    expect(splitTelegramHtml([])).toEqual([]);
  });

  it("splits at line boundaries with balanced tags", () => {
    const doc = entitiesToDoc(lines, [E("bold", 0, lines.length)]);
    const parts = splitTelegramHtml(doc, limit);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      const text = visibleText(part);
      expect(text.length).toBeLessThanOrEqual(limit);
      expect(part.startsWith("<b>") && part.endsWith("</b>")).toBe(true);
      expect(tagEvents(part).filter((e) => e.startsWith("~"))).toEqual([]); // no implied (unbalanced) closes
    }
    expect(parts.slice(0, -1).every((x) => visibleText(x).endsWith("\n"))).toBe(true);
    expect(parts.map(visibleText).join("")).toBe(visibleText(docToTelegramHtml(doc)));
  });

  it("prefers paragraph boundaries", () => {
    // A later line break would fit more into the first part, but the blank line wins.
    const doc: Doc = [p("a".repeat(55)), p("b".repeat(20), br, "c".repeat(10), br, "d".repeat(40))];
    const parts = splitTelegramHtml(doc, limit);
    expect(parts.map(visibleText)).toEqual(["a".repeat(55) + "\n\n", "b".repeat(20) + "\n" + "c".repeat(10) + "\n" + "d".repeat(40)]);
  });

  it("reopens code blocks with their language", () => {
    const doc: Doc = [pre(Array.from({ length: 20 }, (_, k) => `x = ${k} # <`).join("\n"), "py")];
    const parts = splitTelegramHtml(doc, 60);
    expect(parts.length).toBeGreaterThan(2);
    for (const part of parts) expect(part).toMatch(/^<pre><code class="language-py">[^]*<\/code><\/pre>$/);
  });

  it("hard-cuts long words without splitting surrogate pairs", () => {
    const doc: Doc = [p(i("😀".repeat(120)))];
    const parts = splitTelegramHtml(doc, 101);
    for (const part of parts) {
      const text = visibleText(part);
      expect(text.length).toBeLessThanOrEqual(101);
      expect(text).toMatch(/^(?:😀)+$/u);
    }
    expect(parts.map(visibleText).join("")).toBe("😀".repeat(120));
  });
});
