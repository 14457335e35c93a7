/** help, ping, status, list, sync. */
import { CommandError } from "../errors.js";
import type { Command } from "./registry.js";
import type { BridgeServices } from "./services.js";

const ago = (t: number | null) => {
  if (t === null) return "never";
  const s = Math.round((Date.now() - t) / 1000);
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

export function generalCommands(svc: BridgeServices): Command[] {
  const help: Command = {
    name: "help", level: "relay", help: "Show the commands you can use", args: "[network]",
    async run(ctx) {
      const network = ctx.args[0]?.toLowerCase();
      if (network) {
        const c = svc.connectors.get(network);
        if (!c) throw new CommandError(`No network called ${network}. Networks: ${[...svc.connectors.keys()].join(", ")}.`);
        await ctx.reply(`${c.displayName}: ${c.limitations ?? "no known limitations."}`);
        return;
      }
      const lines = svc.registry.visibleTo(ctx.level).map((c) => `• ${c.name}${c.args ? " " + c.args : ""}: ${c.help}`);
      const where = ctx.isManagementRoom ? "Commands (type them here as they are):" : "Commands (prefix them with the bridge's command prefix here):";
      await ctx.reply([where, ...lines].join("\n"));
    },
  };
  const ping: Command = { name: "ping", level: "relay", help: "Check that the bridge answers", run: (ctx) => ctx.reply("pong") };
  const status: Command = {
    name: "status", level: "user", help: "Connections, last successful message, errors, queue depth",
    async run(ctx) {
      const mine = svc.health.all().filter((h) => ctx.level === "admin" || h.ownerMxid === ctx.sender);
      const lines = mine.map((h) =>
        `• ${svc.connectors.get(h.network)?.displayName ?? h.network} ${h.name}: ${h.state}${h.message ? ` (${h.message})` : ""}, ` +
        `last message ${ago(h.lastSuccessAt)}, ${h.errors} errors, relayed ${h.relayed.toMatrix} in / ${h.relayed.fromMatrix} out`);
      const depth = await svc.queueDepth();
      const board = svc.health;
      const hs = board.homeserverSetupError ? `Homeserver: ${board.homeserverSetupError}` : board.homeserverError ? `Homeserver: unreachable (${board.homeserverError})` : "Homeserver: ok";
      const backfill = svc.backfillStatus?.(ctx.level === "admin" ? undefined : new Set(mine.map((h) => h.loginId))) ?? [];
      const detached = await svc.detachedStatus?.(ctx.level === "admin" ? undefined : ctx.sender) ?? [];
      await ctx.reply([lines.length ? "Connections:" : "No connections. Use `login app` (Slack) or `login telegram`.", ...lines,
        ...(detached.length ? ["Detached (logged out, waiting for a new login):", ...detached.map((d) => `• ${d}`)] : []),
        ...(backfill.length ? ["Backfill:", ...backfill.map((b) => `• ${b}`)] : []),
        ...(ctx.level === "admin" && svc.importStatus?.() ? [svc.importStatus()!] : []), hs, `Queue depth: ${depth}`].join("\n"));
    },
  };
  const list: Command = {
    name: "list", level: "user", help: "Your logins and portals",
    async run(ctx) {
      const logins = svc.logins().filter((l) => ctx.level === "admin" || l.ownerMxid === ctx.sender);
      const ids = new Set(logins.map((l) => l.id));
      const links = svc.portals.allPortals().flatMap((p) => svc.portals.linksOfRoom(p.roomId)).filter((l) => ids.has(l.loginId));
      const lines = [
        logins.length ? "Logins:" : "No logins.",
        ...logins.map((l) => `• ${l.network} ${l.name} (${l.id})`),
        links.length ? "Portals:" : "No portals yet.",
        ...links.map((l) => `• ${l.name} → ${l.alias ?? l.roomId} (${l.network})`),
      ];
      await ctx.reply(lines.join("\n"));
    },
  };
  const sync: Command = {
    name: "sync", level: "user", help: "Create portals for your most recent chats",
    async run(ctx) {
      const logins = svc.logins().filter((l) => l.ownerMxid === ctx.sender);
      if (logins.length === 0) throw new CommandError("You have no logins to sync. Use `login app` or `login telegram` first.");
      for (const l of logins) {
        const n = await svc.sync(l.id);
        await ctx.reply(`${svc.connectors.get(l.network)?.displayName ?? l.network} ${l.name}: ${n} new portal${n === 1 ? "" : "s"}.`);
      }
    },
  };
  return [help, ping, status, list, sync];
}
