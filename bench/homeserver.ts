/**
 * Phase "homeserver" (`npm run bench -- --only homeserver`, issue 17): CPU per message end to end
 * through a real Synapse 1.67 (../shared/homeserver/, its own directory and port, stopped at the
 * end), the durable Postgres and the fake Slack, for Tandem beside a floor. In turn, repeated and
 * interleaved (null, Tandem, null, Tandem, …):
 *
 *   (a) the null bridge (bench/null-bridge.ts): one send per message, nothing else;
 *   (b) Tandem as an operator runs it (`node <shebang flags> dist/cli.js start -c …`, bench/operator.ts),
 *       logged in the way a person does (a DM with its bot: `login app …`).
 *
 * Each offered 10 and 50 messages/s, Slack→Matrix then Matrix→Slack, the same message count,
 * spread over 5 chats (a Slack channel and its room each; outbound pacing off: the bench measures
 * the bridge, not Slack's limits). Measured per run, from outside the process: its CPU (/proc)
 * per 1,000 messages delivered, Synapse's beside it, delivered/s (first offered → last seen by
 * the receiving side: a Matrix user's /sync, the fake Slack's store), Tandem's database
 * transactions per message (pg_stat_database), and each bridge's RSS idle after login.
 * `--profile` writes a CPU profile of each Tandem process to bench/results/profiles/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { FakeSlack, type TeamHandle } from "../test/fakes/slack.js";
import { SynapseBridge } from "../test/homeserver/support/bridge.js";
import type { MatrixUser } from "../test/homeserver/support/matrix-user.js";
import { Synapse } from "../test/homeserver/support/synapse.js";
import { waitFor } from "../test/support/bridge-process.js";
import { freePort } from "../test/support/ports.js";
import { buildForBench } from "./build.js";
import { HS_DIRECTIONS, type HomeserverResult, type HsBridge, type HsDirection, type HsRun } from "./homeserver-report.js";
import type { NullBridgeConfig } from "./null-bridge.js";
import { OperatorBridge, cpuMsOf, rssOf } from "./operator.js";
import type { BenchDatabases, DbTarget } from "./pg.js";
import { mb, round, type BenchResult } from "./report.js";

const DOMAIN = "bench.local";
const CHATS = 5;
const RATES = [10, 50];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * RSS of a bridge at rest: a minute after its warm-up with nothing relayed. A few seconds after
 * traffic V8 has not collected yet (the young generation and old-space garbage are still mapped:
 * 98 and 121 MB in two repeats of the same run); its memory reducer runs full collections once
 * the process has been idle ~8 s and gives pages back. Logs the samples, so a bridge that was
 * not idle (CPU in the minute) shows.
 */
async function rssAtRest(pid: number, log: (line: string) => void): Promise<number> {
  const cpu0 = cpuMsOf(pid);
  const samples: number[] = [];
  for (let s = 0; s < 60; s += 10) {
    await sleep(10_000);
    samples.push(Math.round((rssOf(pid) ?? 0) / 1048576));
  }
  log(`homeserver: RSS of pid ${pid} every 10 s at rest: ${samples.join(", ")} MB (its CPU in the minute ${Math.round(cpuMsOf(pid) - cpu0)} ms)`);
  return rssOf(pid) ?? 0;
}

export interface HomeserverOptions {
  quick: boolean;
  resultsDir: string;
  profileDir?: string;
  /** Repeats of the whole null/Tandem pair (interleaved). */
  repeats: number;
  /** Messages per run (each bridge, rate and direction). */
  messages: number;
  /**
   * `--warm-up N`: N more messages each way at 50 msg/s before the rest minute, not measured (0: only
   * every chat once each way). V8 still optimizes functions a thousand messages after the start
   * (TurboFan needs many calls of a function run once per message); this measures past that.
   */
  warmUp: number;
  broken: string[];
  log: (s: string) => void;
}

/** One bridge's side of the world: Slack channels and the Matrix rooms they are bridged to. */
interface Chat { channel: string; room: string }

/** What a run needs of whichever bridge is up. */
interface Subject {
  bridge: HsBridge;
  pid: number;
  chats: Chat[];
}

