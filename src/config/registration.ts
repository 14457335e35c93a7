// The appservice registration, in the shape matrix-appservice-bridge's AppServiceRegistration
// reads (test/unit/config/registration.test.ts checks that it accepts it), written as YAML that Synapse (app_service_config_files) and conduwuit/continuwuity
// (`!admin appservices register`) load as is. Tokens are kept across re-runs unless forced.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import YAML from "yaml";
import { ConfigError } from "./errors.js";
import type { Config } from "./schema.js";

export interface RegistrationNamespace {
  exclusive: boolean;
  regex: string;
}

/** The registration file's content (the keys every homeserver understands). */
export interface Registration {
  id: string;
  url: string;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  rate_limited: boolean;
  namespaces: {
    users: RegistrationNamespace[];
    aliases: RegistrationNamespace[];
    rooms: RegistrationNamespace[];
  };
}

/** Ghost and alias prefixes per network; names on Matrix are `@<prefix>…` and `#<prefix>…`. */
export const NAMESPACE_PREFIXES = { slack: "slack_", telegram: "telegram_" } as const;

/** Escapes regex metacharacters (not "/", which Rust's regex crate used by conduwuit need not see escaped). */
const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function existingToken(existing: unknown, key: "as_token" | "hs_token"): string | undefined {
  if (typeof existing !== "object" || existing === null) return undefined;
  const value = (existing as Record<string, unknown>)[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The registration for `config`. Tokens come from `existing` (a previously written registration)
 * when it has them, else they are generated. Namespaces are exclusive and cover only enabled networks.
 */
export function buildRegistration(config: Config, existing?: object): Registration {
  // Built by hand rather than with matrix-appservice-bridge's class: loading that library costs the
  // CLI half a second, and generate-registration / doctor must answer at once.
  const domain = escapeRegex(config.homeserver.domain);
  const users: RegistrationNamespace[] = [{ exclusive: true, regex: `^@${escapeRegex(config.appservice.bot.username)}:${domain}$` }];
  const aliases: RegistrationNamespace[] = [];
  for (const network of ["slack", "telegram"] as const) {
    if (!config[network].enabled) continue;
    const prefix = NAMESPACE_PREFIXES[network];
    users.push({ exclusive: true, regex: `^@${prefix}.*:${domain}$` });
    aliases.push({ exclusive: true, regex: `^#${prefix}.*:${domain}$` });
  }
  return {
    id: config.appservice.id,
    url: config.appservice.address,
    as_token: existingToken(existing, "as_token") ?? generateToken(),
    hs_token: existingToken(existing, "hs_token") ?? generateToken(),
    sender_localpart: config.appservice.bot.username,
    rate_limited: false,
    namespaces: { users, aliases, rooms: [] },
  };
}

/** A token for the registration: 32 random bytes, hex (as long as AppServiceRegistration.generateToken's). */
export function generateToken(): string {
  return randomBytes(32).toString("hex");
}

/** YAML text of a registration, with a header saying where it came from. */
export function registrationYaml(reg: object, header: string =
  "# Tandem appservice registration, written by `tandem generate-registration`.\n" +
  "# Give it to the homeserver; keep it secret (it holds the tokens). Re-running keeps the tokens; --force rotates them.\n"): string {
  const doc = new YAML.Document(reg);
  // Quote the regexes ('^@slack_.*:example\.org$'): plain is valid YAML, but quoted reads
  // unambiguously in every parser (PyYAML for Synapse, serde for conduwuit) and to people.
  YAML.visit(doc, {
    Pair(_, pair) {
      if (YAML.isScalar(pair.key) && pair.key.value === "regex" && YAML.isScalar(pair.value)) pair.value.type = "QUOTE_SINGLE";
    },
  });
  return header + doc.toString({ lineWidth: 0 });
}

export interface WriteResult {
  path: string;
  /** The file did not exist before. */
  created: boolean;
  /** An existing file's tokens were replaced (--force). */
  rotated: boolean;
  /** The file's content changed (false: it was already up to date and was left alone). */
  changed: boolean;
}

/**
 * Writes the registration to `path` (default appservice.registration) with mode 0600, keeping the
 * tokens of an existing file unless `force`. The file is replaced atomically.
 */
export function writeRegistration(
  config: Config,
  path: string = config.appservice.registration,
  opts: { force?: boolean } = {},
): WriteResult {
  const existed = existsSync(path);
  let existing: Registration | undefined;
  try {
    existing = readRegistration(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (err.code !== "registration_missing" && !opts.force) {
      throw new ConfigError(`${err.message} (fix or delete it, or use --force to replace it)`, err.code, err.keyPath);
    }
  }
  const reg = buildRegistration(config, opts.force ? undefined : existing);
  const text = registrationYaml(reg);
  if (existed && readFileSync(path, "utf8") === text) {
    chmodSync(path, 0o600);
    return { path, created: false, rotated: false, changed: false };
  }
  writeSecretFile(path, text);
  const rotated = existed && (existing?.as_token !== reg.as_token || existing?.hs_token !== reg.hs_token);
  return { path, created: !existed, rotated, changed: true };
}

/** Writes `text` to `path` with mode 0600, replacing the file atomically (a registration holds tokens). */
export function writeSecretFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o600 });
    chmodSync(tmp, 0o600); // the umask may have cut the mode; 0600 must hold even when replacing a file
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  chmodSync(path, 0o600);
}

