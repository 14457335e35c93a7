/**
 * Files both ways. Downloads use url_private with the bot token (only ever sent to Slack's own
 * hosts), only from Slack's file hosts (guarded-fetch.ts: https, public addresses) or the
 * origins the operator listed, and refuse HTML answers: Slack answers an unauthorised file request with its sign-in
 * page, which must never be bridged as the file. Uploads use the v2 flow
 * (files.getUploadURLExternal → POST the bytes → files.completeUploadExternal); Slack does not
 * say where the file was shared, so the message ts comes from our own file_share echo or, failing
 * that, from files.info's shares.
 */
import type { OutboundFile } from "../../core/connector.js";
import { RemoteError } from "../../core/errors.js";
import type { FileRef } from "../../core/types.js";
import type { SlackApi } from "./api.js";
import { parseFileRefId } from "./ids.js";
import { readCapped } from "../read-capped.js";
import { guardedFetch, type DownloadPolicy, type GuardedFetchOptions } from "../guarded-fetch.js";

/** Slack serves avatars up to 1024 px; anything much larger is not an avatar. */
const MAX_AVATAR_BYTES = 10 * 1024 * 1024;

/** Slack's file hosts: files.slack.com, the workspace's <name>.slack.com, GovSlack, public file links. */
const FILE_HOSTS = /(^|\.)(slack\.com|slack-gov\.com|slack-files\.com)$/;
/** Profile pictures: Slack's CDN, and Gravatar for people without an uploaded picture. */
const AVATAR_HOSTS = /(^|\.)(slack\.com|slack-gov\.com|slack-edge\.com|gravatar\.com)$/;
/** A whole file download; a silent connection gives up much sooner (guarded-fetch.ts). */
const DOWNLOAD_TIMEOUT_MS = 120_000;
/** Avatars are fetched while a message waits for its ghost: a slow picture host must not hold it. */
const AVATAR_TIMEOUT = { timeoutMs: 30_000, idleMs: 10_000 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export interface FilesOptions {
  apiUrl: string;
  maxFileSize: number;
  /** How long to look for the message an uploaded file landed in. */
  shareTimeoutMs: number;
  /** Origins the operator allowed downloads from besides Slack's own hosts (bridge.download_allowed_origins). */
  trustedOrigins: ReadonlySet<string>;
}

interface Waiter {
  fileIds: string[];
  resolve: (ts: string) => void;
}

export class SlackFiles {
  private readonly waiters = new Set<Waiter>();
  /** Shares seen before anyone asked (file id → ts), kept briefly. */
  private readonly seen = new Map<string, { ts: string; at: number }>();

  private readonly filePolicy: DownloadPolicy;
  private readonly avatarPolicy: DownloadPolicy;

  constructor(private readonly api: SlackApi, private readonly botToken: string, private readonly opts: FilesOptions) {
    this.filePolicy = { isNetworkHost: (h) => FILE_HOSTS.test(h), trustedOrigins: opts.trustedOrigins };
    this.avatarPolicy = { isNetworkHost: (h) => AVATAR_HOSTS.test(h), trustedOrigins: opts.trustedOrigins };
  }

  /** Only Slack's hosts (or the configured API host, for test servers) ever see the bot token. */
  private mayAuthorize(url: URL): boolean {
    const api = new URL(this.opts.apiUrl);
    if (url.origin === api.origin) return true;
    if (url.protocol !== "https:") return false;
    return /(^|\.)(slack\.com|slack-gov\.com|slack-files\.com|slack-edge\.com)$/.test(url.hostname);
  }

  async download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }> {
    const { fileId, url } = parseFileRefId(file.id);
    let source = url;
    if (!source) {
      const info = await this.api.call<{ file?: { url_private_download?: string; url_private?: string } }>("files.info", { file: fileId });
      source = info.file?.url_private_download ?? info.file?.url_private;
      if (!source) throw new RemoteError("file_not_found", `file ${fileId} has no download URL`, { retryable: false, userMessage: "the Slack file cannot be downloaded" });
    }
    const target = new URL(source);
    const headers: Record<string, string> = this.mayAuthorize(target) ? { Authorization: `Bearer ${this.botToken}` } : {};
    const { res, redirected } = await this.fetch(target, this.filePolicy, { headers, timeoutMs: DOWNLOAD_TIMEOUT_MS, what: "file download" });
    const type = res.headers.get("content-type") ?? "";
    const isHtml = /^text\/html/i.test(type);
    if (isHtml && (redirected || !/^text\/html/i.test(file.mime))) {
      await res.body?.cancel().catch(() => undefined);
      throw new RemoteError("file_auth", `Slack answered ${fileId} with a web page (sign-in redirect)`, {
        retryable: false, userMessage: "Slack did not let the bridge download the file (check the files:read scope)",
      });
    }
    const data = await readCapped(res, this.opts.maxFileSize, () => new RemoteError("file_too_large",
      `${file.name} is over ${this.opts.maxFileSize} bytes`, { retryable: false, userMessage: `the file ${file.name} is too large to bridge` }));
    return { data, mime: file.mime || type.split(";")[0]!.trim() || "application/octet-stream", name: file.name };
  }

  async downloadAvatar(avatar: string): Promise<{ data: Buffer; mime: string }> {
    const { res } = await this.fetch(new URL(avatar), this.avatarPolicy, { ...AVATAR_TIMEOUT, what: "avatar download" });
    const mime = (res.headers.get("content-type") ?? "image/png").split(";")[0]!.trim();
    if (!mime.startsWith("image/")) {
      await res.body?.cancel().catch(() => undefined);
      throw new RemoteError("avatar_not_image", `avatar answered ${mime}`, { retryable: false });
    }
    const data = await readCapped(res, MAX_AVATAR_BYTES, () => new RemoteError("avatar_too_large", `avatar is over ${MAX_AVATAR_BYTES} bytes`, { retryable: false }));
    return { data, mime };
  }

  private async fetch(url: URL, policy: DownloadPolicy, opts: GuardedFetchOptions): Promise<{ res: Response; redirected: boolean }> {
    const what = opts.what;
    const got = await guardedFetch(url, policy, opts);
    const res = got.res;
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      throw new RemoteError(`http_${res.status}`, `${what}: HTTP ${res.status}`, {
        retryable, userMessage: retryable ? undefined : `Slack answered HTTP ${res.status} for the file`,
      });
    }
    return got;
  }

  /** Upload files into a channel (and thread); resolves with the ts of the message they landed in. */
  async upload(channel: string, files: OutboundFile[], opts: { threadTs?: string; comment?: string }): Promise<string> {
    const ids: string[] = [];
    for (const f of files) {
      const slot = await this.api.call<{ upload_url?: string; file_id?: string }>("files.getUploadURLExternal", { filename: f.name, length: f.data.length });
      if (!slot.upload_url || !slot.file_id) throw new RemoteError("upload_failed", "files.getUploadURLExternal gave no URL", { retryable: true });
      let res: Response;
      try {
        res = await fetch(slot.upload_url, {
          method: "POST", body: new Uint8Array(f.data), headers: { "content-type": f.mime || "application/octet-stream" },
          signal: AbortSignal.timeout(300_000),
        });
      } catch (err) {
        throw new RemoteError("network", `file upload: ${err instanceof Error ? err.message : String(err)}`, { retryable: true, cause: err });
      }
      await res.text().catch(() => "");
      if (!res.ok) throw new RemoteError(`http_${res.status}`, `file upload: HTTP ${res.status}`, { retryable: res.status >= 500 });
      ids.push(slot.file_id);
    }
    const landed = this.expect(ids);
    try {
      await this.api.call("files.completeUploadExternal", {
        files: ids.map((id, i) => ({ id, title: files[i]!.name })),
        channel_id: channel,
        ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
        ...(opts.comment ? { initial_comment: opts.comment } : {}),
      });
      return await this.findShare(ids[0]!, channel, landed.promise) ?? ids[0]!;
    } finally {
      landed.cancel();
    }
  }

  /** Our own file_share echo arrived (called by the connection before anything else). */
  noteShare(fileIds: string[], ts: string): void {
    const now = Date.now();
    for (const [k, v] of this.seen) if (now - v.at > 60_000) this.seen.delete(k);
    for (const id of fileIds) this.seen.set(id, { ts, at: now });
    for (const w of this.waiters) if (w.fileIds.some((id) => fileIds.includes(id))) w.resolve(ts);
  }

  private expect(fileIds: string[]): { promise: Promise<string>; cancel: () => void } {
    let waiter!: Waiter;
    const promise = new Promise<string>((resolve) => {
      waiter = { fileIds, resolve };
    });
    this.waiters.add(waiter);
    const known = fileIds.map((id) => this.seen.get(id)?.ts).find(Boolean);
    if (known) waiter.resolve(known);
    return { promise, cancel: () => this.waiters.delete(waiter) };
  }

  private async findShare(fileId: string, channel: string, echo: Promise<string>): Promise<string | undefined> {
    const deadline = Date.now() + this.opts.shareTimeoutMs;
    let delay = 0;
    while (Date.now() < deadline) {
      const ts = await Promise.race([echo, sleep(delay).then(() => undefined)]);
      if (ts) return ts;
      const fromInfo = await this.shareFromInfo(fileId, channel).catch(() => undefined);
      if (fromInfo) return fromInfo;
      delay = Math.min(delay ? delay * 2 : 200, 2000);
    }
    return undefined;
  }

  private async shareFromInfo(fileId: string, channel: string): Promise<string | undefined> {
    type Share = { ts?: string };
    const info = await this.api.call<{ file?: { shares?: { public?: Record<string, Share[]>; private?: Record<string, Share[]> } } }>("files.info", { file: fileId });
    const shares = [...(info.file?.shares?.public?.[channel] ?? []), ...(info.file?.shares?.private?.[channel] ?? [])];
    const ts = shares.map((s) => s.ts).filter((t): t is string => !!t).sort((a, b) => Number(b) - Number(a));
    return ts[0];
  }
}
