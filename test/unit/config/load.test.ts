import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config/errors.js";
import { loadConfig, parseConfig, suggestKey } from "../../../src/config/load.js";
import { envOverrides } from "../../../src/config/env.js";

const HS = { homeserver: { url: "http://127.0.0.1:8008", domain: "example.org" } };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tandem-config-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The message of the ConfigError that `fn` throws. */
function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

const problems = (raw: unknown, env: NodeJS.ProcessEnv = {}) => errorOf(() => parseConfig(raw, env)).message.split("\n");

describe("defaults", () => {
  it("fills every key from a file with only the homeserver", () => {
    const path = write("bridge.yaml", "homeserver:\n  url: http://127.0.0.1:8008\n  domain: example.org\n");
    expect(loadConfig(path, {})).toEqual({
      homeserver: { url: "http://127.0.0.1:8008", domain: "example.org" },
      appservice: {
        id: "tandem",
        address: "http://127.0.0.1:29319",
        hostname: "127.0.0.1",
        port: 29319,
        registration: join(dir, "registration/tandem-registration.yaml"),
        double_puppet_registration: "",
        bot: { username: "tandembot", displayname: "Tandem bridge", avatar: "" },
      },
      database: { uri: "", data_dir: join(dir, "data") },
      slack: { enabled: true, api_url: "https://slack.com/api/", conversation_count: 10, backfill_count: 50, history_page_size: 15, history_interval_seconds: 60, outbound_pacing: true },
      telegram: {
        enabled: true,
        api_root: "https://api.telegram.org",
        mode: "polling",
        webhook_url: "",
        webhook_secret: "",
        webhook_port: 29320,
        max_download_size: 20971520,
        max_upload_size: 52428800,
        outbound_pacing: true,
      },
      bridge: {
        permissions: { "*": "relay", "example.org": "user" },
        command_prefix: "!tandem",
        max_file_size: 52428800,
        download_allowed_origins: "",
        import_conversations_at_once: 3,
        avatar_cache_bytes: 33554432,
        max_message_parts: 10,
        encryption_key: "",
        public_url: "",
        standby_relays_matrix: true,
        login_timeout_seconds: 300,
        detached_wait_minutes: 1440,
      },
      metrics: { enabled: true, hostname: "127.0.0.1", port: 9119, probe_interval_seconds: 20 },
      logging: { level: "info", format: "pretty" },
    });
  });

  it("treats keys and sections without a value as unset", () => {
    const path = write("bridge.yaml", "homeserver:\n  url: http://hs:8008\n  domain: example.org\nslack:\ndatabase:\n  uri:\n");
    const config = loadConfig(path, {});
    expect(config.slack.enabled).toBe(true);
    expect(config.database.uri).toBe("");
  });

  it("keeps absolute paths and resolves relative ones against the config file's directory", () => {
    const path = write("bridge.yaml", "homeserver: { url: http://hs:8008, domain: example.org }\n" +
      "database: { data_dir: ../state }\nappservice: { registration: /etc/tandem/reg.yaml, double_puppet_registration: reg/dp.yaml }\n");
    const config = loadConfig(path, {});
    expect(config.database.data_dir).toBe(join(dir, "../state"));
    expect(config.appservice.registration).toBe("/etc/tandem/reg.yaml");
    expect(config.appservice.double_puppet_registration).toBe(join(dir, "reg/dp.yaml"));
  });

  it("normalises URLs: trailing slash on slack.api_url, none on the others", () => {
    const config = parseConfig({
      homeserver: { url: "http://hs:8008/", domain: "example.org" },
      appservice: { address: "http://bridge:29319/" },
      slack: { api_url: "http://fake-slack/api" },
      telegram: { api_root: "http://fake-telegram/" },
    }, {});
    expect(config.homeserver.url).toBe("http://hs:8008");
    expect(config.appservice.address).toBe("http://bridge:29319");
    expect(config.slack.api_url).toBe("http://fake-slack/api/");
    expect(config.telegram.api_root).toBe("http://fake-telegram");
  });
});

