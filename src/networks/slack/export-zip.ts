/**
 * Reads a zip without loading it: the central directory once, then one entry at a time, inflated
 * in chunks with fflate. A Slack export of a large workspace is gigabytes; only the directory and
 * the entry being read are ever in memory. Zip64 (archives and offsets past 4 GiB) is read too.
 *
 * Every entry is checked against the directory (size and CRC-32) before it is returned, so a
 * truncated or corrupt export fails on that entry, naming it, instead of yielding part of a day.
 */
import { open, type FileHandle } from "node:fs/promises";
import { Inflate } from "fflate";
import { ExportFormatError } from "../export-error.js";

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;
/** Compressed bytes read per step: the only part of the archive held besides the entry's output. */
const CHUNK = 1 << 20;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export class ZipReader {
  private constructor(
    private readonly file: string,
    private readonly handle: FileHandle,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  static async open(file: string): Promise<ZipReader> {
    let handle: FileHandle;
    try {
      handle = await open(file, "r");
    } catch (err) {
      throw new ExportFormatError(file, undefined, `cannot open: ${(err as Error).message}`, { cause: err });
    }
    try {
      const entries = await readDirectory(file, handle);
      return new ZipReader(file, handle, entries);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  /** The entry's bytes, whole and checked; `limit` refuses entries that would inflate beyond it. */
  async read(name: string, limit: number): Promise<Buffer> {
    const e = this.entries.get(name);
    if (!e) throw new ExportFormatError(this.file, name, "no such entry in the zip");
    const bad = (problem: string, cause?: unknown) => new ExportFormatError(this.file, name, problem, cause ? { cause } : undefined);
    if (e.size > limit) throw bad(`entry is ${e.size} bytes, more than the ${limit} allowed`);
    if (e.method !== 0 && e.method !== 8) throw bad(`compression method ${e.method} is not supported (only stored and deflate)`);
    const head = await readAt(this.handle, e.localOffset, 30);
    if (head.length < 30 || head.readUInt32LE(0) !== LOCAL) throw bad("local header missing (truncated or corrupt zip)");
    let pos = e.localOffset + 30 + head.readUInt16LE(26) + head.readUInt16LE(28);
    const parts: Buffer[] = [];
    let total = 0;
    let failure: Error | undefined;
    const take = (chunk: Uint8Array) => {
      total += chunk.length;
      if (total > e.size) failure ??= bad(`inflates to more than the ${e.size} bytes the directory says`);
      else parts.push(Buffer.from(chunk));
    };
    const inflate = e.method === 8 ? new Inflate((chunk) => take(chunk)) : undefined;
    let left = e.compressedSize;
    while (left > 0 && !failure) {
      const chunk = await readAt(this.handle, pos, Math.min(CHUNK, left));
      if (chunk.length === 0) throw bad("data ends early (truncated zip)");
      pos += chunk.length;
      left -= chunk.length;
      try {
        if (inflate) inflate.push(chunk, left === 0);
        else take(chunk);
      } catch (err) {
        throw bad(`corrupt compressed data: ${(err as Error).message}`, err);
      }
    }
    if (e.compressedSize === 0 && inflate) throw bad("entry has no compressed data");
    if (failure) throw failure;
    const data = Buffer.concat(parts, total);
    if (data.length !== e.size) throw bad(`inflated to ${data.length} bytes, the directory says ${e.size} (corrupt zip)`);
    if (crc32(data) !== e.crc) throw bad("CRC-32 does not match (corrupt zip)");
    return data;
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

async function readDirectory(file: string, handle: FileHandle): Promise<Map<string, ZipEntry>> {
  const bad = (problem: string) => new ExportFormatError(file, undefined, problem);
  const size = (await handle.stat()).size;
  // The end record is 22 bytes plus a comment of at most 65,535.
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = await readAt(handle, size - tailLen, tailLen);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) if (tail.readUInt32LE(i) === EOCD) { at = i; break; }
  if (at < 0) throw bad("not a zip file (no end of central directory record)");
  let count = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  if ((count === 0xffff || cdSize === MAX32 || cdOffset === MAX32) && at >= 20 && tail.readUInt32LE(at - 20) === EOCD64_LOCATOR) {
    const rec = await readAt(handle, Number(tail.readBigUInt64LE(at - 20 + 8)), 56);
    if (rec.length < 56 || rec.readUInt32LE(0) !== EOCD64) throw bad("zip64 end record missing (corrupt zip)");
    count = Number(rec.readBigUInt64LE(32));
    cdSize = Number(rec.readBigUInt64LE(40));
    cdOffset = Number(rec.readBigUInt64LE(48));
  }
  if (cdOffset + cdSize > size) throw bad("central directory lies past the end of the file (truncated zip)");
  const cd = await readAt(handle, cdOffset, cdSize);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw bad(`central directory entry ${i} is corrupt`);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const name = cd.toString("utf8", p + 46, p + 46 + nameLen);
    const e: ZipEntry = {
      name, method: cd.readUInt16LE(p + 10), crc: cd.readUInt32LE(p + 16),
      compressedSize: cd.readUInt32LE(p + 20), size: cd.readUInt32LE(p + 24), localOffset: cd.readUInt32LE(p + 42),
    };
    readZip64Extra(cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), e);
    if (!name.endsWith("/")) entries.set(name, e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Zip64's extra field holds, in this order, whichever of the sizes and offset overflowed 32 bits. */
function readZip64Extra(extra: Buffer, e: ZipEntry): void {
  let q = 0;
  while (q + 4 <= extra.length) {
    const id = extra.readUInt16LE(q);
    const len = extra.readUInt16LE(q + 2);
    if (id === 0x0001) {
      let r = q + 4;
      const next = () => { const v = r + 8 <= q + 4 + len ? Number(extra.readBigUInt64LE(r)) : undefined; r += 8; return v; };
      if (e.size === MAX32) e.size = next() ?? e.size;
      if (e.compressedSize === MAX32) e.compressedSize = next() ?? e.compressedSize;
      if (e.localOffset === MAX32) e.localOffset = next() ?? e.localOffset;
      return;
    }
    q += 4 + len;
  }
}
