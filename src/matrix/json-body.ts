/**
 * Request bodies of the appservice listener, read with bounded work (issue 16, row 3):
 * - streamed with a byte limit: a declared Content-Length over it is refused before a byte is
 *   read, a chunked body as soon as it passes the limit;
 * - JSON nesting checked byte by byte as chunks arrive, so a deep document is refused after its
 *   first chunk, not after 20 MB were buffered;
 * - parsed in slices: the top two levels (the transaction object and its `events` array) are
 *   walked here and every deeper value (one event) goes to JSON.parse on its own, yielding to
 *   the event loop between slices. One JSON.parse of a 20 MB body holds the loop for hundreds of
 *   milliseconds on a busy machine, long enough for Slack's Socket Mode to give up on a ping.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { performance } from "node:perf_hooks";

export class BodyError extends Error {
  constructor(readonly status: number, readonly errcode: string, message: string) {
    super(message);
  }
}

export interface BodyLimits {
  /** Bytes; 0 = the route takes no body. */
  maxBytes: number;
  /** Nesting of the whole document past which it is refused (400). */
  maxDepth: number;
  /** Nesting of one element of a top-level array (one event) past which that element is dropped. */
  maxElementDepth: number;
}

export interface RawBody {
  data: Buffer;
  /** sha256 of the bytes, hex: tells a homeserver's retry from a new transaction reusing an id. */
  digest: string;
  shape: JsonShape;
}

const [LBRACE, RBRACE, LBRACKET, RBRACKET, QUOTE, BACKSLASH, COMMA, COLON] = [0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x5c, 0x2c, 0x3a];
/** Values at this level and deeper are handed to JSON.parse whole: root = 0, transaction members = 1, events = 2. */
const SLICE_LEVEL = 2;

const notJson = (why: string) => new BodyError(400, "M_NOT_JSON", `Request body is not valid JSON: ${why}`);

/**
 * What the walker needs from a byte scan: where each container of the top levels ends, and which
 * level-2 values (events) are nested deeper than allowed. Fed chunk by chunk as they arrive.
 */
export class JsonShape {
  /** Close offset of every container opened at level ≤ SLICE_LEVEL, by its open offset. */
  readonly ends = new Map<number, number>();
  /** Open offsets of level-2 containers nested deeper than maxElementDepth. */
  readonly tooDeep = new Set<number>();
  private readonly opens: number[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;
  private offset = 0;
  private elementStart = -1;
  private elementMax = 0;

  constructor(private readonly maxDepth: number, private readonly maxElementDepth: number) {}

  feed(chunk: Buffer): void {
    let { depth, inString, escaped } = this;
    const base = this.offset;
    const len = chunk.length;
    // Inside strings (most of the bytes: message bodies) jump to the next quote or backslash with
    // the native indexOf instead of looking at every byte.
    let nextBackslash = -2;
    let i = 0;
    while (i < len) {
      if (inString) {
        if (escaped) { escaped = false; i++; continue; }
        let quote = chunk.indexOf(QUOTE, i);
        if (quote === -1) quote = len;
        if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i);
        if (nextBackslash !== -1 && nextBackslash < quote) { escaped = true; i = nextBackslash + 1; continue; }
        if (quote < len) inString = false;
        i = quote + 1;
        continue;
      }
      const c = chunk[i]!;
      if (c === QUOTE) {
        inString = true;
      } else if (c === LBRACE || c === LBRACKET) {
        if (depth <= SLICE_LEVEL) this.opens.push(base + i);
        if (depth === SLICE_LEVEL) { this.elementStart = base + i; this.elementMax = 0; }
        depth++;
        if (depth > this.maxDepth) throw notJson(`nested deeper than ${this.maxDepth} levels`);
        if (depth - SLICE_LEVEL > this.elementMax) this.elementMax = depth - SLICE_LEVEL;
      } else if (c === RBRACE || c === RBRACKET) {
        if (depth === 0) throw notJson(`unexpected '${String.fromCharCode(c)}'`);
        depth--;
        if (depth <= SLICE_LEVEL) this.ends.set(this.opens.pop()!, base + i);
        if (depth === SLICE_LEVEL && this.elementMax > this.maxElementDepth) this.tooDeep.add(this.elementStart);
      }
      i++;
    }
    Object.assign(this, { depth, inString, escaped });
    this.offset += len;
  }
}

