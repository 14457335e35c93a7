/** GET /health: per-login status, last successful message, errors, queue depth; ok or degraded. */
import type { HealthBoard } from "../core/health.js";
import type { Route } from "./http.js";

export function healthRoute(health: HealthBoard, queueDepth: () => Promise<number>): Route {
  return async (req, res, url) => {
    if (req.method !== "GET" || url.pathname !== "/health") return false;
    // The depth query doubles as a read probe: /health tells the truth even when the queue is idle.
    // Writes are probed apart (observability/database-probe.ts): a read-only database still answers this.
    const depth = await queueDepth().then((n) => {
      health.databaseError = null;
      return n;
    }, (err: unknown) => {
      health.databaseError = err instanceof Error ? err.message : String(err);
      return null;
    });
    const status = health.overall();
    const body = {
      status,
      homeserver: health.homeserverProblem() ? { ok: false, error: health.homeserverProblem() } : { ok: true },
      database: health.databaseProblem() ? { ok: false, error: health.databaseProblem() } : { ok: true },
      queueDepth: depth,
      connections: health.all().map((h) => ({
        login: h.loginId, network: h.network, name: h.name, state: h.state, message: h.message ?? null,
        since: new Date(h.since).toISOString(),
        lastSuccessfulMessage: h.lastSuccessAt ? new Date(h.lastSuccessAt).toISOString() : null,
        errors: h.errors, relayed: h.relayed, lagMs: h.lagMs,
      })),
    };
    res.writeHead(status === "ok" ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(body, null, 2));
    return true;
  };
}
