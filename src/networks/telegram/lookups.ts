/**
 * Reading from Telegram for the core: chat info (getChat), user info (names seen in updates plus
 * getUserProfilePhotos), files (getFile + the file URL, or the local path a self-hosted Bot API
 * server in --local mode returns), avatars and `link telegram <chat>` resolution.
 *
 * The Bot API has no "get user": a user's name is learnt from the updates that show them (kept
 * here, bounded); a user never seen falls back to getChat, which works once they have talked to
 * the bot privately, and then to their id.
 *
 * Avatars are named "user:<id>:<file_unique_id>" / "chat:<id>:<file_unique_id>": the unique id
 * is stable, so the core re-uploads a ghost's or room's picture only when it really changed;
 * downloadAvatar looks the current file_id up again (file_ids are per bot and may change).
 */
import { readFile } from "node:fs/promises";
import type { Api } from "grammy";
import type { Chat, ChatFullInfo, User } from "grammy/types";
import type { Logger } from "../../core/log.js";
import { RemoteError } from "../../core/errors.js";
import type { ChatInfo, ChatRef, FileRef, UserInfo, UserRef } from "../../core/types.js";
import { isGrammyError, migratedTo, networkReason, scrubToken, toRemoteError } from "./errors.js";
import { aliasLocalpart, chatIdOf, chatRef, chatRefOf, displayName, formatSize, roomName, userIdOf } from "./ids.js";
import { chatKindOf, chatTitle } from "./inbound.js";
import { largestPhoto } from "./media.js";
import { readCapped } from "../read-capped.js";
import { guardedFetch, type DownloadPolicy } from "../guarded-fetch.js";

export interface LookupSettings {
  apiRoot: string;
  token: string;
  maxDownloadSize: number;
  /** Our bot's id (private chat refs are scoped by it). */
  botId: number;
}

const MAX_PEOPLE = 10_000;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
const OFFICIAL_API = "https://api.telegram.org";

/**
 * Files come from the configured Bot API root only. The official server's address is checked like
 * any network host (public addresses only); a self-hosted one is where the operator said it is,
 * often on loopback, so its origin is trusted as configured.
 */
function filePolicy(apiRoot: string): DownloadPolicy {
  const origin = new URL(apiRoot).origin;
  return origin === OFFICIAL_API
    ? { isNetworkHost: (h) => h === "api.telegram.org", trustedOrigins: new Set() }
    : { isNetworkHost: () => false, trustedOrigins: new Set([origin]) };
}
/** Profile photos are at most 640 px; anything much larger is not one. */
const MAX_AVATAR_BYTES = 10 * 1024 * 1024;

export class TelegramLookups {
  private readonly people = new Map<number, { name: string; isBot: boolean }>();
  private readonly forum = new Map<number, boolean>();

  private readonly policy: DownloadPolicy;

  constructor(private readonly api: Api, private readonly settings: LookupSettings, private readonly log: Logger) {
    this.policy = filePolicy(settings.apiRoot);
  }

  /**
   * Remember names (and forum flags) an update shows. Returns the ids whose name changed since
   * they were last seen (not those seen for the first time).
   */
  remember(seen: Array<User | Chat>): number[] {
    const renamed: number[] = [];
    for (const p of seen) {
      const name = "is_bot" in p ? displayName(p) : chatTitle(p);
      const before = this.people.get(p.id);
      if (before && before.name !== name && !renamed.includes(p.id)) renamed.push(p.id);
      this.people.delete(p.id); // re-insert: least recently seen first
      this.people.set(p.id, { name, isBot: "is_bot" in p ? p.is_bot : false });
      if (!("is_bot" in p) && p.type === "supergroup") this.forum.set(p.id, p.is_forum === true);
      if (this.people.size > MAX_PEOPLE) this.people.delete(this.people.keys().next().value as number);
    }
    return renamed;
  }

  noteForum(chat: Chat): void {
    if (chat.type === "supergroup") this.forum.set(chat.id, chat.is_forum === true);
  }

