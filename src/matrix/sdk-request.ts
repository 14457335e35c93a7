/**
 * The `request`-compatible function matrix-bot-sdk sends its client-server calls through
 * (`setRequestFn`, installed by sdk.ts): plain node:http(s) with keep-alive, so the deprecated
 * `request` library (with its `har-validator`, `tough-cookie`, `sshpk`: ~20 MB of RSS once
 * loaded) is never loaded.
 *
 * Only what the SDK's two call sites use (lib/http.js `doHttpRequest`, lib/MatrixClient.js
 * `uploadContentFromUrl`): `uri`, `method`, `qs` (encoded like `useQuerystring`: repeated keys
 * for arrays), `headers`, a string or Buffer `body`, `encoding` (undefined: a utf-8 string;
 * null: a Buffer), `timeout` (connect and between reads, as `request` does). The callback gets
 * (error, response, body) with `response.statusCode`, `response.headers` and `response.body`.
 * GET and HEAD follow redirects like `request`'s default (up to 10).
 */
import http from "node:http";
import https from "node:https";
import { stringify } from "node:querystring";

export interface SdkRequestParams {
  uri: string;
  method?: string;
  qs?: Record<string, unknown> | null;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  encoding?: null | string;
  timeout?: number;
}

export interface SdkResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: string | Buffer;
}

export type SdkRequestCallback = (err: Error | null, res?: SdkResponse, body?: string | Buffer) => void;

const MAX_REDIRECTS = 10;
const agents = { "http:": new http.Agent({ keepAlive: true }), "https:": new https.Agent({ keepAlive: true }) };

class SdkRequestError extends Error {
  constructor(message: string, readonly code: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function targetUrl(params: SdkRequestParams): URL {
  const url = new URL(params.uri);
  const query = params.qs ? stringify(params.qs as Parameters<typeof stringify>[0]) : "";
  if (query) url.search = url.search ? `${url.search}&${query}` : `?${query}`;
  return url;
}

export function sdkRequest(params: SdkRequestParams, callback: SdkRequestCallback): void {
  let url: URL;
  try {
    url = targetUrl(params);
  } catch (err) {
    callback(err as Error);
    return;
  }
  send(url, params, callback, 0);
}

function send(url: URL, params: SdkRequestParams, callback: SdkRequestCallback, redirects: number): void {
  const method = (params.method ?? "GET").toUpperCase();
  const transport = url.protocol === "https:" ? https : url.protocol === "http:" ? http : undefined;
  if (!transport) {
    callback(new SdkRequestError(`unsupported protocol ${url.protocol}`, "EPROTO"));
    return;
  }
  let done = false;
  const finish = (err: Error | null, res?: SdkResponse) => {
    if (done) return;
    done = true;
    callback(err, res, res?.body);
  };
  const body = params.body === undefined ? undefined : Buffer.isBuffer(params.body) ? params.body : Buffer.from(params.body);
  const headers: Record<string, string | number> = { ...params.headers };
  if (body) headers["Content-Length"] = body.length;
  const req = transport.request(url, { method, headers, agent: agents[url.protocol as "http:" | "https:"] }, (res) => {
    const location = res.headers.location;
    if (location && res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && (method === "GET" || method === "HEAD")) {
      res.resume();
      if (redirects >= MAX_REDIRECTS) return finish(new SdkRequestError(`more than ${MAX_REDIRECTS} redirects from ${url.origin}`, "EREDIRECTS"));
      done = true;
      return send(new URL(location, url), { ...params, body: undefined }, callback, redirects + 1);
    }
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("error", (err) => finish(err));
    res.on("end", () => {
      const raw = Buffer.concat(chunks);
      const decoded = params.encoding === null ? raw : raw.toString((params.encoding as BufferEncoding | undefined) ?? "utf8");
      finish(null, { statusCode: res.statusCode ?? 0, headers: res.headers, body: decoded });
    });
  });
  if (params.timeout) {
    req.setTimeout(params.timeout, () => req.destroy(new SdkRequestError(`no answer from ${url.origin} within ${params.timeout} ms`, "ESOCKETTIMEDOUT")));
  }
  req.on("error", (err) => finish(err));
  req.end(body);
}
