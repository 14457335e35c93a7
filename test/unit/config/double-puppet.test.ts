/**
 * The optional double-puppet registration (`generate-registration --double-puppet`): what Synapse
 * 1.67 requires of it (string id, tokens, sender_localpart; url a string or explicit null; each
 * namespace entry with a boolean `exclusive`), its own id and tokens (Synapse refuses shared
 * ones), a non-exclusive namespace of the local users, mode 0600, tokens kept unless --force.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultDoublePuppetPath, readDoublePuppetRegistration, writeDoublePuppetRegistration } from "../../../src/config/double-puppet.js";
import { parseConfig } from "../../../src/config/load.js";
import { buildRegistration } from "../../../src/config/registration.js";

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "tandem-dp-")); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

const config = () => parseConfig({ homeserver: { url: "http://127.0.0.1:8008", domain: "example.org" } }, {}, { baseDir: dir });

describe("double-puppet registration", () => {
  it("is what Synapse loads as a second appservice: own id and tokens, url null, all local users, not exclusively", () => {
    const c = config();
    const path = defaultDoublePuppetPath(c);
    expect(path).toBe(join(dir, "registration/tandem-double-puppet.yaml"));
    expect(writeDoublePuppetRegistration(c, path)).toMatchObject({ created: true, changed: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const reg = YAML.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    expect(reg.url).toBeNull();
    expect(reg).toMatchObject({ id: "tandem-double-puppet", sender_localpart: "tandembot-double-puppet", rate_limited: false });
    expect(reg.namespaces).toEqual({ users: [{ exclusive: false, regex: "@.*:example\\.org" }], aliases: [], rooms: [] });
    const main = buildRegistration(c);
    expect([main.as_token, main.hs_token]).not.toContain(reg.as_token);
    expect(reg.as_token).not.toBe(reg.hs_token);
    expect(String(reg.as_token)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("keeps its tokens when written again, rotates them with force, and says when it is missing", () => {
    const c = config();
    const path = join(dir, "dp.yaml");
    expect(() => readDoublePuppetRegistration(path)).toThrow(/not found \(run tandem generate-registration --double-puppet/);
    writeDoublePuppetRegistration(c, path);
    const first = readDoublePuppetRegistration(path);
    expect(writeDoublePuppetRegistration(c, path)).toMatchObject({ changed: false });
    expect(readDoublePuppetRegistration(path).as_token).toBe(first.as_token);
    expect(writeDoublePuppetRegistration(c, path, { force: true })).toMatchObject({ rotated: true });
    expect(readDoublePuppetRegistration(path).as_token).not.toBe(first.as_token);
  });
});
