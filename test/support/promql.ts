/**
 * Metric names used by a PromQL expression (enough of PromQL for our alert rules and
 * dashboard): strings, label matchers `{…}`, ranges `[…]`, grouping clauses `by (…)` and
 * friends, functions `f(`, keywords and numbers are not metric names; what is left is.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"]);

export function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // strings
  s = s.replace(/\{[^}]*\}/g, " "); // label matchers
  s = s.replace(/\[[^\]]*\]/g, " "); // range / subquery selectors
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // grouping label lists
  s = s.replace(/\boffset\s+-?\d+[smhdwy]+/g, " ");
  const names = new Set<string>();
  const re = /[A-Za-z_:][A-Za-z0-9_:]*/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const word = m[0];
    const before = s.slice(0, m.index);
    const after = s.slice(m.index + word.length);
    if (/^\s*\(/.test(after)) continue; // a function call
    if (KEYWORDS.has(word.toLowerCase())) continue;
    if (/[0-9.]$/.test(before) || /\$$/.test(before)) continue; // 1e3, 5m, $var
    names.add(word);
  }
  return [...names].sort();
}

/** Names Prometheus itself makes for every target (not exported by the bridge). */
export const PROMETHEUS_SYNTHETIC = new Set(["up", "scrape_duration_seconds", "scrape_samples_scraped"]);

export interface AlertRule { alert: string; expr: string; for?: string; labels: { severity: string }; annotations: { summary: string; description: string } }
export interface DashboardPanel {
  id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string }; targets?: Array<{ expr: string; refId: string }>;
}
export interface Dashboard { uid: string; title: string; panels: DashboardPanel[]; templating: { list: Array<{ name: string; type: string }> } }

const CONFIG = new URL("../../config/", import.meta.url);

/** The rules of config/prometheus-alerts.yaml (parsed with the yaml package). */
export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(new URL("prometheus-alerts.yaml", CONFIG), "utf8")) as { groups: Array<{ rules: AlertRule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

export function dashboard(): Dashboard {
  return JSON.parse(readFileSync(new URL("grafana-dashboard.json", CONFIG), "utf8")) as Dashboard;
}

/** Every metric name the alert rules and the dashboard use → where (for messages). */
export function configMetricNames(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (expr: string, where: string) => { for (const n of metricNames(expr)) out.set(n, [...(out.get(n) ?? []), where]); };
  for (const r of alertRules()) add(r.expr, `alert ${r.alert}`);
  for (const p of dashboard().panels) for (const t of p.targets ?? []) add(t.expr, `panel ${p.title}`);
  return out;
}
