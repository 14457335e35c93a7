/**
 * Unpacks the embedded database's template (a plain ustar archive of ~1,000 files and folders,
 * PGlite's dumpDataDir) with synchronous writes. The `tar` package took ~1 s of CPU for it (an
 * async pipeline per entry), most of a first start's set-up on a busy machine; this takes a
 * fraction. It knows only regular files and folders: anything else (links, pax or GNU headers)
 * makes it return false, and the caller unpacks with `tar` instead.
 */
import fs from "node:fs";
import path from "node:path";

const BLOCK = 512;

/** A NUL-terminated field of the header. */
function text(h: Buffer, offset: number, length: number): string {
  const end = h.indexOf(0, offset);
  return h.toString("utf8", offset, end < 0 || end > offset + length ? offset + length : end);
}

function octal(h: Buffer, offset: number, length: number): number {
  const s = text(h, offset, length).trim();
  const n = s === "" ? 0 : parseInt(s, 8);
  if (!Number.isFinite(n)) throw new Error(`tar header: bad number "${s}" at byte ${offset}`);
  return n;
}

/** The checksum: header bytes summed with the checksum field counted as spaces. */
function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === octal(h, 148, 8);
}

/**
 * Writes the archive's folders and files under `dest` (created if missing). Returns false,
 * having written nothing, when the archive holds an entry kind it does not handle. Throws on a
 * damaged archive or a name that would land outside `dest`.
 */
export function extractUstar(archive: Buffer, dest: string): boolean {
  const root = path.resolve(dest);
  const entries: Array<{ type: "file" | "dir"; target: string; mode: number; data: Buffer }> = [];
  for (let at = 0; at + BLOCK <= archive.length;) {
    const h = archive.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break; // end of archive
    if (!checksumOk(h)) throw new Error(`tar archive damaged: bad header checksum at byte ${at}`);
    const type = String.fromCharCode(h[156]!);
    if (type !== "0" && type !== "\0" && type !== "5") return false;
    const prefix = text(h, 345, 155);
    const name = (prefix ? `${prefix}/` : "") + text(h, 0, 100);
    const target = path.resolve(root, `.${path.posix.sep}${name}`);
    if (target !== root && !target.startsWith(root + path.sep)) throw new Error(`tar archive: entry "${name}" would be written outside ${root}`);
    const size = octal(h, 124, 12);
    const start = at + BLOCK;
    if (start + size > archive.length) throw new Error(`tar archive truncated: "${name}" needs ${size} bytes, ${archive.length - start} left`);
    entries.push({ type: type === "5" ? "dir" : "file", target, mode: octal(h, 100, 8) & 0o7777, data: archive.subarray(start, start + size) });
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  fs.mkdirSync(root, { recursive: true });
  for (const e of entries) {
    if (e.type === "dir") {
      fs.mkdirSync(e.target, { recursive: true });
      fs.chmodSync(e.target, e.mode || 0o700); // also when a file's entry made it first
      continue;
    }
    fs.mkdirSync(path.dirname(e.target), { recursive: true });
    fs.writeFileSync(e.target, e.data, { mode: e.mode || 0o600 });
  }
  return true;
}
