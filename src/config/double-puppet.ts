// The second, optional registration for double puppeting: it lets the bridge send as the
// homeserver's own users (`?user_id=@alice:…` with this registration's as_token), so a person
// mapped to a Slack or Telegram account (core/people.ts) posts from their own Matrix account.
// Its users namespace covers every local user and is NOT exclusive (the users stay theirs: they
// log in, register and post as before); `url: null` tells Synapse to push it nothing (Synapse
// ≥ 1.x reads null as "no transactions"), so it needs no listener. Its own id and tokens: Synapse
// refuses two registrations that share either.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import YAML from "yaml";
import { ConfigError } from "./errors.js";
import { generateToken, registrationYaml, writeSecretFile, type WriteResult } from "./registration.js";
import type { Config } from "./schema.js";

export interface DoublePuppetRegistration {
  id: string;
  url: null;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  rate_limited: boolean;
  namespaces: { users: Array<{ exclusive: false; regex: string }>; aliases: never[]; rooms: never[] };
}

const HEADER =
  "# Tandem double-puppet registration, written by `tandem generate-registration --double-puppet`.\n" +
  "# Optional. Loaded into the homeserver NEXT TO the main registration, it lets the bridge post as the\n" +
  "# homeserver's own users who are mapped to a Slack or Telegram account. Keep it secret: its as_token\n" +
  "# can act as any local user. Remove it from the homeserver to turn double puppeting off.\n";

/** Where `--double-puppet` writes when neither -o nor appservice.double_puppet_registration says. */
export function defaultDoublePuppetPath(config: Config): string {
  return config.appservice.double_puppet_registration || join(dirname(config.appservice.registration), "tandem-double-puppet.yaml");
}

export function buildDoublePuppetRegistration(config: Config, existing?: { as_token?: string; hs_token?: string }): DoublePuppetRegistration {
  const domain = config.homeserver.domain.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return {
    id: `${config.appservice.id}-double-puppet`,
    url: null,
    as_token: existing?.as_token || generateToken(),
    hs_token: existing?.hs_token || generateToken(),
    sender_localpart: `${config.appservice.bot.username}-double-puppet`,
    rate_limited: false,
    namespaces: { users: [{ exclusive: false, regex: `@.*:${domain}` }], aliases: [], rooms: [] },
  };
}

/** Write (or leave alone, when current) the double-puppet registration; tokens are kept unless `force`. */
export function writeDoublePuppetRegistration(config: Config, path: string, opts: { force?: boolean } = {}): WriteResult {
  const existed = existsSync(path);
  const existing = existed && !opts.force ? readDoublePuppetRegistration(path) : undefined;
  const reg = buildDoublePuppetRegistration(config, existing);
  const text = registrationYaml(reg, HEADER);
  if (existed && readFileSync(path, "utf8") === text) return { path, created: false, rotated: false, changed: false };
  writeSecretFile(path, text);
  return { path, created: !existed, rotated: existed && existing?.as_token !== reg.as_token, changed: true };
}

/** The double-puppet registration at `path`; ConfigError when it is missing or has no tokens. */
export function readDoublePuppetRegistration(path: string): DoublePuppetRegistration {
  const where = "appservice.double_puppet_registration";
  let value: unknown;
  try {
    value = YAML.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(code === "ENOENT"
      ? `double-puppet registration ${path} not found (run tandem generate-registration --double-puppet, or set ${where} to "")`
      : `double-puppet registration ${path} cannot be read: ${(err as Error).message.split("\n")[0]}`, code === "ENOENT" ? "registration_missing" : "registration_invalid", where);
  }
  const obj = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  for (const key of ["as_token", "hs_token", "id"]) {
    if (typeof obj[key] !== "string" || obj[key] === "") throw new ConfigError(`double-puppet registration ${path} has no ${key}`, "registration_invalid", where);
  }
  return obj as unknown as DoublePuppetRegistration;
}
