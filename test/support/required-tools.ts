/**
 * Suites that need a tool this machine may lack (Chromium, promtool, PyYAML, PostgreSQL) skip
 * without it, so `npm test` runs anywhere. In CI (`TANDEM_REQUIRE_ALL=1`, set by .ci/run) a
 * missing tool fails the suite instead: a skip there would hide that a guarantee went unchecked.
 *
 *   const hasChromium = requireTool("Chromium", existsSync(CHROMIUM), "apt-get install -y chromium");
 *   describe.skipIf(!hasChromium)(...)
 */
export const requireAll = process.env.TANDEM_REQUIRE_ALL === "1";

/** Returns `present`; throws (failing the importing test file) when absent and TANDEM_REQUIRE_ALL=1. */
export function requireTool(tool: string, present: boolean, howToGet: string): boolean {
  if (!present && requireAll) throw new Error(`${tool} is missing and TANDEM_REQUIRE_ALL=1 forbids skipping the tests that need it: ${howToGet}`);
  return present;
}
