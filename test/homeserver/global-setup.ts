/**
 * Before the homeserver suite: Synapse must be installed (`synapse.sh install`, done by .ci/run)
 * and dist/ must be built from the current sources (the suite runs the built bridge). Either
 * missing fails the run with the command that fixes it; nothing here skips.
 */
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { synapseSh } from "./support/synapse.js";

const ROOT = resolve(import.meta.dirname, "../..");

function newest(dir: string): number {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

export default async function setup(): Promise<void> {
  const ready = await synapseSh(["install"], 600_000).catch((err: Error) => {
    throw new Error(`Synapse is not installed and could not be: ${err.message}\nRun: bash <path>/shared/homeserver/synapse.sh install`);
  });
  if (!/ready/.test(ready)) throw new Error(`synapse.sh install did not say ready: ${ready}`);
  let built = 0;
  try {
    built = statSync(join(ROOT, "dist", "cli.js")).mtimeMs;
  } catch {
    throw new Error("dist/cli.js is missing: run npm run build before npm run test:homeserver");
  }
  if (newest(join(ROOT, "src")) > built) throw new Error("dist/ is older than src/: run npm run build before npm run test:homeserver");
}
