import { describe, expect, it } from "vitest";
import type { Doc } from "../../../src/formatting/ast.js";
import {
  docToMrkdwn, mrkdwnToDoc, richTextToDoc, slackEmojiToUnicode, slackMessageToDoc, unicodeToSlackEmoji, type SlackResolve,
} from "../../../src/formatting/slack.js";
import { a, b, br, chat, code, everyone, i, mention, mx, ol, p, pre, quote, s, slackUser, spoiler, u, ul } from "./helpers.js";

const slackChat = (id: string) => ({ kind: "remote" as const, network: "slack", id });

describe("mrkdwnToDoc", () => {
  const cases: [string, string, Doc][] = [
    ["plain", "hello world", [p("hello world")]],
    ["styles", "*bold* _italic_ ~strike~ `code`", [p(b("bold"), " ", i("italic"), " ", s("strike"), " ", code("code"))]],
    ["nesting", "*bold _both_* _it *b*_", [p(b("bold ", i("both")), " ", i("it ", b("b")))]],
    ["word-internal markers stay literal", "snake_case_name 2*3*4 a~b~c", [p("snake_case_name 2*3*4 a~b~c")]],
    ["markers need non-space inside", "* not bold * and _ x _", [p("* not bold * and _ x _")]],
    ["entities decoded once", "a &amp; b &lt;i&gt; &amp;lt;", [p("a & b <i> &lt;")]],
    ["links", "<https://x.y/?a=1&amp;b=2|the site> <https://z.w>", [p(a("https://x.y/?a=1&b=2", "the site"), " ", a("https://z.w", "https://z.w"))]],
    ["mailto", "<mailto:a@b.c|write>", [p(a("mailto:a@b.c", "write"))]],
    ["markup inside a link label is literal", "<https://x.y|*not* bold>", [p(a("https://x.y", "*not* bold"))]],
    ["user mentions", "<@U1> and <@U2|bob>", [p(mention(slackUser("U1"), "U1"), " and ", mention(slackUser("U2"), "bob"))]],
    ["channel mention", "see <#C1|general>", [p("see ", chat(slackChat("C1"), "general"))]],
    ["broadcasts", "<!here> <!channel> <!everyone>", [p(everyone("@here"), " ", everyone("@channel"), " ", everyone("@everyone"))]],
    ["subteam and date fallbacks", "<!subteam^S1|@team> at <!date^1392734382^{date_short}|Feb 18>", [p("@team at Feb 18")]],
    ["emoji shortcodes, skin tones; an unknown name is a custom emoji", ":smile: :thumbsup::skin-tone-3: :simple_smile: :partyparrot:", [p("😄 👍🏼 🙂 ", { type: "emoticon", name: "partyparrot" })]],
    ["emoji name with underscores is not italic", "x :slightly_smiling_face: y", [p("x 🙂 y")]],
    ["code is literal", "`*a* <https://x.y|l> &lt;`", [p(code("*a* l <"))]],
    ["quote lines", "&gt; one\n&gt; *two*\nafter", [quote(p("one", br, b("two"))), p("after")]],
    ["raw > quote and >>> rest-of-message", ">>> all\nof it", [quote(p("all", br, "of it"))]],
    ["code fence", "before\n```\nconst a = 1 &lt; 2;\n*x*\n```\nafter", [p("before"), pre("const a = 1 < 2;\n*x*"), p("after")]],
    ["inline fence", "run ```ls -la``` now", [p("run "), pre("ls -la"), p(" now")]],
    ["unpaired fence is text", "a ``` b", [p("a ``` b")]],
    ["bullets", "• one\n• two\n    ◦ nested\n- dash", [ul([p("one")], [p("two"), ul([p("nested")])], [p("dash")])]],
    ["numbered lists only when 1, 2, 3", "1. a\n2. b\n2019. not a list", [ol([p("a")], [p("b")]), p("2019. not a list")]],
    ["blank lines stay in a paragraph", "a\n\nb", [p("a", br, br, "b")]],
    ["non-Latin and emoji", "*Привет* 👋🏽 _мир_", [p(b("Привет"), " 👋🏽 ", i("мир"))]],
    ["unknown angle token stays literal", "<nope>", [p("<nope>")]],
  ];
  it.each(cases)("%s", (_, text, expected) => {
    expect(mrkdwnToDoc(text)).toEqual(expected);
  });

  it("maps ids and names through the options", () => {
    const doc = mrkdwnToDoc("<@U1> <#C1>", {
      userRef: (id) => `T1:${id}`, chatRef: (id) => `T1:${id}`,
      userName: (id) => (id === "U1" ? "Alice" : undefined), chatName: () => "general",
    });
    expect(doc).toEqual([p(mention(slackUser("T1:U1"), "Alice"), " ", chat(slackChat("T1:C1"), "general"))]);
  });
});

