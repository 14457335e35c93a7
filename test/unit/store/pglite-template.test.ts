/**
 * A new embedded database is unpacked from a template made once (by the build), not created by
 * initdb in WASM at the first start (12-34 s and ~0.8 GB of RSS kept for good). The template is
 * used only when the installed PGlite made it; a crash while unpacking leaves no half cluster.
 */
import fs from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PGliteDb } from "../../../src/store/pglite.js";
import { hasCluster, templatePath, writeTemplate } from "../../../src/store/pglite-template.js";

const root = fs.mkdtempSync(path.join(tmpdir(), "tandem-template-"));
const templateDir = path.join(root, "template");
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("the embedded database's template", { timeout: 180_000 }, () => {
  beforeAll(async () => {
    await writeTemplate(templateDir);
  }, 180_000);

  it("a new data directory is unpacked from it, and opens and takes writes", async () => {
    const said: string[] = [];
    const dataDir = path.join(root, "fresh");
    const db = await PGliteDb.open(dataDir, (m) => said.push(m), templateDir);
    try {
      // The first start says what it does, and when it is done.
      expect(said).toEqual([
        expect.stringMatching(/^embedded database: setting up a new database in .*fresh\/pglite \(first start\)…$/),
        expect.stringMatching(/^embedded database: created in .*fresh\/pglite from the build's template \(\d+ ms\)$/),
        expect.stringMatching(/^embedded database: set up, done in \d+\.\d s$/),
      ]);
      await db.exec("CREATE TABLE t (x int)");
      await db.query("INSERT INTO t VALUES (1)");
      expect(await db.query("SELECT x FROM t")).toEqual([{ x: 1 }]);
    } finally {
      await db.close();
    }
    // A restart finds the cluster and unpacks nothing.
    const again: string[] = [];
    const reopened = await PGliteDb.open(dataDir, (m) => again.push(m), templateDir);
    expect(await reopened.query("SELECT x FROM t")).toEqual([{ x: 1 }]);
    await reopened.close();
    expect(again).toEqual([expect.stringMatching(/^embedded database: open \(\d+ ms\)$/)]);
  });

  it("a half-unpacked folder from a crash is replaced, never opened", async () => {
    const dataDir = path.join(root, "crashed");
    fs.mkdirSync(path.join(dataDir, "pglite.new", "base"), { recursive: true }); // staging left by a crash
    const db = await PGliteDb.open(dataDir, () => undefined, templateDir);
    expect(await db.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    await db.close();
    expect(hasCluster(path.join(dataDir, "pglite"))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, "pglite.new"))).toBe(false);
  });

  it("is not used when another PGlite version made it", () => {
    expect(templatePath(templateDir)).not.toBeNull();
    const other = path.join(root, "other");
    fs.cpSync(templateDir, other, { recursive: true });
    fs.writeFileSync(path.join(other, "template.json"), JSON.stringify({ pglite: "0.0.1" }));
    expect(templatePath(other)).toBeNull();
  });
});
