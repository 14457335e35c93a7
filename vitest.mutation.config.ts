import { defineConfig } from "vitest/config";

// The tests Stryker runs against each mutant (`npm run mutation`): the unit suites of the
// mutated files only. The e2e suites spawn the built bridge from dist/, which Stryker does
// not mutate, so they could never kill a mutant and would only cost minutes per run.
export default defineConfig({
  test: {
    include: ["test/unit/store/queue.test.ts", "test/unit/store/repos.test.ts", "test/unit/core/{relay-queue,remote-inbound,matrix-outbound}*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
