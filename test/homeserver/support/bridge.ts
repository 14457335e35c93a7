/**
 * The built bridge (`node dist/cli.js`) as its own process against a real Synapse, set up the
 * way the README tells an operator to: write bridge.yaml, `tandem generate-registration`, load
 * the file into the homeserver, `tandem start`.
 *
 *   const bridge = await SynapseBridge.create(hs, { slack: fakeSlack, telegram: fakeTelegram });
 *   await hs.start(); await bridge.start();     // the registration is loaded by Synapse's start
 *   await bridge.kill(); await bridge.start();  // kill -9 and start again on the same database
 *   await bridge.stop();                        // SIGTERM, temp dir removed
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { waitFor } from "../../support/bridge-process.js";
import { freePorts } from "../../support/ports.js";
import type { ClientEvent, MatrixUser } from "./matrix-user.js";
import type { Synapse } from "./synapse.js";

const ROOT = resolve(import.meta.dirname, "../../..");
export const CLI = join(ROOT, "dist", "cli.js");

export interface HealthBody {
  status: string;
  homeserver: { ok: boolean; error?: string };
  connections: Array<{ login: string; network: string; state: string }>;
}

export interface SynapseBridgeOptions {
  slack?: { apiUrl: string };
  telegram?: { apiRoot: string };
  /** Raw config overrides, merged per section. */
  config?: Record<string, Record<string, unknown>>;
  /** Hand the registration to Synapse (default true); false: a bridge the homeserver does not know. */
  loadRegistration?: boolean;
}

// A child left running would keep ports busy: kill any on exit.
const live = new Set<ChildProcess>();
process.once("exit", () => { for (const c of live) c.kill("SIGKILL"); });

/** The environment without our own test variables (the bridge reads TANDEM_* as config). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("TANDEM_") && !k.startsWith("VITEST")) env[k] = v;
  return env;
}

/** Runs the built CLI once; resolves with its exit code and output. */
export function runCli(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: cleanEnv(), encoding: "utf8", timeout: timeoutMs }, (err, stdout, stderr) =>
      res({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }));
  });
}

export class SynapseBridge {
  readonly dir = mkdtempSync(join(tmpdir(), "tandem-hs-bridge-"));
  readonly configPath = join(this.dir, "bridge.yaml");
  readonly registrationPath = join(this.dir, "tandem-registration.yaml");
  metricsPort = 0;
  /** Everything the bridge wrote over all runs (JSON log lines). */
  output = "";
  private child: ChildProcess | null = null;
  private exited: Promise<void> | null = null;

  private constructor(readonly hs: Synapse) {}

  get botMxid(): string {
    return `@tandembot:${this.hs.domain}`;
  }