describe("docToMrkdwn", () => {
  const resolve: SlackResolve = {
    mention: (tg) => (tg.kind === "remote" && tg.network === "slack" ? tg.id : null),
    chat: (tg) => (tg.kind === "remote" && tg.network === "slack" ? tg.id : null),
  };
  const cases: [string, Doc, string][] = [
    ["escapes & < >", [p("a & <b> > c")], "a &amp; &lt;b&gt; &gt; c"],
    ["styles", [p(b("b"), " ", i("i"), " ", s("s"), " ", code("c"))], "*b* _i_ ~s~ `c`"],
    ["underline and spoiler pass through as text", [p(u("u"), spoiler("x"))], "ux"],
    ["edge whitespace moves outside markers", [p("a", b(" b "), "c")], "a *b* c"],
    ["markers per line", [p(b("one", br, "two"))], "*one*\n*two*"],
    ["no doubled markers", [p(b("x ", b("y")))], "*x y*"],
    ["links", [p(a("https://x.y/?a=1&b=2", "go | here"), " ", a("https://z.w", "https://z.w"))], "<https://x.y/?a=1&amp;b=2|go | here> <https://z.w>"],
    ["bold link label", [p(a("https://x.y", b("go")))], "*<https://x.y|go>*"],
    ["unsafe link → text", [p(a("javascript:alert(1)", "x"))], "x"],
    ["resolved mentions", [p(mention(slackUser("U1"), "A"), " ", chat(slackChat("C1"), "g"))], "<@U1> <#C1>"],
    ["unresolved mentions", [p(mention(mx("@a:s"), "Al <x>"), " ", chat({ kind: "matrix", room: "#r:s" }, "r"))], "@Al &lt;x&gt; #r"],
    ["everyone: only Slack broadcasts ping", [p(everyone("@here"), " ", everyone("@room"))], "<!here> @room"],
    ["quote", [quote(p("a", br, "b")), p("c")], "> a\n> b\nc"],
    ["lists", [ul([p("a")], [p("b"), ol([p("c")])])], "• a\n• b\n    1. c"],
    ["code block", [pre("x < 1\ny", "js")], "```\nx &lt; 1\ny\n```"],
    ["paragraphs", [p("a"), p("b")], "a\n\nb"],
  ];
  it.each(cases)("%s", (_, doc, expected) => {
    expect(docToMrkdwn(doc, resolve)).toBe(expected);
  });

  const canonical = [
    "*bold* _it_ ~st~ `code` <https://x.y|label> <@U1> <#C1> <!here>",
    "a &amp; b &lt;c&gt;\n\nsecond",
    "> quoted *text*\nafter",
    "• a\n• b\n    ◦ c\n1. x\n2. y",
    "```\ncode &lt;here&gt;\n```",
    "*Привет* 👋🏽 _мир_",
  ];
  it.each(canonical)("round trip mrkdwn → doc → mrkdwn: %s", (text) => {
    expect(docToMrkdwn(mrkdwnToDoc(text), resolve)).toBe(text);
  });
});

