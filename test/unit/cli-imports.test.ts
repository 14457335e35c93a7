/**
 * `tandem --help`, `generate-registration` and the first lines of `doctor` must answer at once:
 * the CLI's static imports must not reach the bridge, the store or any SDK (each costs
 * 0.1-0.6 s to load). `start` and `doctor` load those with dynamic import() when they need them.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(__dirname, "../../src");
const HEAVY = ["matrix-appservice-bridge", "@vector-im/matrix-bot-sdk", "@slack/", "grammy", "pg", "@electric-sql/pglite", "winston", "prom-client"];

/** Every module and package a file reaches through static `import … from` (not `import()`, not `import type`). */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>(), packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+"([^"]+)"/gms)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) visit(join(dirname(file), spec.replace(/\.js$/, ".ts")));
      else if (!spec.startsWith("node:")) packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

describe("the CLI loads only what a command needs", () => {
  const { files, packages } = staticGraph(join(SRC, "cli.ts"));

  it("its static imports reach no SDK, store driver or logger", () => {
    const heavy = [...packages].filter((p) => HEAVY.some((h) => p === h || p.startsWith(h.endsWith("/") ? h : `${h}/`)));
    expect(heavy).toEqual([]);
  });

  it("nor the bridge, the doctor or the store modules", () => {
    const rel = [...files].map((f) => f.slice(SRC.length + 1));
    expect(rel.filter((f) => /^(main|doctor)\.ts$|^(store|matrix|networks|core)\//.test(f) && f !== "core/errors.ts")).toEqual([]);
  });
});

describe("the bridge loads only the database it uses", () => {
  it("main.ts's static imports reach neither driver: PGlite and pg are loaded with import() by the store that uses them", () => {
    const { packages } = staticGraph(join(SRC, "main.ts"));
    expect([...packages].filter((p) => p.startsWith("@electric-sql/pglite") || p === "pg")).toEqual([]);
    expect(packages).toContain("winston"); // the graph is walked: it does reach what main.ts loads up front
    // Each driver module is still reachable on its own (the graph walker sees through its module).
    expect(staticGraph(join(SRC, "store", "pg-db.ts")).packages).toContain("pg");
    expect(staticGraph(join(SRC, "store", "pglite.ts")).packages).toContain("@electric-sql/pglite");
  });
});
