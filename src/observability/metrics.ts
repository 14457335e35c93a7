/**
 * Prometheus metrics on matrix-appservice-bridge's PrometheusMetrics (prom-client
 * underneath), all named tandem_*:
 * - per login (health board): connection state, relayed counts per direction, errors, lag;
 * - per portal (message map): lag of the last delivery and its time, per room, network and direction;
 * - relay queue: depth (total and per lane kind, with the oldest pending item's age),
 *   items processed since start, dead letters by direction and reason (from the store);
 * - Matrix events of appservice transactions not handed to the core, by reason;
 * - homeserver reachability.
 * config/grafana-dashboard.json and config/prometheus-alerts.yaml use these names (a test
 * checks every name they use is exported).
 */
import { PrometheusMetrics } from "matrix-appservice-bridge";
import { Registry } from "prom-client";
import type { HealthBoard } from "../core/health.js";
import type { AuditRepo } from "../store/audit.js";
import type { Route } from "./http.js";

const STATES = ["connecting", "connected", "transient-disconnect", "bad-credentials", "error", "stopped"] as const;

export interface MetricsSources {
  /** The store's audit queries (message map and queue); without them the per-portal and per-lane metrics are absent. */
  audit?: AuditRepo;
  /** Called when a store query for the metrics fails (the scrape still answers, without those series). */
  onError?: (err: unknown) => void;
  /** Matrix events dropped by the appservice listener since start, by reason. */
  droppedMatrixEvents?: () => ReadonlyMap<string, number>;
}

export function createMetrics(
  health: HealthBoard, queueDepth: () => Promise<number>, queueCounts: { done: number; retried: number; dead: number; deferred: number }, sources: MetricsSources = {},
) {
  // A registry per bridge instance (not prom-client's global one), so several bridges can
  // run in one process (tests, the benchmark).
  const register = new Registry();
  const metrics = new PrometheusMetrics(register);
  // The library prefixes names with a namespace ("bridge" unless given): ours is "tandem".
  const gauge = (name: string, help: string, labels: string[] = []) => metrics.addGauge({ namespace: "tandem", name, help, labels });
  const counter = (name: string, help: string, labels: string[] = []) => metrics.addCounter({ namespace: "tandem", name, help, labels });

  const state = gauge("connection_state", "1 for the current state of each login", ["network", "login", "state"]);
  const relayed = gauge("relayed_messages", "Messages relayed since start, by direction", ["network", "login", "direction"]);
  const errors = gauge("login_errors", "Relay errors since start, per login", ["network", "login"]);
  const lag = gauge("lag_seconds", "Last remote event to Matrix delay, per login", ["network", "login"]);
  const depth = gauge("queue_depth", "Pending items in the relay queue");
  const items = gauge("queue_items", "Queue items processed since start, by outcome", ["outcome"]);
  const hs = gauge("homeserver_up", "1 when the homeserver answered the last call or probe and accepts the bridge (its token, its bot)");

  const relayedTotal = counter("relayed_total", "Messages relayed since start, per network and direction (to_matrix, from_matrix)", ["network", "direction"]);
  const errorsTotal = counter("relay_errors_total", "Relay errors since start, per network and login", ["network", "login"]);
  const portalLag = gauge("portal_lag_seconds", "Delivery latency of the last message relayed, per room, network and direction (message map: delivered − received)", ["room", "network", "direction"]);
  const portalLast = gauge("portal_last_delivery_timestamp_seconds", "When the last message was delivered, per room, network and direction (message map)", ["room", "network", "direction"]);
  const laneDepth = gauge("queue_lane_depth", "Pending relay queue items per lane kind (remote: to Matrix; matrix: to the networks, fan-out included)", ["lane_kind"]);
  const oldest = gauge("queue_oldest_pending_seconds", "Age of the oldest pending relay queue item per lane kind (0 when none)", ["lane_kind"]);
  const droppedMatrix = counter("matrix_events_dropped_total", "Matrix events of appservice transactions not handed to the core since start, by reason (repeated_transaction: a retry of a committed transaction; too_large, too_deep, unreadable)", ["reason"]);
  const dead = counter("dead_letters_total", "Dead-lettered relay queue items in the store, by direction and reason (error code)", ["direction", "reason"]);

  metrics.addCollector(async () => {
    state.reset();
    relayedTotal.reset();
    errorsTotal.reset();
    const sums = new Map<string, { network: string; direction: string; n: number }>();
    for (const h of health.all()) {
      for (const s of STATES) state.set({ network: h.network, login: h.loginId, state: s }, h.state === s ? 1 : 0);
      relayed.set({ network: h.network, login: h.loginId, direction: "to_matrix" }, h.relayed.toMatrix);
      relayed.set({ network: h.network, login: h.loginId, direction: "from_matrix" }, h.relayed.fromMatrix);
      errors.set({ network: h.network, login: h.loginId }, h.errors);
      errorsTotal.inc({ network: h.network, login: h.loginId }, h.errors);
      if (h.lagMs !== null) lag.set({ network: h.network, login: h.loginId }, h.lagMs / 1000);
      for (const [direction, n] of [["to_matrix", h.relayed.toMatrix], ["from_matrix", h.relayed.fromMatrix]] as const) {
        const k = `${h.network}\u0000${direction}`;
        sums.set(k, { network: h.network, direction, n: (sums.get(k)?.n ?? 0) + n });
      }
    }
    for (const s of sums.values()) relayedTotal.inc({ network: s.network, direction: s.direction }, s.n);
    depth.set(await queueDepth().catch(() => 0));
    for (const [k, v] of Object.entries(queueCounts)) items.set({ outcome: k }, v);
    hs.set(health.homeserverProblem() ? 0 : 1);
    if (sources.droppedMatrixEvents) {
      droppedMatrix.reset();
      for (const [reason, n] of sources.droppedMatrixEvents()) droppedMatrix.inc({ reason }, n);
    }
    if (sources.audit) await collectStore(sources.audit).catch((err) => sources.onError?.(err));
  });

  async function collectStore(audit: AuditRepo): Promise<void> {
    const [last, lanes, deadRows] = await Promise.all([audit.lastDeliveries(), audit.laneDepths(), audit.deadByReason()]);
    portalLag.reset();
    portalLast.reset();
    dead.reset();
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
    for (const r of deadRows) dead.inc({ direction: r.direction, reason: r.reason }, r.count);
  }

  const route: Route = async (req, res, url) => {
    if (req.method !== "GET" || url.pathname !== "/metrics") return false;
    await metrics.refresh();
    res.writeHead(200, { "content-type": register.contentType }).end(await register.metrics());
    return true;
  };
  return { metrics, route };
}
