/**
 * The read-only status page on the metrics listener (127.0.0.1 by default):
 * - GET /status: one self-contained HTML page (status-page.html: inline CSS, a small inline
 *   script under a per-response CSP nonce) that renders /status.json and refreshes it every
 *   few seconds without reloading. It builds the DOM with textContent only: room and chat
 *   names come from users and are never parsed as HTML.
 * - GET /status.json: every room with its links (network, chat name), phase, parity over the
 *   last 24 h (delivered, pending, failed per direction, from the message map) and lag (the
 *   last delivery per direction); connections; queue depth per lane kind; dead letters.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { DIRECTIONS, parseWindow, runAudit, type AuditSources, type DirectionParity } from "../core/audit.js";
import type { HealthBoard } from "../core/health.js";
import type { AuditDirection, DeadReasonRow } from "../store/audit.js";
import type { Route } from "./http.js";

export interface StatusSources extends AuditSources {
  health: HealthBoard;
  queueDepth(): Promise<number>;
  /** The Matrix room's name (m.room.name), or null; cached here for a minute. */
  roomName?(roomId: string): Promise<string | null>;
  /** How often the page refreshes, ms. Default 3000. */
  refreshMs?: number;
}

export interface StatusLink {
  network: string;
  networkName: string;
  chat: string;
  name: string;
  login: string;
  parity: Record<AuditDirection, DirectionParity>;
  lag: Record<AuditDirection, { lagMs: number | null; at: string } | null>;
}

export interface StatusJson {
  generatedAt: string;
  /** The parity window. */
  window: string;
  status: "ok" | "degraded";
  parityOk: boolean;
  homeserver: { ok: boolean; error: string | null };
  queue: {
    depth: number;
    lanes: Array<{ kind: "remote" | "matrix"; pending: number; oldestAgeSeconds: number | null }>;
    deadLetters: DeadReasonRow[];
  };
  connections: Array<{
    login: string; network: string; networkName: string; name: string; state: string; message: string | null;
    since: string; lastSuccessAt: string | null; errors: number; relayed: { toMatrix: number; fromMatrix: number }; lagMs: number | null;
  }>;
  rooms: Array<{ roomId: string; name: string | null; alias: string | null; phase: string; links: StatusLink[] }>;
}

const PARITY_WINDOW = parseWindow("24h")!;
const NAME_TTL_MS = 60_000;

export async function statusSnapshot(src: StatusSources, names: Map<string, { name: string | null; at: number }> = new Map()): Promise<StatusJson> {
  const now = Date.now();
  const audit = src.store.audit;
  const [report, last, lanes, dead, depth] = await Promise.all([
    runAudit(src, PARITY_WINDOW, undefined, now),
    audit ? audit.lastDeliveries() : Promise.resolve([]),
    audit ? audit.laneDepths() : Promise.resolve([]),
    audit ? audit.deadByReason() : Promise.resolve([]),
    src.queueDepth(),
  ]);
  const roomName = async (roomId: string): Promise<string | null> => {
    const hit = names.get(roomId);
    if (hit && now - hit.at < NAME_TTL_MS) return hit.name;
    const name = src.roomName ? await src.roomName(roomId).catch(() => hit?.name ?? null) : null;
    names.set(roomId, { name, at: now });
    return name;
  };
  const rooms = await Promise.all(report.rooms.map(async (r) => ({
    roomId: r.roomId, name: await roomName(r.roomId), alias: r.alias, phase: r.phase,
    links: r.links.map((l): StatusLink => {
      const lag = (d: AuditDirection) => {
        const row = last.find((x) => x.roomId === r.roomId && x.network === l.network && x.chat === l.chat && x.direction === d);
        return row ? { lagMs: row.lagMs, at: row.at.toISOString() } : null;
      };
      return {
        network: l.network, networkName: l.networkName, chat: l.chat, name: l.name, login: l.loginId,
        parity: l.directions, lag: Object.fromEntries(DIRECTIONS.map((d) => [d, lag(d)])) as StatusLink["lag"],
      };
    }),
  })));
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    generatedAt: new Date(now).toISOString(),
    window: report.window,
    status: src.health.overall(),
    parityOk: report.ok,
    homeserver: { ok: !src.health.homeserverProblem(), error: src.health.homeserverProblem() },
    queue: {
      depth,
      lanes: lanes.map((l) => ({ kind: l.laneKind, pending: l.pending, oldestAgeSeconds: l.oldestAt ? Math.max(0, Math.round((now - l.oldestAt.getTime()) / 1000)) : null })),
      deadLetters: dead,
    },
    connections: src.health.all().map((h) => ({
      login: h.loginId, network: h.network, networkName: src.connectors.get(h.network)?.displayName ?? h.network, name: h.name,
      state: h.state, message: h.message ?? null, since: iso(h.since)!, lastSuccessAt: iso(h.lastSuccessAt),
      errors: h.errors, relayed: { ...h.relayed }, lagMs: h.lagMs,
    })),
    rooms,
  };
}

let template: string | null = null;
function page(nonce: string, refreshMs: number): string {
  template ??= readFileSync(new URL("./status-page.html", import.meta.url), "utf8");
  return template.replaceAll("{{nonce}}", nonce).replace("{{refreshMs}}", String(Math.max(500, Math.round(refreshMs))));
}

export function statusRoutes(src: StatusSources): Route {
  const names = new Map<string, { name: string | null; at: number }>();
  // Several open pages share one snapshot per second instead of one query set each.
  let cached: { at: number; body: Promise<string> } | null = null;
  const snapshot = () => {
    if (!cached || Date.now() - cached.at > 1000) {
      const body = statusSnapshot(src, names).then((s) => JSON.stringify(s));
      cached = { at: Date.now(), body };
      body.catch(() => { if (cached?.body === body) cached = null; });
    }
    return cached.body;
  };
  return async (req, res, url) => {
    if (req.method !== "GET") return false;
    if (url.pathname === "/status.json") {
      const body = await snapshot();
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store", "x-content-type-options": "nosniff" }).end(body);
      return true;
    }
    if (url.pathname === "/status") {
      const nonce = randomBytes(16).toString("base64");
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      }).end(page(nonce, src.refreshMs ?? 3000));
      return true;
    }
    return false;
  };
}
