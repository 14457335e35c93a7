/**
 * `import <network> [--conversation X] [--since D] [--until D] [--dry-run]`, `import status`,
 * `import stop` (admins, in the bot DM): the history import of core/history-import. The status
 * message in the DM is edited as the import goes; `status` shows it too.
 */
import { CommandError } from "../errors.js";
import { describeImport } from "../history-import/progress.js";
import type { HistoryImports, ImportRequest } from "../history-import/importer.js";
import type { Command } from "./registry.js";

const USAGE = "Usage: import <network> [--conversation <chat>] [--since <date>] [--until <date>] [--dry-run] [--login <id>], " +
  "import slack-export <file.zip> …, import telegram-export <folder> …, import status, import stop";

/** A date as typed (2024-01-31, an ISO time, or ms since the epoch) → ms; a clear error otherwise. */
export function parseDate(flag: string, text: string | undefined): number {
  if (!text) throw new CommandError(`${flag} needs a date, e.g. ${flag} 2024-01-31`);
  const ms = /^\d{10,}$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new CommandError(`${flag}: "${text}" is not a date (try 2024-01-31 or 2024-01-31T12:00:00Z)`);
  return ms;
}

/** The words after `import <network>` → a request; unknown words are an error, never ignored. */
export function parseImportArgs(network: string, words: string[], by: string): ImportRequest {
  const req: ImportRequest = { network, by };
  if (network.endsWith("-export")) {
    // An export's path comes first (on the bridge's host).
    if (!words[0] || words[0].startsWith("--")) throw new CommandError(`import ${network} needs the export's path first. ${USAGE}`);
    req.path = words[0];
    words = words.slice(1);
  }
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const value = () => words[++i];
    switch (w) {
      case "--conversation": case "-c": req.conversation = value(); if (!req.conversation) throw new CommandError("--conversation needs a chat (#general, C0123…)"); break;
      case "--since": req.since = parseDate(w, value()); break;
      case "--until": req.until = parseDate(w, value()); break;
      case "--dry-run": req.dryRun = true; break;
      case "--login": req.loginId = value(); break;
      default: throw new CommandError(`Unknown option ${w}. ${USAGE}`);
    }
  }
  if (req.since !== undefined && req.until !== undefined && req.since > req.until) throw new CommandError("--since is after --until");
  return req;
}

export function importCommands(imports: HistoryImports): Command[] {
  return [{
    name: "import", level: "admin", dmOnly: true, help: "Import the whole history of a network's conversations (resumable)",
    args: "<network|status|stop> [--conversation X] [--since D] [--until D] [--dry-run]",
    async run(ctx) {
      const word = ctx.args[0]?.toLowerCase();
      if (!word) throw new CommandError(USAGE);
      if (word === "status") {
        const s = imports.snapshot();
        return ctx.reply(s ? describeImport(s) : "No import has run since the bridge started.");
      }
      if (word === "stop") {
        const s = await imports.stop();
        if (!s) return ctx.reply("No import is running.");
        return ctx.reply(s.state === "stopping"
          ? "Stopping at the next message (the import's status message says when it has). Run the same import again to resume."
          : `Stopped. ${describeImport(s)}\nRun the same import again to resume.`);
      }
      await imports.start({ ...parseImportArgs(word, ctx.args.slice(1), ctx.sender), statusRoom: ctx.roomId });
    },
  }];
}
