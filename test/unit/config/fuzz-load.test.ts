/**
 * Property test of the config loader (src/config/load.ts) on random YAML: mutated versions of
 * a full valid config, random text, truncated files, YAML features (anchors, tags, merge keys,
 * multi-documents) and random TANDEM_* environment values. The loader either returns a valid
 * Config or throws a ConfigError whose every line names what is wrong; never another error,
 * never a crash. A returned config always has listeners, ports and permissions that start
 * can use.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, envOverrides, loadConfig, parseConfig, type Config } from "../../../src/config/index.js";
import { EVIL_STRINGS, int, mutate, pick, randomString, rng, runs, SEEDS, weird } from "../../support/fuzz.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-config-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const full = {
  homeserver: { url: "http://127.0.0.1:8008", domain: "example.org" },
  appservice: { id: "tandem", address: "http://127.0.0.1:29319", hostname: "127.0.0.1", port: 29319, registration: "registration/r.yaml",
    bot: { username: "tandembot", displayname: "Tandem bridge", avatar: "" } },
  database: { uri: "", data_dir: "data" },
  slack: { enabled: true, api_url: "https://slack.com/api/", conversation_count: 10, backfill_count: 50 },
  telegram: { enabled: true, api_root: "https://api.telegram.org", mode: "polling", webhook_url: "", webhook_secret: "", webhook_port: 29320,
    max_download_size: 20971520, max_upload_size: 52428800 },
  bridge: { permissions: { "*": "relay", "example.org": "user", "@admin:example.org": "admin" }, command_prefix: "!tandem", max_file_size: 52428800,
    encryption_key: "k", public_url: "", standby_relays_matrix: true, login_timeout_seconds: 300 },
  metrics: { enabled: true, hostname: "127.0.0.1", port: 9119 },
  logging: { level: "info", format: "pretty" },
};

const YAML_ODDITIES = [
  "homeserver: &hs\n  url: http://127.0.0.1:8008\n  domain: example.org\nappservice:\n  <<: *hs\n",
  "homeserver: !!binary aGVsbG8=\n", "homeserver: !unknowntag {}\n", "---\nhomeserver: {}\n---\nother: 1\n",
  "a: &a [*a]\n", "homeserver:\n  url: [1, 2\n", "\t- tab indented\n", "? complex key\n: value\n", "%YAML 1.1\n---\nx: 1\n",
  "homeserver: {url: 'http://127.0.0.1:8008', domain: example.org}\nbridge: {permissions: {'*': god}}\n",
  "homeserver:\n  url: http://127.0.0.1:8008\n  domain: example.org\nmetrics:\n  port: 0x2000\n  hostname: ~\n",
  "x: " + "[".repeat(2000) + "\n", "x: " + "{a: ".repeat(500) + "1" + "}".repeat(500) + "\n", "\uFEFFhomeserver: {}\n", "null\n", "- a\n- b\n", "42\n", "'just a string'\n",
];

function expectValid(c: Config): void {
  expect(typeof c.appservice.hostname).toBe("string");
  expect(c.appservice.hostname.length).toBeGreaterThan(0);
  for (const p of [c.appservice.port, c.metrics.port, c.telegram.webhook_port]) expect(Number.isInteger(p) && p >= 1 && p <= 65535).toBe(true);
  for (const level of Object.values(c.bridge.permissions)) expect(["relay", "user", "admin"]).toContain(level);
  expect(c.homeserver.url).toMatch(/^https?:\/\//);
}

const jsonOr = (v: unknown, fallback: string): string => {
  try {
    return JSON.stringify(v) ?? "";
  } catch {
    return fallback; // too deep for JSON.stringify itself
  }
};

/** Load from a file; anything but a Config or a ConfigError fails the test. */
function load(text: string, env: NodeJS.ProcessEnv = {}): "ok" | "config-error" {
  const path = join(dir, "bridge.yaml");
  writeFileSync(path, text);
  try {
    expectValid(loadConfig(path, env));
    return "ok";
  } catch (err) {
    expect(err, String(err instanceof Error ? err.stack : err)).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message.length).toBeGreaterThan(0);
    expect(e.problems.length).toBeGreaterThan(0);
    return "config-error";
  }
}

describe.each(SEEDS)("config loader fuzz, seed %i", (seed) => {
  it("mutated full configs as YAML: a Config or a ConfigError naming keys", { timeout: 120_000 }, () => {
    const next = rng(seed);
    const seen = { ok: 0, "config-error": 0 };
    for (let k = 0; k < runs(100); k++) {
      const raw = mutate(full, next, next() < 0.5 ? 0.02 : 0.15);
      let text: string | undefined;
      try {
        text = YAML.stringify(raw);
      } catch {
        text = undefined;
      }
      if (typeof text !== "string") continue; // values YAML cannot write (undefined at the top) are no file anyone has
      seen[load(text)]++;
    }
    expect(seen.ok).toBeGreaterThan(0); // the mutation rate leaves some configs valid
    expect(seen["config-error"]).toBeGreaterThan(0);
  });

  it("random text, truncated files and YAML oddities", () => {
    const next = rng(seed + 1);
    const valid = YAML.stringify(full);
    for (let k = 0; k < runs(300); k++) {
      const r = next();
      const text = r < 0.3 ? valid.slice(0, int(next, valid.length)) : r < 0.5 ? randomString(next, 60) : r < 0.7 ? pick(next, YAML_ODDITIES)
        : valid.replace(/: .*$/m, `: ${pick(next, EVIL_STRINGS)}`);
      load(text);
    }
    for (const text of YAML_ODDITIES) load(text);
  });

  it("parseConfig on arbitrary values and random TANDEM_* environment", () => {
    const next = rng(seed + 2);
    const vars = envOverrides().map((o) => o.env);
    for (let k = 0; k < runs(400); k++) {
      const env: NodeJS.ProcessEnv = {};
      for (let i = int(next, 4); i > 0; i--) {
        const v = weird(next);
        env[pick(next, vars)] = typeof v === "string" ? v : jsonOr(v, "[".repeat(5000));
      }
      const raw = next() < 0.7 ? mutate(full, next, 0.08) : weird(next);
      try {
        expectValid(parseConfig(raw, env, { baseDir: dir }));
      } catch (err) {
        expect(err, String(err instanceof Error ? err.stack : err)).toBeInstanceOf(ConfigError);
      }
    }
  });
});

describe("config loader: YAML traps", () => {
  it("an unquoted value starting with ! (a YAML tag) is an error naming the line, not a silent empty or changed value", () => {
    for (const text of ["homeserver: { url: 'http://127.0.0.1:8008', domain: example.org }\nbridge:\n  command_prefix: !bridge now\n",
      "homeserver: { url: 'http://127.0.0.1:8008', domain: example.org }\nbridge:\n  command_prefix: !bridge\n"]) {
      const path = join(dir, "tag.yaml");
      writeFileSync(path, text);
      expect(() => loadConfig(path, {})).toThrow(/not valid YAML: Unresolved tag: !bridge at line 3.*quote values that start with !/);
    }
  });

  it("an alias to nothing, an alias bomb and absurd nesting are ConfigErrors", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join("\n");
    for (const text of ["homeserver: *nothing\n", bomb, `x: ${"[".repeat(40)}1${"]".repeat(40)}\n`]) {
      const path = join(dir, "trap.yaml");
      writeFileSync(path, text);
      expect(() => loadConfig(path, {})).toThrow(ConfigError);
    }
  });
});
