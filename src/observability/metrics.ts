/**
 * Prometheus metrics on prom-client, all named tandem_*, one name per figure:
 * - counters, incremented where the event happens (the health board and the relay queue tell
 *   them), never rebuilt or reset: relayed messages and relay errors per login, queue outcomes,
 *   dead letters by direction and reason. A logged-out login's series are removed;
 * - gauges read at scrape time: connection state and lag per login; per portal (message map)
 *   the lag of the last delivery and its time; queue depth (total and per lane kind, with the
 *   oldest pending item's age); homeserver reachability;
 * - Matrix events of appservice transactions not handed to the core, by reason (counted from the
 *   listener's own tally, by the increase since the last scrape).
 * config/grafana-dashboard.json and config/prometheus-alerts.yaml use these names (a test
 * checks every name they use is exported). prom-client's default process_* and nodejs_* metrics
 * come along, with the event-loop delay sampled once a second (see EVENT_LOOP_SAMPLE_MS).
 *
 * Not matrix-appservice-bridge's PrometheusMetrics: its constructor starts prom-client's default
 * metrics with their event-loop delay histogram sampling every 10 ms, a timer that wakes an idle
 * bridge 100 times a second (0.66 % of a core measured alone, the at-rest budget is 0.1 %), and
 * takes no option to change it.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { HealthBoard, LoginHealth } from "../core/health.js";
import type { ImportSnapshot } from "../core/history-import/progress.js";
import type { QueueOutcome } from "../core/relay-queue.js";
import type { AuditRepo } from "../store/audit.js";
import type { Route } from "./http.js";

const STATES = ["connecting", "connected", "transient-disconnect", "bad-credentials", "error", "stopped"] as const;
const DIRECTION = { toMatrix: "to_matrix", fromMatrix: "from_matrix" } as const;

export interface MetricsSources {
  /** The store's audit queries (message map and queue); without them the per-portal and per-lane metrics are absent. */
  audit?: AuditRepo;
  /** Called when a store query for the metrics fails (the scrape still answers, without those series). */
  onError?: (err: unknown) => void;
  /** Matrix events dropped by the appservice listener since start, by reason. */
  droppedMatrixEvents?: () => ReadonlyMap<string, number>;
  /** The history import's progress (the current one, or the last since start). */
  importProgress?: () => ImportSnapshot | null;
}

/**
 * How often the event-loop delay histogram (nodejs_eventloop_lag_*) samples: a timer of this
 * period runs for as long as the process does. Once a second costs ~0.01 % of a core; a stall
 * shorter than this is seen when a sample falls in it.
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

/** The relay queue as the metrics see it: outcomes as they happen. */
export interface ObservedQueue {
  observe(fn: (o: QueueOutcome) => void): void;
}