export async function homeserverPhase(dbs: BenchDatabases, result: BenchResult, o: HomeserverOptions): Promise<void> {
  const slack = await FakeSlack.start({ echoLeadMs: 0, ackTimeoutMs: 30_000, pingIntervalMs: 0 });
  const hs = await Synapse.create(DOMAIN);
  let admin: MatrixUser | null = null;
  let tandem: SynapseBridge | null = null;
  let running: { stop(): Promise<unknown> } | null = null;
  try {
    const team = slack.createTeam({ id: "T0HSBENCH", name: "Bench", domain: "bench" });
    const users = ["U0HS1", "U0HS2"].map((id, i) => slack.addUser(team, { id, name: `person${i + 1}`, real_name: `Person ${i + 1}` }).id);
    const channels = (who: string) => Array.from({ length: CHATS }, (_, i) => {
      const id = `C0${who.toUpperCase()}${i}`;
      slack.addChannel(team, { id, name: `${who}${i}`, members: users, botMember: true });
      return id;
    });
    const nullChannels = channels("null");
    const tandemChannels = channels("tandem");

    // Tandem's files as an operator writes them; the null bridge's registration beside it.
    const db = await dbs.fresh("homeserver");
    tandem = await SynapseBridge.create(hs, {
      slack: { apiUrl: slack.apiUrl },
      config: {
        database: db.kind === "pg" ? { uri: db.uri } : {},
        slack: { conversation_count: 0, backfill_count: 0, outbound_pacing: false },
        logging: { level: "info", format: "json" },
      },
    });
    const nullCfg = await nullRegistration(hs, slack, team);
    await hs.start();
    admin = await hs.mkuser("admin", { admin: true });
    await admin.startSync();
    const synapsePid = Number(fs.readFileSync(path.join(hs.dir, "homeserver.pid"), "utf8"));
    const nullChats = await nullRooms(hs, admin, nullCfg, nullChannels);
    nullCfg.rooms = Object.fromEntries(nullChats.map((c) => [c.channel, c.room]));
    const nullJs = buildNullBridge();

    const out: HomeserverResult = {
      homeserver: "Synapse 1.67.0 (SQLite)", messagesPerRun: o.messages, warmUpMessages: o.warmUp, repeats: o.repeats,
      load1: { start: round(os.loadavg()[0]!, 2), end: 0 }, idleRssMB: { null: [], tandem: [] }, restRssMB: { null: [], tandem: [] }, runs: [],
    };
    result.homeserver = out;
    const traffic = new HsTraffic(slack, team, users, admin);
    let tandemChats: Chat[] | null = null;
    const asPort = Number((JSON.parse(fs.readFileSync(tandem.configPath, "utf8")) as { appservice: { port: number } }).appservice.port);

    for (let repeat = 1; repeat <= o.repeats; repeat++) {
      // (a) the floor.
      const nb = await NullBridgeProcess.start(nullJs, nullCfg, path.join(o.resultsDir, "null-bridge.log"));
      running = nb;
      const nullSubject: Subject = { bridge: "null", pid: nb.pid, chats: nullChats };
      await traffic.warmUp(nullSubject, repeat, o.warmUp);
      await sleep(2000);
      out.idleRssMB.null.push(mb(rssOf(nb.pid) ?? 0));
      out.restRssMB!.null.push(mb(await rssAtRest(nb.pid, o.log)));
      for (const rate of RATES) for (const direction of HS_DIRECTIONS) out.runs.push(await measure(traffic, nullSubject, { repeat, rate, direction, messages: o.messages, synapsePid }, null, o.log));
      await nb.stop();
      running = null;

      // (b) Tandem.
      const started = await OperatorBridge.start(tandem.configPath, asPort, path.join(o.resultsDir, `bridge-homeserver-${repeat}.log`), o.profileDir);
      running = started.bridge;
      const pid = started.bridge.pid;
      if (!tandemChats) tandemChats = await tandemSetup(tandem, admin, slack, team, users, tandemChannels, o.log);
      else await tandem.waitHealthy(60_000);
      const tandemSubject: Subject = { bridge: "tandem", pid, chats: tandemChats };
      await traffic.warmUp(tandemSubject, repeat, o.warmUp);
      await sleep(5000);
      out.idleRssMB.tandem.push(mb(rssOf(pid) ?? 0));
      out.restRssMB!.tandem.push(mb(await rssAtRest(pid, o.log)));
      const xacts = db.kind === "pg" ? transactionCounter(dbs.serverUri!, db) : null;
      for (const rate of RATES) for (const direction of HS_DIRECTIONS) out.runs.push(await measure(traffic, tandemSubject, { repeat, rate, direction, messages: o.messages, synapsePid }, xacts, o.log));
      if (!started.bridge.running) o.broken.push("homeserver: Tandem exited during the run");
      await started.bridge.stop();
      running = null;
    }
    out.load1.end = round(os.loadavg()[0]!, 2);
  } finally {
    await running?.stop().catch(() => undefined);
    await admin?.stopSync().catch(() => undefined);
    await tandem?.stop().catch(() => undefined);
    await hs.destroy().catch(() => undefined);
    await slack.stop().catch(() => undefined);
  }
}

