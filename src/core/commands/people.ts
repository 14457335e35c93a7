/**
 * Who is who: `claim`, `map`, `unmap`, `mappings`. A mapping ties a Slack or Telegram user to
 * their Matrix account (core/people.ts); with double puppeting their messages then come from it.
 */
import { CommandError } from "../errors.js";
import type { NetworkConnector } from "../connector.js";
import type { Command, CommandContext } from "./registry.js";
import type { BridgeServices } from "./services.js";

export function peopleCommands(svc: BridgeServices): Command[] {
  const people = () => {
    if (!svc.people) throw new CommandError("This bridge keeps no person mappings.");
    return svc.people;
  };
  const networkOf = (word: string | undefined, usage: string): NetworkConnector => {
    const c = word ? svc.connectors.get(word.toLowerCase()) : undefined;
    if (!c) throw new CommandError(`Usage: ${usage} (networks: ${[...svc.connectors.keys()].join(", ")})`);
    return c;
  };

  const claim: Command = {
    name: "claim", level: "user", dmOnly: true, args: "<network> [your user id there] | <code>",
    help: "Prove that a Slack or Telegram account is yours: the bridge sends a one-time code to one side, you give it on the other",
    async run(ctx) {
      const first = ctx.args[0];
      if (!first) throw new CommandError("Usage: claim <network> [your user id there], then claim <code>");
      const connector = svc.connectors.get(first.toLowerCase());
      if (connector) return ctx.reply(await people().startClaim(ctx.sender, connector, ctx.args[1]));
      await ctx.reply(await people().redeemInMatrix(ctx.sender, first));
    },
  };

  const MAP_USAGE = "map <network> <remote user> <@user:server> | map <network> --by-email [--dry-run] | map <network> --csv FILE [--dry-run]";
  const map: Command = {
    name: "map", level: "admin", dmOnly: true, args: "<network> <remote user> <@user:server> | <network> --by-email|--csv FILE [--dry-run]",
    help: "Map remote users to Matrix accounts: one, by exact unique e-mail, or from a CSV file (remote user,Matrix user)",
    async run(ctx) {
      const connector = networkOf(ctx.args[0], MAP_USAGE);
      const rest = ctx.args.slice(1);
      const dryRun = rest.includes("--dry-run");
      const words = rest.filter((w) => w !== "--dry-run");
      if (words[0] === "--by-email" && words.length === 1) return ctx.reply(await people().byEmail(connector, ctx.sender, dryRun));
      if (words[0] === "--csv" && words.length === 2) return ctx.reply(await people().fromCsv(connector, words[1]!, ctx.sender, dryRun));
      if (words.length !== 2 || dryRun || words[0]!.startsWith("--")) throw new CommandError(`Usage: ${MAP_USAGE}`);
      const user = await people().resolveRemote(connector, words[0]!);
      const row = await people().map(connector.network, user, words[1]!, "admin", ctx.sender);
      await ctx.reply(`Mapped ${people().describe(row)} to ${row.mxid}.`);
    },
  };

  const unmap: Command = {
    name: "unmap", level: "user", dmOnly: true, args: "<network> <remote user>",
    help: "Remove a mapping (admins: anyone's; users: their own)",
    async run(ctx: CommandContext) {
      const connector = networkOf(ctx.args[0], "unmap <network> <remote user>");
      if (!ctx.args[1]) throw new CommandError("Usage: unmap <network> <remote user>");
      const mapped = people().directory.list().filter((m) => m.network === connector.network && (m.userRef === ctx.args[1] || m.userRef.endsWith(`:${ctx.args[1]}`)));
      if (mapped.length !== 1) throw new CommandError(mapped.length ? `${ctx.args[1]} is ambiguous: ${mapped.map((m) => m.userRef).join(", ")}` : `${connector.displayName} user ${ctx.args[1]} is not mapped.`);
      const row = mapped[0]!;
      if (ctx.level !== "admin" && row.mxid !== ctx.sender) throw new CommandError("Only an admin can remove someone else's mapping.");
      await people().directory.unmap(row.network, row.userRef, ctx.sender);
      await ctx.reply(`Unmapped ${people().describe(row)} (was ${row.mxid}).`);
    },
  };

  const mappings: Command = {
    name: "mappings", level: "admin", args: "[log]", help: "List person mappings, or (`mappings log`) the latest changes: who mapped whom, when, how",
    async run(ctx) {
      if (ctx.args[0] === "log") {
        const rows = await people().directory.history(50);
        return ctx.reply(rows.length ? ["Latest mapping changes:", ...rows.map((r) =>
          `• ${r.at.toISOString()} ${r.action} ${r.network} ${r.userRef} ↔ ${r.mxid} (${r.method}, by ${r.byMxid})`)].join("\n") : "No mapping changes yet.");
      }
      const rows = people().directory.list();
      await ctx.reply(rows.length ? [`${rows.length} mapping${rows.length === 1 ? "" : "s"}:`, ...rows.map((r) =>
        `• ${r.network} ${r.userRef} → ${r.mxid} (${r.method} by ${r.byMxid}, ${r.createdAt.toISOString()})`)].join("\n") : "No mappings. Users can `claim <network>`; admins can `map`.");
    },
  };
  return [claim, map, unmap, mappings];
}
