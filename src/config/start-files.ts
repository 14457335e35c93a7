/**
 * What `tandem start` reads before the bridge runs: the config (with its defaults, overlays and
 * TANDEM_* overrides), the registration, whether they match, and the config's warnings. Read and
 * checked in a worker thread that ends once they are: the YAML parser and zod (the config
 * schema with its 40-odd message locales) are ~4 MB of heap and 3-4 MB of RSS that the bridge
 * would otherwise keep for its whole life for a job done once (issue 17: RSS at rest). The
 * checks and errors are loadConfig's and readRegistration's own: a ConfigError comes back as one.
 * Other commands (doctor, healthcheck, …) load the config in-process: they end soon anyway.
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ConfigError, type ConfigErrorCode, type ConfigProblem } from "./errors.js";
import type { Registration } from "./registration.js";
import type { Config } from "./schema.js";

export interface StartFiles {
  config: Config;
  registration: Registration;
  /** configWarnings(config): printed by the caller. */
  warnings: string[];
}

/** What the worker posts back: the files, or the error in a form that survives the copy between threads. */
export type StartFilesAnswer =
  | { ok: true; files: StartFiles }
  | { ok: false; config: { problems: ConfigProblem[]; code: ConfigErrorCode; keyPath: string } }
  | { ok: false; error: { message: string; stack?: string } };

/** The worker's module beside this one: .js in dist/, .ts when run from the sources (tsx). */
const FROM_SOURCES = extname(fileURLToPath(import.meta.url)) === ".ts";
const WORKER = new URL(`./start-files-worker${FROM_SOURCES ? ".ts" : ".js"}`, import.meta.url);

/**
 * From the sources (the tests run `node --import tsx src/cli.ts`) the worker registers tsx itself:
 * Node 20 does not give a worker thread the parent's module hooks.
 */
function startWorker(workerData: unknown): Worker {
  if (!FROM_SOURCES) return new Worker(WORKER, { workerData });
  const tsx = import.meta.resolve("tsx/esm/api");
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(WORKER.href)}))`, { eval: true, workerData });
}

export function readStartFiles(configPath: string): Promise<StartFiles> {
  return new Promise((resolve, reject) => {
    // env: the worker reads the same TANDEM_* variables (a copy of process.env, as a child would).
    const worker = startWorker({ configPath });
    let answered = false;
    worker.once("message", (answer: StartFilesAnswer) => {
      answered = true;
      if (answer.ok) resolve(answer.files);
      else if ("config" in answer) reject(new ConfigError(answer.config.problems, answer.config.code, answer.config.keyPath));
      else reject(Object.assign(new Error(answer.error.message), { stack: answer.error.stack }));
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (!answered) reject(new Error(`reading the config stopped without an answer (worker exit code ${code})`));
    });
  });
}
