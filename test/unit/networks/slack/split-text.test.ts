/**
 * splitText (Matrix → Slack, for text over Slack's 40,000 characters): every part fits, no text
 * is lost, and a hard cut (a line longer than the limit) never splits a <…> token, an &amp;
 * entity or a surrogate pair. Property-tested on mrkdwn rendered from random documents.
 */
import { describe, expect, it } from "vitest";
import { docToMrkdwn, mrkdwnToDoc } from "../../../../src/formatting/slack.js";
import { splitText } from "../../../../src/networks/slack/outbound.js";
import { int, pick, randomString, rng, runs, SEEDS } from "../../../support/fuzz.js";

const ink = (s: string) => s.replace(/\s+/g, "");

describe.each(SEEDS)("splitText, seed %i", (seed) => {
  it("parts fit, text is whole, and hard cuts split no token, entity or emoji", () => {
    const next = rng(seed);
    for (let k = 0; k < runs(400); k++) {
      const pieces = Array.from({ length: 20 + int(next, 200) }, () => randomString(next, 12) + pick(next, [" <@U0001> ", " <https://x.example/a?b=c&d=e|link> ", " & < > ", "👍🏽", "\n", " "]));
      // Lone surrogates (the generator makes them) would look like a split pair wherever a newline between two is cut out.
      const text = docToMrkdwn(mrkdwnToDoc(pieces.join(""))).replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "?");
      const max = 40 + int(next, 400);
      const parts = splitText(text, max);
      for (const p of parts) expect(p.length).toBeLessThanOrEqual(max);
      expect(ink(parts.join(""))).toBe(ink(text));
      for (const [i, p] of parts.slice(0, -1).entries()) {
        expect(/[\uD800-\uDBFF]$/.test(p) && /^[\uDC00-\uDFFF]/.test(parts[i + 1]!), "a surrogate pair split").toBe(false);
        expect(p).not.toMatch(/&[a-z#0-9]{0,6}$/);
        const open = p.lastIndexOf("<");
        if (open >= 0 && p.length - open < 900) expect(p.indexOf(">", open), p.slice(-60)).toBeGreaterThan(-1);
      }
    }
  });
});

describe("splitText extremes", () => {
  it("40,001 plain characters: two parts that join to the original exactly", () => {
    const text = "x".repeat(20_000) + "👍" + "y".repeat(19_999);
    const parts = splitText(text, 39_000);
    expect(parts).toHaveLength(2);
    expect(parts.join("")).toBe(text);
  });
});
