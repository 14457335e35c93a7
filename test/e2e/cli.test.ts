/** The operator's path through the real CLI: generate-registration, start errors, doctor. */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHomeserver } from "../fakes/homeserver.js";
import { freePort } from "../support/ports.js";

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
    const [asPort, metricsPort] = [await freePort(), await freePort()];
    writeFileSync(cfg, YAML.stringify({
      homeserver: { url: hs.url, domain: "example.org" },
      appservice: { registration: "reg.yaml", port: asPort, address: `http://127.0.0.1:${asPort}` },
      metrics: { port: metricsPort },
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

  it("doctor fails while the homeserver does not know the registration, then while the bridge never ran, then passes", async () => {
    const before = await cli("doctor", "-c", cfg);
    expect(before.status).toBe(1);
    expect(before.stdout).toMatch(/FAIL  homeserver did not accept the registration \(M_UNKNOWN_TOKEN: it does not know the bridge's as_token\): load .*reg\.yaml into the homeserver again/);
    hs.setRegistration(YAML.parse(readFileSync(join(dir, "reg.yaml"), "utf8")));

    // Loaded, but the bridge never started: no bot user (the homeserver does not create it), nobody answering the ping.
    const loaded = await cli("doctor", "-c", cfg);
    expect(loaded.stdout).toMatch(/ok    homeserver accepted the registration \(whoami: @tandembot:example\.org\)/);
    expect(loaded.stdout).toMatch(/FAIL  the bot user @tandembot:example\.org does not exist on the homeserver: tandem start registers it/);
    expect(loaded.stdout).toMatch(/FAIL  the homeserver cannot reach the bridge at http:\/\/127\.0\.0\.1:\d+ \(appservice ping: M_CONNECTION_FAILED/);
    expect(loaded.stdout).toMatch(/ok    database \(embedded, .*db\) is reachable, migrated and takes writes/);
    expect(loaded.status).toBe(1);

    const bridge = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "start", "-c", cfg], { env: { ...process.env, TANDEM_CONFIG: "" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    bridge.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    bridge.stderr.on("data", (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<void>((r) => bridge.once("exit", () => r()));
    try {
      await expect.poll(() => out, { timeout: 60_000, interval: 100 }).toMatch(/Tandem is running/);
      const after = await cli("doctor", "-c", cfg);
      expect(after.stdout).toMatch(/ok    the bot user @tandembot:example\.org exists/);
      // The bridge answers the ping once it serves /_matrix/app/v1/ping; until then the homeserver reaches it and gets a 404.
      expect(after.stdout).toMatch(/(ok    the homeserver reaches the bridge at http:\/\/127\.0\.0\.1:\d+ \(appservice ping|warn  the homeserver reached http:\/\/127\.0\.0\.1:\d+ but the ping was answered HTTP 404)/);
      expect(after.stdout).toMatch(/warn  database: .* \(the bridge is running; logins not checked\)/);
      expect(after.stdout).toMatch(/warn  bridge\.encryption_key is empty/);
      expect(after.status, after.stdout).toBe(0);
    } finally {
      bridge.kill("SIGTERM");
      await exited;
    }
  });

  it("unknown commands exit 2 with usage", async () => {
    const r = await cli("frobnicate");
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/Unknown command "frobnicate"/);
  });
});