/** One run: `messages` offered at `rate` in one direction, round-robin over the chats; waits for every one. */
async function measure(traffic: HsTraffic, s: Subject, run: { repeat: number; rate: number; direction: HsDirection; messages: number; synapsePid: number },
  xacts: ((pid: number) => Promise<number>) | null, log: (s: string) => void): Promise<HsRun> {
  const tag = `hsb${s.bridge}r${run.repeat}x${run.rate}${run.direction === "slack->matrix" ? "s" : "m"}`;
  const tx0 = xacts ? await xacts(s.pid) : 0;
  const cpu0 = cpuMsOf(s.pid);
  const hs0 = cpuMsOf(run.synapsePid);
  const t0 = performance.now();
  const { delivered, lastAt } = await traffic.offer(s, run.direction, tag, run.rate, run.messages);
  const cpu = cpuMsOf(s.pid) - cpu0;
  const hsCpu = cpuMsOf(run.synapsePid) - hs0;
  const tx = xacts ? await xacts(s.pid) - tx0 : null;
  const seconds = (lastAt - t0) / 1000;
  const r: HsRun = {
    bridge: s.bridge, repeat: run.repeat, direction: run.direction, rate: run.rate, messages: run.messages, delivered,
    seconds: round(seconds, 1), deliveredPerSecond: round(delivered / Math.max(seconds, 0.001), 1),
    cpuSecondsPer1000: round(cpu / Math.max(1, delivered), 2), homeserverCpuSecondsPer1000: round(hsCpu / Math.max(1, delivered), 2),
    transactionsPerMessage: tx === null ? null : round(tx / Math.max(1, delivered), 2),
  };
  log(`homeserver: ${s.bridge} ${run.direction} at ${run.rate} msg/s (repeat ${run.repeat}): ${delivered}/${run.messages} delivered, ${r.deliveredPerSecond}/s, ` +
    `CPU ${r.cpuSecondsPer1000} s per 1,000 (Synapse ${r.homeserverCpuSecondsPer1000})${tx === null ? "" : `, ${r.transactionsPerMessage} transactions/message`}`);
  if (delivered < run.messages) throw new Error(`${s.bridge} ${run.direction} at ${run.rate} msg/s: ${run.messages - delivered} of ${run.messages} messages not delivered`);
  return r;
}

/**
 * Transactions of the bridge's database so far (pg_stat_database, committed + rolled back), once
 * the backends' pending counts were flushed (a backend flushes within a second of going idle).
 */
function transactionCounter(serverUri: string, db: DbTarget): (pid: number) => Promise<number> {
  const name = new URL(db.uri).pathname.slice(1);
  return async () => {
    await sleep(1500);
    const c = new pg.Client({ connectionString: serverUri });
    await c.connect();
    try {
      const row = (await c.query<{ n: string }>("SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1", [name])).rows[0];
      return Number(row?.n ?? 0);
    } finally {
      await c.end();
    }
  };
}

