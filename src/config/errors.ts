// ConfigError: what is wrong with the config or the registration file, one line per problem,
// each naming the key. A TandemError: a stable `code` and the data to act on (`keyPath`).
import { TandemError } from "../core/errors.js";

export type ConfigErrorCode =
  | "config_invalid" // a key is missing, unknown, or has a wrong value
  | "config_missing" // the config file does not exist
  | "config_unreadable" // not YAML, not a mapping, or cannot be read
  | "registration_missing" // the registration file does not exist
  | "registration_invalid"; // the registration file cannot be used

export interface ConfigProblem {
  /** Dotted key path, e.g. "appservice.port"; "" for the whole file. */
  path: string;
  /** The full line shown to the operator, e.g. "appservice.port must be a number between 1 and 65535". */
  message: string;
}

export class ConfigError extends TandemError {
  readonly code: ConfigErrorCode;
  /** The key of the first problem (what a CLI or `doctor` points at). */
  readonly keyPath: string;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[] | string, code: ConfigErrorCode = "config_invalid", keyPath?: string) {
    const list = typeof problems === "string" ? [{ path: keyPath ?? "", message: problems }] : problems;
    super(list.map((p) => p.message).join("\n"));
    this.code = code;
    this.problems = list;
    this.keyPath = keyPath ?? list[0]?.path ?? "";
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}
