/**
 * Prometheus metrics on matrix-appservice-bridge's PrometheusMetrics (prom-client
 * underneath): connection state, relayed counts, queue depth, plus the library's own
 * Matrix API metrics.
 */
import { PrometheusMetrics } from "matrix-appservice-bridge";
import { Registry } from "prom-client";
import type { HealthBoard } from "../core/health.js";
import type { Route } from "./http.js";

const STATES = ["connecting", "connected", "transient-disconnect", "bad-credentials", "error", "stopped"] as const;

export function createMetrics(health: HealthBoard, queueDepth: () => Promise<number>, queueCounts: { done: number; retried: number; dead: number }) {
  // A registry per bridge instance (not prom-client's global one), so several bridges can
  // run in one process (tests, the benchmark).
  const register = new Registry();
  const metrics = new PrometheusMetrics(register);
  const state = metrics.addGauge({ name: "tandem_connection_state", help: "1 for the current state of each login", labels: ["network", "login", "state"] });
  const relayed = metrics.addGauge({ name: "tandem_relayed_messages", help: "Messages relayed since start, by direction", labels: ["network", "login", "direction"] });
  const errors = metrics.addGauge({ name: "tandem_login_errors", help: "Relay errors since start, per login", labels: ["network", "login"] });
  const lag = metrics.addGauge({ name: "tandem_lag_seconds", help: "Last remote event to Matrix delay, per login", labels: ["network", "login"] });
  const depth = metrics.addGauge({ name: "tandem_queue_depth", help: "Pending items in the relay queue" });
  const items = metrics.addGauge({ name: "tandem_queue_items", help: "Queue items processed since start, by outcome", labels: ["outcome"] });
  const hs = metrics.addGauge({ name: "tandem_homeserver_up", help: "1 when the homeserver answered the last call" });

  metrics.addCollector(async () => {
    state.reset();
    for (const h of health.all()) {
      for (const s of STATES) state.set({ network: h.network, login: h.loginId, state: s }, h.state === s ? 1 : 0);
      relayed.set({ network: h.network, login: h.loginId, direction: "to_matrix" }, h.relayed.toMatrix);
      relayed.set({ network: h.network, login: h.loginId, direction: "from_matrix" }, h.relayed.fromMatrix);
      errors.set({ network: h.network, login: h.loginId }, h.errors);
      if (h.lagMs !== null) lag.set({ network: h.network, login: h.loginId }, h.lagMs / 1000);
    }
    depth.set(await queueDepth().catch(() => 0));
    for (const [k, v] of Object.entries(queueCounts)) items.set({ outcome: k }, v);
    hs.set(health.homeserverError ? 0 : 1);
  });

  const route: Route = async (req, res, url) => {
    if (req.method !== "GET" || url.pathname !== "/metrics") return false;
    await metrics.refresh();
    res.writeHead(200, { "content-type": register.contentType }).end(await register.metrics());
    return true;
  };
  return { metrics, route };
}
