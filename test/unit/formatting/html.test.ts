import { describe, expect, it } from "vitest";
import type { Doc } from "../../../src/formatting/ast.js";
import { docToHtml, htmlToDoc, parseMatrixLink, type MatrixResolve } from "../../../src/formatting/html.js";
import { docToMrkdwn } from "../../../src/formatting/slack.js";
import { docToTelegramHtml } from "../../../src/formatting/telegram.js";
import {
  a, b, br, chat, code, everyone, i, mention, mx, ol, p, pre, quote, s, slackUser, spoiler, u, ul,
} from "./helpers.js";

describe("htmlToDoc", () => {
  const cases: [string, string, Doc][] = [
    ["plain text", "hello", [p("hello")]],
    ["inline styles and aliases", "<b>b</b><strong>s</strong> <i>i</i><em>e</em> <u>u</u> <s>1</s><del>2</del><strike>3</strike>",
      [p(b("bs"), " ", i("ie"), " ", u("u"), " ", s("123"))]],
    ["nesting", "<b>bold <i>both</i></b>", [p(b("bold ", i("both")))]],
    ["misnested tags close like a browser", "<b><i>x</b>y</i>", [p(b(i("x")), "y")]],
    ["entities are decoded", "a &amp; b &lt;c&gt; &quot;d&quot; &#x1F44B;", [p('a & b <c> "d" 👋')]],
    ["br and source newlines", "a<br>b<br />\nc\nd", [p("a", br, "b", br, "c d")]],
    ["paragraphs and divs", "<p>one</p>\n<p>two</p><div>three</div>", [p("one"), p("two"), p("three")]],
    ["inline code", "run <code>a &lt; b</code>", [p("run ", code("a < b"))]],
    ["code block with language, trailing newline dropped", '<pre><code class="language-ts">let x = 1;\nf(x);\n</code></pre>', [pre("let x = 1;\nf(x);", "ts")]],
    ["code block keeps inner markup as text", "<pre><code>&lt;b&gt; <b>x</b></code></pre>", [pre("<b> x")]],
    ["links", '<a href="https://example.org/?a=1&amp;b=2">site</a>', [p(a("https://example.org/?a=1&b=2", "site"))]],
    ["mailto", '<a href="mailto:a@b.c">mail</a>', [p(a("mailto:a@b.c", "mail"))]],
    ["user pill → matrix mention", '<a href="https://matrix.to/#/@alice:example.org">Alice</a>: hi', [p(mention(mx("@alice:example.org"), "Alice"), ": hi")]],
    ["encoded pill, leading @ stripped", '<a href="https://matrix.to/#/%40bob%3Aexample.org">@Bob</a>', [p(mention(mx("@bob:example.org"), "Bob"))]],
    ["room alias link → chat mention", '<a href="https://matrix.to/#/#ops:example.org">#ops:example.org</a>', [p(chat({ kind: "matrix", room: "#ops:example.org" }, "ops:example.org"))]],
    ["room id link with via → chat mention", '<a href="https://matrix.to/#/!abc:example.org?via=example.org">Ops</a>', [p(chat({ kind: "matrix", room: "!abc:example.org" }, "Ops"))]],
    ["event permalink stays a link", '<a href="https://matrix.to/#/!abc:ex.org/$ev">msg</a>', [p(a("https://matrix.to/#/!abc:ex.org/$ev", "msg"))]],
    ["@room → everyone, only as a whole word", "hey @room! @roommate x@room @room_1 -@room-", [p("hey ", everyone("@room"), "! @roommate x@room @room_1 -", everyone("@room"), "-")]],
    ["text split around entities is judged whole", "a &amp;\n b @r&#111;om", [p("a & b ", everyone("@room"))]],
    ["@room word boundaries look across tags", "<b>@room</b>x <i>@room</i>", [p(b("@room"), "x ", i(everyone("@room")))]],
    ["@room inside code is code", "<code>@room</code>", [p(code("@room"))]],
    ["blockquote with paragraphs", "<blockquote><p>a</p><p>b</p></blockquote>c", [quote(p("a"), p("b")), p("c")]],
    ["lists, nested and ordered", "<ul><li>a</li><li>b<ol><li>c</li></ol></li></ul>", [ul([p("a")], [p("b"), ol([p("c")])])]],
    ["spoiler", '<span data-mx-spoiler="why">secret</span> <span>plain</span>', [p(spoiler("secret"), " plain")]],
    ["headings become bold paragraphs", "<h1>Title</h1>body", [p(b("Title")), p("body")]],
    ["reply fallback is stripped", "<mx-reply><blockquote><a href=\"https://matrix.to/#/!r:s/$e\">In reply to</a> old</blockquote></mx-reply>new", [p("new")]],
    ["script and style dropped", "<script>alert(1)</script><style>p{}</style>ok", [p("ok")]],
    ["unknown tags keep their text", "<marquee>wee</marquee> <sup>2</sup>", [p("wee 2")]],
    ["img alt (custom emoji)", 'hi <img src="mxc://s/x" alt=":party:">', [p("hi :party:")]],
    ["unsafe links lose the href", '<a href="javascript:alert(1)">x</a> <a href="/relative">y</a> <a>z</a>', [p("x y z")]],
    ["formatting across blocks", "<b><p>a</p><p>b</p></b>", [p(b("a")), p(b("b"))]],
  ];
  it.each(cases)("%s", (_, html, expected) => {
    expect(htmlToDoc(html)).toEqual(expected);
  });

  it("survives extreme nesting without recursion", () => {
    expect(htmlToDoc("<b>".repeat(20000) + "x")).toEqual([p(b("x"))]);
    const deep = htmlToDoc("<blockquote>".repeat(5000) + "q");
    let depth = 0;
    for (let blk = deep[0]; blk && blk.type === "quote"; blk = blk.children[0]) depth++;
    expect(depth).toBeGreaterThan(0);
    expect(depth).toBeLessThanOrEqual(16);
  });
});

