import { defineConfig } from "vitest/config";

// One runner for unit and end-to-end tests. E2E suites start real HTTP servers on
// 127.0.0.1 (ephemeral ports), so files run in separate forks and never share state.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
