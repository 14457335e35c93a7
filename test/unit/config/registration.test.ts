import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppServiceRegistration } from "matrix-appservice-bridge";
import YAML from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config/errors.js";
import { parseConfig } from "../../../src/config/load.js";
import {
  buildRegistration,
  readRegistration,
  registrationMismatches,
  writeRegistration,
} from "../../../src/config/registration.js";
import type { Config } from "../../../src/config/schema.js";
import { requireTool } from "../../support/required-tools.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tandem-reg-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function config(extra: Record<string, unknown> = {}): Config {
  return parseConfig({ homeserver: { url: "http://127.0.0.1:8008", domain: "example.org" }, ...extra }, {}, { baseDir: dir });
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("buildRegistration", () => {
  it("has the contract's keys and exclusive namespaces for both networks", () => {
    const reg = buildRegistration(config());
    expect(reg).toEqual({
      id: "tandem",
      url: "http://127.0.0.1:29319",
      as_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      hs_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      sender_localpart: "tandembot",
      rate_limited: false,
      namespaces: {
        users: [
          { exclusive: true, regex: "^@tandembot:example\\.org$" },
          { exclusive: true, regex: "^@slack_.*:example\\.org$" },
          { exclusive: true, regex: "^@telegram_.*:example\\.org$" },
        ],
        aliases: [
          { exclusive: true, regex: "^#slack_.*:example\\.org$" },
          { exclusive: true, regex: "^#telegram_.*:example\\.org$" },
        ],
        rooms: [],
      },
    });
    expect(reg.as_token).not.toBe(reg.hs_token);
  });

  it("registers namespaces only for enabled networks", () => {
    const slackOnly = buildRegistration(config({ telegram: { enabled: false } }));
    expect(slackOnly.namespaces.users.map((n) => n.regex)).toEqual(["^@tandembot:example\\.org$", "^@slack_.*:example\\.org$"]);
    expect(slackOnly.namespaces.aliases.map((n) => n.regex)).toEqual(["^#slack_.*:example\\.org$"]);
    const none = buildRegistration(config({ slack: { enabled: false }, telegram: { enabled: false } }));
    expect(none.namespaces).toEqual({ users: [{ exclusive: true, regex: "^@tandembot:example\\.org$" }], aliases: [], rooms: [] });
  });

  it("sender_localpart is exactly the bot username", () => {
    const reg = buildRegistration(config({ appservice: { bot: { username: "bridge.bot" } } }));
    expect(reg.sender_localpart).toBe("bridge.bot");
    expect(reg.namespaces.users[0]!.regex).toBe("^@bridge\\.bot:example\\.org$");
  });

  it("escapes the domain so it matches only itself", () => {
    const reg = buildRegistration(config({ homeserver: { url: "http://hs", domain: "chat.example-corp.co.uk:8448" } }));
    // The file must read as matrix-appservice-bridge's own class reads it.
    const as = AppServiceRegistration.fromObject(reg);
    expect(as.isUserMatch("@slack_t1_u1:chat.example-corp.co.uk:8448", true)).toBe(true);
    expect(as.isUserMatch("@slack_t1_u1:chatXexample-corp.co.uk:8448", true)).toBe(false);
    expect(as.isUserMatch("@tandembot:chat.example-corp.co.uk:8448", true)).toBe(true);
    expect(as.isUserMatch("@alice:chat.example-corp.co.uk:8448", true)).toBe(false);
    expect(as.isAliasMatch("#telegram_fleet:chat.example-corp.co.uk:8448", true)).toBe(true);
    expect(as.isUserMatch("@slack_t1_u1:chat.example-corp.co.uk:8448.evil", true)).toBe(false);
  });

  it("keeps the tokens of an existing registration", () => {
    const first = buildRegistration(config());
    const again = buildRegistration(config({ appservice: { address: "http://bridge:29319" } }), first);
    expect(again.as_token).toBe(first.as_token);
    expect(again.hs_token).toBe(first.hs_token);
    expect(again.url).toBe("http://bridge:29319");
  });
});

/** PyYAML (Synapse's parser), when this machine has it. */
const pyyaml = requireTool("PyYAML", spawnSync("python3", ["-c", "import yaml"]).status === 0, "apt-get install -y python3-yaml");

