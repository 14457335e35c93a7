/** The parent's handle on the bridge child process (bench/child.ts): spawn, ask, stop. */
import { fork, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
// @ts-expect-error: a plain .mjs script without types
import { cliNodeFlags } from "../scripts/node-flags.mjs";
import { buildForBench } from "./build.js";
import type { ChildReply, ChildRequest, ChildStats, MemSample, StartRequest } from "./child.js";
import type { World } from "./world.js";

/**
 * Node flags of the bridge process: those `tandem start` runs with (src/cli.ts's shebang, passed by
 * `npm start`, the systemd unit and the Docker image too; the V8 flags it sets itself, child.ts
 * sets as well). BENCH_NODE_FLAGS measures others ("" for Node's defaults).
 */
export const NODE_FLAGS: string[] = process.env.BENCH_NODE_FLAGS !== undefined
  ? process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean)
  : (cliNodeFlags(fileURLToPath(new URL("../src/cli.ts", import.meta.url))) as string[]);

export interface Ready {
  startBridgeMs: number;
  /** Fork → ready message (includes loading node, tsx and the code). */
  processMs: number;
  mem: MemSample;
}

export class BridgeProcess {
  private readonly waiting = new Map<string, Array<(r: ChildReply) => void>>();
  private exited = false;
  /** Fork → every login connected, ms (null until then). */
  connectedMs: number | null = null;
  private connectedWaiters: Array<() => void> = [];
  error: string | null = null;

  private constructor(private readonly child: ChildProcess, private readonly forkedAt: number) {
    child.on("message", (m: ChildReply) => {
      if (m.type === "error") {
        this.error = m.message;
        process.stderr.write(`bench: bridge process error: ${m.message}\n`);
      }
      if (m.type === "connected") {
        this.connectedMs = performance.now() - this.forkedAt;
        for (const w of this.connectedWaiters.splice(0)) w();
      }
      const q = this.waiting.get(m.type);
      q?.shift()?.(m);
    });
    child.on("exit", (code) => {
      this.exited = true;
      if (code) this.error ??= `bridge process exited with code ${code}`;
      for (const q of this.waiting.values()) for (const w of q.splice(0)) w({ type: "error", message: this.error ?? "bridge process exited" });
      for (const w of this.connectedWaiters.splice(0)) w();
    });
  }

  /** `quiet`: the child runs no samplers of its own (memMax and the event-loop delay stay empty), for measuring a bridge at rest. */
  static async start(w: World, opts: { logFile: string; pacing?: boolean; profileDir?: string; queueConcurrency?: number; quiet?: boolean }): Promise<{ proc: BridgeProcess; ready: Ready }> {
    const execArgv = ["--expose-gc", ...NODE_FLAGS];
    if (opts.profileDir) execArgv.push("--cpu-prof", "--cpu-prof-dir", opts.profileDir);
    const entry = buildForBench();
    const forkedAt = performance.now();
    const env = opts.quiet ? { ...process.env, BENCH_QUIET: "1" } : process.env;
    const child = fork(entry, [], { execArgv, env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const proc = new BridgeProcess(child, forkedAt);
    const req: StartRequest = {
      type: "start", raw: w.raw, baseDir: w.dir, registration: w.registration, logFile: opts.logFile,
      pacing: opts.pacing ?? false, queueConcurrency: opts.queueConcurrency ?? (Number(process.env.BENCH_CONCURRENCY) || undefined),
    };
    const r = await proc.ask(req, "ready", 120_000);
    if (r.type !== "ready") throw new Error(`the bridge did not start: ${proc.error ?? JSON.stringify(r)}`);
    return { proc, ready: { startBridgeMs: r.startBridgeMs, processMs: performance.now() - forkedAt, mem: r.mem } };
  }

  private ask(req: ChildRequest, replyType: ChildReply["type"], timeoutMs = 60_000): Promise<ChildReply> {
    if (this.exited) return Promise.resolve({ type: "error", message: this.error ?? "bridge process exited" });
    return new Promise((resolve) => {
      const q = this.waiting.get(replyType) ?? [];
      this.waiting.set(replyType, q);
      const timer = setTimeout(() => {
        const i = q.indexOf(done);
        if (i >= 0) q.splice(i, 1);
        resolve({ type: "error", message: `no ${replyType} reply within ${timeoutMs} ms` });
      }, timeoutMs);
      const done = (r: ChildReply) => {
        clearTimeout(timer);
        resolve(r);
      };
      q.push(done);
      this.child.send(req);
    });
  }

  async connected(timeoutMs: number): Promise<boolean> {
    if (this.connectedMs !== null) return true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((r) => this.connectedWaiters.push(r)),
      new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); }),
    ]);
    clearTimeout(timer);
    return this.connectedMs !== null;
  }

  async stats(reset: boolean): Promise<ChildStats> {
    const r = await this.ask({ type: "stats", reset }, "stats");
    if (r.type !== "stats") throw new Error(`stats failed: ${r.type === "error" ? r.message : r.type}`);
    return r;
  }

  async gc(): Promise<MemSample> {
    const r = await this.ask({ type: "gc" }, "gc");
    if (r.type !== "gc") throw new Error("gc failed");
    return r.mem;
  }

  async depth(): Promise<number> {
    const r = await this.ask({ type: "depth" }, "depth");
    return r.type === "depth" ? r.depth : -1;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    await this.ask({ type: "stop" }, "stopped", 30_000);
    await new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      const timer = setTimeout(() => { this.child.kill("SIGKILL"); resolve(); }, 10_000);
      this.child.once("exit", () => { clearTimeout(timer); resolve(); });
    });
  }
}