describe("docToHtml", () => {
  const resolve: MatrixResolve = {
    mention: (tg) => (tg.kind === "remote" && tg.id === "U1" ? { mxid: "@slack_t1_u1:example.org", name: "" } : null),
    chat: (tg) => (tg.kind === "remote" && tg.id === "C1" ? { link: "#slack_t1_general:example.org", name: "general" } : null),
  };
  const cases: [string, Doc, string, string | undefined][] = [
    ["plain text has no formatted_body", [p("a < b", br, "c")], "a < b\nc", undefined],
    ["styles", [p(b("b"), i("i"), u("u"), s("s"), spoiler("x"))], "biusx", "<strong>b</strong><em>i</em><u>u</u><del>s</del><span data-mx-spoiler>x</span>"],
    ["escaping text", [p(b("<script>&\"'"))], "<script>&\"'", "<strong>&lt;script&gt;&amp;&quot;&#39;</strong>"],
    ["links and body URL", [p(a("https://x.y/?a=1&b=2", "go"))], "go (https://x.y/?a=1&b=2)", '<a href="https://x.y/?a=1&amp;b=2">go</a>'],
    ["unsafe link renders text only", [p(a("javascript:alert(1)", "click"))], "click (javascript:alert(1))", undefined],
    ["resolved remote mention → pill", [p(mention(slackUser("U1"), "Alice"), " hi")], "Alice hi", '<a href="https://matrix.to/#/@slack_t1_u1:example.org">Alice</a> hi'],
    ["unresolved mention → @Name", [p(mention(slackUser("U9"), "<b>Eve</b>"))], "@<b>Eve</b>", undefined],
    ["matrix mention without resolver", [p(mention(mx("@a:s"), "A"))], "A", '<a href="https://matrix.to/#/@a:s">A</a>'],
    ["chat mention", [p(chat({ kind: "remote", network: "slack", id: "C1" }, "general"))], "general", '<a href="https://matrix.to/#/#slack_t1_general:example.org">general</a>'],
    ["unresolved chat mention", [p(chat({ kind: "remote", network: "slack", id: "C9" }, "x"))], "#x", undefined],
    ["code block with language", [pre("a < b\n", "ts")], "```ts\na < b\n\n```", '<pre><code class="language-ts">a &lt; b\n\n</code></pre>'],
    ["hostile language is dropped", [pre("x", '"><script>')], '```"><script>\nx\n```', "<pre><code>x\n</code></pre>"],
    ["two paragraphs get <p>", [p("a"), p(b("b"))], "a\n\nb", "<p>a</p><p><strong>b</strong></p>"],
    ["quote and list", [quote(p("q")), ul([p("a")], [p("b")])], "> q\n• a\n• b", "<blockquote>q</blockquote><ul><li>a</li><li>b</li></ul>"],
    ["ordered list", [ol([p("x")])], "1. x", "<ol><li>x</li></ol>"],
    ["everyone", [p(everyone("@room"), " look")], "@room look", undefined],
  ];
  it.each(cases)("%s", (_, doc, body, formatted) => {
    const out = docToHtml(doc, resolve);
    expect(out.body).toBe(body);
    expect(out.formatted_body).toBe(formatted);
  });

  it("reports intentional mentions", () => {
    const out = docToHtml([p(mention(slackUser("U1"), "A"), mention(slackUser("U1"), "A"), mention(slackUser("U9"), "B"), everyone("@channel"))], resolve);
    expect(out.mentions).toEqual({ user_ids: ["@slack_t1_u1:example.org"], room: true });
    expect(docToHtml([p("x")]).mentions).toEqual({ user_ids: [] });
  });

  it("calls the resolver once per mention node", () => {
    let calls = 0;
    docToHtml([p(mention(slackUser("U1"), "A"))], { mention: () => { calls++; return { mxid: "@x:s", name: "X" }; } });
    expect(calls).toBe(1);
  });

  it("escapes names and ids from the resolver", () => {
    const out = docToHtml([p(mention(slackUser("U1"), "x"))], { mention: () => ({ mxid: '@a"><img src=x onerror=alert(1)>:s', name: "<img onerror=alert(1)>" }) });
    expect(out.formatted_body).not.toMatch(/<img/);
    expect(out.formatted_body).toContain("&lt;img onerror=alert(1)&gt;");
  });
});

