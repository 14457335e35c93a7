/**
 * Heap tuning for a long-running bridge process.
 *
 * V8 lets old-generation garbage grow to several times the live heap before a full collection.
 * A bridge's live heap is small (≈ 45 MB with 1,000 portals and 10,000 ghosts), but a burst of
 * work (thousands of new ghosts being set up) let the heap reach 150 MB and RSS 230 MB before V8
 * collected. Growing the heap by at most 30 % per collection keeps RSS near what is live (the
 * benchmark: peak 232 → 147 MB, settled 156 → 127 MB) for 5-10 % more CPU per message, with no
 * hard cap that could end the process as portals grow (100,000 portals need 140 MB live).
 *
 * V8 reads this flag whenever it sizes the heap after a collection, so setting it at start works;
 * it cannot go in NODE_OPTIONS (Node allows only a few V8 flags there). A `--heap-growing-percent`
 * on the node command line wins.
 */
import v8 from "node:v8";

export const HEAP_GROWING_PERCENT = 30;

/** Applies the heap tuning unless the node command line sets it; returns whether it did. */
export function tuneHeap(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}

/**
 * The embedded database is PGlite, Postgres compiled to a 9 MB WASM module. V8 compiles it
 * twice: quickly with Liftoff, then hot functions again with TurboFan in the background; the
 * optimised code and the compiler's working memory stay resident (~60 MB of RSS, measured
 * 209 → 152 MB for an open embedded database). Liftoff's code alone answers the bridge's small
 * queries as fast (bench: the embedded phase), and starts sooner on a busy machine. Only for the
 * embedded database: with database.uri set there is no WASM to compile. Must run before PGlite
 * loads; a --liftoff or --wasm-tier-up flag on the node command line wins.
 */
export function tuneEmbeddedWasm(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => /^--(no-)?(liftoff|wasm[-_])/.test(a))) return false;
  v8.setFlagsFromString("--liftoff-only");
  return true;
}