describe("errors name the key, one line per problem", () => {
  it("homeserver.domain is required", () => {
    expect(problems({ homeserver: { url: "http://hs:8008" } })).toEqual(["homeserver.domain is required"]);
    expect(problems({ homeserver: { url: "http://hs:8008", domain: "" } })).toEqual(["homeserver.domain is required"]);
  });

  it("an empty file lacks both homeserver keys", () => {
    expect(problems(null)).toEqual(["homeserver.url is required", "homeserver.domain is required"]);
  });

  it("unknown keys, with the closest known key", () => {
    expect(problems({ ...HS, slack: { api_ulr: "x" } })).toEqual(["unknown key slack.api_ulr (did you mean slack.api_url?)"]);
    expect(problems({ ...HS, homserver: {} })).toEqual(["unknown key homserver (did you mean homeserver?)"]);
    expect(problems({ ...HS, slack: { frobnicate: 1 } })).toEqual(["unknown key slack.frobnicate"]);
  });

  it("suggests a key from another section when the name matches exactly", () => {
    expect(suggestKey(["appservice", "domain"])).toBe("homeserver.domain");
    expect(suggestKey(["metrics", "level"])).toBe("logging.level");
    expect(suggestKey(["slack", "enabeld"])).toBe("slack.enabled");
  });

  it("ports", () => {
    const msg = "appservice.port must be a number between 1 and 65535";
    expect(problems({ ...HS, appservice: { port: 70000 } })).toEqual([msg]);
    expect(problems({ ...HS, appservice: { port: 0 } })).toEqual([msg]);
    expect(problems({ ...HS, appservice: { port: "http" } })).toEqual([msg]);
    expect(problems({ ...HS, appservice: { port: 80.5 } })).toEqual([msg]);
    expect(problems({ ...HS, metrics: { port: -1 } })).toEqual(["metrics.port must be a number between 1 and 65535"]);
  });

  it("URLs must parse", () => {
    expect(problems({ homeserver: { url: "localhost:8008", domain: "example.org" } }))
      .toEqual(["homeserver.url must be an http:// or https:// URL"]);
    expect(problems({ ...HS, bridge: { public_url: "nope" } })).toEqual(['bridge.public_url must be an http:// or https:// URL or ""']);
    expect(problems({ ...HS, database: { uri: "mysql://x" } })).toEqual(['database.uri must be a postgres:// URI or ""']);
  });

  it("homeserver.domain is a server name, not a URL", () => {
    expect(problems({ homeserver: { url: "http://hs", domain: "https://example.org" } }))
      .toEqual(["homeserver.domain must be a server name like example.org (no https://, no path)"]);
  });

  it("wrong types and enum values", () => {
    expect(problems({ ...HS, slack: { enabled: "yes" } })).toEqual(["slack.enabled must be true or false"]);
    expect(problems({ ...HS, logging: { level: "verbose" } })).toEqual(["logging.level must be one of error, warn, info, debug"]);
    expect(problems({ ...HS, slack: "on" })).toEqual(["slack must be a mapping (key: value lines)"]);
    expect(problems({ ...HS, slack: { conversation_count: -1 } })).toEqual(["slack.conversation_count must be at least 0"]);
  });

  it("permission keys and levels", () => {
    expect(problems({ ...HS, bridge: { permissions: { "@admin": "admin" } } }))
      .toEqual(['bridge.permissions key "@admin" must be "*", a server name (example.org) or a full MXID (@user:example.org)']);
    expect(problems({ ...HS, bridge: { permissions: { "example.org": "owner" } } }))
      .toEqual(['bridge.permissions["example.org"] must be one of relay, user, admin']);
    const ok = parseConfig({ ...HS, bridge: { permissions: { "*": "relay", "matrix.org:8448": "user", "@a.b:example.org": "admin" } } }, {});
    expect(ok.bridge.permissions).toEqual({ "*": "relay", "matrix.org:8448": "user", "@a.b:example.org": "admin" });
  });

  it("cross-key checks", () => {
    expect(problems({ ...HS, telegram: { mode: "webhook" } })).toEqual(["telegram.webhook_url is required when telegram.mode is webhook"]);
    expect(problems({ ...HS, metrics: { port: 29319 } })).toEqual(["metrics.port must differ from appservice.port"]);
    expect(problems({ ...HS, appservice: { bot: { username: "slack_bot" } } }))
      .toEqual(["appservice.bot.username must not start with slack_ or telegram_ (those names belong to ghosts)"]);
  });

  it("reports every problem, and the first key", () => {
    const err = errorOf(() => parseConfig({ homeserver: { url: "http://hs" }, appservice: { port: 0 }, slack: { api_ulr: "" } }, {}));
    expect(err.message.split("\n")).toEqual([
      "homeserver.domain is required",
      "appservice.port must be a number between 1 and 65535",
      "unknown key slack.api_ulr (did you mean slack.api_url?)",
    ]);
    expect(err.code).toBe("config_invalid");
    expect(err.keyPath).toBe("homeserver.domain");
    expect(err.problems.map((p) => p.path)).toEqual(["homeserver.domain", "appservice.port", "slack.api_ulr"]);
  });
});

