/**
 * Writes a Telegram Desktop export folder ("Export chat history", format: machine-readable JSON)
 * as Desktop writes it: result.json (one chat `{name, type, id, messages}`, or a full export
 * `{chats: {list: […]}}`) with the media files in folders beside it (photos/, files/, …).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

export type TelegramJson = Record<string, unknown>;

/** A text run: plain text, or an entity as `text_entities` writes it ({type: "bold", text: "…"}). */
export type TelegramRun = string | ({ type: string; text: string } & TelegramJson);

export interface TelegramExportChat {
  name: string;
  /** "private_supergroup", "public_channel", "private_group", "personal_chat", … */
  type: string;
  /** As the export writes it: a supergroup's or channel's id without "-100". */
  id: number;
  messages: TelegramJson[];
}

export interface TelegramExportSpec {
  /** One chat: written as a single-chat export; several: as a full export's `chats.list`. */
  chats: TelegramExportChat[];
  /** Media files, by path relative to the folder ("photos/photo_1@05-01-2024_10-00-00.jpg"). */
  files?: Record<string, string | Uint8Array>;
  /** result.json written exactly as given instead (for malformed exports). */
  rawResult?: string;
}

/** `text` and `text_entities` as Desktop writes them for these runs. */
export function tgText(...runs: TelegramRun[]): { text: string | unknown[]; text_entities: TelegramJson[] } {
  const entities = runs.map((r) => (typeof r === "string" ? { type: "plain", text: r } : r));
  const styled = runs.some((r) => typeof r !== "string");
  return { text: styled ? runs : runs.join(""), text_entities: entities };
}

/** "2024-01-05T10:00:00" as Desktop writes `date` (local time; here UTC) for seconds since epoch. */
export function tgDate(unix: number): string {
  return new Date(unix * 1000).toISOString().slice(0, 19);
}

/** A user's message. */
export function tgMessage(id: number, unix: number, user: { id: number; name: string }, runs: TelegramRun[], extra: TelegramJson = {}): TelegramJson {
  return {
    id, type: "message", date: tgDate(unix), date_unixtime: String(unix),
    from: user.name, from_id: `user${user.id}`, ...tgText(...runs), ...extra,
  };
}

/** A service message (`action`: "join_group_by_link", "edit_group_title", "topic_created", …). */
export function tgService(id: number, unix: number, actor: { id: number; name: string }, action: string, extra: TelegramJson = {}): TelegramJson {
  return {
    id, type: "service", date: tgDate(unix), date_unixtime: String(unix),
    actor: actor.name, actor_id: `user${actor.id}`, action, text: "", text_entities: [], ...extra,
  };
}

export async function writeTelegramExport(dir: string, spec: TelegramExportSpec): Promise<void> {
  await mkdir(dir, { recursive: true });
  const result = spec.chats.length === 1
    ? spec.chats[0]
    : { about: "Here is the data you requested.", chats: { about: "This page lists all chats from this export.", list: spec.chats } };
  await writeFile(join(dir, "result.json"), spec.rawResult ?? JSON.stringify(result, null, 1));
  for (const [rel, content] of Object.entries(spec.files ?? {})) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
}
