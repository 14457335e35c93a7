import { configDefaults, defineConfig } from "vitest/config";

// One runner for unit and end-to-end tests. E2E suites start real HTTP servers on
// 127.0.0.1 (ephemeral ports), so files run in separate forks and never share state.
// test/homeserver/ needs a real Synapse: its own project (vitest.homeserver.config.ts).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, "test/homeserver/**"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
