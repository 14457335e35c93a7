/**
 * The bridge exactly as an operator runs it: `node <the CLI's shebang flags> dist/cli.js start -c
 * <file>` (as `tandem start` and `npm start` run; the V8 flags it sets inside, src/heap.ts, too), the
 * environment without TANDEM_* variables, and the log on stdout. Measured from outside, as an
 * operator's tools would: time from spawn to the appservice port answering and to the
 * "Tandem is running" line (so Node's own start-up and loading the code are included), and the
 * process's RSS from /proc (no --expose-gc, no IPC: nothing the operator's process lacks).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
// @ts-expect-error: a plain .mjs script without types
import { cliNodeFlags } from "../scripts/node-flags.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const CLI = path.join(ROOT, "dist", "cli.js");
const READY_LINE = "Tandem is running";
/**
 * Node flags before dist/cli.js: those on its shebang, which `tandem`, `npm start`, the systemd
 * unit and the Docker image run it with (scripts/node-flags.mjs). BENCH_OPERATOR_FLAGS tries
 * others ("" for none).
 */
export const OPERATOR_FLAGS: string[] = process.env.BENCH_OPERATOR_FLAGS !== undefined
  ? process.env.BENCH_OPERATOR_FLAGS.split(/\s+/).filter(Boolean)
  : (cliNodeFlags(path.join(ROOT, "src", "cli.ts")) as string[]);

export interface OperatorStart {
  /** Spawn → the appservice port accepts a connection, ms. */
  portMs: number | null;
  /** Spawn → the "Tandem is running" log line, ms. */
  readyMs: number;
  /** RSS when the ready line arrived, bytes. */
  rssAtReady: number;
  /** CPU time the process had used when the ready line arrived (all its threads), ms: what a quiet machine's wall time would be near. */
  cpuAtReadyMs: number;
  /** Progress lines logged before ready, with their time since spawn (ms). */
  progress: Array<{ ms: number; message: string }>;
}

/** RSS of a process from /proc (bytes); null when it has exited or /proc is not there. */
export function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** USER_HZ: /proc reports CPU times in 1/100 s. */
const CLOCK_TICKS = 100;

/** User + system CPU time of a process so far, ms (0 when unknown). */
export function cpuMsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** The environment the bridge sees: the bench's own, less TANDEM_* (an operator's shell has none of ours) and NODE_OPTIONS. */
function operatorEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("TANDEM_") && k !== "NODE_OPTIONS") env[k] = v;
  return env;
}

export class OperatorBridge {
  private exited = false;
  private exitWaiters: Array<() => void> = [];
  private rssMaxSeen = 0;
  private readonly sampler: NodeJS.Timeout;

  private stopping = false;

  private constructor(private readonly child: ChildProcess, readonly logFile: string) {
    child.on("exit", (code, signal) => {
      // A bridge that ends by itself mid-run says how, in its log (a crash by signal prints nothing).
      if (!this.stopping) fs.appendFileSync(logFile, `bench: the bridge exited by itself (code ${code}, signal ${signal})\n`);
      this.exited = true;
      for (const w of this.exitWaiters.splice(0)) w();
    });
    this.sampler = setInterval(() => this.sample(), 250);
  }

  /** Spawns the bridge and waits for ready (or throws with the log's tail when it exits or times out). */
  static async start(configFile: string, appservicePort: number, logFile: string, profileDir?: string, timeoutMs = 120_000): Promise<{ bridge: OperatorBridge; start: OperatorStart }> {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    const out = fs.createWriteStream(logFile);
    const t0 = performance.now();
    // --profile only: a CPU profile of the start (written when the process exits).
    const prof = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
    const child = spawn(process.execPath, [...OPERATOR_FLAGS, ...prof, CLI, "start", "-c", configFile], { env: operatorEnv(), stdio: ["ignore", "pipe", "pipe"] });
    const bridge = new OperatorBridge(child, logFile);
    const progress: OperatorStart["progress"] = [];
    let portMs: number | null = null;
    let tail = "";
    const ready = new Promise<{ readyMs: number; rssAtReady: number; cpuAtReadyMs: number }>((resolve, reject) => {
      let buf = "";
      const onData = (chunk: Buffer) => {
        out.write(chunk);
        buf += chunk.toString("utf8");
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          tail = (tail + line + "\n").slice(-2000);
          const ms = performance.now() - t0;
          const message = messageOf(line);
          if (message && /embedded database|migrat|opening/i.test(message)) progress.push({ ms: Math.round(ms), message });
          if (line.includes(READY_LINE)) resolve({ readyMs: ms, rssAtReady: rssOf(child.pid!) ?? 0, cpuAtReadyMs: cpuMsOf(child.pid!) });
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", (code) => reject(new Error(`the bridge exited (code ${code}) before ready:\n${tail}`)));
      setTimeout(() => reject(new Error(`the bridge was not ready within ${timeoutMs} ms:\n${tail}`)), timeoutMs).unref();
    });
    // The port: a connect attempt every 10 ms until it is accepted (or the bridge is ready without it).
    const portPoll = (async () => {
      while (!bridge.exited && portMs === null) {
        if (await accepts(appservicePort)) portMs = performance.now() - t0;
        else await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      const r = await ready;
      await Promise.race([portPoll, new Promise((res) => setTimeout(res, 1000))]);
      return { bridge, start: { portMs, readyMs: r.readyMs, rssAtReady: r.rssAtReady, cpuAtReadyMs: r.cpuAtReadyMs, progress } };
    } catch (err) {
      await bridge.stop();
      throw err;
    }
  }

  private sample(): void {
    const rss = rssOf(this.child.pid!);
    if (rss !== null && rss > this.rssMaxSeen) this.rssMaxSeen = rss;
  }

  /** Current RSS, bytes. */
  rss(): number {
    return rssOf(this.child.pid!) ?? 0;
  }

  /** Highest RSS sampled (every 250 ms) since the last call; starts a new window. */
  takeMaxRss(): number {
    this.sample();
    const max = this.rssMaxSeen;
    this.rssMaxSeen = 0;
    return max;
  }

  /** The process id (the homeserver phase reads its CPU time from /proc). */
  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** SIGTERM, as systemd and Docker stop it; SIGKILL after 30 s. Returns ms to exit. */
  async stop(): Promise<number> {
    clearInterval(this.sampler);
    if (this.exited) return 0;
    const t0 = performance.now();
    const gone = new Promise<void>((r) => this.exitWaiters.push(r));
    this.stopping = true;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    await gone;
    clearTimeout(timer);
    return performance.now() - t0;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

/** The message of a log line (JSON or text). */
function messageOf(line: string): string | null {
  try {
    const j = JSON.parse(line) as { message?: unknown };
    return typeof j.message === "string" ? j.message : null;
  } catch {
    return line.trim() || null;
  }
}
