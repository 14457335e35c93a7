/**
 * The history import at full scale (issue 14's "done when"), as an operator runs it:
 *
 *   npm run build && npx tsx scripts/import-scale.ts [--conversations 20] [--messages 5000] [--kill-at 0.4] [--tier3]
 *
 * Starts its own Synapse 1.67 (../shared/homeserver/, own dir and port), a fresh database on the
 * bench's durable Postgres (scripts/pg-test-server.sh, PGTEST_DURABLE=1, port 55433; or
 * TANDEM_BENCH_PG_URI), and a fake Slack workspace of N conversations × M messages (thread replies
 * included; edits, reactions, and files in every other conversation). The built bridge runs as its
 * own process (`node dist/cli.js start`), `tandem import slack` runs through the CLI; when the
 * progress says --kill-at of the messages are written, the bridge gets SIGKILL, starts again
 * (resuming the import by itself), and once it is done the import is run again (it must add
 * nothing). Then a Matrix user joins every room and reads it back through `/messages`: every
 * message once, in source order, thread replies in their thread, edits as final text, reactions,
 * files uploaded with their contents. Prints a report; exits 1 on any loss, double or misorder.
 */
import { spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { BenchDatabases } from "../bench/pg.js";
import { FakeSlack } from "../test/fakes/slack.js";
import { CLI, SynapseBridge, runCli } from "../test/homeserver/support/bridge.js";
import type { ImportSnapshot } from "../src/core/history-import/progress.js";
import { importProgress, roomHistory } from "../test/homeserver/support/history.js";
import type { MatrixUser } from "../test/homeserver/support/matrix-user.js";
import { Synapse } from "../test/homeserver/support/synapse.js";
import { waitFor } from "../test/support/bridge-process.js";
import { checkRoom, seedScaleWorkspace, type RoomCheck, type ScaleConversation } from "./import-scale-check.js";

const { values: args } = parseArgs({
  options: {
    conversations: { type: "string", default: "20" },
    messages: { type: "string", default: "5000" },
    "kill-at": { type: "string", default: "0.43" },
    "thread-every": { type: "string", default: "10" },
    "file-every": { type: "string", default: "10" },
    tier3: { type: "boolean", default: false },
  },
});
const opts = {
  conversations: Number(args.conversations), messages: Number(args.messages), killAt: Number(args["kill-at"]),
  threadEvery: Number(args["thread-every"]), fileEvery: Number(args["file-every"]),
};
const log = (s: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

type Snap = ImportSnapshot;

/** Per conversation: when this bridge run started and finished it, and what it wrote meanwhile. */
interface Timing { start?: number; end?: number; messages: number; files: number; run: number }

async function main(): Promise<number> {
  const t0 = performance.now();
  const loads: number[] = [];
  const sampleLoad = setInterval(() => loads.push(loadavg()[0]!), 10_000);
  const slack = await FakeSlack.start({ ackTimeoutMs: 5000, pingIntervalMs: 5000 });
  // Tier 3 as Slack documents it (50 a minute, 999 per page); without --tier3 the fake answers at once.
  if (args.tier3) slack.historyTier({ maxPerCall: 999, perWindow: 50, windowMs: 60_000 });
  const ws = seedScaleWorkspace(slack, opts);
  const total = ws.conversations.reduce((n, c) => n + c.messages.length, 0);
  log(`seeded ${opts.conversations} conversations × ${opts.messages} messages (${total}; ${ws.conversations.filter((c) => c.withFiles).length} with files)`);
  const dbs = await BenchDatabases.open();
  const db = await dbs.fresh("import_scale");
  log(`database: ${db.kind} ${db.uri ? `(${await dbs.durability()})` : db.dataDir}`);
  const hs = await Synapse.create("scale.local");
  const bridge = await SynapseBridge.create(hs, {
    slack,
    config: {
      slack: { conversation_count: 0, backfill_count: 0 }, logging: { level: "warn" },
      database: db.uri ? { uri: db.uri } : { data_dir: db.dataDir },
    },
  });
  let admin: MatrixUser | null = null;
  try {
    await hs.start();
    await bridge.start();
    admin = await hs.mkuser("admin", { admin: true });
    const dm = await bridge.dm(admin);
    const login = await bridge.command(admin, dm, `login app ${ws.team.botToken} ${ws.team.appToken}`);
    if (!/^Logged in to Slack/.test(login.reply)) throw new Error(`login failed: ${login.reply}`);
    await bridge.waitHealthy();
    log(`Synapse ${hs.url} (${hs.dir}), bridge pid ${bridge.pid}, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}`);

    // 1. The import through the CLI, killed midway.
    const timings = new Map<string, Timing>();
    let run = 1;
    const watch = (s: Snap | null) => {
      for (const c of s?.conversations ?? []) {
        const t = timings.get(c.chat);
        // A conversation finished in an earlier run is only walked again (all already in): keep its timing.
        if (c.state === "importing" && t?.run !== run && t?.end === undefined) timings.set(c.chat, { start: performance.now(), run, messages: 0, files: 0 });
        if (c.state === "done" && t?.run === run && t.end === undefined) Object.assign(t, { end: performance.now(), messages: c.messages, files: c.files });
      }
    };
    const importStart = performance.now();
    const cli = spawn(process.execPath, [CLI, "import", "slack", "-c", bridge.configPath], { stdio: ["ignore", "pipe", "pipe"] });
    cli.stdout.setEncoding("utf8").on("data", (d: string) => process.stdout.write(d.replace(/^/gm, "  cli| ")));
    cli.stderr.setEncoding("utf8").on("data", (d: string) => process.stdout.write(d.replace(/^/gm, "  cli| ")));
    const cliExit = new Promise<number | null>((res) => cli.once("exit", (code) => res(code)));
    let mid: Snap | null = null;
    await waitFor(async () => {
      const s = (await importProgress(bridge.metricsPort).catch(() => null)) as Snap | null;
      watch(s);
      if (s && s.state !== "running") throw new Error(`the import ended (${s.state}) before ${opts.killAt * 100} %: ${s.error ?? ""}`);
      mid = s;
      return s !== null && s.messages + s.alreadyIn >= opts.killAt * total;
    }, 24 * 3600_000, "the import reaching the kill point", 500);
    const killedAt = mid!;
    await bridge.kill("SIGKILL");
    log(`SIGKILL at ${killedAt.messages}/${total} messages (${((performance.now() - importStart) / 1000).toFixed(0)} s in); the CLI exited ${await cliExit}`);

    // 2. Started again: it resumes the import by itself.
    run = 2;
    await bridge.start(180_000);
    let last: Snap | null = null;
    let lastLog = 0;
    await waitFor(async () => {
      const s = (await importProgress(bridge.metricsPort).catch(() => null)) as Snap | null;
      watch(s);
      last = s;
      if (s && performance.now() - lastLog > 30_000) {
        lastLog = performance.now();
        log(`resumed import: ${s.state}, ${s.messages} written + ${s.alreadyIn} already in of ${total}, ${s.rate}/s`);
      }
      if (s && (s.state === "failed" || s.state === "stopped")) throw new Error(`the resumed import ${s.state}: ${s.error ?? ""}`);
      return s?.state === "done";
    }, 24 * 3600_000, "the resumed import", 1000);
    const importSeconds = (performance.now() - importStart) / 1000;
    const resumed = last! as Snap;
    log(`resumed import done: ${resumed.messages} written, ${resumed.alreadyIn} already in (${importSeconds.toFixed(0)} s since the first start)`);

    // 3. Run again: adds nothing.
    const rerun = await runCli(["import", "slack", "-c", bridge.configPath], 3600_000);
    const rerunLine = rerun.stdout.split("\n").find((l) => /^Import from Slack/.test(l)) ?? rerun.stdout.trim().split("\n").pop() ?? "";
    log(`rerun: exit ${rerun.code}: ${rerunLine}`);
    const rerunOk = rerun.code === 0 && rerunLine.includes(`0 messages, 0 files, ${total} already in Matrix`);

    // 4. Read every room back as a Matrix user.
    const rooms = ((await importProgress(bridge.metricsPort)) as Snap).conversations;
    const checks: Array<{ conv: ScaleConversation; check: RoomCheck }> = [];
    let badUploads = 0;
    for (const conv of ws.conversations) {
      const roomId = rooms.find((c) => c.chat === `T0001:${conv.id}`)?.roomId;
      if (!roomId) throw new Error(`no room for ${conv.id}`);
      await admin.join(roomId);
      const check = checkRoom(conv, await roomHistory(admin, roomId));
      for (const u of check.uploads) if (await download(hs.url, admin, u.mxc) !== u.data) badUploads++;
      checks.push({ conv, check });
    }

    // 5. The report.
    const sum = (k: keyof Omit<RoomCheck, "uploads" | "examples">) => checks.reduce((n, c) => n + c.check[k], 0);
    const rate = (withFiles: boolean) => {
      const ts = ws.conversations.filter((c) => c.withFiles === withFiles).map((c) => timings.get(`T0001:${c.id}`)).filter((t): t is Timing => t?.start !== undefined && t.end !== undefined && t.messages > 0);
      const n = ts.reduce((a, t) => a + t.messages, 0);
      const s = ts.reduce((a, t) => a + (t.end! - t.start!) / 1000, 0);
      return { conversations: ts.length, messages: n, seconds: Math.round(s), perSecond: s > 0 ? Math.round((n / s) * 10) / 10 : 0, files: ts.reduce((a, t) => a + t.files, 0) };
    };
    const withF = rate(true);
    const withoutF = rate(false);
    const figures = {
      size: `${opts.conversations} × ${opts.messages}`, messages: total,
      files: ws.conversations.reduce((n, c) => n + c.messages.filter((m) => m.file).length, 0),
      importSeconds: Math.round(importSeconds), overallPerSecond: Math.round((total / importSeconds) * 10) / 10,
      withFiles: withF, withoutFiles: withoutF, kills: 1, killedAt: killedAt.messages,
      found: sum("found"), missing: sum("missing"), doubled: sum("doubled"), outOfOrder: sum("outOfOrder"),
      wrongThread: sum("wrongThread"), wrongText: sum("wrongText"), wrongTime: sum("wrongTime"), missingReactions: sum("missingReactions"),
      missingFiles: sum("missingFiles"), badUploads, rerunAddedNothing: rerunOk,
      load: { min: Math.min(...loads, loadavg()[0]!).toFixed(1), max: Math.max(...loads, loadavg()[0]!).toFixed(1) },
      totalSeconds: Math.round((performance.now() - t0) / 1000), tier: args.tier3 ? "Tier 3 enforced (50/min)" : "answers at once",
    };
    const f = figures;
    process.stdout.write([
      "",
      `import scale run: ${f.size} = ${f.messages} messages (${f.files} files), fake Slack ${f.tier}`,
      `import: ${f.importSeconds} s, ${f.overallPerSecond} messages/s overall, through ${f.kills} kill -9 (at ${f.killedAt} messages)`,
      `  with files:    ${withF.perSecond} messages/s (${withF.messages} messages, ${withF.files} files, ${withF.conversations} conversations timed within one bridge run)`,
      `  without files: ${withoutF.perSecond} messages/s (${withoutF.messages} messages, ${withoutF.conversations} conversations)`,
      `verified through /messages: ${f.found}/${f.messages} found; missing ${f.missing}, doubled ${f.doubled}, out of order ${f.outOfOrder}, ` +
        `wrong thread ${f.wrongThread}, wrong text ${f.wrongText}, wrong time ${f.wrongTime}, missing reactions ${f.missingReactions}, missing files ${f.missingFiles}, bad uploads ${f.badUploads}`,
      `rerun added nothing: ${f.rerunAddedNothing ? "yes" : "NO"}; machine load ${f.load.min}-${f.load.max}; whole run ${f.totalSeconds} s`,
      "",
      `JSON ${JSON.stringify(figures)}`,
      "",
    ].join("\n"));
    for (const { conv, check } of checks) {
      const { uploads: _u, examples, ...counts } = check;
      if (Object.entries(counts).some(([k, v]) => k !== "expected" && k !== "found" && v !== 0)) log(`${conv.id} ${conv.name}: ${JSON.stringify(counts)}\n  ${examples.join("\n  ")}`);
    }
    const bad = figures.missing + figures.doubled + figures.outOfOrder + figures.wrongThread + figures.wrongText + figures.wrongTime + figures.missingReactions + figures.missingFiles + badUploads;
    return bad === 0 && rerunOk ? 0 : 1;
  } finally {
    clearInterval(sampleLoad);
    await admin?.stopSync().catch(() => undefined);
    await bridge.stop().catch(() => undefined);
    await hs.destroy().catch(() => undefined);
    await slack.stop().catch(() => undefined);
    await dbs.cleanup().catch(() => undefined);
  }
}

async function download(base: string, user: MatrixUser, mxc: string): Promise<string> {
  const res = await fetch(`${base}/_matrix/media/v3/download/${mxc.slice("mxc://".length)}`, { headers: { Authorization: `Bearer ${user.accessToken}` } });
  return res.ok ? res.text() : `HTTP ${res.status}`;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`import-scale: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(2);
});