/** Sends at a steady rate from either side and counts what arrives on the other. */
class HsTraffic {
  constructor(private readonly slack: FakeSlack, private readonly team: TeamHandle, private readonly users: string[], private readonly admin: MatrixUser) {}

  /** Every chat once each way (ghosts joined, connections open), then `more` messages each way at 50 msg/s; not measured. */
  async warmUp(s: Subject, repeat: number, more: number): Promise<void> {
    for (const direction of HS_DIRECTIONS) {
      const tag = `hsbwarm${s.bridge}r${repeat}${direction === "slack->matrix" ? "s" : "m"}`;
      await this.offer(s, direction, tag, 20, s.chats.length * (direction === "slack->matrix" ? this.users.length : 1), 120_000);
    }
    if (more === 0) return;
    for (const direction of HS_DIRECTIONS) {
      const tag = `hsbwarmup${s.bridge}r${repeat}${direction === "slack->matrix" ? "s" : "m"}`;
      const { delivered } = await this.offer(s, direction, tag, 50, more);
      if (delivered < more) throw new Error(`${s.bridge} warm-up ${direction}: ${more - delivered} of ${more} messages not delivered`);
    }
  }

  async offer(s: Subject, direction: HsDirection, tag: string, rate: number, n: number, timeoutMs = (n / rate) * 1000 + 180_000): Promise<{ delivered: number; lastAt: number }> {
    const t0 = performance.now();
    const sendFailures: string[] = [];
    for (let i = 0; i < n; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const chat = s.chats[i % s.chats.length]!;
      const text = `${tag} ${i}`;
      if (direction === "slack->matrix") this.slack.userPosts(this.team, chat.channel, this.users[Math.floor(i / s.chats.length) % this.users.length]!, text);
      else this.admin.sendText(chat.room, text).catch((err: unknown) => sendFailures.push(String(err)));
    }
    let delivered = 0;
    let lastAt = performance.now();
    const prefix = `${tag} `;
    // Matrix→Slack: the bridge's posts (by its bot) carrying the text; the bridge may format around it.
    const count = direction === "slack->matrix" ? this.matrixCounter(s, prefix)
      : () => s.chats.reduce((k, c) => k + this.slack.messages(this.team, c.channel).filter((m) => m.bot_id && m.text.includes(prefix)).length, 0);
    await waitFor(() => {
      const now = count();
      if (now !== delivered) {
        delivered = now;
        lastAt = performance.now();
      }
      if (sendFailures.length) throw new Error(`Matrix sends failed: ${sendFailures.slice(0, 3).join("; ")}`);
      return delivered >= n;
    }, timeoutMs, `${n} messages ${direction} (${tag})`, 50).catch(() => undefined);
    return { delivered, lastAt };
  }

  /** Messages whose body starts with `prefix` the admin's /sync has seen, in these rooms, from anyone but the admin; scans only what is new. */
  private matrixCounter(s: Subject, prefix: string): () => number {
    const rooms = new Set(s.chats.map((c) => c.room));
    const events = this.admin.events;
    let scanned = 0;
    let n = 0;
    return () => {
      for (; scanned < events.length; scanned++) {
        const e = events[scanned]!;
        if (e.type === "m.room.message" && e.sender !== this.admin.userId && rooms.has(e.room_id) && String((e.content as { body?: unknown }).body).startsWith(prefix)) n++;
      }
      return n;
    };
  }
}

/** Tandem's first start: the login by DM, a portal per channel (made by a first message), the admin in each. */
async function tandemSetup(b: SynapseBridge, admin: MatrixUser, slack: FakeSlack, team: TeamHandle, users: string[], channels: string[], log: (s: string) => void): Promise<Chat[]> {
  const dm = await b.dm(admin);
  const { reply } = await b.command(admin, dm, `login app ${team.botToken} ${team.appToken}`, 60_000);
  log(`homeserver: Tandem login: ${reply.split("\n")[0]}`);
  await b.waitHealthy(60_000);
  const chats: Chat[] = [];
  for (const [i, channel] of channels.entries()) {
    slack.userPosts(team, channel, users[0]!, "portal opener");
    let room = "";
    await waitFor(async () => { room = (await admin.resolveAlias(`#slack_bench_tandem${i}:${DOMAIN}`)) ?? ""; return room !== ""; }, 120_000, `the portal of ${channel}`, 250);
    await waitFor(() => admin.join(room).then(() => true, () => false), 60_000, `joining the portal of ${channel}`, 250);
    chats.push({ channel, room });
  }
  return chats;
}

