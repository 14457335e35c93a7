/**
 * renderPartsForMatrix: text too large for one Matrix event (65,536 bytes; Synapse refuses more)
 * is split into pieces that each fit, in order, losing no text, never splitting a character; a
 * message that fits is exactly renderForMatrix's output. Property-tested on random documents.
 */
import { describe, expect, it } from "vitest";
import type { NetworkConnector } from "../../../src/core/connector.js";
import type { MatrixPort } from "../../../src/core/matrix-port.js";
import type { PortalDirectory } from "../../../src/core/portals.js";
import { MATRIX_CONTENT_MAX_BYTES, renderForMatrix, renderPartsForMatrix } from "../../../src/core/render.js";
import { mrkdwnToDoc } from "../../../src/formatting/slack.js";
import { htmlToDoc } from "../../../src/formatting/html.js";
import { plainDoc } from "../../../src/formatting/ast.js";
import { htmlProblems, hugeString, int, pick, randomString, rng, runs, SEEDS } from "../../support/fuzz.js";

const connectors = new Map<string, NetworkConnector>([["slack", { ghostLocalpart: (id: string) => `slack_${id.toLowerCase()}` } as unknown as NetworkConnector]]);
const matrix = { ghostMxid: (l: string) => `@${l}:example.org` } as unknown as MatrixPort;
const portals = { linkForChat: () => undefined } as unknown as PortalDirectory;
const parts = (doc: ReturnType<typeof plainDoc>, max?: number) => renderPartsForMatrix(doc, connectors, matrix, portals, max);
const size = (c: object) => Buffer.byteLength(JSON.stringify(c));
/** Every non-space character, in order: what must survive however the text is cut. */
const ink = (s: string) => s.replace(/\s+/g, "");

describe("renderPartsForMatrix", () => {
  it("a message that fits is one piece, exactly as renderForMatrix renders it", () => {
    const doc = mrkdwnToDoc("hello *world* <@U1>");
    expect(parts(doc)).toEqual([renderForMatrix(doc, connectors, matrix, portals)]);
  });

  it("a 100 kB paragraph without a break is sliced; every slice fits and the text is whole", () => {
    const text = hugeString(rng(1), 100_000, "Привет 👋🏽 wörld ").replace(/[\uD800-\uDBFF]$/, "");
    const out = parts(plainDoc(text));
    expect(out.length).toBeGreaterThan(1);
    for (const p of out) expect(size(p)).toBeLessThanOrEqual(MATRIX_CONTENT_MAX_BYTES);
    expect(ink(out.map((p) => p.body).join(""))).toBe(ink(text));
    for (const p of out) expect(p.body).not.toMatch(/[\uD800-\uDBFF]$|^[\uDC00-\uDFFF]/); // no half of a surrogate pair
  });

  it("control characters (6-byte JSON escapes each) still fit", () => {
    const out = parts(plainDoc("\u0001".repeat(40_000)));
    for (const p of out) expect(size(p)).toBeLessThanOrEqual(MATRIX_CONTENT_MAX_BYTES);
    expect(out.map((p) => p.body).join("")).toBe("\u0001".repeat(40_000));
  });

  describe.each(SEEDS)("seed %i", (seed) => {
    it("random large documents: pieces fit, keep order and text, and carry no live HTML", () => {
      const next = rng(seed);
      for (let k = 0; k < runs(25); k++) {
        const lines = Array.from({ length: 200 + int(next, 2000) }, () => randomString(next, 30) + pick(next, [" *b* ", " _i_ ", " `c` ", " <https://x.y|l> ", "\n> q", "\n• item", ""]));
        const source = lines.join("\n");
        const doc = next() < 0.5 ? mrkdwnToDoc(source) : htmlToDoc(source);
        const max = pick(next, [MATRIX_CONTENT_MAX_BYTES, 8_000, 2_000]);
        const out = parts(doc, max);
        for (const p of out) {
          expect(size(p)).toBeLessThanOrEqual(max);
          expect(htmlProblems(p.formatted_body ?? "")).toEqual([]);
        }
        expect(ink(out.map((p) => p.body).join(""))).toBe(ink(renderForMatrix(doc, connectors, matrix, portals).body));
      }
    });
  });
});