describe("round trips and injection", () => {
  const stable = [
    "hello <strong>world</strong>",
    "<p>a</p><p>b <em>c</em></p>",
    "a<br><strong>b</strong>",
    '<a href="https://matrix.to/#/@alice:example.org">Alice</a>: see <a href="https://x.y/">x</a>',
    '<pre><code class="language-py">print(1)\n</code></pre>',
    "<pre><code>\n\nleading and trailing blank lines\n\n</code></pre>",
    "<blockquote>q<br>r</blockquote><ul><li>a</li><li>b<ol><li>c</li></ol></li></ul>",
    "<strong><em>x</em></strong><del>y</del><u>z</u><span data-mx-spoiler>s</span> <code>k</code> &lt;script&gt; &amp;",
  ];
  it.each(stable)("html → doc → html is stable: %s", (html) => {
    const once = docToHtml(htmlToDoc(html));
    expect(once.formatted_body).toBe(html);
    expect(docToHtml(htmlToDoc(once.formatted_body as string))).toEqual(once);
  });

  it("plain HTML round-trips to a body without formatted_body", () => {
    expect(docToHtml(htmlToDoc("x &lt;script&gt; &amp; y"))).toEqual({ body: "x <script> & y", mentions: { user_ids: [] } });
  });

  const attacks = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    '<a href="javascript:alert(1)" onclick="x()">c</a>',
    '<a href="  JaVaScRiPt:alert(1)">c</a>',
    '<a href="java&#10;script:alert(1)">c</a>',
    '<img src=x onerror="alert(1)">',
    '<svg><script>alert(1)</script></svg>',
    '<div style="x" onmouseover="alert(1)">hover</div>',
    '<iframe src="https://evil"></iframe><object data=x></object>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">d</a>',
    '<p title="</p><script>alert(1)</script>">t</p>',
  ];
  it.each(attacks)("never emits live HTML: %s", (html) => {
    const out = docToHtml(htmlToDoc(html));
    const f = out.formatted_body ?? "";
    expect(f).not.toMatch(/<script|<img|<svg|<iframe|<object|\son\w+=|javascript:|data:/i);
  });
});

