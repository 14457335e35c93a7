/**
 * `audit [window] [all]`: the parity audit as a command. In a bridged room it audits that
 * room's links; in the DM with the bot (or with `all`) every room for an admin, and the
 * rooms linked through one's own logins for anyone else. Replies with a compact table per
 * chat and direction and a verdict: "no messages lost" or "N pending, M failed".
 */
import { escapeHtml } from "../../formatting/escape.js";
import type { Store } from "../../store/api.js";
import { DEFAULT_WINDOW, DIRECTIONS, formatMs, parseWindow, runAudit, type AuditReport, type DirectionParity, type LinkAudit } from "../audit.js";
import type { LoginRecord, NetworkConnector } from "../connector.js";
import { CommandError } from "../errors.js";
import type { PortalDirectory } from "../portals.js";
import type { Command } from "./registry.js";

/** What the command needs; BridgeCore provides it. */
export interface AuditServices {
  readonly deps: { readonly store: Store };
  readonly portals: PortalDirectory;
  readonly connectors: ReadonlyMap<string, NetworkConnector>;
  logins(): LoginRecord[];
}

/** Rooms shown in one reply; the HTTP endpoint has them all. */
const MAX_ROOMS = 30;
const USAGE = `Usage: audit [window] [all], e.g. audit, audit 1h, audit 7d all (window: 30m, 1h, 24h, 7d; default ${DEFAULT_WINDOW}).`;

export function auditCommands(svc: AuditServices): Command[] {
  const audit: Command = {
    name: "audit", level: "user", help: "Parity audit: messages seen, delivered, pending, failed and latency per linked chat", args: "[window] [all]",
    async run(ctx) {
      let all = false;
      let windowArg: string | undefined;
      for (const a of ctx.args) {
        if (a.toLowerCase() === "all") all = true;
        else if (windowArg === undefined) windowArg = a;
        else throw new CommandError(USAGE);
      }
      const window = parseWindow(windowArg);
      if (!window) throw new CommandError(`I don't understand the window "${windowArg}". ${USAGE}`);

      let roomIds: string[];
      if (all || ctx.isManagementRoom) {
        if (ctx.level === "admin") roomIds = svc.portals.allPortals().map((p) => p.roomId);
        else {
          const mine = new Set(svc.logins().filter((l) => l.ownerMxid === ctx.sender).map((l) => l.id));
          roomIds = svc.portals.allPortals().map((p) => p.roomId).filter((id) => svc.portals.linksOfRoom(id).some((l) => mine.has(l.loginId)));
        }
      } else {
        if (svc.portals.linksOfRoom(ctx.roomId).length === 0) {
          throw new CommandError("This room is not linked to any remote chat. Run `audit` in our private chat to audit every room you bridge.");
        }
        roomIds = [ctx.roomId];
      }
      const report = await runAudit({ store: svc.deps.store, portals: svc.portals, connectors: svc.connectors }, window, roomIds);
      if (report.rooms.length === 0) return ctx.reply(`No bridged rooms to audit. ${USAGE}`);
      const { text, html } = formatReport(report);
      await ctx.reply(text, html);
    },
  };
  return [audit];
}

const label = (l: LinkAudit, d: (typeof DIRECTIONS)[number]) =>
  d === "to_matrix" ? `${l.networkName} ${l.name} → Matrix` : `Matrix → ${l.networkName} ${l.name}`;
const reasons = (p: DirectionParity) => p.failures.map((f) => `${f.reason} ×${f.count}`).join(", ");
const latency = (p: DirectionParity) =>
  p.latency ? `p50 ${formatMs(p.latency.p50Ms)}, p95 ${formatMs(p.latency.p95Ms)}, max ${formatMs(p.latency.maxMs)}` : "no latency samples";

/** The reply: one line (text) or table row (HTML) per linked chat and direction. */
export function formatReport(report: AuditReport): { text: string; html: string } {
  const since = report.since.replace("T", " ").slice(0, 16) + " UTC";
  const head = `Parity audit, last ${report.window} (since ${since}): ${report.ok ? "no messages lost" : "messages pending or failed"}`;
  const lines = [head];
  const rows: string[] = [];
  const shown = report.rooms.slice(0, MAX_ROOMS);
  for (const room of shown) {
    const title = `${room.alias ?? room.roomId} (phase ${room.phase})`;
    lines.push(title);
    rows.push(`<tr><th colspan="9">${escapeHtml(title)}</th></tr>`);
    for (const l of room.links) {
      for (const d of DIRECTIONS) {
        const p = l.directions[d];
        const why = p.failures.length ? ` [${reasons(p)}]` : "";
        lines.push(`• ${label(l, d)}: ${p.seen} seen, ${p.delivered} delivered, ${p.pending} pending, ${p.failed} failed${why}; ${latency(p)} — ${p.verdict}`);
        const ms = (v?: number) => (v === undefined ? "–" : formatMs(v));
        rows.push("<tr>" + [
          label(l, d), String(p.seen), String(p.delivered), String(p.pending), p.failed + why,
          ms(p.latency?.p50Ms), ms(p.latency?.p95Ms), ms(p.latency?.maxMs), p.verdict,
        ].map((c) => `<td>${escapeHtml(c)}</td>`).join("") + "</tr>");
      }
    }
  }
  const more = report.rooms.length - shown.length;
  if (more > 0) lines.push(`… and ${more} more room${more === 1 ? "" : "s"} (GET /audit on the metrics listener has them all).`);
  const html = `<p>${escapeHtml(head)}</p><table><thead><tr><th>chat</th><th>seen</th><th>delivered</th><th>pending</th><th>failed</th>` +
    `<th>p50</th><th>p95</th><th>max</th><th>verdict</th></tr></thead><tbody>${rows.join("")}</tbody></table>` +
    (more > 0 ? `<p>${escapeHtml(lines.at(-1)!)}</p>` : "");
  return { text: lines.join("\n"), html };
}