  async isForum(chatId: number): Promise<boolean> {
    const known = this.forum.get(chatId);
    if (known !== undefined) return known;
    const full = await this.getChat(chatId);
    const forum = full.type === "supergroup" && full.is_forum === true;
    this.forum.set(chatId, forum);
    return forum;
  }

  async chatInfo(chat: ChatRef): Promise<ChatInfo> {
    const full = await this.getChat(chatIdOf(chat));
    this.noteForum(full as Chat);
    const kind = chatKindOf(full);
    const name = chatTitle(full as Chat);
    const topic = full.description ?? full.bio;
    const username = "username" in full ? full.username : undefined;
    return {
      name, kind, roomName: roomName(name, kind), aliasLocalpart: aliasLocalpart(full.id, username),
      ...(topic ? { topic } : {}),
      ...(full.photo ? { avatar: `chat:${full.id}:${full.photo.big_file_unique_id}` } : {}),
    };
  }

  async userInfo(user: UserRef): Promise<UserInfo> {
    const id = userIdOf(user);
    if (id === null) throw new RemoteError("bad_user", `not a Telegram user ref: ${user}`, { retryable: false });
    if (id < 0) {
      // A channel or group speaking as itself: its title and photo.
      const full = await this.getChat(id);
      return { name: chatTitle(full as Chat), ...(full.photo ? { avatar: `chat:${id}:${full.photo.big_file_unique_id}` } : {}) };
    }
    let known = this.people.get(id);
    if (!known) {
      const full = await this.getChat(id).catch(() => null); // only works if they talked to the bot
      if (full && full.type === "private") known = { name: displayName(full), isBot: false };
    }
    let avatar: string | undefined;
    try {
      const photos = await this.api.getUserProfilePhotos(id, { limit: 1 });
      const best = largestPhoto(photos.photos[0] ?? []);
      if (best) avatar = `user:${id}:${best.file_unique_id}`;
    } catch (err) {
      this.log.debug("profile photo unavailable", { user: id, error: toRemoteError(err, "getUserProfilePhotos").message });
    }
    return { name: known?.name ?? user, ...(avatar ? { avatar } : {}), ...(known?.isBot ? { isBot: true } : {}) };
  }