describe("parseMatrixLink", () => {
  it("recognises users, rooms and matrix: URIs", () => {
    expect(parseMatrixLink("https://matrix.to/#/@a:b.c")).toEqual({ kind: "user", mxid: "@a:b.c" });
    expect(parseMatrixLink("https://matrix.to/#/#r:b.c?via=b.c")).toEqual({ kind: "room", room: "#r:b.c" });
    expect(parseMatrixLink("matrix:u/a:b.c")).toEqual({ kind: "user", mxid: "@a:b.c" });
    expect(parseMatrixLink("matrix:roomid/x:b.c")).toEqual({ kind: "room", room: "!x:b.c" });
    expect(parseMatrixLink("https://matrix.to/#/!r:b.c/$event")).toBeNull();
    expect(parseMatrixLink("https://example.org/#/@a:b")).toBeNull();
    expect(parseMatrixLink("https://matrix.to/#/%E0%A4%A")).toBeNull();
  });
});

describe("custom emoji (MSC2545 inline emotes)", () => {
  it("an emoticon with its image becomes <img data-mx-emoticon> with the shortcode as alt and title", () => {
    const out = docToHtml([{ type: "paragraph", children: [{ type: "text", text: "yay " }, { type: "emoticon", name: "partyparrot", mxc: "mxc://example.org/abc" }] }]);
    expect(out.formatted_body).toBe('yay <img data-mx-emoticon src="mxc://example.org/abc" alt=":partyparrot:" title=":partyparrot:" height="32">');
    expect(out.body).toBe("yay :partyparrot:");
  });

  it("the image can come from the resolver; without one (or with a non-mxc URI) the shortcode stays text", () => {
    const doc = [{ type: "paragraph" as const, children: [{ type: "emoticon" as const, name: "partyparrot" }] }];
    expect(docToHtml(doc, { emoticon: (n) => (n === "partyparrot" ? "mxc://example.org/p" : null) }).formatted_body).toContain('src="mxc://example.org/p"');
    expect(docToHtml(doc)).toEqual({ body: ":partyparrot:", mentions: { user_ids: [] } });
    expect(docToHtml(doc, { emoticon: () => 'https://evil.example/"><script>' }).formatted_body).toBeUndefined();
  });

  it("an incoming emote keeps its name and image; other images keep only their alt text", () => {
    expect(htmlToDoc('hi <img data-mx-emoticon src="mxc://example.org/abc" alt=":partyparrot:" title=":partyparrot:" height="32">'))
      .toEqual([{ type: "paragraph", children: [{ type: "text", text: "hi " }, { type: "emoticon", name: "partyparrot", mxc: "mxc://example.org/abc" }] }]);
    expect(htmlToDoc('<img src="mxc://example.org/abc" alt=":partyparrot:">')).toEqual([{ type: "paragraph", children: [{ type: "text", text: ":partyparrot:" }] }]);
    expect(htmlToDoc('<img data-mx-emoticon src="mxc://example.org/abc" alt=":a&lt;b:">')).toEqual([{ type: "paragraph", children: [{ type: "text", text: ":a<b:" }] }]);
  });

  it("goes to Slack as :name: and to Telegram as text", () => {
    const doc = [{ type: "paragraph" as const, children: [{ type: "emoticon" as const, name: "partyparrot", mxc: "mxc://example.org/abc" }] }];
    expect(docToMrkdwn(doc)).toBe(":partyparrot:");
    expect(docToTelegramHtml(doc)).toBe(":partyparrot:");
  });
});