/** The null bridge's registration (its own tokens and namespace), handed to Synapse; its config without rooms yet. */
async function nullRegistration(hs: Synapse, slack: FakeSlack, team: TeamHandle): Promise<NullBridgeConfig> {
  const cfg: NullBridgeConfig = {
    port: await freePort(), homeserverUrl: hs.url, asToken: randomBytes(16).toString("hex"), hsToken: randomBytes(16).toString("hex"),
    senderMxid: `@null_slack:${DOMAIN}`, ownPrefix: "@null_", slackApiUrl: slack.apiUrl, botToken: team.botToken, appToken: team.appToken, rooms: {},
  };
  const file = path.join(path.dirname(hs.dir), "null-registration.yaml");
  fs.writeFileSync(file, JSON.stringify({
    id: "null-bridge", url: `http://127.0.0.1:${cfg.port}`, as_token: cfg.asToken, hs_token: cfg.hsToken, sender_localpart: "null_bot", rate_limited: false,
    namespaces: { users: [{ exclusive: true, regex: `@null_.*:${DOMAIN.replace(/\./g, "\\.")}` }], aliases: [], rooms: [] },
  }, null, 2));
  hs.addAppservice("null-bridge", file);
  return cfg;
}

/** The null bridge's pre-registered user, and a room per channel the admin made and that user joined. */
async function nullRooms(hs: Synapse, admin: MatrixUser, cfg: NullBridgeConfig, channels: string[]): Promise<Chat[]> {
  const as = async (method: string, p: string, body: unknown) => {
    const res = await fetch(`${hs.url}${p}`, { method, headers: { authorization: `Bearer ${cfg.asToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok && !text.includes("M_USER_IN_USE")) throw new Error(`${method} ${p} answered ${res.status}: ${text}`);
  };
  await as("POST", "/_matrix/client/v3/register", { type: "m.login.application_service", username: cfg.senderMxid.slice(1).split(":")[0] });
  const chats: Chat[] = [];
  for (const channel of channels) {
    const room = await admin.createRoom({ name: `null ${channel}`, invite: [cfg.senderMxid] });
    await as("POST", `/_matrix/client/v3/join/${encodeURIComponent(room)}?user_id=${encodeURIComponent(cfg.senderMxid)}`, {});
    chats.push({ channel, room });
  }
  return chats;
}

/** bench/null-bridge.ts as plain JavaScript (run by node with no loader, as Tandem's dist/ is), compiled with the bench's build. */
function buildNullBridge(): string {
  return path.join(path.dirname(buildForBench()), "null-bridge.js");
}

class NullBridgeProcess {
  private constructor(private readonly child: ChildProcess, readonly pid: number, private readonly gone: Promise<void>) {}

  static async start(js: string, cfg: NullBridgeConfig, logFile: string): Promise<NullBridgeProcess> {
    const out = fs.createWriteStream(logFile);
    const child = spawn(process.execPath, [js, JSON.stringify(cfg)], { stdio: ["ignore", "pipe", "pipe"] });
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    child.stderr!.pipe(out);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => { out.write(d); if (d.toString().includes("null bridge ready")) resolve(); });
      child.once("exit", (code) => reject(new Error(`the null bridge exited (${code}) before ready; see ${logFile}`)));
      setTimeout(() => reject(new Error("the null bridge was not ready within 30 s")), 30_000).unref();
    });
    return new NullBridgeProcess(child, child.pid!, gone);
  }

  async stop(): Promise<void> {
    this.child.kill("SIGTERM");
    await this.gone;
  }
}
