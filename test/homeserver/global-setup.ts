/**
 * Before the homeserver suite: Synapse must be installed (`synapse.sh install`, done by .ci/run)
 * and dist/ must be built from the current sources (the suite runs the built bridge). Either
 * missing fails the run with the command that fixes it; nothing here skips.
 */
import { resolve } from "node:path";
// @ts-expect-error: a plain .mjs script without types (npm start uses the same check)
import { needsBuild } from "../../scripts/build-state.mjs";
import { synapseSh } from "./support/synapse.js";

const ROOT = resolve(import.meta.dirname, "../..");

export default async function setup(): Promise<void> {
  const ready = await synapseSh(["install"], 600_000).catch((err: Error) => {
    throw new Error(`Synapse is not installed and could not be: ${err.message}\nRun: bash <path>/shared/homeserver/synapse.sh install`);
  });
  if (!/ready/.test(ready)) throw new Error(`synapse.sh install did not say ready: ${ready}`);
  if ((needsBuild as (root: string) => boolean)(ROOT)) throw new Error("dist/ is missing or older than src/: run npm run build before npm run test:homeserver");
}