  /** The running bridge's process id (the bench reads its CPU time). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Writes bridge.yaml, generates the registration with the CLI and hands it to Synapse. */
  static async create(hs: Synapse, opts: SynapseBridgeOptions = {}): Promise<SynapseBridge> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    const b = new SynapseBridge(hs);
    const [asPort, metricsPort] = await freePorts(2);
    b.metricsPort = metricsPort;
    const raw: Record<string, Record<string, unknown>> = {
      homeserver: { url: hs.url, domain: hs.domain },
      appservice: { address: `http://127.0.0.1:${asPort}`, hostname: "127.0.0.1", port: asPort, registration: b.registrationPath },
      database: { data_dir: join(b.dir, "data") },
      slack: opts.slack ? { enabled: true, api_url: opts.slack.apiUrl } : { enabled: false },
      telegram: opts.telegram ? { enabled: true, api_root: opts.telegram.apiRoot } : { enabled: false },
      bridge: {
        permissions: { "*": "relay", [hs.domain]: "user", [`@admin:${hs.domain}`]: "admin" }, encryption_key: "hs-suite-encryption-key-0123456789",
        // The fake Slack serves files and avatars on loopback: allowed only by this setting.
        ...(opts.slack ? { download_allowed_origins: new URL(opts.slack.apiUrl).origin } : {}),
      },
      metrics: { enabled: true, hostname: "127.0.0.1", port: metricsPort },
      logging: { level: "info", format: "json" },
    };
    for (const [section, values] of Object.entries(opts.config ?? {})) raw[section] = { ...raw[section], ...values };
    writeFileSync(b.configPath, JSON.stringify(raw, null, 2)); // JSON is YAML
    const gen = await runCli(["generate-registration", "-c", b.configPath]);
    if (gen.code !== 0) throw new Error(`generate-registration failed (${gen.code}): ${gen.stdout}${gen.stderr}`);
    if (opts.loadRegistration !== false) hs.addAppservice("tandem", b.registrationPath);
    return b;
  }

  /** Spawns `tandem start` and waits until /health answers. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child) throw new Error("SynapseBridge: already running");
    const child = spawn(process.execPath, [CLI, "start", "-c", this.configPath], { cwd: ROOT, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    live.add(child);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => { this.output += d; });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => { this.output += d; });
    this.exited = new Promise((res) => child.once("exit", () => {
      live.delete(child);
      if (this.child === child) this.child = null;
      res();
    }));
    await waitFor(async () => {
      if (!this.child) throw new Error(`the bridge exited during start\n${this.tail()}`);
      return (await this.health().catch(() => null)) !== null;
    }, timeoutMs, "the bridge's /health");
  }

  async health(): Promise<{ status: number; body: HealthBody }> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/health`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as HealthBody };
  }

  /** Waits until /health says 200 ok (homeserver reachable, every login connected). */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    let last: unknown = null;
    await waitFor(async () => {
      const h = await this.health().catch((err: unknown) => ({ status: 0, body: String(err) }));
      last = h.body;
      return h.status === 200;
    }, timeoutMs, "a healthy bridge").catch((err: Error) => {
      throw new Error(`${err.message}; last /health: ${JSON.stringify(last)}\n${this.tail()}`);
    });
  }

  /** Sends a signal (default SIGKILL) and resolves once the process exited. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
  }

  /** Stops the bridge (SIGTERM, SIGKILL after 10 s) and removes its directory. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child) {
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await this.kill("SIGTERM");
      clearTimeout(timer);
    }
    if (process.env.TANDEM_TEST_LOGS) process.stderr.write(this.output);
    rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- a person's steps, as Element takes them ------------------------------------------------

  /** The person opens a DM with the bot; resolves with the room once the bot said hello. */
  async dm(user: MatrixUser): Promise<string> {
    await user.startSync();
    const roomId = await user.createRoom({ preset: "trusted_private_chat", invite: [this.botMxid], is_direct: true });
    await user.waitForEvent((e) => e.room_id === roomId && e.sender === this.botMxid && e.type === "m.room.message" && /Hello/.test(bodyOf(e)),
      { what: `the bot's hello in ${roomId}\n${this.tail()}` });
    return roomId;
  }

  /** Sends text and waits for the bot's next message in that room. */
  async command(user: MatrixUser, roomId: string, text: string, timeoutMs = 30_000): Promise<{ reply: string; event: ClientEvent; sent: string }> {
    const since = user.eventCount;
    const sent = await user.sendText(roomId, text);
    const event = await user.waitForEvent((e) => e.room_id === roomId && e.sender === this.botMxid && e.type === "m.room.message",
      { since, timeoutMs, what: `the bot's answer to "${text.slice(0, 40)}"` });
    return { reply: bodyOf(event), event, sent };
  }

  /** Every m.room.message the bridge sent (as its bot or a ghost) that this person has seen. */
  sentMessages(user: MatrixUser): ClientEvent[] {
    return user.events.filter((e) => e.type === "m.room.message" &&
      (e.sender === this.botMxid || e.sender.startsWith("@slack_") || e.sender.startsWith("@telegram_")));
  }

  tail(lines = 30): string {
    return this.output.trimEnd().split("\n").slice(-lines).join("\n");
  }
}

export const bodyOf = (e: { content: unknown }): string => String((e.content as { body?: unknown }).body);
