#!/usr/bin/env node
// Copy the non-TypeScript assets the compiled code reads at runtime (src/**/*.sql, src/**/*.html)
// to dist/, keeping their paths: src/store/migrations/001-init.sql → dist/store/migrations/001-init.sql.
// Run after `tsc -p tsconfig.json` (npm run build). Usage: node scripts/copy-assets.mjs [srcDir] [outDir]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = path.resolve(root, process.argv[2] ?? "src");
const outDir = path.resolve(root, process.argv[3] ?? "dist");
const EXTS = new Set([".sql", ".html"]);

let copied = 0;
function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const from = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(from);
    else if (entry.isFile() && EXTS.has(path.extname(entry.name))) {
      const to = path.join(outDir, path.relative(srcDir, from));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
      copied++;
    }
  }
}
walk(srcDir);
console.log(`copy-assets: ${copied} file(s) from ${path.relative(root, srcDir) || "."} to ${path.relative(root, outDir) || "."}`);
