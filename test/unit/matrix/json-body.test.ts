/**
 * The sliced JSON parser of the appservice listener: the same result as JSON.parse for any
 * document within its limits, bad JSON refused with a clear error, and the event loop served
 * between slices.
 */
import { Readable } from "node:stream";
import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { BodyError, parseBody, readBody, type SkipReason } from "../../../src/matrix/json-body.js";

const limits = { maxBytes: 1 << 20, maxDepth: 64, maxElementDepth: 8 };
/** A request stand-in delivering `text` in chunks of `chunk` bytes (so scans cross chunk borders). */
const request = (text: string, chunk = 7) => {
  const buf = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Object.assign(Readable.from(parts), { headers: {}, complete: true }) as unknown as IncomingMessage;
};
const parse = async (text: string, opts: { chunk?: number; onSkip?: (r: SkipReason, p: Array<string | number>) => void } = {}) =>
  parseBody(await readBody(request(text, opts.chunk), limits), { maxValueBytes: 1000, onSkip: opts.onSkip, sliceMs: 0 });

describe("sliced JSON parsing", () => {
  it("gives what JSON.parse gives, whitespace, escapes and odd keys included", async () => {
    const docs = [
      { events: [{ type: "m.room.message", content: { body: 'quote " backslash \\ brace } bracket ] \u00e9 \ud83d\ude00' } }, 1, "two", null, true, [3, [4]]] },
      { events: [{ s: '\\"\\\\"]}{["\\', t: ["\\", '"', "\\\\", "]"] }, { u: "x".repeat(300) + '\\"' + "y".repeat(300) }] },
      [], {}, [[]], [{}], 5, "text", null, -1.5e3, { "": { "": [] } }, { a: [1, { b: [2, { c: 3 }] }], "k\"ey": "v", "\\": "\\" },
    ];
    for (const doc of docs) {
      for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, 2).replace(/\n/g, "\r\n\t")]) {
        for (const chunk of [1, 3, 64]) expect(await parse(text, { chunk }), text).toEqual(JSON.parse(text));
      }
    }
  });

  it("keeps a \"__proto__\" key a plain property, as JSON.parse does", async () => {
    const text = '{"__proto__":{"polluted":1},"events":[{"__proto__":{"x":1}}]}';
    const got = (await parse(text)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(Object.keys(got)).toEqual(["__proto__", "events"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(got).toEqual(JSON.parse(text));
  });

  it("refuses bad JSON with a clear error", async () => {
    for (const text of ["", "{", '{"a":1,}', '{"a" 1}', "[1 2]", '{"a":1}x', "]", '["unterminated', '{"a":[1,2}', "nul", '{"events":[{"a":1]}]}']) {
      const err = await parse(text).catch((e: unknown) => e);
      expect(err, text).toBeInstanceOf(BodyError);
      expect((err as BodyError).status).toBe(400);
      expect((err as BodyError).message).toMatch(/^Request body is not valid JSON: /);
    }
  });

  it("refuses a document deeper than the limit while reading, and leaves out deep or large elements", async () => {
    const err = await parse("[".repeat(65) + "]".repeat(65)).catch((e: unknown) => e);
    expect((err as BodyError).message).toBe("Request body is not valid JSON: nested deeper than 64 levels");
    const skipped: string[] = [];
    const doc = { events: [{ ok: 1 }, JSON.parse('{"a":'.repeat(9) + "0" + "}".repeat(9)), { big: "x".repeat(2000) }, { ok: 2 }] };
    const got = await parse(JSON.stringify(doc), { onSkip: (reason, path) => skipped.push(`${reason} ${path.join(".")}`) });
    expect(got).toEqual({ events: [{ ok: 1 }, { ok: 2 }] });
    expect(skipped).toEqual(["too_deep events.1", "too_large events.2"]);
  });

  it("refuses a body over the byte limit", async () => {
    const err = await readBody(request(JSON.stringify({ events: ["x".repeat(limits.maxBytes)] }), 65536), limits).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 413, errcode: "M_TOO_LARGE" });
  });

  it("lets the event loop run between slices", async () => {
    const body = await readBody(request(JSON.stringify({ events: Array.from({ length: 50 }, (_, i) => ({ i })) })), limits);
    let immediates = 0;
    let done = false;
    const count = () => { immediates++; if (!done) setImmediate(count); };
    setImmediate(count);
    await parseBody(body, { maxValueBytes: 1000, sliceMs: 0 });
    done = true;
    // With sliceMs 0 every event is its own slice, and the loop turns between them.
    expect(immediates).toBeGreaterThanOrEqual(40);
  });
});
