/**
 * The real bridge as a child process (`node --import tsx src/cli.ts start -c <tmp>/bridge.yaml`)
 * against fakes that run in the calling process (fake homeserver, fake Slack, fake Telegram on
 * 127.0.0.1), so a test can `kill -9` it and start it again on the same database:
 *
 *   const bp = await BridgeProcess.create({ hs, slack: fakeSlack, telegram: fakeTelegram });
 *   await bp.start();                                   // spawns, waits for GET /health to answer
 *   await bp.loginSlack(alice, team); await bp.loginTelegram(alice, bot);   // first time only
 *   await bp.kill();                                    // SIGKILL, resolves once it exited
 *   await bp.restart();                                 // start again, same config and database
 *   bp.stdout / bp.stderr                               // everything it wrote, every run
 *   await bp.stop();                                    // SIGTERM, temp dir and database removed
 *
 * Database: a fresh PGlite folder in the temp dir, or (db "pg", default when TANDEM_TEST_DB=pg)
 * a fresh database on TANDEM_TEST_PG_URI, dropped by stop(). Does not import vitest, so scripts
 * (bench/crash-report.ts) can use it too. Never blocks the event loop: the fakes live here.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cp } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import { parseConfig, readRegistration, writeRegistration, type Config } from "../../src/config/index.js";
import type { FakeHomeserver, FakeMatrixClient } from "../fakes/homeserver.js";
import { freePort, freePorts } from "./ports.js";
export { freePort };

const ROOT = resolve(import.meta.dirname, "../..");

export interface BridgeProcessOptions {
  hs: FakeHomeserver;
  /** Fake Slack (its apiUrl); Slack is disabled without it. */
  slack?: { apiUrl: string };
  /** Fake Telegram (its apiRoot); Telegram is disabled without it. */
  telegram?: { apiRoot: string };
  /** Default: "pg" when TANDEM_TEST_DB=pg (needs TANDEM_TEST_PG_URI), else "pglite". */
  db?: "pg" | "pglite";
  /** Raw config overrides, merged per section. */
  config?: Record<string, Record<string, unknown>>;
  /** Extra node options for the bridge, e.g. ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"]. */
  nodeArgs?: string[];
}

