// TANDEM_* environment overrides, derived from the schema: every key's path, upper-cased and
// joined with "_" (appservice.port -> TANDEM_APPSERVICE_PORT), plus short aliases for secrets.
// Values are coerced by the key's type; a value that does not coerce is passed on as a string,
// so validation reports it against the key ("appservice.port must be … (from TANDEM_APPSERVICE_PORT)").
// Unset and empty variables are ignored, so `KEY=${UNSET}` in compose files does not wipe a value.
import YAML from "yaml";
import { configKeys, type LeafKind } from "./schema.js";

export interface EnvOverride {
  /** Variable name, e.g. TANDEM_DATABASE_URI. */
  env: string;
  /** Config key path, e.g. ["database", "uri"]. */
  path: string[];
  kind: LeafKind;
}

/** Short names kept for the commonest secrets; the long generic name wins if both are set. */
const ALIASES: Record<string, string[]> = {
  TANDEM_ENCRYPTION_KEY: ["bridge", "encryption_key"],
};

let cache: EnvOverride[] | undefined;

/** All variables Tandem reads for config keys, aliases first (so generic names override them). */
export function envOverrides(): readonly EnvOverride[] {
  if (cache) return cache;
  const leaves = configKeys().filter((k): k is typeof k & { kind: LeafKind } => k.kind !== undefined);
  const kindOf = (path: string[]) => leaves.find((k) => k.path.join(".") === path.join("."))?.kind ?? "string";
  const aliases = Object.entries(ALIASES).map(([env, path]) => ({ env, path, kind: kindOf(path) }));
  const generic = leaves.map((k) => ({ env: `TANDEM_${k.path.join("_").toUpperCase()}`, path: k.path, kind: k.kind }));
  cache = [...aliases, ...generic];
  return cache;
}

function coerce(value: string, kind: LeafKind): unknown {
  const v = value.trim();
  switch (kind) {
    case "number":
      return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : value;
    case "boolean": {
      const lower = v.toLowerCase();
      if (["true", "1", "yes", "on"].includes(lower)) return true;
      if (["false", "0", "no", "off"].includes(lower)) return false;
      return value;
    }
    case "record":
      try {
        return YAML.parse(value) as unknown;
      } catch {
        return value;
      }
    default:
      return value;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Returns a copy of `raw` with the overrides from `env` applied, and which variable set which
 * key (dotted path -> variable name), for error messages.
 */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { data: Record<string, unknown>; sources: Map<string, string> } {
  const data = structuredClone(raw);
  const sources = new Map<string, string>();
  for (const o of envOverrides()) {
    const value = env[o.env];
    if (value === undefined || value === "") continue;
    let node: Record<string, unknown> = data;
    let reachable = true;
    for (const key of o.path.slice(0, -1)) {
      if (node[key] === undefined || node[key] === null) node[key] = {};
      const next = node[key];
      if (!isPlainObject(next)) {
        reachable = false; // the file has a wrong type here; validation reports it
        break;
      }
      node = next;
    }
    if (!reachable) continue;
    node[o.path[o.path.length - 1]!] = coerce(value, o.kind);
    sources.set(o.path.join("."), o.env);
  }
  return { data, sources };
}
