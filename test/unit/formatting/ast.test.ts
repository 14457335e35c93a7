import { describe, expect, it } from "vitest";
import {
  isPlain, mapInlines, normalizeDoc, paragraph, plainDoc, plainText, text, walkInlines, type Doc, type Inline,
} from "../../../src/formatting/ast.js";
import { buildNestedLists } from "../../../src/formatting/lists.js";
import { buildInlines } from "../../../src/formatting/marks.js";
import { a, b, br, code, everyone, i, mention, mx, ol, p, pre, quote, slackUser, t, ul } from "./helpers.js";

describe("builders and normalization", () => {
  it("paragraph() turns newlines in strings into br", () => {
    expect(paragraph("a\nb", b("c"))).toEqual(p("a", br, "b", b("c")));
    expect(plainDoc("x\r\ny")).toEqual([p("x", br, "y")]);
    expect(text("q")).toEqual(t("q"));
  });

  it("merges adjacent text, drops empty nodes and empty blocks", () => {
    const doc: Doc = [p("a", "b", b(), code(""), i("c")), p(), quote(), pre("", undefined)];
    expect(normalizeDoc(doc)).toEqual([p("ab", i("c")), pre("")]);
  });

  it("is idempotent", () => {
    const doc: Doc = [p("a\nb", b("c", "d")), quote(p("x"))];
    expect(normalizeDoc(normalizeDoc(doc))).toEqual(normalizeDoc(doc));
  });
});

describe("plainText", () => {
  const cases: [string, Doc, string][] = [
    ["paragraphs get a blank line", [p("a"), p("b")], "a\n\nb"],
    ["line breaks", [p("a", br, "b")], "a\nb"],
    ["formatting is dropped", [p(b("bold"), " ", i("it"), " ", code("x"))], "bold it x"],
    ["links keep their URL", [p(a("https://x.y", "label"))], "label (https://x.y)"],
    ["bare links are not doubled", [p(a("https://x.y", "https://x.y"))], "https://x.y"],
    ["mailto links show the address", [p(a("mailto:a@b.c", "a@b.c"))], "a@b.c"],
    ["mentions", [p(mention(slackUser("U1"), "Alice"), " ", everyone("@room"))], "@Alice @room"],
    ["code block is fenced", [p("see"), pre("x = 1", "py")], "see\n```py\nx = 1\n```"],
    ["quote lines", [quote(p("a", br, "b")), p("c")], "> a\n> b\nc"],
    ["lists, nested", [ul([p("a")], [p("b"), ul([p("c")])]), ol([p("x")], [p("y")])], "• a\n• b\n    ◦ c\n1. x\n2. y"],
    ["multi-block item is indented", [ul([p("a"), p("more")])], "• a\n  more"],
  ];
  it.each(cases)("%s", (_, doc, expected) => {
    expect(plainText(doc)).toBe(expected);
  });

  it("hooks override mention rendering", () => {
    expect(plainText([p(mention(slackUser("U1"), "Al"))], { mention: (n) => `[${n.text}]` })).toBe("[Al]");
  });
});

describe("isPlain", () => {
  it("is true only for text, br and everyone", () => {
    expect(isPlain([p("a", br, "b", everyone("@room"))])).toBe(true);
    expect(isPlain([])).toBe(true);
    expect(isPlain([p(b("a"))])).toBe(false);
    expect(isPlain([p(mention(mx("@a:b"), "a"))])).toBe(false);
    expect(isPlain([pre("x")])).toBe(false);
    expect(isPlain([p("a"), quote(p("b"))])).toBe(false);
  });
});

describe("walkInlines / mapInlines", () => {
  const doc: Doc = [p("hi ", b(mention(slackUser("U1"), "Al"))), quote(p(mention(slackUser("U2"), "Bo"))), ul([p(code("c"))])];

  it("walk visits nested inlines with their parents", () => {
    const seen: string[] = [];
    walkInlines(doc, (n, parents) => seen.push(`${n.type}@${parents.length}`));
    expect(seen).toEqual(["text@0", "bold@0", "mention@1", "mention@0", "code@0"]);
  });

  it("map rewrites mention targets without mutating the input", () => {
    const before = JSON.stringify(doc);
    const out = mapInlines(doc, (n) => (n.type === "mention" ? { ...n, target: mx(`@slack_${(n.target as { id: string }).id.toLowerCase()}:hs`) } : undefined));
    const targets: unknown[] = [];
    walkInlines(out, (n) => { if (n.type === "mention") targets.push(n.target); });
    expect(targets).toEqual([mx("@slack_u1:hs"), mx("@slack_u2:hs")]);
    expect(JSON.stringify(doc)).toBe(before);
  });

  it("map can delete and expand nodes", () => {
    const out = mapInlines([p("a", code("x"), "b")], (n): Inline | Inline[] | null | undefined => (n.type === "code" ? null : n.type === "text" ? [n, n] : undefined));
    expect(out).toEqual([p("aabb")]);
  });
});

describe("marks and lists", () => {
  it("groups leaves sharing outer marks into one node", () => {
    const out = buildInlines([
      { leaf: t("a"), marks: [{ type: "bold" }] },
      { leaf: t("b"), marks: [{ type: "bold" }, { type: "italic" }] },
      { leaf: t("c"), marks: [{ type: "italic" }] },
    ]);
    expect(out).toEqual([b("a", i("b")), i("c")]);
  });

  it("keeps mentions out of links (no nested anchors)", () => {
    const out = buildInlines([{ leaf: { type: "mention", target: mx("@a:b"), text: "A" }, marks: [{ type: "link", url: "https://x" }] }]);
    expect(out).toEqual([mention(mx("@a:b"), "A")]);
  });

  it("nests flat list items by level and splits on ordered/bullet changes", () => {
    const out = buildNestedLists([
      { level: 0, ordered: false, blocks: [p("a")] },
      { level: 1, ordered: false, blocks: [p("b")] },
      { level: 1, ordered: true, blocks: [p("c")] },
      { level: 0, ordered: false, blocks: [p("d")] },
      { level: 0, ordered: true, blocks: [p("e")] },
    ]);
    expect(out).toEqual([
      ul([p("a"), ul([p("b")]), ol([p("c")])], [p("d")]),
      ol([p("e")]),
    ]);
  });
});
