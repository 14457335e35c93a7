/** Percentiles, the printed table and the JSON written to bench/results/latest.json. */

import type { RestResult } from "./rest.js";
import { homeserverRows, type HomeserverResult } from "./homeserver-report.js";
import type { ComponentsResult } from "./components.js";
import type { RateResult } from "./rate.js";

export interface Pcts {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function pcts(values: number[]): Pcts {
  if (values.length === 0) return { n: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { n: s.length, p50: round(at(0.5)), p95: round(at(0.95)), p99: round(at(0.99)), max: round(s[s.length - 1]!) };
}

export const round = (x: number, digits = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);
export const mb = (bytes: number) => round(bytes / 1048576, 1);

export interface DirectionResult {
  /** Bridge-added latency (core hook: event received → outgoing call issued), ms, in the latency run. */
  added: Pcts;
  /** The same to the outgoing call's answer (event received → the other side answered the call), ms. */
  answered: Pcts;
  /** End to end through the fakes (message put into a fake → the outgoing call arrives at a fake), ms. */
  e2e: Pcts;
  /** Saturation: messages/s relayed, statements per message, bridge-added latency under saturation. */
  saturation?: {
    messages: number; seconds: number; perSecond: number; statementsPerMessage: number;
    /** Database transactions (round trips that commit) per message: the budget counts these. */
    transactionsPerMessage: number;
    /** CPU time of the bridge process per message (user + system): what a free core would allow is 1000 / this. */
    cpuMsPerMessage: number;
    /** CPU of the benchmark process (the fakes and the load generator) per message. */
    fakesCpuMsPerMessage: number;
    /** CPU of the Postgres backends serving the bridge per message (null on PGlite: it is inside the bridge). */
    postgresCpuMsPerMessage: number | null;
    /** Requests the fakes served per message (the bridge's calls), and AS transactions pushed to it. */
    callsPerMessage: { homeserver: number; slack: number; telegram: number; asTransactions: number };
    addedP99: number; e2eP99: number; complete: boolean;
  };
}

export interface EmbeddedStart {
  /** Spawn of `node dist/cli.js start` → the "Tandem is running" line, ms (Node's start-up included). */
  readyMs: number;
  /** CPU time the bridge process had used by then (all threads), ms: near what a quiet machine's wall time would be. */
  cpuAtReadyMs: number;
  /** Spawn → the appservice port accepts a connection, ms. */
  portMs: number | null;
  rssAtReadyMB: number;
  /** The bridge's set-up lines, with ms since spawn. */
  progress: string[];
}

export interface EmbeddedResult {
  /** Node flags before dist/cli.js ("" as the README starts it). */
  nodeFlags: string;
  firstStart: (EmbeddedStart & { rssIdleMB: number; stopMs: number }) | null;
  /** The median of the restarts measured (by time to ready), and every run. */
  restart: (EmbeddedStart & { runs?: Array<{ readyMs: number; cpuAtReadyMs: number }> }) | null;
  threePortals: { warmUpMs: number; loadSeconds: number; loadRate: number; loadMaxMB: number; idleMB: number; steadyMaxMB: number } | null;
}

/** Phase "import" (bench/import.ts): a history import into a real Synapse, with or without files. */
export interface ImportBenchResult {
  files: boolean;
  messages: number;
  fileCount: number;
  seconds: number;
  perSecond: number;
  bridgeCpuMsPerMessage: number;
  homeserverCpuMsPerMessage: number;
  /** Bridge CPU / homeserver CPU over the import. */
  ratio: number;
  /** Slack → Matrix time of live messages in another chat during the import, ms. */
  liveRelayMs: Pcts;
}

export interface BenchResult {
  version: 1;
  mode: "quick" | "full";
  startedAt: string;
  durationSeconds: number;
  machine: { cpus: number; model: string; memoryMB: number; node: string; load1: number; bridgeNodeFlags: string };
  /** Trivial round trips measured before the latency run: how busy the machine was. */
  environment?: { load1: number; pgRoundTripMs: Pcts | null; httpRoundTripMs: Pcts; diskSyncMs: Pcts };
  database: { kind: "pg" | "pglite"; version: string; warning: string | null; durability: string };
  /** The labelled comparison: the latency run on an fsync-off Postgres (not crash-safe; the old bench's setting). */
  fsyncOff?: { durability: string; directions: Record<string, { added: Pcts; answered: Pcts }> };
  /** The embedded database (PGlite) run exactly as an operator runs it (bench/embedded.ts). */
  embedded?: EmbeddedResult;
  latencyRun: {
    ratePerSecond: number; seconds: number; portals: number; perDirection: Record<string, number>;
    /** The bridge process's event-loop delay during the run (its own CPU work in the way), ms. */
    eventLoopDelayMs?: { p50: number; p99: number; max: number };
    /** Database transactions per relay over the run (a linked message is two relays). */
    transactionsPerRelay?: number;
  };
  directions: Record<string, DirectionResult>;
  /** Saturation with every direction at once (full mode). */
  mixedSaturation?: { messages: number; seconds: number; perSecond: number; statementsPerMessage: number; transactionsPerMessage: number; cpuMsPerMessage: number; fakesCpuMsPerMessage: number; postgresCpuMsPerMessage: number | null };
  memory: Record<string, { rssMB: number; heapUsedMB: number; note: string }>;
  ready: Record<string, { portals: number; ghosts: number; startBridgeMs: number; processMs: number; connectedMs: number | null; rssMB: number; heapUsedAfterGcMB: number }>;
  /** Attack phase: longest event-loop stall (and p99) per kind of hostile request, the answers, whether the logins stayed connected. */
  attack?: Record<string, { stallMs: number; p99Ms: number; statuses: number[]; requests: number; connected: boolean }>;
  import?: ImportBenchResult[];
  /** Phase "link 20 busy rooms" (bench/link.ts), once per number of rooms the ghosts are already in. */
  link?: LinkResult[];
  /** Phase "homeserver" (bench/homeserver.ts): Tandem beside the null bridge through a real Synapse. */
  homeserver?: HomeserverResult;
  /** Phase "rest" (bench/rest.ts): an idle bridge. */
  rest?: RestResult;
  /** Phase "components" (bench/components.ts): three parts of the relay path alone, beside their floor. */
  components?: ComponentsResult;
  /** Phase "rate" (bench/rate.ts): CPU per message against the offered rate, on the fakes. */
  rate?: RateResult;
  budget: Array<{ what: string; budget: string; measured: string; ok: boolean | null }>;
  notes: string[];
}

export interface LinkResult {
  busyRooms: number; channels: number; people: number; messages: number; seconds: number; complete: boolean;
  displaynameUpdates: number; avatarUpdates: number; uploads: number; ghostMemberEvents: number;
}

function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? (Number.isFinite(c) ? String(c) : "-") : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

export function renderText(r: BenchResult): string {
  const out: string[] = [];
  out.push(`Tandem benchmark (${r.mode}) — ${r.startedAt}, ${r.durationSeconds} s`);
  out.push(`machine: ${r.machine.cpus} CPUs (${r.machine.model}), ${r.machine.memoryMB} MB, node ${r.machine.node}, load ${r.machine.load1} at start`);
  out.push(`database: ${r.database.kind} ${r.database.version} (${r.database.durability})${r.database.warning ? `\n${r.database.warning}` : ""}; bridge process flags: ${r.machine.bridgeNodeFlags || "(none)"}`);
  const e = r.environment;
  if (e) {
    const pg = e.pgRoundTripMs ? `Postgres SELECT 1 p50 ${e.pgRoundTripMs.p50} / p99 ${e.pgRoundTripMs.p99} ms, ` : "";
    out.push(`environment before the latency run: load ${e.load1}, ${pg}HTTP round trip p50 ${e.httpRoundTripMs.p50} / p99 ${e.httpRoundTripMs.p99} ms, disk 8 kB write + fdatasync p50 ${e.diskSyncMs.p50} / p99 ${e.diskSyncMs.p99} ms (a durable commit's floor)`);
  }
  out.push("");
  const lr = r.latencyRun;
  out.push(`Latency run: ${lr.ratePerSecond} msg/s in total over ${lr.portals} portals for ${lr.seconds} s (ms; bridge-added = event received by the bridge → outgoing call issued; to answer = → the call's answer)`);
  if (lr.eventLoopDelayMs) out.push(`bridge event-loop delay meanwhile: p50 ${lr.eventLoopDelayMs.p50} / p99 ${lr.eventLoopDelayMs.p99} / max ${lr.eventLoopDelayMs.max} ms`);
  if (lr.transactionsPerRelay !== undefined) out.push(`database transactions per relay meanwhile: ${lr.transactionsPerRelay}`);
  out.push(table(
    ["direction", "n", "added p50", "p95", "p99", "max", "to answer p50", "p99", "e2e p50", "p95", "p99"],
    Object.entries(r.directions).map(([d, x]) => [d, x.added.n, x.added.p50, x.added.p95, x.added.p99, x.added.max, x.answered.p50, x.answered.p99, x.e2e.p50, x.e2e.p95, x.e2e.p99]),
  ));
  if (r.fsyncOff) {
    out.push(`for comparison, NOT durable (${r.fsyncOff.durability}): the same latency run`);
    out.push(table(["direction", "added p50", "p99", "to answer p50", "p99"],
      Object.entries(r.fsyncOff.directions).map(([d, x]) => [d, x.added.p50, x.added.p99, x.answered.p50, x.answered.p99])));
  }
  if (r.homeserver) {
    const h = r.homeserver;
    out.push("");
    out.push(`Through a real homeserver (fake Slack → ${h.homeserver} and back, durable Postgres; ${h.messagesPerRun} messages per run over 5 chats, ${h.repeats} interleaved repeat(s)${h.warmUpMessages ? `, ${h.warmUpMessages} messages each way of warm-up at 50 msg/s` : ""}; load ${h.load1.start} at start, ${h.load1.end} at end)`);
    out.push(table(["figure", "null bridge", "Tandem", "Tandem/null"], homeserverRows(h)));
  }
  if (r.components) {
    const c = r.components;
    out.push("");
    out.push(`Components alone, each in a process of its own: CPU µs per item, one at a time, ${c.items} after ${c.warmUp} of warm-up`);
    out.push(table(["component", "floor (node:http, ws)", "Tandem", "Tandem/floor"], ([
      ["appservice transaction (one event)", c.transaction], ["Slack Web API call (chat.postMessage)", c.webCall], ["Socket Mode frame in, ack out", c.socketFrame],
    ] as const).map(([what, f]) => [what, f.plainUs, f.tandemUs, f.ratio])));
  }
  if (r.rate) {
    const q = r.rate;
    out.push("");
    out.push(`CPU per message against the rate (fakes, one chat at a time over 5; cold: right after start; warm: after ${q.warmUp} messages; ${q.secondsPerRate} s per rate)`);
    out.push(table(["direction", "", "msg/s", "messages", "bridge CPU ms/msg", "statements/msg"], q.rows.map((x) => [x.direction, x.warm ? "warm" : "cold", x.rate, x.messages, x.cpuMsPerMessage, x.statementsPerMessage])));
  }
  if (r.import?.length) {
    out.push("");
    out.push("History import (fake Slack → real Synapse 1.67, one conversation; live relay of another chat meanwhile)");
    out.push(table(["files", "messages", "files up", "seconds", "msg/s", "bridge CPU ms/msg", "Synapse CPU ms/msg", "bridge/Synapse", "live p50", "live p99"],
      r.import.map((x) => [x.files ? "every 5th" : "none", x.messages, x.fileCount, x.seconds, x.perSecond, x.bridgeCpuMsPerMessage, x.homeserverCpuMsPerMessage, x.ratio, x.liveRelayMs.p50, x.liveRelayMs.p99])));
  }
  out.push("");
  out.push("Saturation (one direction at a time, pacing off): messages relayed per second, DB statements and transactions per message");
  out.push(table(
    ["direction", "messages", "seconds", "msg/s", "stmts/msg", "tx/msg", "bridge CPU ms/msg", "fakes", "postgres", "added p99", "e2e p99", "complete"],
    Object.entries(r.directions).filter(([, x]) => x.saturation).map(([d, x]) => {
      const s = x.saturation!;
      return [d, s.messages, s.seconds, s.perSecond, s.statementsPerMessage, s.transactionsPerMessage, s.cpuMsPerMessage, s.fakesCpuMsPerMessage, s.postgresCpuMsPerMessage ?? "-", s.addedP99, s.e2eP99, s.complete ? "yes" : "NO"];
    }),
  ));
  if (r.mixedSaturation) {
    const m = r.mixedSaturation;
    out.push(`all directions at once: ${m.messages} messages in ${m.seconds} s = ${m.perSecond} msg/s, ${m.statementsPerMessage} statements/message, ${m.transactionsPerMessage} transactions/message, CPU ms/message: bridge ${m.cpuMsPerMessage}, fakes ${m.fakesCpuMsPerMessage}, postgres ${m.postgresCpuMsPerMessage ?? "-"}`);
  }
  if (r.rest) {
    const q = r.rest;
    out.push(`at rest (${q.portals} portals, ${q.logins} logins, nothing relayed, ${q.windowSeconds} s): bridge CPU ${q.cpuPercent} % of a core, RSS ${q.rssMB} MB; requests meanwhile: homeserver ${q.requests.homeserver}, Slack ${q.requests.slack}, Telegram ${q.requests.telegram}`);
  }
  out.push("");
  out.push("Memory (bridge process)");
  out.push(table(["when", "RSS MB", "heap used MB", "note"], Object.entries(r.memory).map(([k, v]) => [k, v.rssMB, v.heapUsedMB, v.note])));
  out.push("");
  const em = r.embedded;
  if (em) {
    out.push(`Embedded database (PGlite), run as an operator runs it: node ${em.nodeFlags ? `${em.nodeFlags} ` : ""}dist/cli.js start -c <file>, fresh data_dir`);
    const starts = [["first start (empty data_dir)", em.firstStart], ["restart (3 portals seeded, median)", em.restart]] as const;
    out.push(table(["start", "to ready ms", "its CPU ms", "port answers ms", "RSS at ready MB", "RSS idle MB", "SIGTERM to exit ms"],
      starts.filter(([, s]) => s).map(([k, s]) => [k, s!.readyMs, s!.cpuAtReadyMs, s!.portMs ?? "-", s!.rssAtReadyMB, "rssIdleMB" in s! ? s.rssIdleMB : "-", "stopMs" in s! ? s.stopMs : "-"])));
    if (em.firstStart?.progress.length) out.push(...em.firstStart.progress.map((p) => `  first start: ${p}`));
    if (em.restart?.runs) out.push(`  restarts: ${em.restart.runs.map((x) => `${x.readyMs} ms (CPU ${x.cpuAtReadyMs})`).join(", ")}; the median's lines:`);
    if (em.restart?.progress.length) out.push(...em.restart.progress.map((p) => `  restart: ${p}`));
    const t = em.threePortals;
    if (t) out.push(`3 portals, logins connected: every direction relayed in ${t.warmUpMs} ms; RSS at most ${t.loadMaxMB} MB under ${t.loadRate} msg/s for ${t.loadSeconds} s, ${t.idleMB} MB idle after (no forced GC)`);
    out.push("");
  }
  out.push("Start to ready (fresh process, pre-seeded store)");
  out.push(table(
    ["store", "portals", "ghosts", "startBridge ms", "process ms (Node start-up included)", "connected ms", "RSS MB", "heap after GC MB"],
    Object.entries(r.ready).map(([k, v]) => [k, v.portals, v.ghosts, round(v.startBridgeMs, 0), round(v.processMs, 0), v.connectedMs === null ? "-" : round(v.connectedMs, 0), v.rssMB, v.heapUsedAfterGcMB]),
  ));
  out.push("");
  if (r.attack) {
    out.push("Attack (hostile bodies to the appservice listener): the bridge's longest event-loop stall");
    out.push(table(["request", "sent", "answered", "longest stall ms", "p99 ms", "logins connected"],
      Object.entries(r.attack).map(([k, v]) => [k, v.requests, v.statuses.join("/"), v.stallMs, v.p99Ms, v.connected ? "yes" : "NO"])));
    out.push("");
  }
  if (r.link?.length) {
    out.push("Link 20 busy rooms: 20 Slack channels × the same 5 people, new to the bridge, whose ghosts are already in other rooms");
    out.push(table(["ghosts already in", "first 120 messages s", "display names set", "avatars set", "uploads", "ghost member events", "complete"],
      r.link.map((l) => [`${l.busyRooms} rooms`, l.seconds, l.displaynameUpdates, l.avatarUpdates, l.uploads, l.ghostMemberEvents, l.complete ? "yes" : "NO"])));
    out.push("");
  }
  out.push("Budget");
  out.push(table(["what", "budget", "measured", "ok"], r.budget.map((b) => [b.what, b.budget, b.measured, b.ok === null ? "n/a" : b.ok ? "yes" : "NO"])));
  if (r.notes.length) out.push("", ...r.notes.map((n) => `note: ${n}`));
  return out.join("\n");
}
