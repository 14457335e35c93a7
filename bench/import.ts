/**
 * Phase "import" (`npm run bench -- --only import`, issue 14 item 7): `import slack` of one
 * conversation from the fake Slack (answering at once, Tier 3) into a real Synapse 1.67
 * (../shared/homeserver/), without files and with a file on every fifth message. Measured:
 * messages imported per second, the bridge's CPU per message next to Synapse's (per message
 * bridged, imported or live; the bridge's figure includes its embedded database; the ratio says
 * whether the bridge or the homeserver is the cost), and meanwhile the live relay of another
 * chat: Slack → Matrix time of a message every 200 ms, seen by a Matrix user's /sync.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { FakeSlack } from "../test/fakes/slack.js";
import { SynapseBridge } from "../test/homeserver/support/bridge.js";
import { Synapse } from "../test/homeserver/support/synapse.js";
import { waitFor } from "../test/support/bridge-process.js";
import { seedWorkspace } from "../test/support/import-workspace.js";
import { pcts, round, type BenchResult, type ImportBenchResult } from "./report.js";

const TICK_MS = 10; // /proc/<pid>/stat counts CPU in clock ticks (USER_HZ 100)

/** User + system CPU of a process (and its children that exited), ms. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS;
}

export async function importPhase(result: BenchResult, opts: { quick: boolean; log: (s: string) => void; broken: string[] }): Promise<void> {
  result.import = [];
  for (const files of [false, true]) {
    try {
      result.import.push(await importOnce(opts.quick ? 300 : 1500, files, opts.log));
    } catch (err) {
      opts.broken.push(`import${files ? " with files" : ""}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

async function importOnce(perConversation: number, files: boolean, log: (s: string) => void): Promise<ImportBenchResult> {
  const slack = await FakeSlack.start({ ackTimeoutMs: 2000, pingIntervalMs: 5000 });
  const ws = seedWorkspace(slack, { perConversation, threadEvery: 10, replies: 3, fileEvery: files ? 5 : 0, conversations: 2 });
  const hs = await Synapse.create("bench.local");
  const bridge = await SynapseBridge.create(hs, { slack, config: { slack: { conversation_count: 0, backfill_count: 0 }, logging: { level: "warn" } } });
  const admin = await (async () => { await hs.start(); await bridge.start(); return hs.mkuser("admin", { admin: true }); })();
  try {
    const dm = await bridge.dm(admin);
    await bridge.command(admin, dm, `login app ${ws.team.botToken} ${ws.team.appToken}`);
    await bridge.waitHealthy();
    // The live chat: its portal made by a first message, the admin in it.
    slack.userPosts(ws.team, "G0002", "U0001", "live warm-up");
    let live = "";
    await waitFor(async () => { live = (await admin.resolveAlias("#slack_acme_secret:bench.local")) ?? ""; return live !== ""; }, 60_000, "the live portal");
    await waitFor(() => admin.join(live).then(() => true, () => false), 60_000, "joining the live portal (the invite follows the room)", 250);
    const expected = ws.messages.filter((m) => m.conv === "C0001").length;
    const base = `http://127.0.0.1:${bridge.metricsPort}`;
    const synapsePid = Number(readFileSync(join(hs.dir, "homeserver.pid"), "utf8"));
    const bridgeCpu0 = cpuMs(bridge.pid!);
    const synapseCpu0 = cpuMs(synapsePid);
    const t0 = performance.now();
    const started = await fetch(`${base}/import`, { method: "POST", body: JSON.stringify({ network: "slack", conversation: "C0001" }) });
    if (started.status !== 202) throw new Error(`POST /import answered ${started.status}: ${await started.text()}`);
    // Live traffic in the other chat meanwhile.
    const liveMs: number[] = [];
    let n = 0;
    let done = false;
    const feeding = (async () => {
      while (!done) {
        const text = `live ${++n}`;
        const at = performance.now();
        slack.userPosts(ws.team, "G0002", "U0002", text);
        void admin.waitForEvent((e) => e.room_id === live && (e.content as { body?: string }).body === text, { timeoutMs: 120_000 })
          .then(() => liveMs.push(performance.now() - at), () => undefined);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    let snap: { state: string; messages: number; files: number } | null = null;
    await waitFor(async () => {
      snap = await (await fetch(`${base}/import`)).json() as typeof snap;
      return snap !== null && snap.state !== "running";
    }, 1800_000, "the import", 250);
    const seconds = (performance.now() - t0) / 1000;
    const bridgeCpu = cpuMs(bridge.pid!) - bridgeCpu0;
    const synapseCpu = cpuMs(synapsePid) - synapseCpu0;
    done = true;
    await feeding;
    const s = snap!;
    if (s.state !== "done" || s.messages !== expected) throw new Error(`import ${s.state} with ${s.messages}/${expected} messages`);
    // Both processes also carried the live chat meanwhile: CPU is per message bridged, imported or live.
    const bridged = s.messages + liveMs.length;
    const r: ImportBenchResult = {
      files, messages: s.messages, fileCount: s.files, seconds: round(seconds, 1), perSecond: round(s.messages / seconds, 1),
      bridgeCpuMsPerMessage: round(bridgeCpu / bridged, 2), homeserverCpuMsPerMessage: round(synapseCpu / bridged, 2),
      ratio: round(bridgeCpu / Math.max(1, synapseCpu), 2), liveRelayMs: pcts(liveMs),
    };
    log(`import${files ? " with files" : ""}: ${r.messages} messages in ${r.seconds} s (${r.perSecond}/s); CPU/message bridge ${r.bridgeCpuMsPerMessage} ms, Synapse ${r.homeserverCpuMsPerMessage} ms (ratio ${r.ratio}); live relay meanwhile p50 ${r.liveRelayMs.p50} / p99 ${r.liveRelayMs.p99} ms`);
    return r;
  } finally {
    await admin.stopSync().catch(() => undefined);
    await bridge.stop().catch(() => undefined);
    await hs.destroy().catch(() => undefined);
    await slack.stop().catch(() => undefined);
  }
}
