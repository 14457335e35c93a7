/**
 * A real Synapse 1.67 for the homeserver suite, driven through `synapse.sh` (../shared/homeserver/):
 *
 *   const hs = await Synapse.create();           // fresh instance in a temp dir on a free port (not started)
 *   hs.addAppservice("tandem", registrationPath); // loaded by the next start
 *   await hs.start();                             // resolves once /_matrix/client/versions answers
 *   const alice = await hs.mkuser("alice");       // a MatrixUser (client-server API + /sync)
 *   await hs.restart(); await hs.destroy();       // destroy stops it and removes the dir
 *
 * The install step (`synapse.sh install`, apt packages) is not done here: `.ci/run` does it, and
 * the suite's global setup checks it once with a clear message.
 */
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { freePort } from "../../support/ports.js";
import { MatrixUser } from "./matrix-user.js";

const ROOT = resolve(import.meta.dirname, "../../..");

// A daemonized Synapse outlives a test process that dies: stop any still running on exit.
const live = new Set<Synapse>();
process.once("exit", () => {
  for (const hs of live) {
    try {
      process.kill(Number(readFileSync(join(hs.dir, "homeserver.pid"), "utf8")), "SIGKILL");
    } catch {
      // not running
    }
  }
});

/** synapse.sh: $TANDEM_TEST_SYNAPSE_SH, else the first shared/homeserver/synapse.sh above the checkout. */
export function synapseScript(): string {
  const fromEnv = process.env.TANDEM_TEST_SYNAPSE_SH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TANDEM_TEST_SYNAPSE_SH=${fromEnv} does not exist`);
    return fromEnv;
  }
  for (let dir = dirname(ROOT); ; dir = dirname(dir)) {
    const candidate = join(dir, "shared", "homeserver", "synapse.sh");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error("synapse.sh not found: set TANDEM_TEST_SYNAPSE_SH to the path of shared/homeserver/synapse.sh");
}

/** Runs `synapse.sh <args>`; rejects with its output when it fails. */
export function synapseSh(args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((res, rej) => {
    execFile("bash", [synapseScript(), ...args], { encoding: "utf8", timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) rej(new Error(`synapse.sh ${args.join(" ")} failed: ${err.message}\n${stdout}${stderr}`));
      else res(stdout);
    });
  });
}

export class Synapse {
  readonly dir: string;
  private constructor(readonly port: number, readonly domain: string, parent: string) {
    this.dir = join(parent, "synapse");
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A new, stopped instance in a temp dir on a free loopback port. */
  static async create(domain = "test.local"): Promise<Synapse> {
    const parent = mkdtempSync(join(tmpdir(), "tandem-synapse-"));
    const hs = new Synapse(await freePort(), domain, parent);
    await synapseSh(["new", hs.dir, String(hs.port), domain]);
    return hs;
  }

  /** Copies a registration file into the instance; Synapse reads it at its next start. */
  addAppservice(name: string, registrationPath: string): void {
    copyFileSync(registrationPath, join(this.dir, "appservices", `${name}.yaml`));
  }

  async start(): Promise<void> {
    live.add(this);
    await synapseSh(["start", this.dir]);
  }

  async stop(): Promise<void> {
    await synapseSh(["stop", this.dir]);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Registers a user through the shared-secret admin API and returns a client for them. */
  async mkuser(localpart: string, opts: { admin?: boolean; password?: string } = {}): Promise<MatrixUser> {
    const out = await synapseSh(["mkuser", this.dir, localpart, opts.password ?? `pw-${localpart}-0123`, ...(opts.admin ? ["admin"] : [])]);
    const reg = JSON.parse(out) as { user_id: string; access_token: string; device_id?: string };
    return new MatrixUser(this.url, reg.user_id, reg.access_token, reg.device_id);
  }

  /** The server's log, for failure messages. */
  logTail(lines = 40): string {
    const path = join(this.dir, "homeserver.log");
    return existsSync(path) ? readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "(no homeserver.log)";
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    live.delete(this);
    if (process.env.TANDEM_TEST_LOGS) process.stderr.write(`--- synapse log (${this.dir})\n${this.logTail(400)}\n`);
    rmSync(dirname(this.dir), { recursive: true, force: true });
  }
}
