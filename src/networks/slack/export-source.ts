/**
 * A Slack export zip as a HistorySource (`tandem import slack-export FILE.zip`, issue 14): for
 * conversations the app is not in, or a workspace that no longer exists.
 *
 * Messages go through the live inbound mapping (inbound.ts), so an exported message has the key
 * and refs it has when seen live or read from the API, and the import and the live relay are one
 * message-map entry. Day files are read one at a time from the zip (export-zip.ts); a day is parsed
 * and checked whole before any of it is yielded.
 *
 * Files: an export holds links only, and url_private needs a workspace token. With `download` (the
 * logged-in workspace's file download) messages keep their files; without it each file becomes a
 * link line in the message ("File: name"), so nothing is silently lost and nothing fails later.
 *
 * Reactions: the export lists who reacted, not when; each becomes a reaction right after its
 * message, keyed `react:<team>:<channel>:<ts>:<user>:<name>:add:import` as the API source keys
 * them (so an API import and an export import of one reaction are one); a live reaction's key
 * carries its event time, which neither has.
 */
import type { Doc } from "../../formatting/ast.js";
import { slackEmojiToUnicode } from "../../formatting/slack.js";
import type { HistoryConversation, HistoryEvent, HistorySource, HistoryWindow } from "../../core/history-source.js";
import type { FileRef, RemoteEvent, UserInfo, UserRef } from "../../core/types.js";
import { ExportFormatError } from "../export-error.js";
import { matchesConversation, readExportDirectory, type ExportConversation, type ExportDirectory } from "./export-directory.js";
import { ZipReader } from "./export-zip.js";
import { chatRef, messageRef, parseFileRefId, parseUserRef, roomName, tsToMs, userRef } from "./ids.js";
import { eventToRemote, type InboundContext } from "./inbound.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

const TS = /^\d+\.\d+$/;
/** One day of one channel; Slack's busiest channels stay far below this. */
const MAX_DAY_BYTES = 256 * 1024 * 1024;
const DAY_MS = 86_400_000;

export interface SlackExportOptions {
  /** The workspace id (T…), when users.json does not name it. */
  team?: string;
  /** The workspace's subdomain, for portal aliases as the live connector makes them (default: the team id). */
  teamDomain?: string;
  /** The bridge's own app (a login's `isOwnUser`): its posts in the export are Matrix messages already. */
  isOwnUser?: (user: UserRef) => boolean;
  /** A logged-in workspace's file download (files need its token); without it files become links. */
  download?: (file: FileRef) => Promise<{ data: Buffer; mime: string; name: string }>;
  /** The workspace `download` belongs to: another workspace's export gets links (its token would not open them). */
  downloadTeam?: string;
}

/** Numeric order of two Slack ts strings ("1700000000.000100"). */
function compareTs(a: string, b: string): number {
  const [as, af = ""] = a.split(".");
  const [bs, bf = ""] = b.split(".");
  return Number(as) - Number(bs) || Number(af.padEnd(6, "0")) - Number(bf.padEnd(6, "0"));
}

export class SlackExportSource implements HistorySource {
  readonly network = "slack";
  readonly describe: string;
  /** Bots have no users.json entry: their names come from the messages they posted. */
  private readonly botNames = new Map<string, string>();
  private readonly notesList: string[] = [];
  private readonly fetchFile?: SlackExportOptions["download"];

  private constructor(
    private readonly file: string,
    private readonly zip: ZipReader,
    private readonly dir: ExportDirectory,
    private readonly opts: SlackExportOptions,
  ) {
    this.describe = `Slack export ${file} (${dir.team}, ${dir.conversations.length} conversations)`;
    if (opts.download && (!opts.downloadTeam || opts.downloadTeam === dir.team)) this.fetchFile = opts.download;
    else if (opts.download) this.notesList.push(`files: the Slack login is for workspace ${opts.downloadTeam}, the export is of ${dir.team}: files are imported as links`);
    else this.notesList.push("files: no Slack login for this workspace, so files are imported as links (url_private needs its token)");
  }

  static async open(file: string, opts: SlackExportOptions = {}): Promise<SlackExportSource> {
    const zip = await ZipReader.open(file);
    try {
      return new SlackExportSource(file, zip, await readExportDirectory(zip, file, opts), opts);
    } catch (err) {
      await zip.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.zip.close();
  }

  notes(): string[] {
    return [...this.notesList];
  }

  async *conversations(only?: string): AsyncIterable<HistoryConversation> {
    for (const c of this.dir.conversations) {
      if (only && !matchesConversation(c, this.dir.team, only)) continue;
      yield this.conversation(c);
    }
  }

  async userInfo(user: UserRef): Promise<UserInfo> {
    const id = parseUserRef(user)?.user ?? user;
    const known = this.dir.users.get(id);
    if (known) return known;
    const bot = this.botNames.get(id);
    return bot ? { name: bot, isBot: true } : { name: id };
  }

  async download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }> {
    if (!this.fetchFile) {
      throw new ExportFormatError(this.file, undefined, `file ${parseFileRefId(file.id).fileId} is only a link in the export, and no Slack login can fetch it`);
    }
    return this.fetchFile(file);
  }

  private conversation(c: ExportConversation): HistoryConversation {
    return {
      network: "slack", chat: chatRef(this.dir.team, c.id), info: c.info,
      estimateMessages: async (window) => {
        let n = 0;
        for await (const ev of this.events(c, window)) if (ev.kind === "message") n++;
        return n;
      },
      events: (window) => this.events(c, window),
    };
  }

