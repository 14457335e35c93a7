/**
 * config/prometheus-alerts.yaml and config/grafana-dashboard.json: they parse, have the
 * rules and panels operators need, and use only tandem_* metrics (plus Prometheus's `up`).
 * That those names are really exported is checked against a running bridge in
 * test/e2e/parity-audit.test.ts.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { alertRules, dashboard, metricNames, PROMETHEUS_SYNTHETIC } from "../../support/promql.js";
import { requireTool } from "../../support/required-tools.js";

describe("metricNames (PromQL)", () => {
  it("finds metric names and skips functions, labels, ranges, grouping, keywords and numbers", () => {
    expect(metricNames('up{job="tandem"} == 0 or absent(up{job="tandem"})')).toEqual(["up"]);
    expect(metricNames('sum by (direction, reason) (increase(tandem_dead_letters_total{job=~"$job"}[$__rate_interval])) * 60 > 1e3'))
      .toEqual(["tandem_dead_letters_total"]);
    expect(metricNames("time() - max by (job) (a_metric) > 3600 and on (job) b:recorded offset 5m unless bool c")).toEqual(["a_metric", "b:recorded", "c"]);
    expect(metricNames('rate(x_total[5m]) / ignoring (le) group_left (name) y{name="by (x)"}')).toEqual(["x_total", "y"]);
  });
});

describe("Prometheus alert rules", () => {
  const rules = alertRules();
  const byName = new Map(rules.map((r) => [r.alert, r]));

  it("has the alerts the operators asked for, each with severity, summary and description", () => {
    expect([...byName.keys()].sort()).toEqual([
      "TandemConnectionDown", "TandemDeadLetters", "TandemDown", "TandemHomeserverDown", "TandemNothingRelayed",
      "TandemQueueBacklog", "TandemRelayErrorRate", "TandemRelayLagHigh",
    ]);
    for (const r of rules) {
      expect(["critical", "warning"], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary.length, r.alert).toBeGreaterThan(10);
      expect(r.annotations.description.length, r.alert).toBeGreaterThan(10);
      if (r.for !== undefined) expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it("encodes the thresholds: bridge down or absent, connection down 5 min, nothing in 1 h, lag 30 s, homeserver down", () => {
    expect(byName.get("TandemDown")!.expr).toMatch(/up\{job="tandem"\} == 0 or absent\(up\{job="tandem"\}\)/);
    expect(byName.get("TandemConnectionDown")!).toMatchObject({ for: "5m" });
    expect(byName.get("TandemConnectionDown")!.expr).toMatch(/tandem_connection_state\{state="connected"\}\) == 0/);
    expect(byName.get("TandemNothingRelayed")!.expr).toMatch(/tandem_portal_last_delivery_timestamp_seconds\) > 3600/);
    expect(byName.get("TandemRelayLagHigh")!.expr).toMatch(/tandem_portal_lag_seconds > 30/);
    expect(byName.get("TandemQueueBacklog")!.expr).toMatch(/tandem_queue_oldest_pending_seconds\) > 30/);
    expect(byName.get("TandemHomeserverDown")!.expr).toMatch(/tandem_homeserver_up == 0/);
    expect(byName.get("TandemRelayErrorRate")!.expr).toMatch(/tandem_relay_errors_total/);
    expect(byName.get("TandemDeadLetters")!.expr).toMatch(/increase\(tandem_dead_letters_total\[15m\]\)/);
  });

  // promtool (Debian package `prometheus`) checks the syntax and runs the rules against
  // synthetic series: each alert fires when it should, with its annotations rendered.
  const promtool = requireTool("promtool", spawnSync("promtool", ["--version"]).status === 0, "apt-get install -y prometheus");
  it.skipIf(!promtool)("pass promtool check rules and the unit tests in test/fixtures (skipped: promtool not installed)", () => {
    const run = (...args: string[]) => spawnSync("promtool", args, { cwd: fileURLToPath(new URL("../../../", import.meta.url)), encoding: "utf8" });
    const check = run("check", "rules", "config/prometheus-alerts.yaml");
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS: 8 rules found/);
    const test = run("test", "rules", "test/fixtures/prometheus-alerts.rules-test.yaml");
    expect(test.status, test.stdout + test.stderr).toBe(0);
  });

  it("uses only tandem_* metrics and Prometheus's own up", () => {
    for (const r of rules) {
      const names = metricNames(r.expr);
      expect(names.length, r.alert).toBeGreaterThan(0);
      for (const n of names) expect(n.startsWith("tandem_") || PROMETHEUS_SYNTHETIC.has(n), `${r.alert}: ${n}`).toBe(true);
    }
  });
});

describe("Grafana dashboard", () => {
  const d = dashboard();
  const panels = d.panels.filter((p) => p.type !== "row");

  it("is an importable dashboard with a data source variable", () => {
    expect(d).toMatchObject({ uid: "tandem-bridge", title: "Tandem bridge" });
    expect(d.templating.list.find((v) => v.name === "datasource")).toMatchObject({ type: "datasource" });
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe("${datasource}");
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
    // No two panels overlap.
    for (const a of d.panels) for (const b of d.panels) {
      if (a === b) continue;
      const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
      expect(overlap, `${a.title} / ${b.title}`).toBe(false);
    }
  });

  it("shows connection state, relayed/min per direction, queue depth, lag, failures by reason and homeserver up", () => {
    const exprOf = (title: RegExp) => panels.filter((p) => title.test(p.title)).flatMap((p) => p.targets!.map((t) => t.expr)).join("\n");
    expect(exprOf(/^Connections$|Connection state/)).toMatch(/tandem_connection_state/);
    expect(exprOf(/Relayed per minute/)).toMatch(/sum by \(direction\) \(rate\(tandem_relayed_total.*\* 60/);
    expect(exprOf(/Queue depth/)).toMatch(/tandem_queue_lane_depth[\s\S]*tandem_queue_depth|tandem_queue_depth[\s\S]*tandem_queue_lane_depth/);
    expect(exprOf(/lag/i)).toMatch(/tandem_portal_lag_seconds/);
    expect(exprOf(/Failures by reason/)).toMatch(/sum by \(direction, reason\) \(increase\(tandem_dead_letters_total/);
    expect(exprOf(/Homeserver up/)).toMatch(/tandem_homeserver_up/);
  });

  it("uses only tandem_* metrics and Prometheus's own up", () => {
    for (const p of panels) for (const t of p.targets!) {
      for (const n of metricNames(t.expr)) expect(n.startsWith("tandem_") || PROMETHEUS_SYNTHETIC.has(n), `${p.title}: ${n}`).toBe(true);
    }
  });
});
