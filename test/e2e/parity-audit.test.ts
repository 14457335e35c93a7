/**
 * Issue 6, items 3 and 4 through two loopback networks linked to one room: the parity audit
 * (command and GET /audit) against a known scenario — delivered, dead-lettered, pending,
 * latency — agreeing with the message map; and /metrics exporting the per-portal lag, lane
 * depths, relayed counts and failures by reason, plus every metric name that the Grafana
 * dashboard and the Prometheus alert rules use.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteError } from "../../src/core/errors.js";
import type { AuditReport, LinkAudit } from "../../src/core/audit.js";
import type { FakeMatrixClient } from "../fakes/homeserver.js";
import { Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";
import { configMetricNames, PROMETHEUS_SYNTHETIC } from "../support/promql.js";

interface Sample { name: string; labels: Record<string, string>; value: number }
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

describe("parity audit and operator metrics", () => {
  const a = new LoopbackNetwork();
  const b = new LoopbackNetwork();
  a.addAccount("lb-a", "acctA", "Alpha");
  b.addAccount("lb-b", "acctB", "Beta");
  a.addChat("ops", "ops");
  b.addChat("fleet", "fleet");
  a.addUser("ivan", "Ivan Petrov");
  let h: Harness;
  let admin: FakeMatrixClient;
  let dm: string;
  let room: string;
  const base = () => `http://127.0.0.1:${h.bridge.metricsPort}`;
  const getAudit = async (window = "1h") => (await (await fetch(`${base()}/audit?window=${window}`)).json()) as AuditReport;
  const link = (r: AuditReport, network: string): LinkAudit => r.rooms.find((x) => x.roomId === room)!.links.find((l) => l.network === network)!;

  beforeAll(async () => {
    h = await Harness.start({ connectors: () => [new LoopbackConnector(a, "loopback"), new LoopbackConnector(b, "loopback2")] });
    admin = h.user("admin");
    dm = await h.dm(admin);
    expect(await h.command(admin, dm, "login loopback lb-a")).toMatch(/Logged in/);
    expect(await h.command(admin, dm, "login loopback2 lb-b")).toMatch(/Logged in/);
    room = await admin.createRoom({ name: "Fleet Ops", invite: [h.botMxid] });
    await h.waitForBot(room, /Hello/);
    const pl = await admin.getState(room, "m.room.power_levels");
    await admin.setState(room, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
    expect(await h.command(admin, room, "!tandem link loopback ops")).toMatch(/Linked this room to Loopback ops/);
    expect(await h.command(admin, room, "!tandem link loopback2 fleet")).toMatch(/Linked this room to Loopback2 fleet/);
  });
  afterAll(async () => { await h?.stop(); });

  it("scenario: 6 remote messages, one fan-out dead-lettered, Matrix messages, one held pending", async () => {
    for (let i = 1; i <= 5; i++) await a.post("ops", "ivan", `m${i}`);
    await waitUntil(() => b.sent("fleet").filter((m) => /^m\d$/.test(m.text)).length === 5, 10_000, "five fan-outs to b");
    // The 6th reaches Matrix, but its fan-out to b fails permanently.
    b.failSends.push(new RemoteError("chat_not_found", "no chat fleet", { retryable: false, userMessage: "the chat does not exist" }));
    await a.post("ops", "ivan", "m6");
    await h.waitForBot(room, /A Matrix message could not be delivered: the chat does not exist/);
    expect(b.sent("fleet").some((m) => m.text === "m6")).toBe(false);
    // Matrix → both networks.
    await admin.sendText(room, "x1");
    await waitUntil(() => a.sent("ops").some((m) => m.text === "x1") && b.sent("fleet").some((m) => m.text === "x1"), 10_000, "x1 on both");
    // x2 reaches a; b asks to retry in two minutes, so the item stays pending.
    b.failSends.push(new RemoteError("rate_limited", "slow down", { retryable: true, retryAfterMs: 120_000 }));
    await admin.sendText(room, "x2");
    await waitUntil(() => a.sent("ops").some((m) => m.text === "x2"), 10_000, "x2 on a");
    await waitUntil(async () => (await h.bridge.store.db.query(`SELECT 1 FROM relay_queue WHERE status = 'pending' AND attempts > 0`)).length === 1, 10_000, "x2 retry scheduled");
  });

  it("`audit` in the room: a line per chat and direction with counts, latency and verdict", async () => {
    const reply = await h.command(admin, room, "!tandem audit 1h");
    const lines = reply.split("\n");
    expect(lines[0]).toMatch(/^Parity audit, last 1h \(since \d{4}-\d\d-\d\d \d\d:\d\d UTC\): messages pending or failed$/);
    const line = (prefix: string) => lines.find((l) => l.startsWith(`• ${prefix}:`)) ?? `(no line for ${prefix})`;
    expect(line("Loopback ops → Matrix")).toMatch(/^• Loopback ops → Matrix: 6 seen, 6 delivered, 0 pending, 0 failed; p50 \d+ ms, p95 [\d.]+ m?s, max [\d.]+ m?s — no messages lost$/);
    expect(line("Matrix → Loopback ops")).toMatch(/: 2 seen, 2 delivered, 0 pending, 0 failed; p50 .* — no messages lost$/);
    expect(line("Loopback2 fleet → Matrix")).toBe("• Loopback2 fleet → Matrix: 0 seen, 0 delivered, 0 pending, 0 failed; no latency samples — no messages lost");
    expect(line("Matrix → Loopback2 fleet")).toMatch(/: 8 seen, 6 delivered, 1 pending, 1 failed \[chat_not_found ×1\]; p50 .* — 1 pending, 1 failed$/);
    // The notice also carries the table as HTML.
    const ev = h.hs.allEvents((e) => e.room_id === room && e.sender === h.botMxid).at(-1)!;
    expect(String((ev.content as { formatted_body?: string }).formatted_body)).toMatch(/<table>.*<td>Matrix → Loopback2 fleet<\/td><td>8<\/td><td>6<\/td><td>1<\/td><td>1 \[chat_not_found ×1\]<\/td>/);
  });

  it("GET /audit has the same numbers for every room, with latency, and agrees with the message map", async () => {
    const report = await getAudit();
    expect(report).toMatchObject({ window: "1h", ok: false });
    const ops = link(report, "loopback");
    const fleet = link(report, "loopback2");
    expect(ops.directions.to_matrix).toMatchObject({ seen: 6, delivered: 6, pending: 0, failed: 0, ok: true, verdict: "no messages lost" });
    expect(fleet.directions.from_matrix).toMatchObject({ seen: 8, delivered: 6, pending: 1, failed: 1, failures: [{ reason: "chat_not_found", count: 1 }], verdict: "1 pending, 1 failed" });
    for (const p of [ops.directions.to_matrix, ops.directions.from_matrix, fleet.directions.from_matrix]) {
      const lat = p.latency!;
      expect(lat.samples).toBe(p.delivered);
      expect(lat.p50Ms).toBeGreaterThanOrEqual(0);
      expect(lat.p50Ms).toBeLessThanOrEqual(lat.p95Ms);
      expect(lat.p95Ms).toBeLessThanOrEqual(lat.maxMs);
      expect(lat.maxMs).toBeLessThan(30_000);
    }
    expect(fleet.directions.to_matrix.latency).toBeNull();

    // The message map itself says the same.
    const [toMatrix] = await h.bridge.store.db.query<{ n: number }>(`SELECT count(DISTINCT remote_ref)::int AS n FROM messages WHERE origin = 'remote' AND network = 'loopback' AND room_id = $1`, [room]);
    const [toFleet] = await h.bridge.store.db.query<{ n: number }>(`SELECT count(DISTINCT event_id)::int AS n FROM messages WHERE origin = 'matrix' AND network = 'loopback2' AND room_id = $1`, [room]);
    expect([toMatrix!.n, toFleet!.n]).toEqual([ops.directions.to_matrix.delivered, fleet.directions.from_matrix.delivered]);

    const bad = await fetch(`${base()}/audit?window=soon`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/30m, 1h, 24h or 7d/);
  });

  it("`audit` in the DM covers every room for an admin; scope and usage errors are explained", async () => {
    expect(await h.command(admin, dm, "audit 24h")).toMatch(/^Parity audit, last 24h [\s\S]*Matrix → Loopback2 fleet: 8 seen/);
    expect(await h.command(admin, dm, "audit all")).toMatch(/Loopback ops → Matrix: 6 seen/);
    expect(await h.command(admin, dm, "audit soon")).toMatch(/I don't understand the window "soon"\. Usage: audit \[window\] \[all\]/);
    const carol = h.user("carol"); // bridge level "user", no logins
    const carolDm = await h.dm(carol);
    expect(await h.command(carol, carolDm, "audit")).toMatch(/^No bridged rooms to audit/);
    const plain = await admin.createRoom({ name: "Not bridged", invite: [h.botMxid] });
    await h.waitForBot(plain, /Hello/);
    expect(await h.command(admin, plain, "!tandem audit")).toMatch(/This room is not linked to any remote chat/);
  });

  it("delivered comes from the message map, not from counters: a map row removed is a message not delivered", async () => {
    const ref = a.chats.get("ops")!.messages.find((m) => m.text === "m3")!.ref;
    await h.bridge.store.db.query(`DELETE FROM messages WHERE network = 'loopback' AND remote_ref = $1`, [ref]);
    const ops = link(await getAudit(), "loopback").directions.to_matrix;
    expect(ops).toMatchObject({ seen: 5, delivered: 5, skipped: 1 });
    expect(ops.verdict).toBe("no messages lost (1 not relayed: standby or filtered)");
    // The health board's in-memory counter still says 6: the audit did not use it.
    expect(h.bridge.core.health.all().find((x) => x.network === "loopback")!.relayed.toMatrix).toBe(6);
  });

  it("/metrics: per-portal lag and last delivery, lane depths, relayed per direction, failures by reason, connections", async () => {
    const text = await (await fetch(`${base()}/metrics`)).text();
    const samples = parseMetrics(text);
    const find = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    const one = (name: string, labels: Record<string, string> = {}) => {
      const got = find(name, labels);
      expect(got, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
      return got[0]!.value;
    };
    const lag = one("tandem_portal_lag_seconds", { room, network: "loopback", direction: "to_matrix" });
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(30);
    expect(one("tandem_portal_lag_seconds", { room, network: "loopback2", direction: "from_matrix" })).toBeGreaterThanOrEqual(0);
    const last = one("tandem_portal_last_delivery_timestamp_seconds", { room, network: "loopback", direction: "from_matrix" });
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(120);
    expect(find("tandem_portal_lag_seconds", { room, network: "loopback2", direction: "to_matrix" })).toEqual([]); // nothing came from fleet
    expect(one("tandem_queue_lane_depth", { lane_kind: "matrix" })).toBe(1);
    expect(one("tandem_queue_lane_depth", { lane_kind: "remote" })).toBe(0);
    expect(one("tandem_queue_oldest_pending_seconds", { lane_kind: "matrix" })).toBeGreaterThanOrEqual(0);
    expect(one("tandem_queue_depth")).toBe(1);
    expect(one("tandem_relayed_total", { network: "loopback", direction: "to_matrix" })).toBe(6);
    expect(one("tandem_relayed_total", { network: "loopback", direction: "from_matrix" })).toBe(2);
    expect(one("tandem_relayed_total", { network: "loopback2", direction: "from_matrix" })).toBe(6);
    expect(one("tandem_dead_letters_total", { direction: "from_matrix", reason: "chat_not_found" })).toBe(1);
    expect(one("tandem_connection_state", { network: "loopback", state: "connected" })).toBe(1);
    expect(one("tandem_connection_state", { network: "loopback2", state: "connected" })).toBe(1);
    expect(one("tandem_homeserver_up")).toBe(1);
    expect(text).toMatch(/^# TYPE tandem_dead_letters_total counter$/m);
  });

  it("every metric the Grafana dashboard and the alert rules use is exported by /metrics", async () => {
    const text = await (await fetch(`${base()}/metrics`)).text();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const used = configMetricNames();
    expect(used.size).toBeGreaterThan(8);
    const missing = [...used].filter(([name]) => !PROMETHEUS_SYNTHETIC.has(name) && !exported.has(name)).map(([n, where]) => `${n} (${where.join(", ")})`);
    expect(missing).toEqual([]);
    // And each of them has at least one sample in this scenario (a name with no series would draw nothing).
    const withSamples = new Set(parseMetrics(text).map((s) => s.name));
    expect([...used.keys()].filter((n) => !PROMETHEUS_SYNTHETIC.has(n) && !withSamples.has(n))).toEqual([]);
  });
});
