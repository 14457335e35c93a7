// TANDEM_* environment overrides, derived from the schema: every key's path, upper-cased and
// joined with "_" (appservice.port -> TANDEM_APPSERVICE_PORT), plus short aliases for secrets.
// Values are coerced by the key's type; a value that does not coerce is passed on as a string,
// so validation reports it against the key ("appservice.port must be … (from TANDEM_APPSERVICE_PORT)").
// Unset and empty variables are ignored, so `KEY=${UNSET}` in compose files does not wipe a value.
import YAML from "yaml";
import { configKeys, type LeafKind } from "./schema.js";
import { editDistance } from "./distance.js";
import { ConfigError } from "./errors.js";

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

/** Names the first admin(s) without editing the file: full MXIDs, separated by ",". */
export const ADMIN_VARIABLE = "TANDEM_ADMIN";

/** TANDEM_* variables Tandem reads that are not config keys. */
const OTHER_VARIABLES = ["TANDEM_CONFIG", "TANDEM_CONFIG_OVERLAY", "TANDEM_CONFIG_DEFAULTS", ADMIN_VARIABLE];
/** Variables of the test suite and the bench; they reach bridges those start, and are theirs to check. */
const TOOLING_PREFIXES = ["TANDEM_TEST_", "TANDEM_BENCH_", "TANDEM_FUZZ_", "TANDEM_REQUIRE_"];

/**
 * TANDEM_* variables that Tandem does not read, each with the nearest known name: a typo such as
 * TANDEM_DATABASE_URL must not silently leave the bridge on the embedded database.
 */
export function unknownVariables(env: NodeJS.ProcessEnv): Array<{ name: string; hint?: string }> {
  const known = [...envOverrides().map((o) => o.env), ...OTHER_VARIABLES];
  const out: Array<{ name: string; hint?: string }> = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith("TANDEM_") || known.includes(name) || TOOLING_PREFIXES.some((p) => name.startsWith(p))) continue;
    let best: { name: string; distance: number } | undefined;
    for (const k of known) {
      const distance = editDistance(name, k);
      if (!best || distance < best.distance) best = { name: k, distance };
    }
    out.push(best && best.distance <= Math.max(3, Math.floor(name.length / 4)) ? { name, hint: best.name } : { name });
  }
  return out;
}

/** The placeholder a permission key may use for homeserver.domain ("$domain": user, "@ops:$domain": admin). */
export const DOMAIN_PLACEHOLDER = "$domain";

/**
 * Replaces $domain in bridge.permissions keys with homeserver.domain, so the example config's
 * permissions follow the one domain an operator sets. Runs on the raw data before validation.
 */
export function resolvePermissionPlaceholders(data: Record<string, unknown>): void {
  const bridge = data.bridge, homeserver = data.homeserver;
  if (!isPlainObject(bridge) || !isPlainObject(bridge.permissions)) return;
  const domain = isPlainObject(homeserver) && typeof homeserver.domain === "string" ? homeserver.domain : undefined;
  if (domain === undefined) return; // "homeserver.domain is required" is the error to show
  const resolved: Record<string, unknown> = {};
  for (const [key, level] of Object.entries(bridge.permissions)) resolved[key.split(DOMAIN_PLACEHOLDER).join(domain)] = level;
  bridge.permissions = resolved;
}

/**
 * TANDEM_ADMIN=@alice:example.org[,@bob:…] makes those users admins (over what the file says of
 * them). When the file has no permissions, the default ("*": relay, domain: user) stays under them.
 */
export function addAdminsFromEnv(data: Record<string, unknown>, env: NodeJS.ProcessEnv, sources: Map<string, string>): void {
  const admins = (env[ADMIN_VARIABLE] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (!admins.length) return;
  const notMxid = admins.find((a) => !/^@[^:\s]+:[^\s]+$/.test(a));
  if (notMxid !== undefined) {
    throw new ConfigError(`${ADMIN_VARIABLE} must list full Matrix IDs (@you:your.domain), separated by ","; got ${JSON.stringify(notMxid)}`, "config_invalid", "bridge.permissions");
  }
  if (!isPlainObject(data.bridge)) data.bridge = {};
  const bridge = data.bridge as Record<string, unknown>;
  const homeserver = data.homeserver;
  const domain = isPlainObject(homeserver) && typeof homeserver.domain === "string" ? homeserver.domain : undefined;
  const base = isPlainObject(bridge.permissions) ? bridge.permissions : domain ? { "*": "relay", [domain]: "user" } : {};
  bridge.permissions = { ...base, ...Object.fromEntries(admins.map((a) => [a, "admin"])) };
  for (const a of admins) sources.set(`bridge.permissions.${a}`, ADMIN_VARIABLE);
}
