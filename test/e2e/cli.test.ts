/** The operator's path through the real CLI: generate-registration, start errors, doctor. */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHomeserver } from "../fakes/homeserver.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-cli-"));
/** Run the CLI asynchronously: the fake homeserver lives in this process and must keep answering. */
const cli = (...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
  execFile(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { encoding: "utf8", env: { ...process.env, TANDEM_CONFIG: "" }, timeout: 90_000 },
    (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }));
});

describe("tandem CLI", { timeout: 120_000 }, () => {
  let hs: FakeHomeserver;
  const cfg = join(dir, "bridge.yaml");
  beforeAll(async () => {
    hs = await FakeHomeserver.start();
    writeFileSync(cfg, YAML.stringify({
      homeserver: { url: hs.url, domain: "example.org" },
      appservice: { registration: "reg.yaml" },
      database: { data_dir: "db" },
      telegram: { enabled: false },
    }));
  });
  afterAll(async () => {
    await hs.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("generate-registration writes a 0600 registration that keeps its tokens on re-run", async () => {
    const r = await cli("generate-registration", "-c", cfg);
    expect(r.status, r.stderr).toBe(0);
    const path = join(dir, "reg.yaml");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const reg = YAML.parse(readFileSync(path, "utf8"));
    expect(reg.sender_localpart).toBe("tandembot");
    expect(reg.namespaces.users.map((u: { regex: string }) => u.regex)).toEqual(["^@tandembot:example\\.org$", "^@slack_.*:example\\.org$"]);
    expect((await cli("generate-registration", "-c", cfg)).status).toBe(0);
    expect(YAML.parse(readFileSync(path, "utf8")).as_token).toBe(reg.as_token);
    expect((await cli("generate-registration", "-c", cfg, "--force")).status).toBe(0);
    expect(YAML.parse(readFileSync(path, "utf8")).as_token).not.toBe(reg.as_token);
  });

  it("start exits 2 with one clear line on an invalid config", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, YAML.stringify({ homeserver: { url: hs.url }, slack: { api_ulr: "x" } }));
    const r = await cli("start", "-c", bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/homeserver\.domain is required/);
    expect(r.stderr).toMatch(/unknown key slack\.api_ulr \(did you mean slack\.api_url\?\)/);
  });

  it("start exits 2 when the registration file is missing", async () => {
    const c2 = join(dir, "noreg.yaml");
    writeFileSync(c2, YAML.stringify({ homeserver: { url: hs.url, domain: "example.org" }, appservice: { registration: "missing.yaml" } }));
    const r = await cli("start", "-c", c2);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/registration file .*missing\.yaml not found \(run tandem generate-registration\)/);
  });

  it("doctor fails while the homeserver does not know the registration, then passes", async () => {
    const before = await cli("doctor", "-c", cfg);
    expect(before.status).toBe(1);
    expect(before.stdout).toMatch(/FAIL  homeserver did not accept the registration/);
    hs.setRegistration(YAML.parse(readFileSync(join(dir, "reg.yaml"), "utf8")));
    const after = await cli("doctor", "-c", cfg);
    expect(after.stdout).toMatch(/ok    homeserver accepted the registration \(whoami: @tandembot:example\.org\)/);
    expect(after.stdout).toMatch(/ok    database \(embedded/);
    expect(after.stdout).toMatch(/warn  bridge\.encryption_key is empty/);
    expect(after.status, after.stdout).toBe(0);
  });

  it("unknown commands exit 2 with usage", async () => {
    const r = await cli("frobnicate");
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/Unknown command "frobnicate"/);
  });
});
