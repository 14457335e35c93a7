/**
 * How matrix-bot-sdk is loaded (issue 17: memory at rest): imported by sdk.ts before the SDK
 * itself, because everything here must be in place before the SDK's first file is evaluated.
 *
 * matrix-bot-sdk's index loads every feature it has, and matrix-appservice-bridge loads the
 * index. Tandem uses its appservice, Intents and MatrixClient; not end-to-end encryption, its
 * file or Postgres storage providers, nor its HTML reply and text helpers. Those modules'
 * dependencies are therefore put into `require.cache` (documented: entries may be added) as
 * lazy stand-ins that load the real module on first use (a property read, a call or `new`).
 * Nothing changes for code that does use them; a bridge that does not never pays for them
 * (~14 MB of RSS; the crypto addon alone maps 7 MB). The SDK's HTTP calls go through
 * sdk-request.ts (`setRequestFn`, the SDK's own hook for this), so `request` (with its
 * dependencies the largest of them) is never loaded either.
 *
 * matrix-appservice-bridge does the same for three of its own dependencies (LAZY_BRIDGE_DEPENDENCIES).
 * Both packages are pinned to exact versions in package.json; test/unit/matrix/sdk.test.ts
 * fails when their files stop requiring these modules the way this relies on (a member
 * read or call at use, never at load), or when starting the bridge loads a stand-in.
 */
import Module, { createRequire } from "node:module";
import { sdkRequest } from "./sdk-request.js";

/** Required by matrix-bot-sdk's files for features Tandem leaves off, and by nothing it uses. */
export const LAZY_SDK_DEPENDENCIES = [
  "@matrix-org/matrix-sdk-crypto-nodejs", // e2ee/ and the crypto storage provider
  "lowdb", // SimpleFsStorageProvider, RustSdkCryptoStorageProvider
  "lowdb/adapters/FileSync",
  "postgres", // SimplePostgresStorageProvider
  "sanitize-html", // helpers/RichReply
  "html-to-text", // MatrixClient's reply helpers (reply*Html)
  "request", // replaced by setRequestFn below
  "mkdirp", // the file storage providers
  "async-lock", // e2ee/RustEngine
  "htmlencode", // MatrixClient's reply helpers (reply*Text)
  "chalk", // RichConsoleLogger (Tandem hands LogService its own logger)
] as const;

/**
 * Required by matrix-appservice-bridge's files (as `__importDefault(require(…))`, plain CommonJS
 * functions) for its own command line, config validator and provisioning API, none of which
 * Tandem uses.
 */
export const LAZY_BRIDGE_DEPENDENCIES = [
  "nopt", // components/cli
  "is-my-json-valid", // components/config-validator
  "ip-cidr", // provisioning/api (with ip-address and jsbn)
] as const;

const requireFromHere = createRequire(import.meta.url);
const sdkRequire = createRequire(requireFromHere.resolve("@vector-im/matrix-bot-sdk"));
const bridgeRequire = createRequire(requireFromHere.resolve("matrix-appservice-bridge"));

/** Paths of the stand-ins that have been replaced by their real module (for the tests). */
export const loadedLazyDependencies = new Set<string>();

function installLazy(specifier: string, from: NodeJS.Require): void {
  const file = from.resolve(specifier);
  if (requireFromHere.cache[file]) return; // already loaded (by whoever): nothing to save
  let real: unknown;
  const load = (): object => {
    if (real === undefined) {
      delete requireFromHere.cache[file];
      real = from(file);
      loadedLazyDependencies.add(specifier);
    }
    return real as object;
  };
  // A function target so that calls (`request(...)`, `sanitizeHtml(...)`) and `new` reach the real export.
  const standIn = new Proxy(function lazySdkDependency() {}, {
    // `__importDefault` asks for __esModule at load time: these are CommonJS modules, so "no" without loading.
    get: (_target, key) => (key === "__esModule" && real === undefined ? undefined : Reflect.get(load(), key)),
    has: (_target, key) => Reflect.has(load(), key),
    set: (_target, key, value) => Reflect.set(load(), key, value),
    apply: (_target, self, args) => Reflect.apply(load() as (...a: unknown[]) => unknown, self, args),
    construct: (_target, args) => Reflect.construct(load() as new (...a: unknown[]) => object, args),
  });
  const entry = new Module(file);
  entry.filename = file;
  entry.loaded = true;
  entry.exports = standIn;
  requireFromHere.cache[file] = entry;
}

for (const specifier of LAZY_SDK_DEPENDENCIES) installLazy(specifier, sdkRequire);
for (const specifier of LAZY_BRIDGE_DEPENDENCIES) installLazy(specifier, bridgeRequire);

// Loaded only now, so that every require() inside it meets the stand-ins.
const botSdk = sdkRequire(requireFromHere.resolve("@vector-im/matrix-bot-sdk")) as typeof import("@vector-im/matrix-bot-sdk");
botSdk.setRequestFn(sdkRequest);
