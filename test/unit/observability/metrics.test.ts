/**
 * Metrics that add up: counters are counted where the event happens (the health board, the
 * relay queue), never rebuilt from a snapshot or reset by a scrape; a logged-out login's series
 * go; one name per figure.
 */
import perfHooks from "node:perf_hooks";
import { afterAll, expect, it } from "vitest";
import { RemoteError } from "../../../src/core/errors.js";
import { HealthBoard } from "../../../src/core/health.js";
import { silentLogger } from "../../../src/core/log.js";
import { RelayQueue } from "../../../src/core/relay-queue.js";
import { createMetrics, EVENT_LOOP_SAMPLE_MS } from "../../../src/observability/metrics.js";
import { cleanupBackends, describeEachBackend, storeOpener } from "../../support/db.js";

afterAll(cleanupBackends);

/** `name{labels} value` lines of our own metrics. */
const samples = (text: string) => text.split("\n").filter((l) => l.startsWith("tandem_"));
const value = (text: string, series: string) => {
  const line = samples(text).find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

it("the process and Node.js default metrics come along, their event-loop sampler waking the process once a second (not prom-client's every 10 ms)", async () => {
  // prom-client asks Node for the event-loop delay histogram; the resolution it asks for is a timer
  // that runs for the life of the process, at rest too (every 10 ms: 0.66 % of a core on its own).
  const monitor = perfHooks.monitorEventLoopDelay;
  const resolutions: Array<number | undefined> = [];
  perfHooks.monitorEventLoopDelay = (opts) => {
    resolutions.push(opts?.resolution);
    return monitor(opts);
  };
  try {
    const queue = { observe: () => undefined };
    const { scrape } = createMetrics(new HealthBoard(), async () => 0, queue);
    expect(resolutions).toEqual([EVENT_LOOP_SAMPLE_MS]);
    expect(EVENT_LOOP_SAMPLE_MS).toBeGreaterThanOrEqual(1000);
    const text = await scrape();
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_p99_seconds", "nodejs_heap_size_used_bytes", "tandem_queue_depth"]) {
      expect(text).toMatch(new RegExp(`^${name}[ {]`, "m"));
    }
  } finally {
    perfHooks.monitorEventLoopDelay = monitor;
  }
});

describeEachBackend("metrics", (backend) => {
  const open = storeOpener();

  it("counts relays, errors, queue outcomes and dead letters where they happen; scrapes neither reset nor rebuild them", async () => {
    const store = await open(backend);
    const health = new HealthBoard();
    const fail = new Set(["bad"]);
    const queue = new RelayQueue(store, async (item) => {
      if (fail.has((item.payload as { v: string }).v)) throw new RemoteError("chat_not_found", "gone", { retryable: false });
    }, async () => undefined, silentLogger, { pollMs: 10 });
    const { scrape } = createMetrics(health, () => store.queue.depth(), queue, { audit: store.audit });

    health.track("slack:T1", "slack", "Acme", "@o:x");
    health.success("slack:T1", "toMatrix");
    health.success("slack:T1", "toMatrix");
    health.success("slack:T1", "fromMatrix");
    health.error("slack:T1");
    const first = await scrape();
    expect(value(first, 'tandem_relayed_total{network="slack",login="slack:T1",direction="to_matrix"}')).toBe(2);
    expect(value(first, 'tandem_relayed_total{network="slack",login="slack:T1",direction="from_matrix"}')).toBe(1);
    expect(value(first, 'tandem_relay_errors_total{network="slack",login="slack:T1"}')).toBe(1);
    expect(samples(await scrape())).toEqual(samples(first)); // a scrape changes nothing
    health.success("slack:T1", "toMatrix");
    expect(value(await scrape(), 'tandem_relayed_total{network="slack",login="slack:T1",direction="to_matrix"}')).toBe(3);

    await store.queue.enqueue([{ lane: "r:slack:C1", sourceKey: "k1", payload: { v: "bad" } }, { lane: "r:slack:C1", sourceKey: "k2", payload: { v: "ok" } }]);
    queue.start();
    await until(() => queue.counts.done === 1 && queue.counts.dead === 1);
    await queue.stop();
    // The dead item is gone from the store (pruned by hand): the counter still says it happened.
    await store.db.query(`DELETE FROM relay_queue WHERE status = 'dead'`);
    const after = await scrape();
    expect(value(after, 'tandem_dead_letters_total{direction="from_matrix",reason="chat_not_found"}')).toBe(1);
    expect(value(after, 'tandem_queue_items_total{outcome="done"}')).toBe(1);
    expect(value(after, 'tandem_queue_items_total{outcome="retried"}')).toBe(0);
  });

  it("removes a logged-out login's series, and exports one name per figure", async () => {
    const store = await open(backend);
    const health = new HealthBoard();
    const queue = new RelayQueue(store, async () => undefined, async () => undefined, silentLogger);
    const { scrape } = createMetrics(health, () => store.queue.depth(), queue, { audit: store.audit });
    health.track("telegram:7", "telegram", "bot", "@o:x");
    health.track("slack:T1", "slack", "Acme", "@o:x");
    health.setState("telegram:7", "connected");
    health.success("telegram:7", "fromMatrix", 120);
    health.error("telegram:7");
    health.success("slack:T1", "toMatrix", 80);
    expect(samples(await scrape()).filter((l) => l.includes('login="telegram:7"')).length).toBeGreaterThan(0);
    health.forget("telegram:7");
    const text = await scrape();
    expect(samples(text).filter((l) => l.includes("telegram"))).toEqual([]);
    expect(value(text, 'tandem_relayed_total{network="slack",login="slack:T1",direction="to_matrix"}')).toBe(1);
    expect(value(text, 'tandem_lag_seconds{network="slack",login="slack:T1"}')).toBe(0.08);

    const names = [...text.matchAll(/^# TYPE (tandem_\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(names).toEqual([
      "tandem_connection_state gauge", "tandem_dead_letters_total counter", "tandem_homeserver_up gauge",
      "tandem_import_conversations gauge", "tandem_import_files gauge", "tandem_import_messages gauge",
      "tandem_import_rate_limit_wait_seconds gauge", "tandem_import_running gauge", "tandem_lag_seconds gauge",
      "tandem_matrix_events_dropped_total counter",
      "tandem_portal_lag_seconds gauge", "tandem_portal_last_delivery_timestamp_seconds gauge", "tandem_queue_depth gauge",
      "tandem_queue_items_total counter", "tandem_queue_lane_depth gauge", "tandem_queue_oldest_pending_seconds gauge",
      "tandem_relay_errors_total counter", "tandem_relayed_total counter",
    ]);
  });
});
