// Whether dist/ is older than what it is built from: `npm start` rebuilds then, so a `git pull`
// never runs the old code without a word.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Newest modification time below `path` (a file or a folder), in ms; 0 when it does not exist. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((n) => newest(join(path, n))));
}

export function needsBuild(root = ".") {
  const cli = join(root, "dist", "cli.js");
  if (!existsSync(cli)) return true;
  const sources = Math.max(newest(join(root, "src")), newest(join(root, "tsconfig.json")), newest(join(root, "package.json")));
  return sources > statSync(cli).mtimeMs;
}