export interface HealthReply {
  status: number;
  body: { status: string; homeserver: { ok: boolean; error?: string }; database?: { ok: boolean; error?: string }; queueDepth: number | null;
    connections: Array<{ login: string; network: string; state: string; message: string | null }> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A child left running would keep ports busy and the database open: kill any on exit.
const live = new Set<ChildProcess>();
process.once("exit", () => { for (const c of live) c.kill("SIGKILL"); });

export class BridgeProcess {
  readonly dir = mkdtempSync(join(tmpdir(), "tandem-proc-"));
  readonly configPath = join(this.dir, "bridge.yaml");
  config!: Config;
  metricsPort = 0;
  /** Everything the bridge wrote, over all runs (JSON log lines on stdout). */
  stdout = "";
  stderr = "";
  /** Times the process was started. */
  starts = 0;
  private child: ChildProcess | null = null;
  private exited: Promise<number | null> | null = null;
  private pgDb: { admin: string; name: string } | null = null;

  private constructor(private readonly opts: BridgeProcessOptions) {}

  get hs(): FakeHomeserver {
    return this.opts.hs;
  }

  get botMxid(): string {
    return `@${this.config.appservice.bot.username}:${this.hs.domain}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Writes bridge.yaml and the registration, loads the registration into the fake homeserver. */
  static async create(opts: BridgeProcessOptions): Promise<BridgeProcess> {
    const bp = new BridgeProcess(opts);
    const db = opts.db ?? (process.env.TANDEM_TEST_DB === "pg" ? "pg" : "pglite");
    let uri = "";
    if (db === "pg") {
      const admin = process.env.TANDEM_TEST_PG_URI;
      if (!admin) throw new Error("db pg needs TANDEM_TEST_PG_URI (see scripts/pg-test-server.sh)");
      const name = `tandem_proc_${randomBytes(6).toString("hex")}`;
      await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
      bp.pgDb = { admin, name };
      const u = new URL(admin);
      u.pathname = `/${name}`;
      uri = u.toString();
    } else {
      // An initialised PGlite folder saves the first start its initdb (test/support/db.ts keeps one per version).
      const template = pgliteTemplate();
      if (template) await cp(template, join(bp.dir, "data"), { recursive: true });
    }
    const [asPort, metricsPort] = await freePorts(2);
    bp.metricsPort = metricsPort;
    const raw: Record<string, Record<string, unknown>> = {
      homeserver: { url: opts.hs.url, domain: opts.hs.domain },
      appservice: { address: `http://127.0.0.1:${asPort}`, hostname: "127.0.0.1", port: asPort, registration: join(bp.dir, "registration.yaml") },
      database: { uri, data_dir: join(bp.dir, "data") },
      slack: opts.slack ? { enabled: true, api_url: opts.slack.apiUrl } : { enabled: false },
      telegram: opts.telegram ? { enabled: true, api_root: opts.telegram.apiRoot } : { enabled: false },
      bridge: {
        permissions: { "*": "relay", [opts.hs.domain]: "user", [`@admin:${opts.hs.domain}`]: "admin" }, encryption_key: "test-encryption-key-0123456789",
        // The fake Slack serves files and avatars on loopback: allowed only by this setting.
        ...(opts.slack ? { download_allowed_origins: new URL(opts.slack.apiUrl).origin } : {}),
      },
      metrics: { enabled: true, hostname: "127.0.0.1", port: metricsPort },
      logging: { level: "info", format: "json" },
    };
    for (const [section, values] of Object.entries(opts.config ?? {})) raw[section] = { ...raw[section], ...values };
    // JSON is YAML: the bridge reads this file as an operator's bridge.yaml.
    writeFileSync(bp.configPath, JSON.stringify(raw, null, 2));
    bp.config = parseConfig(raw, {}, { baseDir: bp.dir });
    writeRegistration(bp.config, bp.config.appservice.registration);
    opts.hs.setRegistration(readRegistration(bp.config.appservice.registration) as never);
    return bp;
  }

  /** Spawns the bridge and waits until /health answers. */
  async start(readyTimeoutMs = 60_000): Promise<void> {
    if (this.child) throw new Error("BridgeProcess: already running");
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("TANDEM_") && !k.startsWith("VITEST")) env[k] = v;
    const child = spawn(process.execPath, [...(this.opts.nodeArgs ?? []), "--import", "tsx", "src/cli.ts", "start", "-c", this.configPath], {
      cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"],
    });
    this.starts++;
    this.child = child;
    live.add(child);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => { this.stdout += d; });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => { this.stderr += d; });
    this.exited = new Promise((res) => child.once("exit", (code) => {
      live.delete(child);
      if (this.child === child) this.child = null;
      res(code);
    }));
    await this.waitReady(readyTimeoutMs);
  }

  /** Polls GET /health until it answers (ok or degraded); throws if the process exits first. */
  async waitReady(timeoutMs = 60_000): Promise<HealthReply> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (!this.child) throw new Error(`BridgeProcess: the bridge exited during start\n${this.tail()}`);
      const h = await this.health().catch(() => null);
      if (h) return h;
      if (Date.now() > end) throw new Error(`BridgeProcess: /health did not answer within ${timeoutMs} ms\n${this.tail()}`);
      await sleep(100);
    }
  }

  async health(): Promise<HealthReply> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/health`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as HealthReply["body"] };
  }

  /** Waits until every login reports "connected" (and there is at least `min` of them). */
  async waitConnected(min = 1, timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      const h = await this.health().catch(() => null);
      return !!h && h.body.connections.length >= min && h.body.connections.every((c) => c.state === "connected");
    }, timeoutMs, "every login connected");
  }

  /** Sends a signal (default SIGKILL) and resolves once the process has exited. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
  }

  /** Kills the bridge if it runs (SIGKILL by default) and starts it again on the same database. */
  async restart(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.kill(signal);
    await this.start();
  }

  /** Stops the bridge (SIGTERM, then SIGKILL after 10 s) and removes its temp dir and database. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child) {
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await this.kill("SIGTERM");
      clearTimeout(timer);
    }
    if (process.env.TANDEM_TEST_LOGS) process.stderr.write(this.stdout + this.stderr);
    if (this.pgDb) {
      const { admin, name } = this.pgDb;
      this.pgDb = null;
      await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The last lines of output, for error messages. */
  tail(lines = 30): string {
    return (this.stdout + this.stderr).trimEnd().split("\n").slice(-lines).join("\n");
  }

  // ---- user stories against the fake homeserver ------------------------------------------------

  user(localpart: string): FakeMatrixClient {
    const id = `@${localpart}:${this.hs.domain}`;
    return this.hs.userExists(id) ? this.hs.clientFor(id) : this.hs.createUser(localpart);
  }

  /** The user opens a DM with the bot, as Element does; resolves once the bot said hello. */
  async dm(user: FakeMatrixClient): Promise<string> {
    const roomId = await user.createRoom({ preset: "trusted_private_chat", invite: [this.botMxid], is_direct: true });
    await this.hs.waitForEvent((e) => e.room_id === roomId && e.sender === this.botMxid && e.type === "m.room.message" &&
      /Hello/.test(String(e.content.body)), { timeoutMs: 30_000 });
    return roomId;
  }

  /** Sends text and returns the bot's next message in that room. */
  async command(user: FakeMatrixClient, roomId: string, text: string, timeoutMs = 30_000): Promise<string> {
    const since = this.hs.eventCount;
    await user.sendText(roomId, text);
    const ev = await this.hs.waitForEvent((e) => e.room_id === roomId && e.sender === this.botMxid && e.type === "m.room.message", { since, timeoutMs });
    return String(ev.content.body);
  }

  /** `login app <xoxb> <xapp>` in the user's DM with the bot. */
  async loginSlack(user: FakeMatrixClient, dm: string, team: { botToken: string; appToken: string }): Promise<void> {
    const reply = await this.command(user, dm, `login app ${team.botToken} ${team.appToken}`);
    if (!/^Logged in/.test(reply)) throw new Error(`login app failed: ${reply}`);
  }

  /** `login telegram <token>` in the user's DM with the bot. */
  async loginTelegram(user: FakeMatrixClient, dm: string, bot: { token: string }): Promise<void> {
    const reply = await this.command(user, dm, `login telegram ${bot.token}`);
    if (!/^Logged in/.test(reply)) throw new Error(`login telegram failed: ${reply}`);
  }
}

/** The PGlite template folder test/support/db.ts builds (same name, same version), if one exists. */
function pgliteTemplate(): string | null {
  try {
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
    const { version } = JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")) as { version: string };
    const dir = join(tmpdir(), `tandem-pglite-template-${version}`);
    return existsSync(join(dir, "pglite", "PG_VERSION")) ? dir : null;
  } catch {
    return null;
  }
}

async function withClient<T>(uri: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

