/**
 * Issue 5, item 5: while the database cannot be used, /health says degraded and names it; the
 * relay queue reports failed reads and clears the report when a read works again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { HealthBoard } from "../../../src/core/health.js";
import { silentLogger } from "../../../src/core/log.js";
import { RelayQueue } from "../../../src/core/relay-queue.js";
import { healthRoute } from "../../../src/observability/health-route.js";
import { MetricsServer } from "../../../src/observability/http.js";
import type { Store } from "../../../src/store/api.js";

const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function until(pred: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("database health", () => {
  it("the health board is degraded while databaseError is set", () => {
    const health = new HealthBoard();
    expect(health.overall()).toBe("ok");
    health.databaseError = "connect ECONNREFUSED 127.0.0.1:5432";
    expect(health.overall()).toBe("degraded");
    health.databaseError = null;
    expect(health.overall()).toBe("ok");
  });

  it("GET /health probes the database: 503 naming it while the query fails, 200 once it works", async () => {
    const health = new HealthBoard();
    let down = true;
    const server = new MetricsServer();
    servers.push(server);
    server.route(healthRoute(health, async () => {
      if (down) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      return 3;
    }));
    const port = await server.listen(0, "127.0.0.1");
    const get = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      return { status: res.status, body: (await res.json()) as { status: string; database: { ok: boolean; error?: string }; queueDepth: number | null } };
    };
    const bad = await get();
    expect(bad.status).toBe(503);
    expect(bad.body).toMatchObject({ status: "degraded", database: { ok: false, error: "connect ECONNREFUSED 127.0.0.1:5432" }, queueDepth: null });
    down = false;
    const good = await get();
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ status: "ok", database: { ok: true }, queueDepth: 3 });
  });

  it("the relay queue reports failed queue reads and clears the report when a read works", async () => {
    let down = true;
    const reports: Array<string | null> = [];
    const store = {
      queue: {
        readyLanes: async () => {
          if (down) throw new Error("Connection terminated unexpectedly");
          return [];
        },
      },
    } as unknown as Store;
    const q = new RelayQueue(store, async () => undefined, async () => undefined, silentLogger, { pollMs: 20 });
    q.onStoreHealth = (e) => reports.push(e);
    q.start();
    try {
      await until(() => reports.includes("Connection terminated unexpectedly"));
      down = false;
      await until(() => reports.at(-1) === null);
    } finally {
      await q.stop();
    }
  });
});
