/**
 * An export on disk (a Slack export zip, a Telegram Desktop export) that cannot be read as its
 * format says. The message names the file and the entry, so an operator can find the broken part;
 * nothing of the entry is yielded, so a half-read day or chat never reaches the import.
 */
import { TandemError } from "../core/errors.js";

export class ExportFormatError extends TandemError {
  readonly code = "export_format";
  /** The export on disk (zip file or folder). */
  readonly file: string;
  /** The entry inside it ("general/2024-01-05.json", "result.json"), when one is to blame. */
  readonly entry?: string;
  constructor(file: string, entry: string | undefined, problem: string, options?: ErrorOptions) {
    const where = entry ? `${file}: ${entry}` : file;
    super(`${where}: ${problem}`, { ...options, userMessage: `The export cannot be read (${where}): ${problem}` });
    this.file = file;
    this.entry = entry;
  }
}
