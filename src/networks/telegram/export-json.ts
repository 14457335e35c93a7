/**
 * Streams Telegram Desktop's result.json without parsing it whole. A big group's export is
 * hundreds of megabytes in one JSON document (past 512 MB it does not even fit in one JavaScript
 * string); only the chats' small fields and one message at a time are ever held.
 *
 * The scanner walks the bytes (JSON's structure is ASCII, so UTF-8 text inside strings needs no
 * decoding) and knows two things: a chat is an object with a "messages" array, and each element of
 * that array is one message object, handed over as its own bytes to JSON.parse. The byte range of
 * each chat's messages array is remembered, so reading a chat later scans just that range.
 */
import { open } from "node:fs/promises";

const CHUNK = 1 << 20;
/** Chat fields kept while scanning (everything else at chat level is skipped). */
const CHAT_FIELDS = new Set(["name", "type", "id"]);

export interface ScannedChat {
  /** The chat's name, type and id as written (absent when missing). */
  fields: Record<string, unknown>;
  /** Byte offsets of its "messages" array: from "[" to just past "]". */
  messages: { start: number; end: number };
}

/** What the scan finds, in file order: each message (its bytes, offset and its chat's fields so far), then its chat. */
export type ScanItem =
  | { kind: "message"; raw: Buffer; offset: number; chatFields: Record<string, unknown> }
  | { kind: "chat"; chat: ScannedChat };

/** A position in the file where the JSON is not well-formed. */
export class JsonScanError extends Error {
  constructor(readonly offset: number, problem: string) {
    super(`${problem} at byte ${offset}`);
  }
}

type Frame = {
  kind: "obj" | "arr";
  /** obj: the key whose value comes next (null while reading a key). */
  key: string | null;
  /** This array is a chat's "messages". */
  messages?: boolean;
  /** Fields of this object, when it may be a chat. */
  fields?: Record<string, unknown>;
  messagesRange?: { start: number; end: number };
};

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const isScalarByte = (b: number) => (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a);

/**
 * Scans `file`, or the byte range of one chat's messages array (which is then read as the messages
 * array itself). Items come a chunk's worth at a time, so memory stays at about one chunk.
 */
export async function* scanExport(file: string, range: { start: number; end: number } | null = null, chunkSize = CHUNK): AsyncGenerator<ScanItem> {
  const handle = await open(file, "r");
  try {
    const found: ScanItem[] = [];
    const s = new Scanner((item) => found.push(item), range !== null);
    let pos = range?.start ?? 0;
    const end = range?.end ?? (await handle.stat()).size;
    const buf = Buffer.alloc(chunkSize);
    while (pos < end) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(chunkSize, end - pos), pos);
      if (bytesRead === 0) break;
      s.feed(buf.subarray(0, bytesRead), pos);
      pos += bytesRead;
      yield* found.splice(0);
    }
    s.finish(pos);
    yield* found.splice(0);
  } finally {
    await handle.close();
  }
}

class Scanner {
  private readonly stack: Frame[] = [];
  private rootSeen = false;
  /** A string or scalar being read outside messages: its bytes. */
  private token: Buffer[] | null = null;
  private tokenIsString = false;
  private inString = false;
  private escaped = false;
  /** A message being captured: its bytes so far, start offset and nesting depth. */
  private capture: { parts: Buffer[]; offset: number; depth: number } | null = null;

  constructor(private readonly emit: (item: ScanItem) => void, messagesOnly: boolean) {
    // Reading one chat's messages range: the range's "[" is the messages array.
    if (messagesOnly) this.pending = { kind: "arr", key: null, messages: true };
  }

  private pending: Frame | null = null;

