/**
 * Cutover phases, per room or for all rooms: `cutover parallel | matrix-primary | standby
 * | rollback [all]` and `cutover status`. Every change is recorded (who, when, from, to).
 */
import type { CutoverPhase } from "../../store/api.js";
import { CommandError } from "../errors.js";
import type { Command } from "./registry.js";
import type { BridgeServices } from "./services.js";

const PHASES: Record<string, CutoverPhase> = {
  parallel: "parallel", "matrix-primary": "matrix-primary", standby: "standby", rollback: "parallel",
};

export function cutoverCommands(svc: BridgeServices): Command[] {
  const change: Command = {
    name: "cutover", level: "admin", help: "Move this room (or all rooms) to a cutover phase",
    args: "<parallel|matrix-primary|standby|rollback|status> [all]",
    async run(ctx) {
      const word = ctx.args[0]?.toLowerCase();
      if (word === "status") {
        const rooms = ctx.args[1] === "all" ? svc.portals.allPortals().map((p) => p.roomId) : [ctx.roomId];
        const lines: string[] = [];
        for (const roomId of rooms) {
          const p = svc.portals.portal(roomId);
          if (!p) continue;
          const hist = await svc.phaseHistory(roomId);
          const last = hist.at(-1);
          lines.push(`• ${roomId}: ${p.phase}` + (last ? ` (since ${last.at.toISOString()}, by ${last.byMxid}, from ${last.fromPhase})` : " (since creation)"));
          for (const h of hist.slice(-5).slice(0, -1)) lines.push(`    ${h.at.toISOString()} ${h.fromPhase} → ${h.toPhase} by ${h.byMxid}`);
        }
        return ctx.reply(lines.length ? ["Cutover:", ...lines].join("\n") : "This room is not bridged.");
      }
      const phase = word && Object.hasOwn(PHASES, word) ? PHASES[word] : undefined; // not "constructor"
      if (!phase) throw new CommandError("Usage: cutover <parallel|matrix-primary|standby|rollback|status> [all]");
      const all = ctx.args[1] === "all";
      const rooms = all ? svc.portals.allPortals().map((p) => p.roomId) : [ctx.roomId];
      if (!all && !svc.portals.portal(ctx.roomId)) throw new CommandError("This room is not bridged; use `cutover <phase> all` for every room.");
      let changed = 0;
      for (const roomId of rooms) if (await svc.changePhase(roomId, phase, ctx.sender, word === "rollback")) changed++;
      await ctx.reply(`${changed} room${changed === 1 ? "" : "s"} now in phase ${phase}${word === "rollback" ? " (rolled back)" : ""}.`);
    },
  };
  return [change];
}
