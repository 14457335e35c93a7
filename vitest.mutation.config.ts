import { defineConfig } from "vitest/config";

// The tests Stryker runs against each mutant (`npm run mutation`): the unit suites of the mutated
// files and the two end-to-end suites that drive both relay directions through the whole bridge
// in this process (fake homeserver, Slack and Telegram). The other e2e suites would cover the same
// code again, and every surviving mutant runs every test that covers it: they would cost far more
// time than they find.
export default defineConfig({
  test: {
    include: [
      "test/unit/store/queue.test.ts",
      "test/unit/store/repos.test.ts",
      "test/unit/store/detached-links.test.ts",
      "test/unit/core/{relay-queue,remote-inbound,matrix-outbound}*.test.ts",
      "test/e2e/core.test.ts",
      "test/e2e/linked-rooms.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
