/** `npm start` rebuilds when any source is newer than dist/cli.js, and only then. */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without types
import { needsBuild } from "../../../scripts/build-state.mjs";

let root = "";
afterEach(() => rmSync(root, { recursive: true, force: true }));

function tree(): string {
  root = mkdtempSync(join(tmpdir(), "tandem-build-"));
  mkdirSync(join(root, "src/core"), { recursive: true });
  mkdirSync(join(root, "dist"));
  for (const f of ["src/cli.ts", "src/core/bridge.ts", "tsconfig.json", "package.json", "dist/cli.js"]) writeFileSync(join(root, f), "");
  const old = new Date(Date.now() - 60_000);
  for (const f of ["src/cli.ts", "src/core/bridge.ts", "tsconfig.json", "package.json"]) utimesSync(join(root, f), old, old);
  return root;
}
const touch = (f: string) => { const now = new Date(); utimesSync(join(root, f), now, new Date(now.getTime() + 1000)); };

describe("needsBuild", () => {
  it("no dist/cli.js: build", () => {
    tree();
    rmSync(join(root, "dist/cli.js"));
    expect(needsBuild(root)).toBe(true);
  });

  it("dist newer than every source: no build", () => {
    expect(needsBuild(tree())).toBe(false);
  });

  it("a source file deep in src/ changed after the build (git pull): build", () => {
    tree();
    touch("src/core/bridge.ts");
    expect(needsBuild(root)).toBe(true);
  });

  it("package.json or tsconfig.json changed: build", () => {
    tree();
    touch("tsconfig.json");
    expect(needsBuild(root)).toBe(true);
  });
});
