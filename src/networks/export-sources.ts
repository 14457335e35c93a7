/**
 * The export readers by the name the CLI and the bot command use (`tandem import slack-export
 * FILE.zip`, `tandem import telegram-export DIR`), so the importer opens an export without knowing
 * either network's folder. Close the source when the import is done (it may hold the zip open).
 */
import type { HistorySource } from "../core/history-source.js";
import { SlackExportSource, type SlackExportOptions } from "./slack/export-source.js";
import { TelegramExportSource, type TelegramExportOptions } from "./telegram/export-source.js";

export const EXPORT_KINDS = ["slack-export", "telegram-export"] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export interface ExportSourceOptions {
  slack?: SlackExportOptions;
  telegram?: TelegramExportOptions;
}

export function isExportKind(kind: string): kind is ExportKind {
  return (EXPORT_KINDS as readonly string[]).includes(kind);
}

/** Opens an export; a file that is not what `kind` says fails here with an ExportFormatError naming it. */
export async function openExportSource(kind: ExportKind, path: string, opts: ExportSourceOptions = {}): Promise<HistorySource & { close(): Promise<void> }> {
  switch (kind) {
    case "slack-export": return SlackExportSource.open(path, opts.slack);
    case "telegram-export": return TelegramExportSource.open(path, opts.telegram);
  }
}
