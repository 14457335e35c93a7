/**
 * `tandem doctor` warns about settings that work but expose too much: each unsafe setting
 * gives its own warning naming the key, safe defaults give none, and runDoctor prints them as
 * "warn" lines (warnings alone do not fail it).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { isLoopback, runDoctor, unsafeSettings } from "../../src/doctor.js";
import { openStore } from "../../src/store/index.js";
import { freePort } from "../support/ports.js";
import { backends, setReadOnly } from "../support/db.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-doctor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HS = { url: "http://127.0.0.1:9", domain: "example.org" };
const config = (over: Record<string, Record<string, unknown>> = {}) => parseConfig({
  homeserver: HS, ...over, bridge: { encryption_key: "a-key-long-enough", ...over.bridge },
}, {}, { baseDir: dir });
const warnings = (over: Record<string, Record<string, unknown>> = {}) => unsafeSettings(config(over));

describe("doctor: unsafe settings", () => {
  it("the defaults (with an encryption key) are safe: listeners on 127.0.0.1, '*' relay, domain user", () => {
    const c = config();
    expect(c.appservice.hostname).toBe("127.0.0.1");
    expect(c.metrics.hostname).toBe("127.0.0.1");
    expect(c.bridge.permissions).toEqual({ "*": "relay", "example.org": "user" });
    expect(unsafeSettings(c)).toEqual([]);
  });

  it('"*": admin, "*": user and a whole server as admin', () => {
    expect(warnings({ bridge: { permissions: { "*": "admin" } } })).toEqual([expect.stringMatching(/"\*" admin: anyone on any server can administer/)]);
    expect(warnings({ bridge: { permissions: { "*": "user" } } })).toEqual([expect.stringMatching(/"\*" user: anyone on any server can log in/)]);
    expect(warnings({ bridge: { permissions: { "example.org": "admin", "@root:example.org": "admin" } } }))
      .toEqual([expect.stringMatching(/every user of example\.org admin.*full MXID/)]);
  });

  it("the appservice listener on every interface or a LAN address, and the webhook port with it", () => {
    for (const host of ["0.0.0.0", "::", "[::]", "192.168.1.5"]) {
      expect(warnings({ appservice: { hostname: host } }), host).toEqual([expect.stringMatching(/^appservice\.hostname is .*reachable from other hosts.*only the homeserver \(or a reverse proxy/)]);
    }
    expect(warnings({ appservice: { hostname: "0.0.0.0" } })[0]).toMatch(/every interface/);
    const webhook = warnings({ appservice: { hostname: "0.0.0.0" }, telegram: { mode: "webhook", webhook_url: "https://bridge.example.org/tg" } });
    expect(webhook[0]).toMatch(/Telegram webhook port 29320/);
  });

  it("the metrics listener off localhost (no authentication on /metrics, /status, /audit)", () => {
    expect(warnings({ metrics: { hostname: "0.0.0.0" } })).toEqual([expect.stringMatching(/^metrics\.hostname is .*no authentication/)]);
    expect(warnings({ metrics: { hostname: "0.0.0.0", enabled: false } })).toEqual([]);
  });

  it("no encryption key, and a plain-http public_url", () => {
    expect(warnings({ bridge: { encryption_key: "" } })).toEqual([expect.stringMatching(/encryption_key is empty/)]);
    expect(warnings({ bridge: { public_url: "http://bridge.example.org" } })).toEqual([expect.stringMatching(/public_url is plain http/)]);
  });

  it("loopback addresses are recognised", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) expect(isLoopback(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.org", "128.0.0.1"]) expect(isLoopback(h), h).toBe(false);
  });

  it("runDoctor prints each as a warn line", async () => {
    const path = join(dir, "bridge.yaml");
    writeFileSync(path, [
      "homeserver: { url: 'http://127.0.0.1:9', domain: example.org }",
      "appservice: { hostname: 0.0.0.0, registration: missing.yaml }",
      "database: { data_dir: db }",
      "bridge: { permissions: { '*': admin } }",
      "metrics: { hostname: 0.0.0.0 }",
      "slack: { enabled: false }",
      "telegram: { enabled: false }",
    ].join("\n"));
    const lines: string[] = [];
    const code = await runDoctor(path, (l) => lines.push(l));
    const warns = lines.filter((l) => l.startsWith("warn"));
    expect(warns).toEqual(expect.arrayContaining([
      expect.stringMatching(/"\*" admin/), expect.stringMatching(/appservice\.hostname is 0\.0\.0\.0/),
      expect.stringMatching(/metrics\.hostname is 0\.0\.0\.0/), expect.stringMatching(/encryption_key is empty/),
    ]));
    expect(code).toBe(1); // the missing registration and the unreachable homeserver fail it, not the warnings
  }, 60_000);
});

// On Postgres only (TANDEM_TEST_PG_URI): PGlite cannot be made read-only from outside the process.
for (const pg of backends.filter((b) => b.name === "pg")) describe("doctor: the database", () => {
  it("says whether Postgres takes writes, not just whether it answers (read-only after a failover: FAIL naming it)", async () => {
    const { uri } = await pg.open();
    const path = join(dir, "pg.yaml");
    writeFileSync(path, [
      "homeserver: { url: 'http://127.0.0.1:9', domain: example.org }",
      "appservice: { registration: missing.yaml }",
      `database: { uri: '${uri}' }`,
      "bridge: { encryption_key: a-key-long-enough }",
      "slack: { enabled: false }",
      "telegram: { enabled: false }",
    ].join("\n"));
    const run = async () => {
      const lines: string[] = [];
      await runDoctor(path, (l) => lines.push(l));
      return lines.filter((l) => /database/.test(l));
    };
    expect(await run()).toEqual([expect.stringMatching(/^ok    database \(postgres\) is reachable, migrated and takes writes; 0 login\(s\)$/)]);
    await setReadOnly(null as never, uri, true);
    try {
      expect(await run()).toEqual([expect.stringMatching(/^FAIL  database answers but does not take writes \(read-only\): .*read-only transaction/)]);
    } finally {
      await setReadOnly(null as never, uri, false);
    }
  }, 60_000);
});

describe("doctor: who can log in", () => {
  it("fails when no permission entry lets anyone log in, warns when nobody is admin", async () => {
    const path = join(dir, "nobody.yaml");
    writeFileSync(path, [
      "homeserver: { url: 'http://127.0.0.1:9', domain: example.org }",
      "appservice: { registration: missing.yaml }",
      "database: { data_dir: db-nobody }",
      "bridge: { permissions: { '*': relay } }",
    ].join("\n"));
    const lines: string[] = [];
    expect(await runDoctor(path, (l) => lines.push(l))).toBe(1);
    expect(lines).toContainEqual(expect.stringMatching(/^FAIL {2}nobody can log in: bridge\.permissions gives no one "user" or "admin"/));

    const users = join(dir, "users.yaml");
    writeFileSync(users, readFileSync(path, "utf8").replace("{ '*': relay }", "{ '*': relay, $domain: user }"));
    const more: string[] = [];
    await runDoctor(users, (l) => more.push(l));
    expect(more.some((l) => l.includes("nobody can log in"))).toBe(false);
    expect(more).toContainEqual(expect.stringMatching(/^warn {2}no admin: nobody can link rooms/));
  }, 60_000);

  it("says why the homeserver is unreachable, not just \"fetch failed\"", async () => {
    const port = await freePort(); // nothing listens there
    const path = join(dir, "refused.yaml");
    writeFileSync(path, readFileSync(join(dir, "nobody.yaml"), "utf8").replace("127.0.0.1:9", `127.0.0.1:${port}`));
    const lines: string[] = [];
    await runDoctor(path, (l) => lines.push(l));
    expect(lines).toContainEqual(`FAIL  homeserver http://127.0.0.1:${port} unreachable: connection refused: nothing listens there [ECONNREFUSED] (127.0.0.1:${port})`);
  }, 60_000);
});

describe("doctor: logins while the bridge runs on the embedded database", () => {
  it("reads the logins' states from the running bridge's /status.json", async () => {
    const dataDir = join(dir, "db-running");
    // The running bridge holds the embedded database; here this test process holds it.
    const store = await openStore({ uri: "", dataDir, encryptionKey: "a-key-long-enough" });
    const status = createServer((req, res) => {
      res.writeHead(req.url === "/status.json" ? 200 : 404, { "content-type": "application/json" }).end(JSON.stringify({
        connections: [
          { login: "slack:T1", name: "Acme", state: "connected", message: null },
          { login: "telegram:7", name: "fleetbot", state: "error", message: "token revoked" },
        ],
      }));
    });
    await new Promise<void>((r) => status.listen(0, "127.0.0.1", r));
    const port = (status.address() as AddressInfo).port;
    try {
      const path = join(dir, "running.yaml");
      writeFileSync(path, [
        "homeserver: { url: 'http://127.0.0.1:9', domain: example.org }",
        "appservice: { registration: missing.yaml }",
        `database: { data_dir: ${dataDir} }`,
        "bridge: { encryption_key: a-key-long-enough }",
        `metrics: { port: ${port} }`,
      ].join("\n"));
      const lines: string[] = [];
      await runDoctor(path, (l) => lines.push(l));
      expect(lines).toEqual(expect.arrayContaining([
        expect.stringMatching(/^ok {4}database \(embedded\) is in use by the running bridge; 2 login\(s\)/),
        "ok    login slack:T1 (Acme) is connected",
        "FAIL  login telegram:7 (fleetbot): error (token revoked)",
      ]));
    } finally {
      status.close();
      await store.close();
    }
  }, 60_000);
});