  feed(buf: Buffer, base: number): void {
    let i = 0;
    while (i < buf.length) {
      if (this.capture) { i = this.captureFrom(buf, i); continue; }
      const b = buf[i]!;
      if (this.token) {
        if (this.tokenIsString) {
          const j = this.stringEnd(buf, i);
          this.token.push(Buffer.from(buf.subarray(i, j))); // copied: the read buffer is reused
          i = j;
          if (!this.inString) this.endToken(base + i);
          continue;
        }
        if (isScalarByte(b)) { this.token.push(Buffer.from([b])); i++; continue; }
        this.endToken(base + i);
        continue; // the delimiter is read next, as structure
      }
      i++;
      if (WS.has(b)) continue;
      const at = base + i - 1;
      const top = this.stack.at(-1);
      switch (b) {
        case 0x7b: // {
          if (top?.kind === "arr" && top.messages) { this.capture = { parts: [Buffer.from("{")], offset: at, depth: 1 }; break; }
          this.push({ kind: "obj", key: null, fields: {} }, at);
          break;
        case 0x5b: { // [
          const messages = this.pending?.messages ?? (top?.kind === "obj" && top.key === "messages");
          this.pending = null;
          this.push({ kind: "arr", key: null, messages }, at);
          break;
        }
        case 0x7d: case 0x5d: { // } ]
          const frame = this.stack.pop();
          if (!frame || (frame.kind === "obj") !== (b === 0x7d)) throw new JsonScanError(at, `unexpected "${String.fromCharCode(b)}"`);
          const parent = this.stack.at(-1);
          if (frame.messages && parent?.kind === "obj") parent.messagesRange = { start: this.arrayStart!, end: at + 1 };
          if (frame.kind === "obj" && frame.messagesRange) this.emit({ kind: "chat", chat: { fields: frame.fields ?? {}, messages: frame.messagesRange } });
          if (parent?.kind === "obj") parent.key = null;
          break;
        }
        case 0x3a: // :
          if (top?.kind !== "obj" || top.key === null) throw new JsonScanError(at, 'unexpected ":"');
          break;
        case 0x2c: // ,
          if (!top) throw new JsonScanError(at, 'unexpected ","');
          if (top.kind === "obj") top.key = null;
          break;
        case 0x22: // "
          this.token = [Buffer.from('"')];
          this.tokenIsString = true;
          this.inString = true;
          this.escaped = false;
          break;
        default:
          if (!isScalarByte(b)) throw new JsonScanError(at, `unexpected byte 0x${b.toString(16)}`);
          if (top?.kind === "arr" && top.messages) throw new JsonScanError(at, "a message that is not an object");
          this.token = [Buffer.from([b])];
          this.tokenIsString = false;
      }
    }
  }

  finish(offset: number): void {
    if (this.token && !this.tokenIsString) this.endToken(offset);
    if (this.capture || this.token || this.stack.length > 0) throw new JsonScanError(offset, "unexpected end of file (truncated?)");
    if (!this.rootSeen) throw new JsonScanError(offset, "no JSON value");
  }

  private arrayStart: number | null = null;

  private push(frame: Frame, at: number): void {
    if (this.stack.length === 0) {
      if (this.rootSeen) throw new JsonScanError(at, "more than one JSON value");
      this.rootSeen = true;
    }
    if (frame.messages) this.arrayStart = at;
    this.stack.push(frame);
  }

  /** Index just past the string's closing quote (or the buffer's end while still inside it). */
  private stringEnd(buf: Buffer, i: number): number {
    for (; i < buf.length; i++) {
      const b = buf[i]!;
      if (this.escaped) this.escaped = false;
      else if (b === 0x5c) this.escaped = true;
      else if (b === 0x22) { this.inString = false; return i + 1; }
    }
    return i;
  }

  /** A key or a scalar value outside messages is complete. */
  private endToken(at: number): void {
    const text = Buffer.concat(this.token!).toString("utf8");
    this.token = null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new JsonScanError(at - Buffer.byteLength(text), `not a JSON value: ${text.slice(0, 40)}`);
    }
    const top = this.stack.at(-1);
    if (!top) { this.rootSeen = true; return; }
    if (top.kind === "obj") {
      if (top.key === null) { top.key = String(value); return; }
      if (top.fields && CHAT_FIELDS.has(top.key)) top.fields[top.key] = value;
    }
  }

  /** Copies message bytes until the object closes; hands it over. Returns where to go on. */
  private captureFrom(buf: Buffer, i: number): number {
    const c = this.capture!;
    const start = i;
    for (; i < buf.length; i++) {
      const b = buf[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
        continue;
      }
      if (b === 0x22) this.inString = true;
      else if (b === 0x7b || b === 0x5b) c.depth++;
      else if (b === 0x7d || b === 0x5d) {
        if (--c.depth === 0) {
          c.parts.push(buf.subarray(start, i + 1));
          this.capture = null;
          this.emit({ kind: "message", raw: Buffer.concat(c.parts), offset: c.offset, chatFields: this.stack.at(-2)?.fields ?? {} });
          return i + 1;
        }
      }
    }
    c.parts.push(Buffer.from(buf.subarray(start, i))); // copied: the read buffer is reused
    return i;
  }
}
