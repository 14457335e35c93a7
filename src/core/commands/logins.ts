/** `login <flow>` for every flow a connector offers, and `logout <network> [id]`. */
import { CommandError, LoginError } from "../errors.js";
import type { NetworkConnector } from "../connector.js";
import type { Command } from "./registry.js";
import type { BridgeServices } from "./services.js";

export function loginCommands(svc: BridgeServices): Command[] {
  const out: Command[] = [];
  for (const connector of svc.connectors.values()) {
    for (const flow of connector.loginFlows()) {
      out.push({
        name: `login ${flow.id}`, level: "user", dmOnly: true, help: flow.help,
        args: flow.steps.map((s) => `[${s.key}]`).join(" "),
        async run(ctx) {
          const known: Record<string, string> = {};
          flow.steps.forEach((s, i) => { if (ctx.args[i] !== undefined) known[s.key] = ctx.args[i]!; });
          if (flow.steps.some((s, i) => s.secret && ctx.args[i] !== undefined)) {
            await ctx.redactSource().catch(() => ctx.reply("I could not remove your message; please delete it yourself, it contains a secret."));
          }
          for (const [i, s] of flow.steps.entries()) {
            const v = ctx.args[i];
            if (v !== undefined && s.pattern && !s.pattern.test(v)) throw new CommandError(s.patternHint ?? `The ${s.key} does not look right.`);
          }
          await ctx.ask(flow.steps, known, async (values) => {
            try {
              const result = await flow.complete(values);
              await svc.completeLogin(ctx.sender, connector, result);
              await ctx.reply([result.reply, ...(result.warnings ?? [])].join("\n"));
            } catch (err) {
              if (err instanceof LoginError) throw err;
              throw new LoginError(`Login failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
            }
          });
        },
      });
    }
  }
  out.push({
    name: "logout", level: "user", dmOnly: true, help: "Log out of a network", args: "<network> [login id]",
    async run(ctx) {
      const network = ctx.args[0]?.toLowerCase();
      const connector: NetworkConnector | undefined = network ? svc.connectors.get(network) : undefined;
      if (!connector) throw new CommandError(`Usage: logout <${[...svc.connectors.keys()].join("|")}> [login id]`);
      const mine = svc.logins().filter((l) => l.network === connector.network && l.ownerMxid === ctx.sender);
      const chosen = ctx.args[1] ? mine.filter((l) => l.id === ctx.args[1] || l.remoteId === ctx.args[1]) : mine;
      if (chosen.length === 0) throw new CommandError(`You have no ${connector.displayName} login${ctx.args[1] ? ` ${ctx.args[1]}` : ""}.`);
      if (chosen.length > 1) throw new CommandError(`You have several ${connector.displayName} logins; say which: ${chosen.map((l) => l.id).join(", ")}`);
      await svc.logout(chosen[0]!.id);
      await ctx.reply(`Logged out of ${connector.displayName} ${chosen[0]!.name}. Its portals stay, but nothing is relayed until you log in again.`);
    },
  });
  return out;
}
