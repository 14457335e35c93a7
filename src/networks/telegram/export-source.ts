/**
 * A Telegram Desktop export ("Export chat history", machine-readable JSON) as a HistorySource
 * (`tandem import telegram-export DIR`, issue 14): a bot cannot read a chat's past at all, a member's
 * export can. DIR holds result.json (one chat, or a full export's `chats.list`) and the media
 * files beside it.
 *
 * Every message goes through the live mapping (inbound.ts) as the Bot API update it would have
 * been, so refs and keys are the live ones ("-100…" chat ids, "<chat>:<message id>" refs) and a
 * rerun or the live relay finds the message already bridged. result.json is one JSON document of
 * any size: it is streamed (export-json.ts), once when the export is opened, checking every
 * message's id, type and date (a broken message stops the import before anything is written,
 * naming the chat and the message), and again per chat as it is imported.
 * Other fields are read leniently (export-message.ts): a wrong width is "unknown", not an error.
 *
 * Chats a bot has no portal for are skipped with a note: personal and bot chats (a bot's DM with
 * a person is another chat, with other message ids), saved messages.
 */
import { readFile, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import type { Chat, Update } from "grammy/types";
import type { HistoryConversation, HistoryEvent, HistorySource, HistoryWindow } from "../../core/history-source.js";
import type { ChatInfo, FileRef, RemoteEvent, UserInfo, UserRef } from "../../core/types.js";
import { ExportFormatError } from "../export-error.js";
import { JsonScanError, scanExport } from "./export-json.js";
import { EXPORT_FILE_PREFIX, exportChatId, exportChatType, exportDate, exportPeerId, exportToMessage, missingMedia, type ExportChatKind } from "./export-message.js";
import { aliasLocalpart, chatRef, roomName, userRef } from "./ids.js";
import { chatKindOf, convertUpdate } from "./inbound.js";
import { toMatrixEmoji } from "./reactions.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export interface TelegramExportOptions {
  /** The bot's own user id: its joins and leaves are not ghost memberships (as live). */
  botId?: number;
}

interface ExportChat {
  name: string;
  kind: ExportChatKind;
  chat: Chat;
  /** Where its messages array is in result.json. */
  range: { start: number; end: number };
  /** Whether the export lists its messages in id order (Desktop does): then they are streamed. */
  sorted: boolean;
  /** Send times (s) of its messages (not service messages), for estimates. */
  dates: number[];
}

export class TelegramExportSource implements HistorySource {
  readonly network = "telegram";
  readonly describe: string;

  private constructor(
    private readonly dir: string,
    private readonly file: string,
    private readonly chats: ExportChat[],
    private readonly names: Map<string, string>,
    private readonly skipped: string[],
    private readonly opts: TelegramExportOptions,
  ) {
    this.describe = `Telegram export ${dir} (${chats.length} chat${chats.length === 1 ? "" : "s"})`;
  }

