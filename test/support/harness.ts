/**
 * Boots Tandem the way an operator does (a bridge.yaml, generate-registration, start)
 * against the fake homeserver, on a fresh database (PGlite in a temp dir, or real
 * Postgres when TANDEM_TEST_DB=pg and TANDEM_TEST_PG_URI are set), and gives tests
 * user-story helpers: DM the bot, run a command, wait for an event.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { parseConfig, writeRegistration, readRegistration, type Config, type Registration } from "../../src/config/index.js";
import type { NetworkConnector } from "../../src/core/connector.js";
import { startBridge, type RunningBridge } from "../../src/main.js";
import { FakeHomeserver, type ClientEvent, type FakeMatrixClient, type PushOptions } from "../fakes/homeserver.js";
import { backends } from "./db.js";
import { freePort, freePorts } from "./ports.js";
export { freePort };

export interface HarnessOptions {
  /** Connectors to run instead of the configured ones (built fresh for each start). */
  connectors?: (h: Harness) => NetworkConnector[];
  /** Raw config overrides, merged per section. */
  config?: Record<string, Record<string, unknown>>;
  /** "pg" uses a fresh Postgres database (needs TANDEM_TEST_PG_URI). Default from TANDEM_TEST_DB or pglite. */
  db?: "pg" | "pglite";
  /** Portals created at login per network (the loopback network has none by default). */
  initialChatCount?: Record<string, number>;
  /** Runs after the fake homeserver loaded the registration, before the bridge starts (e.g. to load another one). */
  beforeBoot?: (h: Harness) => void | Promise<void>;
  /** How the fake homeserver pushes transactions (legacy unprefixed paths). */
  push?: PushOptions;
}

export class Harness {
  hs!: FakeHomeserver;
  bridge!: RunningBridge;
  config!: Config;
  registration!: Registration;
  readonly dir = mkdtempSync(join(tmpdir(), "tandem-test-"));
  /** Everything the bridge logged (JSON lines), to check nothing secret is written. */
  logs = "";
  /** The database's postgres:// URI, or "" for PGlite. */
  dbUri = "";
  private dbDir = "db";

  constructor(private readonly opts: HarnessOptions) {}

  static async start(opts: HarnessOptions = {}): Promise<Harness> {
    const h = new Harness(opts);
    h.hs = await FakeHomeserver.start({ domain: "example.org", retry: { initialMs: 20, maxMs: 200 }, push: opts.push });
    const db = opts.db ?? (process.env.TANDEM_TEST_DB === "pg" ? "pg" : "pglite");
    const backend = backends.find((b) => b.name === db);
    if (!backend) throw new Error("TANDEM_TEST_DB=pg needs TANDEM_TEST_PG_URI (see scripts/pg-test-server.sh)");
    const dbOpts = await backend.open();
    h.dbUri = dbOpts.uri;
    if (dbOpts.dataDir) h.dbDir = dbOpts.dataDir;
    const [asPort, metricsPort] = await freePorts(2);
    const raw: Record<string, Record<string, unknown>> = {
      homeserver: { url: h.hs.url, domain: "example.org" },
      appservice: { address: `http://127.0.0.1:${asPort}`, port: asPort, registration: "registration.yaml" },
      database: { uri: h.dbUri, data_dir: h.dbDir },
      bridge: { permissions: { "*": "relay", "example.org": "user", "@admin:example.org": "admin" }, encryption_key: "test-encryption-key-0123456789" },
      metrics: { port: metricsPort },
      logging: { level: "debug", format: "json" },
    };
    for (const [section, values] of Object.entries(opts.config ?? {})) raw[section] = { ...raw[section], ...values };
    h.config = parseConfig(raw, {}, { baseDir: h.dir });
    writeRegistration(h.config, h.config.appservice.registration);
    h.registration = readRegistration(h.config.appservice.registration);
    // The test-only loopback network needs namespaces too (real networks get theirs from config).
    h.registration.namespaces.users.push({ exclusive: true, regex: "^@loopback[0-9]*_.*:example\\.org$" });
    h.registration.namespaces.aliases.push({ exclusive: true, regex: "^#loopback[0-9]*_.*:example\\.org$" });
    h.hs.setRegistration(h.registration as never);
    await opts.beforeBoot?.(h);
    await h.boot();
    return h;
  }

  private async boot(): Promise<void> {
    const stream = new PassThrough();
    stream.on("data", (d: Buffer) => { this.logs += d.toString(); });
    this.bridge = await startBridge({
      config: this.config, registration: this.registration, logStream: stream,
      connectors: this.opts.connectors?.(this), // undefined: the configured networks, as in production
      core: { queue: { pollMs: 3600_000, baseDelayMs: 50, maxDelayMs: 500 } },
      initialChatCount: this.opts.initialChatCount,
    });
  }

  get botMxid(): string {
    return `@${this.config.appservice.bot.username}:example.org`;
  }

  async restart(): Promise<void> {
    await this.bridge.stop();
    await this.boot();
  }

  async stop(): Promise<void> {
    if (process.env.TANDEM_TEST_LOGS) process.stderr.write(this.logs);
    await this.bridge?.stop().catch(() => undefined);
    await this.hs?.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  user(localpart: string): FakeMatrixClient {
    const id = `@${localpart}:example.org`;
    return this.hs.userExists(id) ? this.hs.clientFor(id) : this.hs.createUser(localpart);
  }

  /** The user opens a DM with the bot, as Element does; resolves when the bot has joined. */
  async dm(user: FakeMatrixClient): Promise<string> {
    const roomId = await user.createRoom({ preset: "trusted_private_chat", invite: [this.botMxid], is_direct: true });
    await this.hs.waitForEvent({ type: "m.room.member", room_id: roomId, state_key: this.botMxid, content: { membership: "join" } }, { timeoutMs: 10_000 });
    await this.waitForBot(roomId, /Hello/);
    return roomId;
  }

  /** Send text and wait for the bot's next notice in that room. */
  async command(user: FakeMatrixClient, roomId: string, text: string, timeoutMs = 10_000): Promise<string> {
    const since = this.hs.eventCount;
    await user.sendText(roomId, text);
    const ev = await this.hs.waitForEvent((e) => e.room_id === roomId && e.sender === this.botMxid && e.type === "m.room.message", { since, timeoutMs });
    return String((ev.content as { body?: unknown }).body);
  }

  async waitForBot(roomId: string, pattern: RegExp, timeoutMs = 10_000): Promise<ClientEvent> {
    return this.hs.waitForEvent((e) => e.room_id === roomId && e.sender === this.botMxid && e.type === "m.room.message" &&
      pattern.test(String((e.content as { body?: unknown }).body)), { timeoutMs });
  }

  /** Messages in a room sent by someone other than the bot, oldest first. */
  messages(roomId: string, from?: string): ClientEvent[] {
    return this.hs.timeline(roomId).filter((e) => e.type === "m.room.message" && (from ? e.sender === from : true));
  }
}

export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