function contentLength(req: IncomingMessage): number | undefined {
  const v = req.headers["content-length"];
  return v === undefined ? undefined : Number(v);
}

/** Whether the request carries (or may carry) a body. */
export function hasBody(req: IncomingMessage): boolean {
  const len = contentLength(req);
  return req.headers["transfer-encoding"] !== undefined || (len !== undefined && len !== 0);
}

export const tooLarge = (max: number) => new BodyError(413, "M_TOO_LARGE", `Request body over ${max} bytes`);

/**
 * Reads the body, refusing it (BodyError) past `limits.maxBytes` or `limits.maxDepth`; on a
 * refusal the rest is left unread (the caller answers and closes the connection: listener.ts refuse).
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<RawBody> {
  const declared = contentLength(req);
  if (declared !== undefined && !(declared <= limits.maxBytes)) return Promise.reject(tooLarge(limits.maxBytes));
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    const shape = new JsonShape(limits.maxDepth, limits.maxElementDepth);
    // With a declared length the bytes are copied into place as they arrive; one Buffer.concat of
    // 20 MB at the end would be one more long pause.
    const into = declared !== undefined ? Buffer.allocUnsafe(declared) : null;
    const chunks: Buffer[] = [];
    let size = 0;
    // The socket hands over up to 32 reads (2 MB) in one turn of the event loop: after a few ms
    // of our own work on them, pause and let the loop turn before taking more.
    let busyMs = 0;
    let stopped = false;
    const stop = (err: Error) => {
      stopped = true;
      req.off("data", onData).off("end", onEnd).off("error", stop).off("close", onClose);
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      const t0 = performance.now();
      take(chunk);
      busyMs += performance.now() - t0;
      if (busyMs > 4 && !stopped && !req.isPaused()) {
        busyMs = 0;
        req.pause();
        setImmediate(() => { if (!stopped) req.resume(); });
      }
    };
    const take = (chunk: Buffer) => {
      size += chunk.length;
      try {
        if (size > limits.maxBytes) throw tooLarge(limits.maxBytes);
        shape.feed(chunk);
      } catch (err) {
        return stop(err as Error);
      }
      hash.update(chunk);
      if (into && size <= into.length) chunk.copy(into, size - chunk.length);
      else chunks.push(chunk);
    };
    const onEnd = () => {
      stopped = true;
      req.off("data", onData).off("error", stop).off("close", onClose);
      const data = into ? into.subarray(0, size) : Buffer.concat(chunks, size);
      resolve({ data, digest: hash.digest("hex"), shape });
    };
    const onClose = () => { if (!req.complete) stop(new BodyError(400, "M_BAD_REQUEST", "request aborted by the client")); };
    req.on("data", onData).on("end", onEnd).on("error", stop).on("close", onClose);
  });
}

/** A value left out of the result (too large or too deep); see ParseOptions.onSkip. */
export type SkipReason = "too_large" | "too_deep";

export interface ParseOptions {
  /** A single sliced value (one event, one key) larger than this is left out. */
  maxValueBytes: number;
  /** Called for each value left out, with its path from the root (e.g. ["events", 3]). */
  onSkip?: (reason: SkipReason, path: Array<string | number>, bytes: number) => void;
  /** Longest run (ms) of parsing before yielding to the event loop. Default 5. */
  sliceMs?: number;
}

/**
 * A function to await between pieces of a long synchronous job: it yields to the event loop
 * (setImmediate: timers and sockets get their turn) once `sliceMs` have passed since the last yield.
 */
