/**
 * The export readers by the name the CLI and the bot command use (`tandem import slack-export
 * FILE.zip`, `tandem import telegram-export DIR`), so the importer opens an export without knowing
 * either network's folder. Close the source when the import is done (it may hold the zip open).
 *
 * `live` is a login of the export's network, when there is one: a Slack login downloads the
 * export's files with its token (only for its own workspace) and its app's posts in the export are
 * left out (they are Matrix messages already); a Telegram bot's own joins are left out.
 */
import type { Connection, LoginRecord } from "../core/connector.js";
import type { HistorySource } from "../core/history-source.js";
import { SlackExportSource, type SlackExportOptions } from "./slack/export-source.js";
import { TelegramExportSource, type TelegramExportOptions } from "./telegram/export-source.js";

export const EXPORT_KINDS = ["slack-export", "telegram-export"] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export interface ExportSourceOptions {
  live?: { login: LoginRecord; connection: Connection };
  slack?: SlackExportOptions;
  telegram?: TelegramExportOptions;
}

export function isExportKind(kind: string): kind is ExportKind {
  return (EXPORT_KINDS as readonly string[]).includes(kind);
}

/** Opens an export; a file that is not what `kind` says fails here with an ExportFormatError naming it. */
export async function openExportSource(kind: ExportKind, path: string, opts: ExportSourceOptions = {}): Promise<HistorySource & { close(): Promise<void> }> {
  const live = opts.live;
  switch (kind) {
    case "slack-export": {
      const fromLogin: SlackExportOptions = live?.login.network === "slack"
        ? { download: (f) => live.connection.download(f), downloadTeam: live.login.remoteId, isOwnUser: (u) => live.connection.isOwnUser(u) }
        : {};
      return SlackExportSource.open(path, { ...fromLogin, ...opts.slack });
    }
    case "telegram-export": {
      const botId = live?.login.network === "telegram" ? Number(live.login.remoteId) : undefined;
      return TelegramExportSource.open(path, { ...(botId ? { botId } : {}), ...opts.telegram });
    }
  }
}
