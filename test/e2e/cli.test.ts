/** The operator's path through the real CLI: generate-registration, start errors, doctor. */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import net from "node:net";
import { loadMigrations } from "../../src/store/migrate.js";
import { openStore } from "../../src/store/index.js";
import { FakeHomeserver } from "../fakes/homeserver.js";
import { freePort, freePorts } from "../support/ports.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-cli-"));
/** Run the CLI asynchronously: the fake homeserver lives in this process and must keep answering. */
const cli = (...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
  execFile(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { encoding: "utf8", env: { ...process.env, TANDEM_CONFIG: "" }, timeout: 90_000 },
    (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tandem CLI", { timeout: 120_000 }, () => {
  let hs: FakeHomeserver;
  const cfg = join(dir, "bridge.yaml");
  beforeAll(async () => {
    hs = await FakeHomeserver.start();
    const [asPort, metricsPort] = await freePorts(2);
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
      expect(after.stdout).toMatch(/ok    the homeserver reaches the bridge at http:\/\/127\.0\.0\.1:\d+ \(appservice ping, \d+ ms\)/);
      expect(after.stdout).toMatch(/ok    database \(embedded\) is in use by the running bridge; 0 login\(s\)/);
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

  it("generate-registration says when nothing changed, and flags a port that differs from appservice.address", async () => {
    const again = await cli("generate-registration", "-c", cfg);
    expect(again.stdout).toMatch(/reg\.yaml is unchanged \(it already matches the config\); nothing to reload/);
    const skew = join(dir, "skew.yaml");
    writeFileSync(skew, YAML.stringify({ ...YAML.parse(readFileSync(cfg, "utf8")), appservice: { registration: "reg-skew.yaml", port: 29400, address: "http://127.0.0.1:29319" } }));
    const r = await cli("generate-registration", "-c", skew);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: appservice\.address http:\/\/127\.0\.0\.1:29319 uses port 29319 but the bridge listens on appservice\.port 29400/);
  });
});

/** Any failure during start closes what start opened and ends the process with one line: cause and fix. */
describe("a failed start exits whole", { timeout: 120_000 }, () => {
  const base = (name: string, extra: Record<string, unknown> = {}) => {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, YAML.stringify({
      homeserver: { url: "http://127.0.0.1:1", domain: "example.org" },
      appservice: { registration: `${name}-reg.yaml` },
      database: { data_dir: `${name}-db` },
      telegram: { enabled: false },
      metrics: { enabled: false },
      ...extra,
    }));
    return path;
  };
  const prepared = async (name: string, extra: Record<string, unknown> = {}) => {
    const path = base(name, extra);
    expect((await cli("generate-registration", "-c", path)).status).toBe(0);
    return path;
  };

  it("a taken appservice port: exit 1 naming the port and the key, logs on stdout, the database released", async () => {
    const port = await freePort();
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(port, "127.0.0.1", r));
    try {
      const path = await prepared("taken", { appservice: { registration: "taken-reg.yaml", port, address: `http://127.0.0.1:${port}` } });
      const r = await cli("start", "-c", path);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim().split("\n")).toEqual([
        `tandem: could not start: 127.0.0.1:${port} is already in use by another process. Fix: stop the other process or choose another port in appservice.port (and the port in appservice.address).`,
      ]);
      expect(r.stdout).toMatch(/WARN {2}bridge\.encryption_key is empty/); // logs go to stdout
      // A first start on an empty data_dir says what it does and when it is done, before the port fails.
      expect(r.stdout).toMatch(/embedded database: setting up a new database in .*taken-db.*\(first start\)…\n.*embedded database: created in .* from the build's template \(\d+ ms\)\n.*embedded database: set up, done in \d+\.\d s/);
      for (const m of loadMigrations()) expect(r.stdout).toContain(`database: migration ${m.file} applied (v${m.version}: ${m.description}; `);
    } finally {
      squatter.close();
    }
    // The embedded database's lock went with the process: doctor opens it.
    const doctor = await cli("doctor", "-c", join(dir, "taken.yaml"));
    expect(doctor.stdout).toMatch(/ok {4}database \(embedded/);
  });

  it("an unreachable database: exit 1 with the cause and the fix", async () => {
    const port = await freePort();
    const path = await prepared("nodb", { database: { uri: `postgres://tandem:hunter2@127.0.0.1:${port}/tandem` }, bridge: { encryption_key: "a-key-long-enough" } });
    const r = await cli("start", "-c", path);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^tandem: could not start: cannot connect to Postgres at .*127\\.0\\.0\\.1:${port}.*Fix: start the database or correct database\\.uri`, "m"));
    expect(r.stdout + r.stderr).not.toContain("hunter2");
  });

  it("a database from a newer Tandem (migration error): exit 1, database left as it was", async () => {
    const path = await prepared("newer");
    const future = [...loadMigrations(), { version: loadMigrations().length + 1, file: "999-future.sql", description: "from the future", sql: "SELECT 1" }];
    const store = await openStore({ uri: "", encryptionKey: "", dataDir: join(dir, "newer-db"), migrations: future });
    await store.close();
    const r = await cli("start", "-c", path);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/could not start: the database schema is v\d+ but this Tandem only knows up to v\d+.*Fix: restore the database from the backup/);
  });

  it("a registration that no longer matches the config: exit 2 saying what to run", async () => {
    const path = await prepared("stale");
    writeFileSync(path, readFileSync(path, "utf8").replace("domain: example.org", "domain: example.com"));
    const r = await cli("start", "-c", path);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/run tandem generate-registration and reload it in the homeserver/);
  });
});

describe("healthcheck (Docker HEALTHCHECK, systemd)", { timeout: 60_000 }, () => {
  it("is healthy only on 200 from /health at the configured metrics port; 503 and no answer are unhealthy", async () => {
    let status = 200;
    const server = createServer((req, res) => {
      res.writeHead(req.url === "/health" ? status : 404).end(status === 200 ? "ok" : "degraded: database not writable");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const path = join(dir, "health.yaml");
    writeFileSync(path, YAML.stringify({ homeserver: { url: "http://127.0.0.1:1", domain: "example.org" }, metrics: { port } }));
    try {
      const up = await cli("healthcheck", "-c", path);
      expect(up.status, up.stderr).toBe(0);
      status = 503;
      const degraded = await cli("healthcheck", "-c", path);
      expect(degraded.status).toBe(1);
      expect(degraded.stderr).toMatch(new RegExp(`unhealthy: http://127\\.0\\.0\\.1:${port}/health answered 503`));
    } finally {
      server.close();
    }
    const down = await cli("healthcheck", "-c", path);
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/connection refused/);
  });
});
