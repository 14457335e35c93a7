/**
 * `tandem start` reads its config and registration in a worker thread (src/config/start-files.ts):
 * the same answers and errors as loading in-process, and zod and the YAML parser never load in
 * the bridge's own thread (issue 17: they would stay in its heap for the process's life).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, writeRegistration } from "../../../src/config/index.js";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tandem-start-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ProbeOut {
  before: { zod: boolean; yaml: boolean };
  after: { zod: boolean; yaml: boolean };
  answer: { domain?: string; registrationId?: string; asToken?: string; warnings?: string[]; error?: { configError: boolean; code: string; keyPath: string; problems: Array<{ path: string; message: string }> } | string };
}

const probe = (configPath: string) => new Promise<ProbeOut>((done, fail) => execFile(process.execPath, ["--import", "tsx", "test/support/start-files-probe.ts", configPath],
  { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, TANDEM_CONFIG: "" } },
  (err, out, errOut) => (err ? fail(new Error(`probe failed: ${errOut}`, { cause: err })) : done(JSON.parse(out.trim().split("\n").pop()!) as ProbeOut))));

function writeConfig(name: string, config: object): string {
  const path = join(dir, name);
  writeFileSync(path, YAML.stringify(config));
  return path;
}

describe("readStartFiles (tandem start's config and registration)", { timeout: 90_000 }, () => {
  it("answers what loadConfig and the registration say, with the warnings, and leaves zod and yaml out of the bridge's thread", async () => {
    const path = writeConfig("ok.yaml", {
      homeserver: { url: "http://127.0.0.1:1", domain: "example.org" },
      appservice: { registration: "reg-ok.yaml", port: 29330, address: "http://127.0.0.1:29999" },
      database: { data_dir: "db" },
    });
    const registration = writeRegistration(loadConfig(path, {}));
    expect(registration.created).toBe(true);
    const out = await probe(path);
    expect(out.answer.error).toBeUndefined();
    expect(out.answer.domain).toBe("example.org");
    expect(out.answer.registrationId).toBe("tandem");
    expect(out.answer.asToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    // An address on another port than the listener's is worth a warning (src/config/warnings.ts).
    expect(out.answer.warnings).toHaveLength(1);
    expect(out.answer.warnings![0]).toMatch(/uses port 29999 but the bridge listens on appservice\.port 29330/);
    expect(out.before).toEqual({ zod: false, yaml: false });
    expect(out.after).toEqual({ zod: false, yaml: false });
  });

  it("brings a config error back as a ConfigError with its problems and code", async () => {
    const path = writeConfig("bad.yaml", { homeserver: { url: "http://127.0.0.1:1" }, slack: { api_ulr: "x" } });
    const out = await probe(path);
    const error = out.answer.error;
    expect(typeof error).toBe("object");
    if (typeof error !== "object" || !error) return;
    expect(error.configError).toBe(true);
    expect(error.code).toBe("config_invalid");
    expect(error.problems.map((p) => p.message).join("\n")).toMatch(/homeserver\.domain is required/);
    expect(error.keyPath).not.toBe("");
    expect(out.after).toEqual({ zod: false, yaml: false });
  });

  it("refuses a registration that does not match the config, as start always did", async () => {
    const path = writeConfig("mismatch.yaml", {
      homeserver: { url: "http://127.0.0.1:1", domain: "example.org" },
      appservice: { registration: "reg-mismatch.yaml" },
      database: { data_dir: "db" },
    });
    writeRegistration(loadConfig(path, {}));
    writeConfig("mismatch.yaml", {
      homeserver: { url: "http://127.0.0.1:1", domain: "other.example" },
      appservice: { registration: "reg-mismatch.yaml" },
      database: { data_dir: "db" },
    });
    const out = await probe(path);
    expect(out.answer.error).toMatchObject({ configError: true, code: "registration_invalid" });
  });
});
