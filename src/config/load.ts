// Read bridge.yaml, merge overlays, apply TANDEM_* env overrides, validate -> Config, or throw
// a ConfigError with one plain line per problem, each naming the key.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { addAdminsFromEnv, applyEnvOverrides, resolvePermissionPlaceholders, unknownVariables } from "./env.js";
import { editDistance } from "./distance.js";
import { ConfigError, type ConfigProblem } from "./errors.js";
import { ConfigSchema, configKeys, type Config } from "./schema.js";

export interface LoadOptions {
  /**
   * YAML files merged UNDER the config file (the file's keys win), e.g. config/docker.yaml in the
   * image: defaults first, the operator's file on top, env variables last. Also read from env
   * TANDEM_CONFIG_DEFAULTS (paths separated by ","), applied after these.
   */
  defaults?: string[];
  /**
   * Extra YAML files merged over the config file in order (mappings merge, other values replace),
   * e.g. config/docker.yaml in the image. Also read from env TANDEM_CONFIG_OVERLAY
   * (paths separated by ","), applied after these.
   */
  overlays?: string[];
}

export interface ParseOptions {
  /** Directory that relative paths (database.data_dir, appservice.registration) are resolved against. Default: cwd. */
  baseDir?: string;
}

/** Loads and validates the config file at `path`. Relative paths in it resolve against its directory. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Config {
  let raw: Record<string, unknown> = {};
  for (const file of [...(opts.defaults ?? []), ...splitList(env.TANDEM_CONFIG_DEFAULTS)]) raw = deepMerge(raw, readYamlMapping(file, "defaults"));
  raw = deepMerge(raw, readYamlMapping(path, "config"));
  const overlays = [...(opts.overlays ?? []), ...splitList(env.TANDEM_CONFIG_OVERLAY)];
  for (const overlay of overlays) raw = deepMerge(raw, readYamlMapping(overlay, "overlay"));
  return parseConfig(raw, env, { baseDir: dirname(resolve(path)) });
}

/** Validates an already parsed config (e.g. from YAML.parse), applying env overrides first. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, opts: ParseOptions = {}): Config {
  const input = raw === null || raw === undefined ? {} : raw;
  if (!isPlainObject(input)) {
    throw new ConfigError("the config must be a YAML mapping (key: value lines)", "config_unreadable");
  }
  if (tooDeep(input)) {
    throw new ConfigError(`the config is nested more than ${MAX_DEPTH} levels deep; no key of it is`, "config_unreadable");
  }
  const unknown = unknownVariables(env);
  if (unknown.length) {
    throw new ConfigError(unknown.map(({ name, hint }) => ({
      path: name,
      message: `${name} is not a Tandem setting${hint ? ` (did you mean ${hint}?)` : ""}; unset it or fix its name`,
    })), "config_invalid");
  }
  const { data, sources } = applyEnvOverrides(dropNulls(input), env);
  resolvePermissionPlaceholders(data);
  addAdminsFromEnv(data, env, sources);
  const result = ConfigSchema.safeParse(data, { error: phrase });
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues, sources));
  const config = result.data;
  const baseDir = opts.baseDir ?? process.cwd();
  return {
    ...config,
    appservice: {
      ...config.appservice, registration: resolve(baseDir, config.appservice.registration),
      double_puppet_registration: config.appservice.double_puppet_registration && resolve(baseDir, config.appservice.double_puppet_registration),
    },
    database: { ...config.database, data_dir: resolve(baseDir, config.database.data_dir) },
  };
}

// ---- reading

function readYamlMapping(path: string, what: "config" | "overlay" | "defaults"): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      const hint = what === "config" ? ` (copy bridge.example.yaml to ${path})` : "";
      throw new ConfigError(`${what} file ${path} not found${hint}`, "config_missing");
    }
    throw new ConfigError(`${what} file ${path} cannot be read: ${(err as Error).message}`, "config_unreadable");
  }
  const notYaml = (message: string) => new ConfigError(`${what} file ${path} is not valid YAML: ${message.split("\n")[0] ?? ""}`, "config_unreadable");
  let value: unknown;
  try {
    const doc = YAML.parseDocument(text, { prettyErrors: true, logLevel: "silent" });
    const yamlError = doc.errors[0];
    if (yamlError) throw notYaml(yamlError.message);
    // `command_prefix: !bridge` is a YAML tag, not a string: the value would silently become "".
    const tag = doc.warnings.find((w) => /Unresolved tag/.test(w.message));
    if (tag) throw notYaml(`${tag.message.split("\n")[0]?.replace(/:$/, "")} (quote values that start with !)`);
    // toJS resolves aliases: an undefined one ("*name") or too many of them (an alias bomb) throw here.
    value = doc.toJS();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw notYaml(err instanceof RangeError ? "it is nested too deeply" : err instanceof Error ? err.message : String(err));
  }
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new ConfigError(`${what} file ${path} must be a YAML mapping (key: value lines)`, "config_unreadable");
  }
  return value;
}

/** No real config is deeper than 4 levels; refuse absurd nesting before the recursive steps could overflow the stack. */
const MAX_DEPTH = 32;

