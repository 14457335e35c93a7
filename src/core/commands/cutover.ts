/**
 * Cutover phases, per room or for all rooms: `cutover parallel | matrix-primary | standby
 * | rollback [all]` and `cutover status`. Every change is recorded (who, when, from, to).
 */
import type { CutoverPhase } from "../../store/api.js";
import { CommandError } from "../errors.js";
import type { Command, CommandContext } from "./registry.js";
import type { BridgeServices } from "./services.js";

const PHASES: Record<string, CutoverPhase> = {
  parallel: "parallel", "matrix-primary": "matrix-primary", standby: "standby", rollback: "parallel",
};

export function cutoverCommands(svc: BridgeServices): Command[] {
  const change: Command = {
    name: "cutover", level: "admin", help: "Move this room (or all rooms) to a cutover phase",
    args: "<parallel|matrix-primary|standby|rollback|finish|resume|status> [all] [--admins @a,@b]",
    async run(ctx) {
      const word = ctx.args[0]?.toLowerCase();
      if (word === "finish" || word === "resume") return endRun(svc, ctx, word);
      if (word === "status") {
        const rooms = ctx.args[1] === "all" ? svc.portals.allPortals().map((p) => p.roomId) : [ctx.roomId];
        const lines: string[] = [];
        for (const roomId of rooms) {
          const p = svc.portals.portal(roomId);
          if (!p) continue;
          const hist = await svc.phaseHistory(roomId);
          const last = hist.filter((h) => h.toPhase !== "finished" && h.toPhase !== "resumed").at(-1);
          lines.push(`• ${roomId}: ${p.phase}` + (last ? ` (since ${last.at.toISOString()}, by ${last.byMxid}, from ${last.fromPhase})` : " (since creation)"));
          const end = hist.filter((h) => h.toPhase === "finished").at(-1);
          if (svc.portals.linksOfRoom(roomId).some((l) => l.finishedAt) && end) lines.push(`    finished ${end.at.toISOString()} by ${end.byMxid}: not relayed (cutover resume relays again)`);
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

/** `cutover finish [all] [--admins @a,@b]` and `cutover resume [all]` (core/cutover-finish.ts). */
async function endRun(svc: BridgeServices, ctx: CommandContext, word: "finish" | "resume"): Promise<void> {
  const args = [...ctx.args.slice(1)];
  let admins: string[] | undefined;
  const flag = args.findIndex((a) => a === "--admins" || a.startsWith("--admins="));
  if (flag >= 0) {
    const value = args[flag]!.includes("=") ? args[flag]!.slice("--admins=".length) : args[flag + 1] ?? "";
    args.splice(flag, args[flag]!.includes("=") ? 1 : 2);
    admins = value.split(",").map((a) => a.trim()).filter(Boolean);
    const bad = admins.filter((a) => !/^@[^:\s]+:\S+$/.test(a));
    if (admins.length === 0 || bad.length) throw new CommandError(`--admins takes Matrix IDs separated by commas, e.g. --admins @alice:example.org,@bob:example.org${bad.length ? ` (not one: ${bad.join(", ")})` : ""}`);
  }
  const all = args[0]?.toLowerCase() === "all";
  if (args.length > (all ? 1 : 0)) throw new CommandError(`Usage: cutover ${word} [all]${word === "finish" ? " [--admins @a,@b]" : ""}`);
  if (!all && !svc.portals.portal(ctx.roomId)) throw new CommandError(`This room is not bridged; use \`cutover ${word} all\` for every room.`);
  const rooms = all ? svc.portals.allPortals().map((p) => p.roomId) : [ctx.roomId];
  const lines: string[] = [];
  for (const roomId of rooms) {
    if (word === "resume") {
      if (await svc.resumeCutover(roomId, ctx.sender)) lines.push(`• ${roomId}: relayed again`);
      continue;
    }
    try {
      const r = await svc.finishCutover(roomId, ctx.sender, admins);
      if (r) lines.push(`• ${roomId}: finished, admins ${r.admins.join(", ")}${r.powerNote ? `; ${r.powerNote}` : ""}`);
    } catch (err) {
      if (!all || !(err instanceof CommandError)) throw err;
      lines.push(`• ${roomId}: not finished: ${err.userMessage ?? err.message}`);
    }
  }
  await ctx.reply(lines.length ? [`Cutover ${word}:`, ...lines].join("\n") : `Nothing to ${word}: ${word === "finish" ? "already finished" : "not finished"}.`);
}