  /** `path` is the export folder or its result.json. */
  static async open(path: string, opts: TelegramExportOptions = {}): Promise<TelegramExportSource> {
    const isDir = await stat(path).then((s) => s.isDirectory(), (err: Error) => {
      throw new ExportFormatError(path, undefined, `cannot open: ${err.message}`, { cause: err });
    });
    const dir = resolve(isDir ? path : join(path, ".."));
    const file = isDir ? join(dir, "result.json") : resolve(path);
    const bad = (problem: string, cause?: unknown) => new ExportFormatError(dir, relative(dir, file), problem, cause ? { cause } : undefined);
    const chats: ExportChat[] = [];
    const skipped: string[] = [];
    const names = new Map<string, string>();
    // What is known of the chat being scanned; its fields come with its messages, the chat when it closes.
    let seen = { index: 0, lastId: 0, sorted: true, dates: [] as number[] };
    let chatIndex = 0;
    try {
      for await (const item of scanExport(file)) {
        if (item.kind === "message") {
          const where = `chat "${String(item.chatFields.name ?? chatIndex)}" (${String(item.chatFields.id ?? "?")}), message ${seen.index}`;
          let m: unknown;
          try {
            m = JSON.parse(item.raw.toString("utf8"));
          } catch (err) {
            throw bad(`${where}: not valid JSON at byte ${item.offset}: ${(err as Error).message}`, err);
          }
          const msg = checkMessage(m, (p) => bad(`${where}: ${p}`), names);
          if (msg.id <= seen.lastId) seen.sorted = false;
          seen.lastId = msg.id;
          if (msg.type === "message") seen.dates.push(msg.date);
          seen.index++;
          continue;
        }
        const { fields, messages } = item.chat;
        if (typeof fields.id !== "number" || typeof fields.type !== "string") throw bad(`chat ${chatIndex} needs a numeric "id" and a "type"`);
        const name = str(fields.name) ?? String(fields.id);
        const kind = exportChatType(fields.type);
        if (kind) {
          const chat = { id: exportChatId(fields.id, kind), type: kind, title: name } as Chat;
          chats.push({ name, kind, chat, range: messages, sorted: seen.sorted, dates: seen.dates });
        } else {
          skipped.push(`${name} (${fields.type})`);
        }
        seen = { index: 0, lastId: 0, sorted: true, dates: [] };
        chatIndex++;
      }
    } catch (err) {
      if (err instanceof ExportFormatError) throw err;
      const problem = err instanceof JsonScanError ? `not valid JSON: ${err.message}` : `cannot read: ${(err as Error).message}`;
      throw bad(problem, err);
    }
    if (chatIndex === 0) throw bad('neither a chat ("messages") nor a full export ("chats.list")');
    return new TelegramExportSource(dir, file, chats, names, skipped, opts);
  }

  /** Nothing is held open: result.json was read whole at open, media files are read on download. */
  async close(): Promise<void> {}

  notes(): string[] {
    const notes = ["chat ids: the export writes supergroups and channels without -100 and basic groups without -; mapped to the Bot API's ids"];
    if (this.skipped.length) notes.push(`skipped (a bot has no portal for them): ${this.skipped.join(", ")}`);
    return notes;
  }

  async *conversations(only?: string): AsyncIterable<HistoryConversation> {
    for (const c of this.chats) {
      const ref = chatRef(c.chat.id);
      if (only && only !== ref && only !== c.name && only !== `#${c.name}`) continue;
      const kind = chatKindOf(c.chat);
      const info: ChatInfo = { name: c.name, kind, aliasLocalpart: aliasLocalpart(c.chat.id), roomName: roomName(c.name, kind) };
      yield {
        network: "telegram", chat: ref, info,
        estimateMessages: async (w) => c.dates.filter((d) => inWindow(d * 1000, w)).length,
        events: (w) => this.events(c, w),
      };
    }
  }

  async userInfo(user: UserRef): Promise<UserInfo> {
    return { name: this.names.get(user) ?? user };
  }

