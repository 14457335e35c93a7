import { defineConfig } from "vitest/config";

// The homeserver suite (test/homeserver/): the built bridge against a real Synapse that each
// file starts for itself. Files run one after another (each runs a Synapse and a bridge; the
// machine has 2 cores), and a run that finds no test fails.
export default defineConfig({
  test: {
    include: ["test/homeserver/**/*.test.ts"],
    globalSetup: ["test/homeserver/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    passWithNoTests: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
