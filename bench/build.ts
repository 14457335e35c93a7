/**
 * The bridge process runs compiled JavaScript, as in production (`node dist/cli.js`): under tsx
 * it would carry about 70 MB of loader and source-map memory that no deployment has. This
 * transpiles src/ and bench/child.ts (types stripped, no type check: `npx tsc` does that) into
 * bench/results/build/, only the files that changed since the last run, and copies the assets
 * (SQL migrations, HTML) the code reads at runtime.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** BENCH_SRC=<dir>: measure another copy of src/ (e.g. before a change), built into build-alt/. */
const SRC = process.env.BENCH_SRC ? path.resolve(process.env.BENCH_SRC) : path.join(ROOT, "src");
const OUT = path.join(ROOT, "bench", "results", process.env.BENCH_SRC ? "build-alt" : "build");
const ASSETS = new Set([".sql", ".html"]);

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function stale(from: string, to: string): boolean {
  try {
    return fs.statSync(to).mtimeMs < fs.statSync(from).mtimeMs;
  } catch {
    return true;
  }
}

/** Returns the path of the compiled bench/child.js (bench/component-child.js is beside it). */
export function buildForBench(): string {
  const inputs = [...walk(SRC), path.join(ROOT, "bench", "child.ts"), path.join(ROOT, "bench", "component-child.ts"), path.join(ROOT, "bench", "null-bridge.ts")];
  let n = 0;
  for (const file of inputs) {
    const rel = file.startsWith(SRC + path.sep) ? path.join("src", path.relative(SRC, file)) : path.relative(ROOT, file);
    const ext = path.extname(file);
    if (ext === ".ts" && !file.endsWith(".d.ts")) {
      const to = path.join(OUT, rel.replace(/\.ts$/, ".js"));
      if (!stale(file, to)) continue;
      const out = ts.transpileModule(fs.readFileSync(file, "utf8"), {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
      });
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.writeFileSync(to, out.outputText);
      n++;
    } else if (ASSETS.has(ext)) {
      const to = path.join(OUT, rel);
      if (!stale(file, to)) continue;
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(file, to);
      n++;
    }
  }
  // Node resolves "type": "module" from the nearest package.json.
  const pkg = path.join(OUT, "package.json");
  if (!fs.existsSync(pkg)) fs.writeFileSync(pkg, JSON.stringify({ type: "module" }) + "\n");
  // The embedded database's template is found at ../../dist/ from src/store: the build's own.
  const dist = path.join(OUT, "dist");
  // lstat, not exists: a link made before dist/ was built dangles, and existsSync follows it.
  if (!fs.lstatSync(dist, { throwIfNoEntry: false })) fs.symlinkSync(path.join(ROOT, "dist"), dist);
  if (n > 0) process.stderr.write(`bench: compiled ${n} changed file(s) into ${path.relative(ROOT, OUT)}\n`);
  return path.join(OUT, "bench", "child.js");
}
