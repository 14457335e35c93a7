/**
 * `tandem import <network> [--conversation X] [--since D] [--until D] [--dry-run]`: asks the
 * running bridge (POST /import on its metrics listener, as doctor reads /status.json) to import,
 * then draws its progress: a bar per conversation and one overall (messages, files, rate, ETA,
 * time waited for rate limits). The bridge does the work: the embedded database is
 * single-process, and the logins, ghosts and portals are the bridge's. Ctrl-C asks it to stop at
 * the next event; running the same command again resumes (what is in is skipped).
 */
import cliProgress from "cli-progress";
import type { Config } from "./config/index.js";
import { parseImportArgs } from "./core/commands/import.js";
import { describeImport, formatDuration, type ImportSnapshot } from "./core/history-import/progress.js";
import { fetchFailure } from "./fetch-failure.js";

const POLL_MS = 500;
const ANY = new Set(["0.0.0.0", "::", "[::]", "*", ""]);

function baseUrl(config: Config): string {
  const h = ANY.has(config.metrics.hostname.trim()) ? "127.0.0.1" : config.metrics.hostname;
  return `http://${h.includes(":") && !h.startsWith("[") ? `[${h}]` : h}:${config.metrics.port}`;
}

async function call(url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

export async function runImportCli(config: Config, args: string[], out: NodeJS.WriteStream = process.stdout): Promise<number> {
  const network = args[0];
  if (!network) {
    console.error("Usage: tandem import <slack | slack-export FILE.zip | telegram-export DIR> [--conversation X] [--since DATE] [--until DATE] [--dry-run] [--login ID]");
    return 2;
  }
  let req;
  try {
    req = parseImportArgs(network, args.slice(1), "cli");
  } catch (err) {
    console.error(`tandem: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (!config.metrics.enabled) {
    console.error("tandem: import asks the running bridge over its metrics listener, and metrics.enabled is false");
    return 2;
  }
  const base = baseUrl(config);
  let started;
  try {
    started = await call(`${base}/import`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(req) });
  } catch (err) {
    console.error(`tandem: the bridge is not answering at ${base} (${fetchFailure(err)}): start it first (tandem start)`);
    return 1;
  }
  if (started.status !== 202) {
    console.error(`tandem: ${(started.body as { error?: string } | null)?.error ?? `the bridge answered ${started.status}`}`);
    return 1;
  }
  const id = (started.body as ImportSnapshot).id;
  let stopping = false;
  const onSigint = () => {
    if (stopping) return;
    stopping = true;
    out.write("\nStopping the import at the next message (run the same command again to resume)…\n");
    void call(`${base}/import/stop`, { method: "POST" }).catch(() => undefined);
  };
  process.on("SIGINT", onSigint);
  const bars = new ProgressView(out);
  try {
    for (;;) {
      const snap = (await call(`${base}/import`)).body as ImportSnapshot | null;
      if (!snap || snap.id !== id) throw new Error("the bridge no longer knows this import (was it restarted? run the command again to resume)");
      bars.update(snap);
      if (snap.state !== "running" && snap.state !== "stopping") {
        bars.stop();
        out.write(`${describeImport(snap)}\n`);
        if (snap.state === "stopped") out.write("Stopped: run the same command again to resume.\n");
        return snap.state === "done" ? 0 : snap.state === "stopped" ? 130 : 1;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } catch (err) {
    bars.stop();
    console.error(`tandem: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/** One bar per conversation (added as they start) and one overall; without a terminal, a line every few seconds. */
class ProgressView {
  private readonly multi: cliProgress.MultiBar;
  private overall: cliProgress.SingleBar | null = null;
  private readonly perConv = new Map<string, cliProgress.SingleBar>();

  constructor(out: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar({
      stream: out, hideCursor: true, clearOnComplete: false, noTTYOutput: true, notTTYSchedule: 5000, etaBuffer: 50,
      format: "{name} |{bar}| {value}/{total} messages | {files} files | {speed} | {left} | {waits}",
      barsize: 24, autopadding: true,
    }, cliProgress.Presets.shades_classic);
  }

  update(s: ImportSnapshot): void {
    const waits = s.waitingNow ? "waiting for Slack's rate limit" : s.rateLimitWaitMs > 0 ? `waited ${formatDuration(s.rateLimitWaitMs / 1000)} for rate limits` : "no rate-limit waits";
    const total = s.conversations.reduce((n, c) => n + Math.max(c.expected ?? 0, c.messages + c.alreadyIn), 0);
    // Slack cannot tell a conversation's size without reading it: the ETA is known only when the source can count (exports).
    const left = s.state !== "running" ? s.state : s.etaSeconds !== undefined ? `ETA ${formatDuration(s.etaSeconds)}` : "ETA unknown";
    const payload = { name: `${s.dryRun ? "dry run" : "all"} (${s.conversations.filter((c) => c.state === "done").length}/${s.conversations.length})`, files: s.files, speed: `${s.rate}/s`, left, waits };
    const done = s.messages + s.alreadyIn;
    if (!this.overall) this.overall = this.multi.create(Math.max(1, total), done, payload);
    else { this.overall.setTotal(Math.max(1, total)); this.overall.update(done, payload); }
    for (const c of s.conversations) {
      if (c.state === "waiting") continue;
      const n = c.messages + c.alreadyIn;
      const ctotal = Math.max(1, c.expected ?? 0, n);
      const cp = { name: `${c.name}${c.archive ? " (archive room)" : ""}`, files: c.files, speed: "", left: c.state === "failed" ? `FAILED: ${c.error ?? ""}` : c.state, waits: c.alreadyIn ? `${c.alreadyIn} already in` : "" };
      const bar = this.perConv.get(c.chat);
      if (!bar) this.perConv.set(c.chat, this.multi.create(ctotal, n, cp));
      else { bar.setTotal(ctotal); bar.update(n, cp); }
    }
  }

  stop(): void {
    this.multi.stop();
  }
}
