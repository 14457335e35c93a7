/**
 * A small client-server API client for the appservice's hot path (sending as a ghost, joining):
 * plain node:http(s) with keep-alive, the as_token and `user_id` identity assertion.
 *
 * Why not an Intent: matrix-bot-sdk makes one Intent (and MatrixClient) per ghost, kept 15 minutes
 * after its last use (about 9 KB each: 10,000 active ghosts hold ~90 MB), and sends through the
 * `request` library, the largest single CPU cost per relayed message in `npm run bench`'s profile.
 * Errors have the fields toMatrixError reads (statusCode, errcode, error, body, code).
 */
import http from "node:http";
import https from "node:https";
import { MatrixError } from "../core/errors.js";

export interface AsRequest {
  /** Act as this user (`user_id`); omitted for the appservice's own bot. */
  userId?: string;
  query?: Record<string, string | number>;
  body?: unknown;
}

export class AsHttpError extends Error {
  readonly statusCode?: number;
  readonly errcode?: string;
  readonly error?: string;
  readonly retryAfterMs?: number;
  readonly body?: { errcode?: string; error?: string; retry_after_ms?: number };
  readonly code?: string;
  constructor(message: string, fields: { statusCode?: number; body?: AsHttpError["body"]; code?: string }) {
    super(message);
    this.statusCode = fields.statusCode;
    this.body = fields.body;
    this.errcode = fields.body?.errcode;
    this.error = fields.body?.error;
    this.retryAfterMs = fields.body?.retry_after_ms;
    this.code = fields.code;
  }
}

export class AsHttp {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly mod: typeof http | typeof https;

  constructor(homeserverUrl: string, private readonly asToken: string, private readonly timeoutMs = 60_000) {
    this.base = new URL(homeserverUrl.endsWith("/") ? homeserverUrl : `${homeserverUrl}/`);
    this.mod = this.base.protocol === "https:" ? https : http;
    this.agent = new this.mod.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 });
  }

  request<T = Record<string, unknown>>(method: string, path: string, opts: AsRequest = {}): Promise<T> {
    const url = new URL(path.replace(/^\//, ""), this.base);
    if (opts.userId) url.searchParams.set("user_id", opts.userId);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, String(v));
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    return new Promise<T>((resolve, reject) => {
      const req = this.mod.request(url, {
        method, agent: this.agent,
        headers: {
          authorization: `Bearer ${this.asToken}`, accept: "application/json",
          ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => reject(new AsHttpError(err.message, { code: (err as NodeJS.ErrnoException).code })));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          let body: unknown;
          try {
            body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
          } catch {
            body = undefined;
          }
          if (status >= 200 && status < 300 && body !== undefined) return resolve(body as T);
          const b = (typeof body === "object" && body !== null ? body : {}) as AsHttpError["body"];
          reject(new AsHttpError(`${method} ${url.pathname}: HTTP ${status} ${b?.errcode ?? ""} ${b?.error ?? ""}`.trim(), { statusCode: status, body: b }));
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error(`timed out after ${this.timeoutMs} ms`), { code: "ETIMEDOUT" })));
      req.on("error", (err) => reject(new AsHttpError(err.message, { code: (err as NodeJS.ErrnoException).code ?? "ECONNRESET" })));
      req.end(payload);
    });
  }

  /**
   * GET a media download from the homeserver, reading at most `maxBytes`: a larger answer (by its
   * Content-Length or, when it has none, as it streams) is cut off and rejected with a
   * non-retryable MatrixError M_TOO_LARGE, so a huge file is never held in memory.
   */
  download(url: string, maxBytes: number): Promise<{ data: Buffer; mime: string }> {
    const target = new URL(url);
    // The as_token goes to the homeserver only.
    if (target.origin !== this.base.origin) return Promise.reject(new AsHttpError(`media URL ${target.origin} is not the homeserver`, { code: "EBADURL" }));
    target.searchParams.set("allow_remote", "true");
    const tooLarge = () => new MatrixError("M_TOO_LARGE", `download media: over ${maxBytes} bytes`, { retryable: false });
    return new Promise((resolve, reject) => {
      const req = this.mod.request(target, {
        method: "GET", agent: this.agent, headers: { authorization: `Bearer ${this.asToken}` },
      }, (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const declared = Number(res.headers["content-length"] ?? NaN);
        // An error answer is small JSON; read at most 64 KiB of it.
        const cap = ok ? maxBytes : 65_536;
        if (ok && declared > cap) {
          res.destroy();
          return reject(tooLarge());
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > cap) {
            res.destroy();
            return reject(ok ? tooLarge() : new AsHttpError(`GET ${target.pathname}: HTTP ${status}`, { statusCode: status }));
          }
          chunks.push(c);
        });
        res.on("error", (err) => reject(new AsHttpError(err.message, { code: (err as NodeJS.ErrnoException).code })));
        res.on("end", () => {
          const data = Buffer.concat(chunks);
          if (ok) return resolve({ data, mime: String(res.headers["content-type"] ?? "application/octet-stream").split(";")[0]!.trim() });
          let b: AsHttpError["body"] = {};
          try {
            const parsed: unknown = JSON.parse(data.toString("utf8"));
            if (typeof parsed === "object" && parsed !== null) b = parsed as AsHttpError["body"];
          } catch {
            // not Matrix JSON (a proxy page): the status alone says what happened
          }
          reject(new AsHttpError(`GET ${target.pathname}: HTTP ${status} ${b?.errcode ?? ""} ${b?.error ?? ""}`.trim(), { statusCode: status, body: b }));
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error(`timed out after ${this.timeoutMs} ms`), { code: "ETIMEDOUT" })));
      req.on("error", (err) => reject(new AsHttpError(err.message, { code: (err as NodeJS.ErrnoException).code ?? "ECONNRESET" })));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