describe("richTextToDoc", () => {
  const blocks = [
    { type: "section", text: { type: "mrkdwn", text: "ignored" } },
    {
      type: "rich_text",
      elements: [
        {
          type: "rich_text_section",
          elements: [
            { type: "text", text: "Hi " },
            { type: "user", user_id: "U1" },
            { type: "text", text: " bold", style: { bold: true } },
            { type: "text", text: " both", style: { bold: true, italic: true } },
            { type: "text", text: " x", style: { code: true } },
            { type: "link", url: "https://x.y", text: "site", style: { strike: true } },
            { type: "emoji", name: "thumbsup", unicode: "1f44d-1f3fd" },
            { type: "emoji", name: "partyparrot" },
            { type: "broadcast", range: "channel" },
            { type: "channel", channel_id: "C1" },
            { type: "usergroup", usergroup_id: "S1" },
            { type: "text", text: "\nline2\n" },
          ],
        },
        { type: "rich_text_list", style: "bullet", indent: 0, elements: [{ type: "rich_text_section", elements: [{ type: "text", text: "a" }] }] },
        { type: "rich_text_list", style: "ordered", indent: 1, elements: [{ type: "rich_text_section", elements: [{ type: "text", text: "b" }] }] },
        { type: "rich_text_list", style: "bullet", indent: 0, elements: [{ type: "rich_text_section", elements: [{ type: "text", text: "c" }] }] },
        { type: "rich_text_preformatted", elements: [{ type: "text", text: "code <b>" }, { type: "link", url: "https://l.l" }] },
        { type: "rich_text_quote", elements: [{ type: "text", text: "quoted", style: { italic: true } }] },
        { type: "rich_text_future_thing", elements: [] },
      ],
    },
  ];

  it("converts sections, styles, mentions, emoji, lists, pre and quotes", () => {
    const doc = richTextToDoc(blocks, { userName: (id) => (id === "U1" ? "Alice" : undefined), usergroupName: () => "ops" });
    expect(doc).toEqual([
      p("Hi ", mention(slackUser("U1"), "Alice"), b(" bold", i(" both")), code(" x"), s(a("https://x.y", "site")), "👍🏽", { type: "emoticon", name: "partyparrot" },
        everyone("@channel"), chat(slackChat("C1"), "C1"), "@ops", br, "line2"),
      ul([p("a"), ol([p("b")])], [p("c")]),
      pre("code <b>https://l.l"),
      quote(p(i("quoted"))),
    ]);
  });

  it("tolerates malformed input", () => {
    expect(richTextToDoc(null)).toEqual([]);
    expect(richTextToDoc([{ type: "rich_text", elements: [null, 3, { type: "rich_text_section", elements: [{ type: "text" }, "x"] }] }])).toEqual([]);
  });

  it("slackMessageToDoc prefers rich_text and falls back to mrkdwn", () => {
    expect(slackMessageToDoc({ text: "*x*", blocks })[0]?.type).toBe("paragraph");
    expect(slackMessageToDoc({ text: "*x*", blocks }).length).toBe(4);
    expect(slackMessageToDoc({ text: "*x*" })).toEqual([p(b("x"))]);
  });
});

describe("emoji", () => {
  const toUnicode: [string, string | null][] = [
    ["smile", "😄"], [":smile:", "😄"], ["thumbsup", "👍"], ["+1", "👍"], ["-1", "👎"], ["simple_smile", "🙂"],
    ["slightly_smiling_face", "🙂"], ["thinking_face", "🤔"], ["heart", "❤️"], ["thumbsup::skin-tone-2", "👍🏻"],
    [":+1::skin-tone-6:", "👍🏿"], ["man-shrugging::skin-tone-4", "🤷🏽‍♂️"], ["partyparrot", null], ["", null],
  ];
  it.each(toUnicode)("slackEmojiToUnicode(%s)", (name, expected) => {
    expect(slackEmojiToUnicode(name)).toBe(expected);
  });

  const toName: [string, string | null][] = [
    ["👍", "+1"], ["👍🏽", "+1::skin-tone-4"], ["❤️", "heart"], ["❤", "heart"], ["🙂", "slightly_smiling_face"],
    ["🤔", "thinking_face"], ["😄", "smile"], ["🎉", "tada"], ["🤷🏽‍♂️", "man-shrugging::skin-tone-4"], ["x", null], ["", null],
  ];
  it.each(toName)("unicodeToSlackEmoji(%s)", (uni, expected) => {
    expect(unicodeToSlackEmoji(uni)).toBe(expected);
  });

  it("round-trips common reactions", () => {
    for (const name of ["+1", "-1", "heart", "tada", "eyes", "white_check_mark", "joy", "fire", "rocket", "pray", "+1::skin-tone-3"]) {
      expect(unicodeToSlackEmoji(slackEmojiToUnicode(name) as string)).toBe(name);
    }
  });
});
