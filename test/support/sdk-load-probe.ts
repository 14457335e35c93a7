/**
 * Run as a child process by test/unit/matrix/sdk.test.ts (a fresh module cache): loads every
 * module the bridge loads (src/stack.ts), makes one call through matrix-bot-sdk's HTTP client to
 * the homeserver URL in argv[2], and prints which of the SDK's lazily loaded dependencies have
 * files of their own in the require cache (a stand-in is one entry; the real module brings more),
 * and whether grammY was loaded (it waits for a Telegram login).
 */
import { createRequire } from "node:module";
import { LAZY_BRIDGE_DEPENDENCIES, LAZY_SDK_DEPENDENCIES, loadedLazyDependencies } from "../../src/matrix/sdk-patches.js";

await import("../../src/stack.js");
const require = createRequire(import.meta.url);
const sdkRequire = createRequire(require.resolve("@vector-im/matrix-bot-sdk"));
const { MatrixClient } = sdkRequire(require.resolve("@vector-im/matrix-bot-sdk")) as typeof import("@vector-im/matrix-bot-sdk");

const answer: unknown = await new MatrixClient(process.argv[2]!, "probe-token").doRequest("GET", "/_matrix/client/v3/account/whoami", { probe: ["a", "b"] });
const packageFiles = (spec: string) => {
  const root = spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/");
  return Object.keys(require.cache).filter((f) => f.includes(`/node_modules/${root}/`)).length;
};
console.log(JSON.stringify({
  answer,
  loaded: [...loadedLazyDependencies],
  filesInCache: Object.fromEntries([...LAZY_SDK_DEPENDENCIES, ...LAZY_BRIDGE_DEPENDENCIES].map((spec) => [spec, packageFiles(spec)])),
  grammyFiles: packageFiles("grammy"), // loaded by the first Telegram login (src/networks/telegram/grammy.ts)
}));