  async download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }> {
    const limit = this.settings.maxDownloadSize;
    if (file.size !== undefined && file.size > limit) throw tooLarge(file, limit);
    let path: string | undefined;
    try {
      path = (await this.api.getFile(file.id)).file_path;
    } catch (err) {
      if (isGrammyError(err, 400, /file is too big/)) throw tooLarge(file, limit);
      throw toRemoteError(err, "getFile");
    }
    if (!path) throw new RemoteError("file_unavailable", `getFile gave no file_path for ${file.name}`, { retryable: false, userMessage: `Telegram did not hand out the file ${file.name}` });
    const { data, mime } = await this.fetchFile(path, limit, () => tooLarge(file, limit));
    return { data, mime: file.mime || mime, name: file.name };
  }

  async downloadAvatar(avatar: string): Promise<{ data: Buffer; mime: string }> {
    const m = /^(user|chat):(-?\d+):/.exec(avatar);
    let fileId = avatar;
    if (m?.[1] === "user") {
      const photos = await this.api.getUserProfilePhotos(Number(m[2]), { limit: 1 }).catch((err) => { throw toRemoteError(err, "getUserProfilePhotos"); });
      const best = largestPhoto(photos.photos[0] ?? []);
      if (!best) throw new RemoteError("no_avatar", "the user has no profile photo any more", { retryable: false });
      fileId = best.file_id;
    } else if (m?.[1] === "chat") {
      const full = await this.getChat(Number(m[2]));
      if (!full.photo) throw new RemoteError("no_avatar", "the chat has no photo any more", { retryable: false });
      fileId = full.photo.big_file_id;
    }
    const file = await this.api.getFile(fileId).catch((err) => { throw toRemoteError(err, "getFile"); });
    if (!file.file_path) throw new RemoteError("file_unavailable", "getFile gave no file_path for an avatar", { retryable: false });
    const { data, mime } = await this.fetchFile(file.file_path, MAX_AVATAR_BYTES,
      () => new RemoteError("avatar_too_large", `profile photo is over ${MAX_AVATAR_BYTES} bytes`, { retryable: false }));
    return { data, mime: mime.startsWith("image/") ? mime : "image/jpeg" };
  }

  /** `link telegram <chat id | @username | t.me/name>` → the chat, or null when the bot cannot see it. */
  async resolveChat(input: string): Promise<ChatRef | null> {
    const s = input.trim().replace(/^(https?:\/\/)?(t\.me|telegram\.me)\//i, "@");
    const ref: number | string | null = /^-?\d+$/.test(s) ? Number(s) : /^@?[A-Za-z]\w{3,}$/.test(s) ? `@${s.replace(/^@/, "")}` : null;
    if (ref === null) return null;
    try {
      return chatRefOf(await this.api.getChat(ref), this.settings.botId);
    } catch (err) {
      const to = migratedTo(err);
      if (to !== undefined) return chatRef(to);
      if (isGrammyError(err, 400) || isGrammyError(err, 403)) return null;
      throw toRemoteError(err, "getChat");
    }
  }

  private async getChat(chatId: number): Promise<ChatFullInfo> {
    if (Number.isNaN(chatId)) throw new RemoteError("bad_chat", "not a Telegram chat id", { retryable: false });
    try {
      return await this.api.getChat(chatId);
    } catch (err) {
      const to = migratedTo(err);
      if (to !== undefined) return this.api.getChat(to).catch((e) => { throw toRemoteError(e, "getChat"); });
      throw toRemoteError(err, "getChat");
    }
  }

  /** The file's bytes: from the Bot API's file URL, or from disk when a local server gives a path. */
  private async fetchFile(path: string, limit: number, over: () => RemoteError): Promise<{ data: Buffer; mime: string }> {
    if (path.startsWith("/")) {
      try {
        return { data: await readFile(path), mime: "application/octet-stream" };
      } catch (err) {
        throw new RemoteError("file_unavailable", `cannot read ${path} from the local Bot API server: ${networkReason(err)}`, { retryable: false, cause: err });
      }
    }
    const segments = path.split("/");
    // A file_path climbing out of /file/bot<token>/ is not a file of this bot.
    if (segments.some((p) => p === "." || p === "..")) throw new RemoteError("file_unavailable", "getFile gave a file_path with . or ..", { retryable: false });
    const url = new URL(`${this.settings.apiRoot}/file/bot${this.settings.token}/${segments.map(encodeURIComponent).join("/")}`);
    let res: Response;
    try {
      res = (await guardedFetch(url, this.policy, { timeoutMs: DOWNLOAD_TIMEOUT_MS, what: "Telegram file download" })).res;
    } catch (err) {
      // The URL carries the bot token: no cause (it may quote the URL), and a scrubbed message.
      const e = err instanceof RemoteError ? err : new RemoteError("network", networkReason(err), { retryable: true });
      throw new RemoteError(e.code, `Telegram file download failed: ${scrubToken(e.message)}`, { retryable: e.retryable, userMessage: e.userMessage });
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new RemoteError(res.status >= 500 || res.status === 429 ? "server_error" : "file_unavailable",
        `Telegram file download answered ${res.status}`, { retryable: res.status >= 500 || res.status === 429 });
    }
    return { data: await readCapped(res, limit, over), mime: res.headers.get("content-type")?.split(";")[0]?.trim() || "application/octet-stream" };
  }
}

function tooLarge(file: FileRef, limit: number): RemoteError {
  const size = file.size !== undefined ? ` (${formatSize(file.size)})` : "";
  const where = file.link ? `; it is at ${file.link}` : "";
  return new RemoteError("file_too_large", `${file.name}${size} is over telegram.max_download_size (${limit})`, {
    retryable: false,
    userMessage: `the file ${file.name}${size} is larger than the ${formatSize(limit)} a bot may download from Telegram${where}`,
  });
}