function tooDeep(root: unknown): boolean {
  const stack: Array<[unknown, number]> = [[root, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > MAX_DEPTH) return true;
    if (typeof v === "object" && v !== null) for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

const splitList = (v: string | undefined): string[] =>
  (v ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

/** `key:` with no value means "use the default", as does a section whose keys are all commented out. */
function dropNulls(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (value === null) continue;
    out[key] = isPlainObject(value) ? dropNulls(value) : value;
  }
  return out;
}

// ---- messages

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

const TYPE_WORDS: Record<string, string> = {
  string: "must be a string",
  number: "must be a number",
  int: "must be a whole number",
  boolean: "must be true or false",
  object: "must be a mapping (key: value lines)",
  record: "must be a mapping (key: value lines)",
  array: "must be a list",
};

/** Per-parse error map: a phrase that follows the key path. Schema-level messages take precedence. */
function phrase(iss: RawIssue): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return "is required";
      return TYPE_WORDS[iss.expected] ?? `must be a ${iss.expected}`;
    case "too_small":
      if (iss.origin === "string") return Number(iss.minimum) <= 1 ? "must not be empty" : `must be at least ${iss.minimum} characters`;
      return `must be at least ${iss.minimum}`;
    case "too_big":
      if (iss.origin === "string") return `must be at most ${iss.maximum} characters`;
      return `must be at most ${iss.maximum}`;
    case "invalid_value":
      return `must be one of ${iss.values.map(String).join(", ")}`;
    default:
      return undefined;
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** ["bridge", "permissions", "example.org"] -> bridge.permissions["example.org"] */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && IDENT.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

function describeIssues(issues: readonly Issue[], sources: Map<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const path = [...issue.path, key].map(String);
        const hint = suggestKey(path);
        problems.push({
          path: formatPath(path),
          message: `unknown key ${formatPath(path)}${hint ? ` (did you mean ${hint}?)` : ""}`,
        });
      }
      continue;
    }
    const path = formatPath(issue.path);
    const dotted = issue.path.map(String).join(".");
    const from = [...sources].find(([key]) => dotted === key || dotted.startsWith(`${key}.`))?.[1];
    const suffix = from ? ` (from ${from})` : "";
    if (issue.code === "invalid_key") {
      const parent = formatPath(issue.path.slice(0, -1));
      const key = String(issue.path[issue.path.length - 1]);
      const why = issue.issues[0]?.message ?? "is not allowed";
      problems.push({ path, message: `${parent} key ${JSON.stringify(key)} ${why}${suffix}` });
      continue;
    }
    problems.push({ path, message: `${path || "the config"} ${issue.message}${suffix}` });
  }
  return problems;
}

// ---- "did you mean"


/** The known key an unknown one was probably meant to be: a close sibling, else the same name in another section. */
export function suggestKey(path: readonly string[]): string | undefined {
  const parent = path.slice(0, -1).join(".");
  const name = path[path.length - 1] ?? "";
  const keys = configKeys();
  let best: { key: string; distance: number } | undefined;
  for (const k of keys) {
    if (k.path.slice(0, -1).join(".") !== parent) continue;
    const leaf = k.path[k.path.length - 1]!;
    const distance = editDistance(name.toLowerCase(), leaf);
    if (!best || distance < best.distance) best = { key: k.path.join("."), distance };
  }
  const limit = Math.max(2, Math.floor(name.length / 3));
  if (best && best.distance <= limit) return best.key;
  const elsewhere = keys.find((k) => k.path[k.path.length - 1] === name.toLowerCase());
  return elsewhere?.path.join(".");
}