describe("reading the file", () => {
  it("missing file", () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const err = errorOf(() => loadConfig("bridge.yaml", {}));
      expect(err.message).toBe("config file bridge.yaml not found (copy bridge.example.yaml to bridge.yaml)");
      expect(err.code).toBe("config_missing");
    } finally {
      process.chdir(cwd);
    }
  });

  it("invalid YAML and non-mappings", () => {
    const bad = write("bad.yaml", "homeserver: [\n");
    expect(errorOf(() => loadConfig(bad, {})).message).toMatch(new RegExp(`^config file ${bad} is not valid YAML: `));
    const list = write("list.yaml", "- a\n- b\n");
    expect(errorOf(() => loadConfig(list, {})).message).toBe(`config file ${list} must be a YAML mapping (key: value lines)`);
  });

  it("merges overlays over the file, and env over both", () => {
    const path = write("bridge.yaml", "homeserver: { url: http://hs:8008, domain: example.org }\nlogging: { level: debug }\n");
    const overlay = write("overlay.yaml", "logging: { format: json }\nmetrics: { hostname: 0.0.0.0, port: 9200 }\n");
    const config = loadConfig(path, { TANDEM_CONFIG_OVERLAY: overlay, TANDEM_METRICS_PORT: "9300" });
    expect(config.logging).toEqual({ level: "debug", format: "json" });
    expect(config.metrics).toEqual({ enabled: true, hostname: "0.0.0.0", port: 9300, probe_interval_seconds: 20 });
    expect(loadConfig(path, {}, { overlays: [overlay] }).metrics.port).toBe(9200);
  });
});

describe("layers: image defaults, the operator's file, env", () => {
  it("the operator's file wins over defaults files, env over both, overlays over the file", () => {
    const path = write("bridge.yaml", "homeserver: { url: http://hs:8008, domain: example.org }\nlogging: { format: pretty }\nappservice: { hostname: 127.0.0.1 }\n");
    const defaults = write("docker.yaml", "appservice: { hostname: 0.0.0.0 }\nlogging: { format: json, level: warn }\n");
    const config = loadConfig(path, { TANDEM_CONFIG_DEFAULTS: defaults, TANDEM_LOGGING_LEVEL: "debug" });
    expect(config.appservice.hostname).toBe("127.0.0.1"); // the file's
    expect(config.logging).toEqual({ format: "pretty", level: "debug" }); // file, then env
    expect(loadConfig(path, {}, { defaults: [defaults] }).logging.level).toBe("warn"); // what the file leaves out
  });
});

describe("permissions follow homeserver.domain", () => {
  it("$domain in a permission key is homeserver.domain", () => {
    const config = parseConfig({ homeserver: { url: "http://hs", domain: "chat.acme.io" }, bridge: { permissions: { "*": "relay", "$domain": "user", "@ops:$domain": "admin" } } }, {});
    expect(config.bridge.permissions).toEqual({ "*": "relay", "chat.acme.io": "user", "@ops:chat.acme.io": "admin" });
  });

  it("TANDEM_ADMIN names admins over the file's permissions, or over the default ones", () => {
    const withFile = parseConfig({ ...HS, bridge: { permissions: { "*": "relay", "$domain": "user" } } }, { TANDEM_ADMIN: "@alice:example.org, @bob:example.org" });
    expect(withFile.bridge.permissions).toEqual({ "*": "relay", "example.org": "user", "@alice:example.org": "admin", "@bob:example.org": "admin" });
    const noFile = parseConfig(HS, { TANDEM_ADMIN: "@alice:example.org" });
    expect(noFile.bridge.permissions).toEqual({ "*": "relay", "example.org": "user", "@alice:example.org": "admin" });
  });

  it("a TANDEM_ADMIN that is not an MXID names the variable", () => {
    expect(problems(HS, { TANDEM_ADMIN: "alice" }).join("\n")).toMatch(/TANDEM_ADMIN/);
  });
});

