/**
 * The parity audit: for a window, per linked chat and direction, how many source messages
 * were seen, delivered, pending and failed (by reason), and the delivery latency. This is
 * the cutover plan's "no messages lost in a 24-hour window" check. Every number comes from
 * the message map and the relay queue (store/audit.ts documents exactly what is counted),
 * never from counters kept in memory.
 */
import type { AuditDirection, AuditRepo, LatencyRow, ParityCountRow } from "../store/audit.js";
import type { CutoverPhase, Store } from "../store/api.js";
import type { NetworkConnector } from "./connector.js";
import { CommandError } from "./errors.js";
import type { PortalDirectory } from "./portals.js";

export const DEFAULT_WINDOW = "24h";
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_WINDOW_MS = 90 * UNIT_MS.d;

export interface AuditWindow {
  /** Normalised, e.g. "24h", "30m", "7d". */
  label: string;
  ms: number;
}

/** "24h", "1h", "30m", "7d" (also "90 min", "2 days"); null when not a window from 1 minute to 90 days. */
export function parseWindow(input: string | undefined = DEFAULT_WINDOW): AuditWindow | null {
  const m = /^\s*(\d{1,6})\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)\s*$/i.exec(input);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase()[0] as keyof typeof UNIT_MS;
  const ms = n * UNIT_MS[unit];
  if (n < 1 || ms > MAX_WINDOW_MS) return null;
  return { label: `${n}${unit}`, ms };
}

export interface Latency {
  samples: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface DirectionParity {
  /** Distinct source messages received in the window: delivered + pending + failed. */
  seen: number;
  /** Source messages the message map has in this chat (a message in several parts counts once). */
  delivered: number;
  pending: number;
  failed: number;
  failures: Array<{ reason: string; count: number }>;
  /** Done by the queue without a map row: not relayed by design (standby, sender without relay permission, own posts). */
  skipped: number;
  latency: Latency | null;
  /** True when nothing is pending or failed. */
  ok: boolean;
  /** "no messages lost" or "N pending, M failed". */
  verdict: string;
}

export interface LinkAudit {
  network: string;
  networkName: string;
  chat: string;
  name: string;
  loginId: string;
  directions: Record<AuditDirection, DirectionParity>;
}

export interface RoomAudit {
  roomId: string;
  alias: string | null;
  phase: CutoverPhase;
  links: LinkAudit[];
}

export interface AuditReport {
  window: string;
  since: string;
  until: string;
  /** No pending and no failed message in any audited chat. */
  ok: boolean;
  rooms: RoomAudit[];
}

export const DIRECTIONS: readonly AuditDirection[] = ["to_matrix", "from_matrix"];

export function verdictOf(p: Pick<DirectionParity, "pending" | "failed" | "skipped">): { ok: boolean; verdict: string } {
  if (p.pending === 0 && p.failed === 0) {
    return { ok: true, verdict: p.skipped ? `no messages lost (${p.skipped} not relayed: standby or filtered)` : "no messages lost" };
  }
  return { ok: false, verdict: `${p.pending} pending, ${p.failed} failed` };
}

/** Fold the store's rows for one link and direction into its parity. */
export function directionParity(counts: ParityCountRow[], latency: LatencyRow | undefined): DirectionParity {
  const sum = (cls: ParityCountRow["class"]) => counts.filter((c) => c.class === cls).reduce((n, c) => n + c.count, 0);
  const reasons = new Map<string, number>();
  for (const c of counts) if (c.class === "failed") reasons.set(c.reason ?? "unknown", (reasons.get(c.reason ?? "unknown") ?? 0) + c.count);
  const delivered = sum("delivered");
  const pending = sum("pending");
  const failed = sum("failed");
  const skipped = sum("skipped");
  return {
    seen: delivered + pending + failed, delivered, pending, failed, skipped,
    failures: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    latency: latency ? { samples: latency.samples, p50Ms: latency.p50Ms, p95Ms: latency.p95Ms, maxMs: latency.maxMs } : null,
    ...verdictOf({ pending, failed, skipped }),
  };
}

export interface AuditSources {
  store: Store;
  portals: PortalDirectory;
  connectors: ReadonlyMap<string, NetworkConnector>;
}

export function auditRepoOf(store: Store): AuditRepo {
  if (!store.audit) throw new CommandError("This bridge's store has no audit queries.");
  return store.audit;
}

/** Audit the given rooms (default: every bridged room) over the window ending now. */
export async function runAudit(src: AuditSources, window: AuditWindow, roomIds?: string[], now = Date.now()): Promise<AuditReport> {
  const repo = auditRepoOf(src.store);
  const since = new Date(now - window.ms);
  const rooms = (roomIds ?? src.portals.allPortals().map((p) => p.roomId))
    .filter((id) => src.portals.portal(id) && src.portals.linksOfRoom(id).length > 0);
  const [counts, latency] = rooms.length === 0 ? [[], []] : await Promise.all([repo.parity(since, rooms), repo.latency(since, rooms)]);
  const key = (r: { roomId: string; network: string; chat: string; direction: string }) => `${r.roomId}\u0000${r.network}\u0000${r.chat}\u0000${r.direction}`;
  const byKey = new Map<string, ParityCountRow[]>();
  for (const c of counts) byKey.set(key(c), [...(byKey.get(key(c)) ?? []), c]);
  const latByKey = new Map(latency.map((l) => [key(l), l]));

  const out: RoomAudit[] = rooms.map((roomId) => {
    const links = src.portals.linksOfRoom(roomId);
    return {
      roomId,
      alias: links.find((l) => l.alias)?.alias ?? null,
      phase: src.portals.portal(roomId)!.phase,
      links: links.map((l) => {
        const dir = (d: AuditDirection) => {
          const k = key({ roomId, network: l.network, chat: l.chat, direction: d });
          return directionParity(byKey.get(k) ?? [], latByKey.get(k));
        };
        return {
          network: l.network, networkName: src.connectors.get(l.network)?.displayName ?? l.network, chat: l.chat, name: l.name,
          loginId: l.loginId, directions: { to_matrix: dir("to_matrix"), from_matrix: dir("from_matrix") },
        };
      }),
    };
  });
  const ok = out.every((r) => r.links.every((l) => DIRECTIONS.every((d) => l.directions[d].ok)));
  return { window: window.label, since: since.toISOString(), until: new Date(now).toISOString(), ok, rooms: out };
}

/** "850 ms", "1.2 s", "3m 05s". */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}