export function yielder(sliceMs = 5): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < sliceMs) return;
    await new Promise((r) => setImmediate(r));
    since = performance.now();
  };
}

const SKIP = Symbol("skip");
const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Parses a body read by readBody in slices (see the module comment); BodyError 400 on bad JSON. */
export async function parseBody(body: RawBody, opts: ParseOptions): Promise<unknown> {
  const { data } = body;
  const { ends, tooDeep } = body.shape;
  const breathe = yielder(opts.sliceMs);
  let pos = 0;
  const path: Array<string | number> = [];

  const ws = () => { while (isSpace(data[pos])) pos++; };
  const expect = (c: number, what: string) => {
    ws();
    if (data[pos] !== c) throw notJson(pos >= data.length ? "unexpected end" : `expected ${what} at byte ${pos}`);
    pos++;
  };
  const stringEnd = (from: number) => {
    for (let i = from + 1; i < data.length; i++) {
      if (data[i] === BACKSLASH) i++;
      else if (data[i] === QUOTE) return i + 1;
    }
    throw notJson("unterminated string");
  };
  const valueEnd = (from: number) => {
    const c = data[from];
    if (c === LBRACE || c === LBRACKET) {
      const end = ends.get(from);
      if (end === undefined) throw notJson("unexpected end");
      return end + 1;
    }
    if (c === QUOTE) return stringEnd(from);
    let i = from;
    while (i < data.length && !isSpace(data[i]) && data[i] !== COMMA && data[i] !== RBRACE && data[i] !== RBRACKET) i++;
    if (i === from) throw notJson(pos >= data.length ? "unexpected end" : `unexpected byte at ${from}`);
    return i;
  };
  const jsonSlice = (start: number, end: number): unknown => {
    try {
      return JSON.parse(data.toString("utf8", start, end));
    } catch (err) {
      throw notJson((err as Error).message);
    }
  };
  const value = async (level: number): Promise<unknown> => {
    ws();
    const c = data[pos];
    if (level < SLICE_LEVEL && c === LBRACE) return object(level);
    if (level < SLICE_LEVEL && c === LBRACKET) return array(level);
    const start = pos;
    pos = valueEnd(start);
    if (pos - start > opts.maxValueBytes) { opts.onSkip?.("too_large", [...path], pos - start); return SKIP; }
    if (tooDeep.has(start)) { opts.onSkip?.("too_deep", [...path], pos - start); return SKIP; }
    const v = jsonSlice(start, pos);
    await breathe();
    return v;
  };
  const object = async (level: number) => {
    const out: Record<string, unknown> = {};
    pos++;
    ws();
    if (data[pos] === RBRACE) { pos++; return out; }
    for (;;) {
      ws();
      if (data[pos] !== QUOTE) throw notJson(`expected a key at byte ${pos}`);
      const keyStart = pos;
      pos = stringEnd(pos);
      if (pos - keyStart > opts.maxValueBytes) throw notJson("key too long");
      const key = jsonSlice(keyStart, pos) as string;
      expect(COLON, "':'");
      path.push(key);
      const v = await value(level + 1);
      path.pop();
      // defineProperty, as JSON.parse does: a key "__proto__" must stay a plain property.
      if (v !== SKIP) Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
      ws();
      if (data[pos] === COMMA) { pos++; continue; }
      expect(RBRACE, "',' or '}'");
      return out;
    }
  };
  const array = async (level: number) => {
    const out: unknown[] = [];
    pos++;
    ws();
    if (data[pos] === RBRACKET) { pos++; return out; }
    for (let i = 0; ; i++) {
      path.push(i);
      const v = await value(level + 1);
      path.pop();
      if (v !== SKIP) out.push(v);
      ws();
      if (data[pos] === COMMA) { pos++; continue; }
      expect(RBRACKET, "',' or ']'");
      return out;
    }
  };

  const root = await value(0);
  ws();
  if (pos !== data.length) throw notJson(`unexpected data at byte ${pos}`);
  return root === SKIP ? undefined : root;
}