describe("unknown TANDEM_* variables", () => {
  it("are an error naming the nearest variable", () => {
    expect(problems(HS, { TANDEM_DATABASE_URL: "postgres://db/tandem" })).toEqual([
      "TANDEM_DATABASE_URL is not a Tandem setting (did you mean TANDEM_DATABASE_URI?); unset it or fix its name",
    ]);
    expect(problems(HS, { TANDEM_ADMINS: "@a:example.org" })[0]).toMatch(/did you mean TANDEM_ADMIN\?/);
    expect(problems(HS, { TANDEM_FROBNICATE_EVERYTHING_NOW: "1" })).toEqual([
      "TANDEM_FROBNICATE_EVERYTHING_NOW is not a Tandem setting; unset it or fix its name",
    ]);
  });

  it("leave other variables and the test tooling's alone", () => {
    expect(() => parseConfig(HS, { TANDEM_TEST_PG_URI: "x", TANDEM_BENCH_PG_URI: "x", TANDEM_CONFIG: "b.yaml", PATH: "/bin" })).not.toThrow();
  });
});

describe("environment overrides", () => {
  it("maps every key to TANDEM_<PATH>", () => {
    const names = envOverrides().map((o) => o.env);
    for (const name of ["TANDEM_DATABASE_URI", "TANDEM_HOMESERVER_URL", "TANDEM_HOMESERVER_DOMAIN", "TANDEM_APPSERVICE_PORT",
      "TANDEM_METRICS_PORT", "TANDEM_LOGGING_LEVEL", "TANDEM_APPSERVICE_BOT_USERNAME", "TANDEM_BRIDGE_ENCRYPTION_KEY",
      "TANDEM_ENCRYPTION_KEY", "TANDEM_SLACK_ENABLED", "TANDEM_BRIDGE_PERMISSIONS"]) {
      expect(names).toContain(name);
    }
  });

  it("overrides and coerces by the key's type", () => {
    const config = parseConfig({ appservice: { port: 1000 } }, {
      TANDEM_HOMESERVER_URL: "http://synapse:8008",
      TANDEM_HOMESERVER_DOMAIN: "example.net",
      TANDEM_DATABASE_URI: "postgres://tandem:secret@db/tandem",
      TANDEM_ENCRYPTION_KEY: "k".repeat(32),
      TANDEM_APPSERVICE_PORT: "29400",
      TANDEM_METRICS_ENABLED: "false",
      TANDEM_SLACK_ENABLED: "0",
      TANDEM_TELEGRAM_ENABLED: "yes",
      TANDEM_LOGGING_LEVEL: "debug",
      TANDEM_BRIDGE_PERMISSIONS: '{"*": user}',
    });
    expect(config.homeserver).toEqual({ url: "http://synapse:8008", domain: "example.net" });
    expect(config.database.uri).toBe("postgres://tandem:secret@db/tandem");
    expect(config.bridge.encryption_key).toBe("k".repeat(32));
    expect(config.appservice.port).toBe(29400);
    expect(config.metrics.enabled).toBe(false);
    expect(config.slack.enabled).toBe(false);
    expect(config.telegram.enabled).toBe(true);
    expect(config.logging.level).toBe("debug");
    expect(config.bridge.permissions).toEqual({ "*": "user" });
  });

  it("the long name wins over the alias; empty variables are ignored", () => {
    const env = { TANDEM_ENCRYPTION_KEY: "short", TANDEM_BRIDGE_ENCRYPTION_KEY: "long", TANDEM_DATABASE_URI: "" };
    const config = parseConfig({ ...HS, database: { uri: "postgres://db/x" } }, env);
    expect(config.bridge.encryption_key).toBe("long");
    expect(config.database.uri).toBe("postgres://db/x");
  });

  it("a value that does not fit names the key and the variable", () => {
    expect(problems(HS, { TANDEM_APPSERVICE_PORT: "abc" }))
      .toEqual(["appservice.port must be a number between 1 and 65535 (from TANDEM_APPSERVICE_PORT)"]);
    expect(problems(HS, { TANDEM_SLACK_ENABLED: "maybe" })).toEqual(["slack.enabled must be true or false (from TANDEM_SLACK_ENABLED)"]);
  });

  it("does not touch the input object", () => {
    const raw = { homeserver: { url: "http://hs", domain: "example.org" } };
    parseConfig(raw, { TANDEM_HOMESERVER_URL: "http://other" });
    expect(raw.homeserver.url).toBe("http://hs");
  });
});