describe("writeRegistration / readRegistration", () => {
  it.skipIf(!pyyaml)("parses the same in PyYAML, the parser Synapse uses", () => {
    const { path } = writeRegistration(config());
    const out = spawnSync("python3", ["-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", path], {
      encoding: "utf8",
    });
    expect(JSON.parse(out.stdout)).toEqual(readRegistration(path));
  });

  it("writes mode 0600 YAML that parses back to the same object", () => {
    const c = config();
    const result = writeRegistration(c);
    expect(result).toEqual({ path: join(dir, "registration/tandem-registration.yaml"), created: true, rotated: false, changed: true });
    expect(mode(result.path)).toBe(0o600);
    const text = readFileSync(result.path, "utf8");
    const written = readRegistration(result.path);
    expect(YAML.parse(text)).toEqual(written);
    expect(written).toEqual(buildRegistration(c, written));
    // matrix-appservice-bridge reads it as well
    expect(AppServiceRegistration.fromObject(written).getSenderLocalpart()).toBe("tandembot");
  });

  it("keeps tokens on re-run and rotates them with force", () => {
    const c = config();
    const path = join(dir, "reg.yaml");
    writeRegistration(c, path);
    const first = readRegistration(path);
    // Nothing changed: the file is left alone and the CLI can say "unchanged".
    expect(writeRegistration(c, path)).toEqual({ path, created: false, rotated: false, changed: false });
    const second = readRegistration(path);
    expect([second.as_token, second.hs_token]).toEqual([first.as_token, first.hs_token]);
    expect(writeRegistration(c, path, { force: true })).toEqual({ path, created: false, rotated: true, changed: true });
    const third = readRegistration(path);
    expect(third.as_token).not.toBe(first.as_token);
    expect(third.hs_token).not.toBe(first.hs_token);
  });

  it("rewrites a registration whose config changed, keeping its tokens", () => {
    const path = join(dir, "reg.yaml");
    writeRegistration(config(), path);
    const before = readRegistration(path);
    const moved = config({ appservice: { address: "http://10.0.0.5:29319" } });
    expect(writeRegistration(moved, path)).toEqual({ path, created: false, rotated: false, changed: true });
    expect(readRegistration(path)).toEqual({ ...before, url: "http://10.0.0.5:29319" });
  });

  it("restores mode 0600 when overwriting a readable file", () => {
    const path = join(dir, "reg.yaml");
    writeRegistration(config(), path);
    chmodSync(path, 0o644);
    writeRegistration(config(), path);
    expect(mode(path)).toBe(0o600);
    expect(existsSync(`${path}.${process.pid}.tmp`)).toBe(false);
  });

  it("refuses to overwrite an unreadable registration unless forced", () => {
    const path = join(dir, "reg.yaml");
    writeFileSync(path, "id: [\n");
    expect(() => writeRegistration(config(), path)).toThrow(/--force/);
    expect(writeRegistration(config(), path, { force: true })).toEqual({ path, created: false, rotated: true, changed: true });
    expect(readRegistration(path).id).toBe("tandem");
  });

  it("a missing registration is a ConfigError that says what to run", () => {
    const path = join(dir, "nope.yaml");
    let err: unknown;
    try {
      readRegistration(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe("registration_missing");
    expect((err as ConfigError).message).toBe(`registration file ${path} not found (run tandem generate-registration)`);
  });

  it("reports where a registration no longer matches the config", () => {
    const reg = buildRegistration(config({ telegram: { enabled: false } }));
    expect(registrationMismatches(config({ telegram: { enabled: false } }), reg)).toEqual([]);
    expect(registrationMismatches(config({ appservice: { bot: { username: "other" } } }), reg)).toEqual([
      "registration sender_localpart is tandembot, appservice.bot.username is other",
      "registration namespaces.users lacks exclusive ^@other:example\\.org$",
      "registration namespaces.users lacks exclusive ^@telegram_.*:example\\.org$",
      "registration namespaces.aliases lacks exclusive ^#telegram_.*:example\\.org$",
    ]);
  });
});