/** Create before the bridge starts relaying: counters count from their creation on. */
export function createMetrics(health: HealthBoard, queueDepth: () => Promise<number>, queue: ObservedQueue, sources: MetricsSources = {}) {
  // A registry per bridge instance (not prom-client's global one), so several bridges can
  // run in one process (tests, the benchmark).
  const register = new Registry();
  collectDefaultMetrics({ register, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const gauge = (name: string, help: string, labels: string[] = []) =>
    new Gauge({ name: `tandem_${name}`, help, labelNames: labels, registers: [register] });
  const counter = (name: string, help: string, labels: string[] = []) =>
    new Counter({ name: `tandem_${name}`, help, labelNames: labels, registers: [register] });
  /** Run before each scrape: the gauges read at scrape time. */
  const collectors: Array<() => Promise<void>> = [];

  const state = gauge("connection_state", "1 for the current state of each login", ["network", "login", "state"]);
  const lag = gauge("lag_seconds", "Last remote event to Matrix delay, per login", ["network", "login"]);
  const depth = gauge("queue_depth", "Pending items in the relay queue");
  const hs = gauge("homeserver_up", "1 when the homeserver answered the last call or probe and accepts the bridge (its token, its bot)");
  const portalLag = gauge("portal_lag_seconds", "Delivery latency of the last message relayed, per room, network and direction (message map: delivered − received)", ["room", "network", "direction"]);
  const portalLast = gauge("portal_last_delivery_timestamp_seconds", "When the last message was delivered, per room, network and direction (message map)", ["room", "network", "direction"]);
  const laneDepth = gauge("queue_lane_depth", "Pending relay queue items per lane kind (remote: to Matrix; matrix: to the networks, fan-out included)", ["lane_kind"]);
  const oldest = gauge("queue_oldest_pending_seconds", "Age of the oldest pending relay queue item per lane kind (0 when none)", ["lane_kind"]);

  const relayed = counter("relayed_total", "Messages relayed since start, per network, login and direction (to_matrix, from_matrix)", ["network", "login", "direction"]);
  const errors = counter("relay_errors_total", "Relay errors (failed remote → Matrix attempts) since start, per network and login", ["network", "login"]);
  const items = counter("queue_items_total", "Relay queue items handled since start, by outcome (done, retried, deferred; dead letters are tandem_dead_letters_total)", ["outcome"]);
  const dead = counter("dead_letters_total", "Relay queue items dead-lettered since start, by direction and reason (the error's code or class)", ["direction", "reason"]);

  // Zero series, so rate() and increase() see the first event.
  for (const outcome of ["done", "retried", "deferred"]) items.inc({ outcome }, 0);
  const loginLabels = (h: LoginHealth) => ({ network: h.network, login: h.loginId });
  health.subscribe({
    tracked: (h) => {
      for (const direction of Object.values(DIRECTION)) relayed.inc({ ...loginLabels(h), direction }, 0);
      errors.inc(loginLabels(h), 0);
    },
    relayed: (h, direction) => relayed.inc({ ...loginLabels(h), direction: DIRECTION[direction] }),
    errored: (h) => errors.inc(loginLabels(h)),
    forgotten: (h) => {
      for (const direction of Object.values(DIRECTION)) relayed.remove({ ...loginLabels(h), direction });
      errors.remove(loginLabels(h));
      lag.remove(loginLabels(h));
    },
  });
  queue.observe((o) => {
    if (o.outcome !== "dead") return items.inc({ outcome: o.outcome });
    const toMatrix = (o.item.payload as { t?: string } | null)?.t === "remote";
    dead.inc({ direction: toMatrix ? "to_matrix" : "from_matrix", reason: o.reason ?? "unknown" });
  });
  const droppedMatrix = counter("matrix_events_dropped_total", "Matrix events of appservice transactions not handed to the core since start, by reason (repeated_transaction: a retry of a committed transaction; too_large, too_deep, unreadable)", ["reason"]);
  const importRunning = gauge("import_running", "1 while a history import (tandem import) runs");
  const importMessages = gauge("import_messages", "Messages the current (or last) history import wrote into Matrix");
  const importFiles = gauge("import_files", "Files the current (or last) history import uploaded");
  const importWait = gauge("import_rate_limit_wait_seconds", "Time the current (or last) history import waited for the network's rate limits");
  const importConvs = gauge("import_conversations", "Conversations of the current (or last) history import, by state", ["state"]);
  /** What the listener's tally was at the last scrape: the counter only ever adds the increase. */
  const droppedSeen = new Map<string, number>();

  collectors.push(async () => {
    state.reset(); // a state gauge: only current logins, one 1 each
    for (const h of health.all()) {
      for (const s of STATES) state.set({ network: h.network, login: h.loginId, state: s }, h.state === s ? 1 : 0);
      if (h.lagMs !== null) lag.set(loginLabels(h), h.lagMs / 1000);
    }
    depth.set(await queueDepth().catch(() => 0));
    hs.set(health.homeserverProblem() ? 0 : 1);
    for (const [reason, n] of sources.droppedMatrixEvents?.() ?? []) {
      const added = n - (droppedSeen.get(reason) ?? 0);
      if (added > 0) droppedMatrix.inc({ reason }, added);
      droppedSeen.set(reason, Math.max(n, droppedSeen.get(reason) ?? 0));
    }
    const imp = sources.importProgress?.();
    if (imp) {
      importRunning.set(imp.state === "running" || imp.state === "stopping" ? 1 : 0);
      importMessages.set(imp.dryRun ? 0 : imp.messages);
      importFiles.set(imp.dryRun ? 0 : imp.files);
      importWait.set(imp.rateLimitWaitMs / 1000);
      for (const s of ["waiting", "importing", "done", "failed"] as const) importConvs.set({ state: s }, imp.conversations.filter((c) => c.state === s).length);
    }
    if (sources.audit) await collectStore(sources.audit).catch((err) => sources.onError?.(err));
  });

  async function collectStore(audit: AuditRepo): Promise<void> {
    const [last, lanes] = await Promise.all([audit.lastDeliveries(), audit.laneDepths()]);
    portalLag.reset();
    portalLast.reset();
    for (const d of last) {
      const labels = { room: d.roomId, network: d.network, direction: d.direction };
      portalLast.set(labels, d.at.getTime() / 1000);
      if (d.lagMs !== null) portalLag.set(labels, d.lagMs / 1000);
    }
    const now = Date.now();
    for (const l of lanes) {
      laneDepth.set({ lane_kind: l.laneKind }, l.pending);
      oldest.set({ lane_kind: l.laneKind }, l.oldestAt ? Math.max(0, (now - l.oldestAt.getTime()) / 1000) : 0);
    }
  }

  /** The exposition text, as a scrape gets it. */
  const scrape = async (): Promise<string> => {
    // A collector that fails leaves its series as they were: the scrape still answers.
    await Promise.all(collectors.map((collect) => collect().catch((err) => sources.onError?.(err))));
    return register.metrics();
  };
  const route: Route = async (req, res, url) => {
    if (req.method !== "GET" || url.pathname !== "/metrics") return false;
    const text = await scrape();
    res.writeHead(200, { "content-type": register.contentType }).end(text);
    return true;
  };
  return { route, scrape };
}