/** Reads and checks a registration file. Throws ConfigError (registration_missing / registration_invalid). */
export function readRegistration(path: string): Registration {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ConfigError(
        `registration file ${path} not found (run tandem generate-registration)`,
        "registration_missing",
        "appservice.registration",
      );
    }
    throw new ConfigError(`registration file ${path} cannot be read: ${(err as Error).message}`, "registration_invalid", "appservice.registration");
  }
  const invalid = (why: string) =>
    new ConfigError(`registration file ${path} ${why}`, "registration_invalid", "appservice.registration");
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch (err) {
    throw invalid(`is not valid YAML: ${((err as Error).message.split("\n")[0] ?? "")}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("must be a YAML mapping");
  const obj = value as Record<string, unknown>;
  for (const key of ["id", "url", "as_token", "hs_token", "sender_localpart"] as const) {
    if (typeof obj[key] !== "string" || obj[key] === "") throw invalid(`has no ${key}`);
  }
  const ns = (obj.namespaces ?? {}) as Record<string, unknown>;
  const list = (kind: string): RegistrationNamespace[] => {
    const items = ns[kind] ?? [];
    if (!Array.isArray(items)) throw invalid(`namespaces.${kind} must be a list`);
    return items.map((item: unknown) => {
      const i = item as Partial<RegistrationNamespace> | null;
      if (!i || typeof i.regex !== "string") throw invalid(`namespaces.${kind} has an entry without regex`);
      return { exclusive: Boolean(i.exclusive), regex: i.regex };
    });
  };
  return {
    id: obj.id as string,
    url: obj.url as string,
    as_token: obj.as_token as string,
    hs_token: obj.hs_token as string,
    sender_localpart: obj.sender_localpart as string,
    rate_limited: obj.rate_limited === undefined ? true : Boolean(obj.rate_limited),
    namespaces: { users: list("users"), aliases: list("aliases"), rooms: list("rooms") },
  };
}

/**
 * Where a registration no longer matches the config (for `start` and `doctor`): each line names
 * what differs. Empty when it matches; re-run generate-registration (tokens are kept) to fix.
 */
export function registrationMismatches(config: Config, reg: Registration): string[] {
  const want = buildRegistration(config, reg);
  const problems: string[] = [];
  if (reg.id !== want.id) problems.push(`registration id is ${reg.id}, appservice.id is ${want.id}`);
  if (reg.url !== want.url) problems.push(`registration url is ${reg.url}, appservice.address is ${want.url}`);
  if (reg.sender_localpart !== want.sender_localpart) {
    problems.push(`registration sender_localpart is ${reg.sender_localpart}, appservice.bot.username is ${want.sender_localpart}`);
  }
  for (const kind of ["users", "aliases"] as const) {
    const have = new Set(reg.namespaces[kind].filter((n) => n.exclusive).map((n) => n.regex));
    for (const n of want.namespaces[kind]) {
      if (!have.has(n.regex)) problems.push(`registration namespaces.${kind} lacks exclusive ${n.regex}`);
    }
  }
  return problems;
}
