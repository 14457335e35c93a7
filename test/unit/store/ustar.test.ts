/**
 * The template unpacker (src/store/ustar.ts): what it writes matches the archive, it hands
 * anything it does not know back to the caller untouched, and a damaged or hostile archive is a
 * clear error that writes nothing outside the target folder.
 */
import fs from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { create } from "tar";
import { afterAll, describe, expect, it } from "vitest";
import { extractUstar } from "../../../src/store/ustar.js";

const root = fs.mkdtempSync(path.join(tmpdir(), "tandem-ustar-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A ustar header block by hand (for entries `tar` would not write). */
function header(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, "utf8");
  h.write("0000644\0", 100);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write(type, 156);
  h.write("ustar\0" + "00", 257);
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
async function archiveOf(cwd: string, entries: string[]): Promise<Buffer> {
  const file = path.join(root, "archive.tar");
  await create({ cwd, portable: true, file }, entries);
  return fs.readFileSync(file);
}

describe("extractUstar", () => {
  it("writes the archive's folders and files, with their modes", async () => {
    const src = path.join(root, "src");
    fs.mkdirSync(path.join(src, "base", "1"), { recursive: true, mode: 0o750 });
    fs.chmodSync(path.join(src, "base"), 0o750);
    fs.writeFileSync(path.join(src, "PG_VERSION"), "17\n", { mode: 0o640 });
    fs.writeFileSync(path.join(src, "base", "1", "1255"), Buffer.alloc(70_000, 7), { mode: 0o600 });
    fs.writeFileSync(path.join(src, "empty"), "");
    const archive = await archiveOf(src, ["PG_VERSION", "base", "empty"]);
    const dest = path.join(root, "out");
    expect(extractUstar(archive, dest)).toBe(true);
    expect(fs.readFileSync(path.join(dest, "PG_VERSION"), "utf8")).toBe("17\n");
    expect(fs.readFileSync(path.join(dest, "base", "1", "1255")).equals(Buffer.alloc(70_000, 7))).toBe(true);
    expect(fs.readFileSync(path.join(dest, "empty"), "utf8")).toBe("");
    expect(fs.statSync(path.join(dest, "base")).mode & 0o777).toBe(0o750);
    expect(fs.statSync(path.join(dest, "PG_VERSION")).mode & 0o777).toBe(0o640);
  });

  it("hands back an archive with an entry kind it does not handle, having written nothing", () => {
    const archive = Buffer.concat([header("a", 1, "0"), pad(Buffer.from("x")), header("link", 0, "2"), Buffer.alloc(1024)]);
    const dest = path.join(root, "link");
    expect(extractUstar(archive, dest)).toBe(false);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it("refuses a name that climbs out of the folder, writing nothing", () => {
    const archive = Buffer.concat([header("ok", 1, "0"), pad(Buffer.from("x")), header("../escaped", 1, "0"), pad(Buffer.from("x")), Buffer.alloc(1024)]);
    const dest = path.join(root, "climb", "in");
    expect(() => extractUstar(archive, dest)).toThrow(/entry "\.\.\/escaped" would be written outside/);
    expect(fs.existsSync(path.join(root, "climb"))).toBe(false);
  });

  it("says a truncated or corrupted archive is damaged", () => {
    const whole = Buffer.concat([header("f", 2000, "0"), pad(Buffer.alloc(2000, 1)), Buffer.alloc(1024)]);
    expect(() => extractUstar(whole.subarray(0, 1024), path.join(root, "cut"))).toThrow(/truncated: "f" needs 2000 bytes, 512 left/);
    const bad = Buffer.from(whole);
    bad[0] = "g".charCodeAt(0);
    expect(() => extractUstar(bad, path.join(root, "bad"))).toThrow(/bad header checksum at byte 0/);
    expect(fs.existsSync(path.join(root, "cut")) || fs.existsSync(path.join(root, "bad"))).toBe(false);
  });
});
