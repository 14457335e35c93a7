/**
 * grammY, loaded when a Telegram login first needs it: a bridge whose Telegram side is enabled
 * but not logged in never loads it (2-3 MB of memory at rest). grammY is CommonJS, so the first
 * use loads it synchronously; every module of ours gets it from here, never by a value import.
 */
import { createRequire } from "node:module";

type Grammy = typeof import("grammy");

const require = createRequire(import.meta.url);
const GRAMMY_PATH = require.resolve("grammy");
let loaded: Grammy | undefined;

/** grammY, loading it on first use. */
export function grammy(): Grammy {
  return (loaded ??= require(GRAMMY_PATH) as Grammy);
}

/** grammY if anything has loaded it; until then none of its errors can exist, so `instanceof` checks need not load it. */
export function grammyIfLoaded(): Grammy | undefined {
  return (loaded ??= require.cache[GRAMMY_PATH]?.exports as Grammy | undefined);
}
