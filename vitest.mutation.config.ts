import { defineConfig } from "vitest/config";

// The tests Stryker runs against each mutant (`npm run mutation`): the unit suites of the mutated
// files. RemoteInbound and MatrixOutbound are driven through the whole core (test/support/core-rig.ts:
// the real queue and store, loopback networks, an in-memory homeserver), event by event, so the
// end-to-end suites would only cover the same code again, at many times the cost per mutant.
export default defineConfig({
  test: {
    include: [
      "test/unit/store/queue.test.ts",
      "test/unit/store/repos.test.ts",
      "test/unit/store/detached-links.test.ts",
      "test/unit/core/{relay-queue,remote-inbound,matrix-outbound}*.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
