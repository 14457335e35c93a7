/**
 * Run as a child process by test/unit/config/start-files.test.ts (a fresh module graph): loads the
 * modules the running bridge loads (src/main.ts, src/stack.ts), reads the config and registration
 * at argv[2] the way `tandem start` does (src/config/start-files.ts), and prints what came back
 * and whether zod or the YAML parser were loaded in this thread at any point.
 */
import { createRequire } from "node:module";
import { ConfigError } from "../../src/config/errors.js";
import { readStartFiles } from "../../src/config/start-files.js";

await import("../../src/main.js");
await import("../../src/stack.js");
const require = createRequire(import.meta.url);
// zod 4 puts its global config on globalThis when it loads; yaml is CommonJS (the require cache).
const loaded = () => ({ zod: "__zod_globalConfig" in globalThis, yaml: Object.keys(require.cache).some((f) => f.includes("/node_modules/yaml/")) });
const before = loaded();
let answer: unknown;
try {
  const files = await readStartFiles(process.argv[2]!);
  answer = { domain: files.config.homeserver.domain, registrationId: files.registration.id, asToken: files.registration.as_token, warnings: files.warnings };
} catch (err) {
  answer = { error: err instanceof ConfigError ? { configError: true, code: err.code, keyPath: err.keyPath, problems: err.problems } : String(err) };
}
console.log(JSON.stringify({ before, answer, after: loaded() }));
