// Mutation testing of the relay path (`npm run mutation`): the durable queue and its workers,
// both relay directions and the message map. The run fails below an 85 % mutation score.
// The suites run on PostgreSQL when TANDEM_TEST_PG_URI is set (a test there takes ~0.5 s
// against 3-6 s on a fresh PGlite), else on PGlite; the test runners inherit this.
process.env.TANDEM_TEST_BACKENDS ??= process.env.TANDEM_TEST_PG_URI ? "pg" : "pglite";
if (process.env.TANDEM_TEST_BACKENDS === "pg") process.env.TANDEM_TEST_DB ??= "pg"; // the e2e harness's choice

// A run over one file (`MUTATION_RUN=relay-queue npx stryker run --mutate src/core/relay-queue.ts`)
// keeps its own incremental file, JSON report and sandbox, so per-file runs neither clobber each
// other's results nor share a temp dir; scripts/mutation-survivors.mjs combines their reports.
const run = process.env.MUTATION_RUN;
const suffix = run ? `-${run}` : "";

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  // Only the unit suites of these files (see that config for why not the e2e suites).
  vitest: { configFile: "vitest.mutation.config.ts" },
  coverageAnalysis: "perTest",
  // The first run of all suites (before any mutant) on a busy machine takes minutes.
  dryRunTimeoutMinutes: 20,
  mutate: [
    "src/store/queue.ts",
    "src/store/messages.ts",
    "src/core/relay-queue.ts",
    "src/core/remote-inbound.ts",
    "src/core/fan-out.ts", // the remote direction's copies to a linked room's other chats, split out of remote-inbound.ts
    "src/core/matrix-outbound.ts",
  ],
  // The sandbox needs the sources and tests, not the build output (nor the status page's template,
  // which is not JavaScript).
  ignorePatterns: ["dist", "reports", "data", "bench/results", ".stryker-tmp*"], // and the sandboxes of per-file runs in parallel
  disableTypeChecks: "src/**/*.ts",
  // Two cores shared with other work: two test-runner processes, no type-checker pass.
  concurrency: 2,
  // Incremental mode reuses the previous run's results for unchanged code and tests; its file
  // (reports/stryker-incremental.json) stays out of git, so a fresh clone runs everything.
  incremental: true,
  incrementalFile: `reports/stryker-incremental${suffix}.json`,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: `reports/mutation/mutation${suffix}.html` },
  jsonReporter: { fileName: `reports/mutation/mutation${suffix}.json` },
  thresholds: { high: 90, low: 85, break: 85 },
  tempDirName: `.stryker-tmp${suffix}`,
  cleanTempDir: "always",
};
