// npm's `prepare` (run by `npm ci` and `npm install` in this folder): build dist/ so that
// `npx tandem` works right after install. Skipped where there are no sources to build (an image
// stage that installs dependencies before copying src/).
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

if (!existsSync("src/cli.ts") || !existsSync("tsconfig.json")) process.exit(0);
const b = spawnSync("npm", ["run", "build"], { stdio: "inherit", shell: process.platform === "win32" });
process.exit(b.status ?? 1);
