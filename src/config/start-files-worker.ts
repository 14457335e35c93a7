/**
 * The worker thread of start-files.ts: reads and checks what `tandem start` needs, posts it back
 * and ends, taking the YAML parser and zod with it.
 */
import { parentPort, workerData } from "node:worker_threads";
import { ConfigError } from "./errors.js";
import { loadConfig } from "./load.js";
import { readRegistration, registrationMismatches } from "./registration.js";
import type { StartFilesAnswer } from "./start-files.js";
import { configWarnings } from "./warnings.js";

function read(configPath: string): StartFilesAnswer {
  try {
    const config = loadConfig(configPath);
    const registration = readRegistration(config.appservice.registration);
    const mismatch = registrationMismatches(config, registration);
    if (mismatch.length) {
      throw new ConfigError(mismatch.map((m) => ({ path: "", message: `${m} (run tandem generate-registration and reload it in the homeserver)` })), "registration_invalid");
    }
    return { ok: true, files: { config, registration, warnings: configWarnings(config) } };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, config: { problems: [...err.problems], code: err.code, keyPath: err.keyPath } };
    return { ok: false, error: { message: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined } };
  }
}

parentPort!.postMessage(read((workerData as { configPath: string }).configPath));
