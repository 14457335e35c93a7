/**
 * `space add`: put this linked room into the space of each login it is bridged through (rooms
 * created or linked after the space exist join it by themselves). Needs power ≥ 50 in the room,
 * or bridge admin, as `link` does.
 */
import { CommandError } from "../errors.js";
import type { Command } from "./registry.js";
import type { BridgeServices } from "./services.js";

export function spaceCommands(svc: BridgeServices): Command[] {
  const add: Command = {
    name: "space add", level: "user", help: "Add this linked room to its workspace's or bot's space",
    async run(ctx) {
      if (svc.portals.linksOfRoom(ctx.roomId).length === 0) throw new CommandError("This room is not linked to any remote chat; link it first.");
      if (ctx.level !== "admin") {
        const pl = await svc.powerLevel(ctx.roomId, ctx.sender);
        if (pl < 50) throw new CommandError(`You need power level 50 in this room (you have ${pl}) or bridge admin to add it to a space.`);
      }
      const spaces = await svc.spaces.addRoom(ctx.roomId);
      if (spaces.length === 0) throw new CommandError("The logins this room is linked through have no space yet (it is made at login, or at the next start).");
      await ctx.reply(`Added this room to ${spaces.length === 1 ? "its space" : `${spaces.length} spaces`}: ${spaces.join(", ")}.`);
    },
  };
  return [add];
}
