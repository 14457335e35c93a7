/**
 * Linking existing Matrix rooms to remote chats: `link <network> <chat>`, `unlink
 * [network]`, `links`. Needs power ≥ 50 in the room, or bridge admin. A room may be linked
 * to one chat per network, so one room can carry a Slack channel and a Telegram chat.
 */
import { CommandError } from "../errors.js";
import type { Command, CommandContext } from "./registry.js";
import type { BridgeServices } from "./services.js";

const ROOM_MODERATOR = 50;

async function requireRoomPower(svc: BridgeServices, ctx: CommandContext): Promise<void> {
  if (ctx.level === "admin") return;
  const pl = await svc.powerLevel(ctx.roomId, ctx.sender);
  if (pl < ROOM_MODERATOR) throw new CommandError(`You need power level ${ROOM_MODERATOR} in this room (you have ${pl}) or bridge admin to change its links.`);
}

export function linkCommands(svc: BridgeServices): Command[] {
  const networks = () => [...svc.connectors.keys()].join("|");
  const link: Command = {
    name: "link", level: "user", help: "Link this room to a remote chat", args: `<${networks()}> <channel or chat>`,
    async run(ctx) {
      const [network, ...rest] = ctx.args;
      const connector = network ? svc.connectors.get(network.toLowerCase()) : undefined;
      if (!connector || rest.length === 0) throw new CommandError(`Usage: link <${networks()}> <channel or chat>, e.g. link slack #general or link telegram -1001234567890`);
      if (ctx.isManagementRoom) throw new CommandError("Run link in the room you want to link (invite me there first), not in our private chat.");
      await requireRoomPower(svc, ctx);
      const row = await svc.linkRoom(ctx.roomId, connector.network, rest.join(" "), ctx.sender, ctx.level === "admin");
      const lines = [`Linked this room to ${connector.displayName} ${row.name}. Messages now flow both ways.`];
      if (connector.network === "telegram") lines.push("Telegram bots have no history API, so earlier messages of that chat are not imported.");
      const history = svc.backfillNote?.(ctx.roomId, connector.network);
      if (history) lines.push(history);
      await ctx.reply(lines.join("\n"));
    },
  };
  const unlink: Command = {
    name: "unlink", level: "user", help: "Remove this room's links (all, or one network's)", args: "[network]",
    async run(ctx) {
      await requireRoomPower(svc, ctx);
      const network = ctx.args[0]?.toLowerCase();
      const gone = await svc.portals.removeLinks(ctx.roomId, network);
      if (gone.length === 0) throw new CommandError(network ? `This room is not linked to ${network}.` : "This room is not linked to anything.");
      await ctx.reply(`Unlinked ${gone.map((l) => `${svc.connectors.get(l.network)?.displayName ?? l.network} ${l.name}`).join(" and ")}.`);
    },
  };
  const links: Command = {
    name: "links", level: "relay", help: "Show what this room is linked to",
    async run(ctx) {
      const rows = svc.portals.linksOfRoom(ctx.roomId);
      if (rows.length === 0) return ctx.reply("This room is not linked to any remote chat.");
      const phase = svc.portals.portal(ctx.roomId)?.phase ?? "parallel";
      await ctx.reply([`Links (phase: ${phase}):`, ...rows.map((l) => `• ${svc.connectors.get(l.network)?.displayName ?? l.network} ${l.name} (${l.chat}, via ${l.loginId})`)].join("\n"));
    },
  };
  return [link, unlink, links];
}