  /** Day files in date order; a day whose whole span lies outside the window is not even read. */
  private async *events(c: ExportConversation, window: HistoryWindow): AsyncIterable<HistoryEvent> {
    for (const entry of c.days) {
      // Day files are by date; a day of slack around each bound covers any time zone.
      const dayStart = Date.parse(entry.slice(-15, -5) + "T00:00:00Z");
      if (window.since !== undefined && dayStart + 2 * DAY_MS < window.since) continue;
      if (window.until !== undefined && dayStart - DAY_MS > window.until) continue;
      const messages = await this.readDay(entry);
      for (const m of messages) {
        for (const ev of this.toEvents(m, c)) {
          if (window.since !== undefined && ev.at < window.since) continue;
          if (window.until !== undefined && ev.at > window.until) continue;
          yield ev;
        }
      }
    }
  }

  /** One day, parsed and checked whole, oldest first. */
  private async readDay(entry: string): Promise<Obj[]> {
    const bad = (problem: string, cause?: unknown) => new ExportFormatError(this.file, entry, problem, cause ? { cause } : undefined);
    const text = (await this.zip.read(entry, MAX_DAY_BYTES)).toString("utf8");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw bad(`not valid JSON: ${(err as Error).message}`, err);
    }
    if (!Array.isArray(parsed)) throw bad("expected a JSON array of messages");
    parsed.forEach((m, i) => {
      if (!isObj(m)) throw bad(`message ${i} is not an object`);
      if (typeof m.ts !== "string" || !TS.test(m.ts)) throw bad(`message ${i} has no valid "ts"`);
    });
    return (parsed as Obj[]).sort((a, b) => compareTs(a.ts as string, b.ts as string));
  }

  private context(): InboundContext {
    return {
      team: this.dir.team,
      userName: (id) => this.dir.users.get(id)?.name, chatName: (id) => this.dir.channelNames.get(id),
    };
  }

  /** Events of one exported message, without the bridge's own (its posts, joins and reactions). */
  private toEvents(m: Obj, c: ExportConversation): HistoryEvent[] {
    const own = this.opts.isOwnUser;
    const events = this.eventsOf(m, c);
    return own ? events.filter((e) => !(("sender" in e && e.sender && own(e.sender)) || (e.kind === "membership" && own(e.user)))) : events;
  }

  private eventsOf(m: Obj, c: ExportConversation): HistoryEvent[] {
    const team = this.dir.team;
    const ts = m.ts as string;
    const chat = chatRef(team, c.id);
    const at = tsToMs(ts);
    const user = str(m.user);
    this.learnAuthor(m);
    switch (m.subtype) {
      case "channel_join": case "group_join": case "channel_leave": case "group_leave": {
        if (!user) return [];
        const joined = String(m.subtype).endsWith("join");
        return [{ kind: "membership", key: `${joined ? "join" : "leave"}:${team}:${c.id}:${user}:${ts}`, chat, at, user: userRef(team, user), joined }];
      }
      case "channel_name": case "group_name": {
        const name = str(m.name);
        return name ? [{ kind: "chat-info", key: `rename:${chat}:${ts}`, chat, at, info: { name, roomName: roomName("channel", name) } }] : [];
      }
    }
    const out: HistoryEvent[] = [];
    for (const ev of eventToRemote({ ...m, type: "message", channel: c.id }, this.context())) {
      if (ev.kind !== "message") { out.push(ev); continue; }
      const editedTs = isObj(m.edited) ? str(m.edited.ts) : undefined;
      const msg = this.fetchFile ? ev.msg : withFileLinks(ev.msg);
      out.push({ ...ev, msg, ...(editedTs ? { editedAt: tsToMs(editedTs) } : {}) });
      out.push(...this.reactions(m, c, ev.at));
    }
    return out;
  }

  private reactions(m: Obj, c: ExportConversation, at: number): RemoteEvent[] {
    const team = this.dir.team;
    const ts = m.ts as string;
    const out: RemoteEvent[] = [];
    for (const r of Array.isArray(m.reactions) ? m.reactions : []) {
      const name = isObj(r) ? str(r.name) : undefined;
      if (!name || !Array.isArray(r.users)) continue;
      const emoji = slackEmojiToUnicode(name) ?? `:${name}:`;
      for (const u of r.users) {
        if (typeof u !== "string") continue;
        out.push({
          kind: "reaction", key: `react:${team}:${c.id}:${ts}:${u}:${name}:add:import`, chat: chatRef(team, c.id), at,
          target: messageRef(team, c.id, ts), sender: userRef(team, u), emoji, on: true,
        });
      }
    }
    return out;
  }

  /** Bots and users missing from users.json (Slack Connect guests) name themselves in their messages. */
  private learnAuthor(m: Obj): void {
    const bot = str(m.bot_id);
    const botName = str(m.username) ?? (isObj(m.bot_profile) ? str(m.bot_profile.name) : undefined);
    if (bot && botName && !this.botNames.has(bot)) this.botNames.set(bot, botName);
    const user = str(m.user);
    if (user && !this.dir.users.has(user) && isObj(m.user_profile)) {
      const p = m.user_profile;
      const name = str(p.display_name) ?? str(p.real_name) ?? str(p.name);
      if (name) this.dir.users.set(user, { name, avatar: str(p.image_72) });
    }
  }
}

/** Without a login to fetch them, files become a "File: name" link line each. */
function withFileLinks<M extends { doc: Doc; files?: FileRef[] }>(msg: M): M {
  if (!msg.files?.length) return msg;
  const lines: Doc = msg.files.map((f) => {
    const url = f.link ?? parseFileRefId(f.id).url;
    return {
      type: "paragraph",
      children: url
        ? [{ type: "text", text: "File: " }, { type: "link", url, children: [{ type: "text", text: f.name }] }]
        : [{ type: "text", text: `File: ${f.name}` }],
    };
  });
  const { files: _files, ...rest } = msg;
  return { ...rest, doc: [...msg.doc, ...lines] } as M;
}
