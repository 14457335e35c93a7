/** The heap tuning `tandem start` applies (src/heap.ts); its effect is measured by `npm run bench` (memory). */
import { describe, expect, it } from "vitest";
import { HEAP_GROWING_PERCENT, tuneEmbeddedWasm, tuneHeap } from "../../src/heap.js";

describe("heap tuning", () => {
  it("applies the growth limit unless the node command line sets one", () => {
    expect(HEAP_GROWING_PERCENT).toBeGreaterThan(0);
    expect(tuneHeap([])).toBe(true);
    expect(tuneHeap(["--max-semi-space-size=4"])).toBe(true);
    expect(tuneHeap(["--heap-growing-percent=50"])).toBe(false);
    expect(tuneHeap(["--heap_growing_percent=50"])).toBe(false);
  });

  it("compiles the embedded database's WASM with Liftoff only, unless the command line chose a WASM tier", () => {
    expect(tuneEmbeddedWasm(["--max-semi-space-size=4"])).toBe(true);
    expect(tuneEmbeddedWasm(["--no-liftoff"])).toBe(false);
    expect(tuneEmbeddedWasm(["--wasm-tier-up"])).toBe(false);
  });
});