  async download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }> {
    if (!file.id.startsWith(EXPORT_FILE_PREFIX)) throw new ExportFormatError(this.dir, undefined, `not a file of this export: ${file.id}`);
    const rel = file.id.slice(EXPORT_FILE_PREFIX.length);
    const full = resolve(this.dir, rel);
    // The path comes from result.json: it must not lead out of the export folder.
    if (!full.startsWith(this.dir + sep)) throw new ExportFormatError(this.dir, rel, "media path leads outside the export folder");
    try {
      return { data: await readFile(full), mime: file.mime, name: file.name };
    } catch (err) {
      throw new ExportFormatError(this.dir, rel, `media file cannot be read: ${(err as Error).message}`, { cause: err });
    }
  }

  private async *events(c: ExportChat, window: HistoryWindow): AsyncIterable<HistoryEvent> {
    for await (const m of this.messages(c)) {
      const date = exportDate(m)!;
      if (!inWindow(date * 1000, window)) continue;
      for (const ev of this.toEvents(m, c, date)) yield ev;
    }
  }

  /** The chat's messages, oldest first: streamed from result.json; held and sorted only if the export is out of order. */
  private async *messages(c: ExportChat): AsyncIterable<Obj> {
    const stream = async function* (file: string): AsyncIterable<Obj> {
      for await (const item of scanExport(file, c.range)) if (item.kind === "message") yield JSON.parse(item.raw.toString("utf8")) as Obj;
    };
    if (c.sorted) { yield* stream(this.file); return; }
    const all: Obj[] = [];
    for await (const m of stream(this.file)) all.push(m);
    yield* all.sort((a, b) => (a.id as number) - (b.id as number));
  }

  private toEvents(m: Obj, c: ExportChat, date: number): HistoryEvent[] {
    const msg = exportToMessage(m, c.chat, date);
    if (!msg) return [];
    const update = (c.kind === "channel" ? { update_id: 0, channel_post: msg } : { update_id: 0, message: msg }) as Update;
    const out: HistoryEvent[] = [];
    for (const ev of convertUpdate(update, { botId: this.opts.botId ?? 0 })) {
      if (ev.kind !== "message") { out.push(ev); continue; }
      const edited = Number(m.edited_unixtime);
      const files = ev.msg.files?.map((f) => ({ ...f, name: exportedName(m, f) }));
      const missing = missingMedia(m);
      const doc = missing ? [...ev.msg.doc, { type: "paragraph" as const, children: [{ type: "text" as const, text: `(${missing}: not included in the export)` }] }] : ev.msg.doc;
      out.push({
        ...ev, msg: { ...ev.msg, doc, ...(files ? { files } : {}) },
        ...(Number.isSafeInteger(edited) && edited > 0 ? { editedAt: edited * 1000 } : {}),
      });
      out.push(...reactions(m, ev.chat, ev.ref, ev.at));
    }
    return out;
  }
}

function inWindow(at: number, w: HistoryWindow): boolean {
  return (w.since === undefined || at >= w.since) && (w.until === undefined || at <= w.until);
}

/** The exported file's own name ("IMG_0001.jpg", "photo_3@05-01-2024_10-00-00.jpg"), not the Bot API default. */
function exportedName(m: Obj, f: FileRef): string {
  return str(m.file_name) ?? f.id.slice(EXPORT_FILE_PREFIX.length).split("/").pop() ?? f.name;
}

/**
 * Newer exports list reactions with their most recent reactors. The export has no reliable time
 * for them (a local date string), so each comes right after its message, keyed `react:<message>:<user>:import:+<emoji>`.
 */
function reactions(m: Obj, chat: string, target: string, at: number): RemoteEvent[] {
  const out: RemoteEvent[] = [];
  for (const r of Array.isArray(m.reactions) ? m.reactions : []) {
    if (!isObj(r) || r.type !== "emoji" || !str(r.emoji)) continue;
    for (const who of Array.isArray(r.recent) ? r.recent : []) {
      const peer = isObj(who) ? exportPeerId(who.from_id) : undefined;
      if (peer === undefined) continue;
      out.push({
        kind: "reaction", key: `react:${target}:${peer}:import:+${r.emoji as string}`, chat, at,
        target, sender: userRef(peer), emoji: toMatrixEmoji(r.emoji as string), on: true,
      });
    }
  }
  return out;
}

/** Checks one exported message as far as the import reads it, and remembers who wrote it. */
function checkMessage(m: unknown, bad: (problem: string) => Error, names: Map<string, string>): { id: number; type: string; date: number } {
  if (!isObj(m)) throw bad("not an object");
  if (!Number.isSafeInteger(m.id) || (m.id as number) <= 0) throw bad('no valid "id"');
  if (m.type !== "message" && m.type !== "service") throw bad(`unknown "type" ${JSON.stringify(m.type)}`);
  const date = exportDate(m);
  if (date === undefined) throw bad('no valid "date_unixtime" or "date"');
  for (const [idField, nameField] of [["from_id", "from"], ["actor_id", "actor"]] as const) {
    const peer = exportPeerId(m[idField]);
    const name = str(m[nameField]);
    if (peer !== undefined && name) names.set(userRef(peer), name);
  }
  return { id: m.id as number, type: m.type, date };
}
