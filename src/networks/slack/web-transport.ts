/**
 * The transport under the Slack WebClient: a `fetch` for the requests it makes on every message
 * (a POST with a url-encoded or JSON string body, redirects refused), on node:http(s) with
 * keep-alive. Node's WHATWG fetch cost 1.2-1.9 ms of CPU per Web API call on a loaded 2-core
 * machine (request and response ReadableStreams made transferable, the llhttp parser in
 * WebAssembly, its Headers objects), the largest part of the bridge's own CPU per Matrix → Slack
 * message (docs/scaling.md, "Through a real homeserver"); this costs a fraction of that. Anything else (FormData uploads, other redirect modes, a Headers object) goes
 * to the fetch it was given, so the SDK behaves as before.
 *
 * What the SDK relies on is kept: the AbortSignal (its timeout) ends the request, body read
 * included, and rejects with the signal's reason; a network failure or a redirect rejects with
 * `TypeError("fetch failed", { cause })`, as fetch does; a compressed answer is decoded.
 */
import http from "node:http";
import https from "node:https";
import zlib from "node:zlib";

type Fetch = typeof globalThis.fetch;

/** Read-only response headers (Node's names are lower case already): get, has, entries, iteration. */
class LeanHeaders {
  private readonly map = new Map<string, string>();
  constructor(raw: http.IncomingHttpHeaders) {
    for (const [k, v] of Object.entries(raw)) if (v !== undefined) this.map.set(k, Array.isArray(v) ? v.join(", ") : v);
  }

  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }

  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.map.entries();
  }

  forEach(fn: (value: string, key: string) => void): void {
    this.map.forEach(fn);
  }
}

/** The answer, with what WebClient reads of a fetch Response (status, headers, text, arrayBuffer, url). */
class LeanResponse {
  readonly ok: boolean;
  readonly redirected = false;
  readonly type = "basic";
  readonly headers: Headers;
  constructor(readonly url: string, readonly status: number, readonly statusText: string, raw: http.IncomingHttpHeaders, private readonly body: Buffer) {
    this.ok = status >= 200 && status < 300;
    this.headers = new LeanHeaders(raw) as unknown as Headers;
  }

  async text(): Promise<string> {
    return this.body.toString("utf8");
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.body.toString("utf8"));
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.body.buffer.slice(this.body.byteOffset, this.body.byteOffset + this.body.byteLength) as ArrayBuffer;
  }
}

const agents = { "http:": new http.Agent({ keepAlive: true }), "https:": new https.Agent({ keepAlive: true }) };

const fetchFailed = (cause: unknown) => new TypeError("fetch failed", { cause });

function decode(body: Buffer, encoding: string | undefined): Buffer {
  switch (encoding?.trim().toLowerCase()) {
    case "gzip": case "x-gzip": return zlib.gunzipSync(body);
    case "deflate": return zlib.inflateSync(body);
    case "br": return zlib.brotliDecompressSync(body);
    default: return body;
  }
}

/** Whether a request is one this transport carries (else the fallback fetch does). */
function lean(input: unknown, init: RequestInit | undefined): init is RequestInit & { headers?: Record<string, string>; body?: string | Uint8Array | null } {
  if (typeof input !== "string" || !/^https?:\/\//.test(input) || !init || init.redirect !== "error") return false;
  const h = init.headers;
  if (h !== undefined && (h === null || typeof h !== "object" || Array.isArray(h) || h instanceof Headers)) return false;
  const b = init.body;
  return b === undefined || b === null || typeof b === "string" || b instanceof Uint8Array;
}

/** A fetch for WebClient's `fetch` option: its own requests on node:http(s), the rest to `fallback`. */
export function slackWebFetch(fallback: Fetch = (input, init) => globalThis.fetch(input, init)): Fetch {
  return ((input: string | URL | Request, init?: RequestInit) => {
    if (!lean(input, init)) return fallback(input, init);
    const url = input as string;
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const body = init.body ?? undefined;
    const headers: Record<string, string | number> = { ...(init.headers ?? {}) };
    if (body !== undefined) headers["content-length"] = Buffer.byteLength(body);
    return new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const transport = target.protocol === "https:" ? https : http;
      const req = transport.request(target, { method: init.method ?? "GET", headers, agent: agents[target.protocol as "http:" | "https:"] }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          return fail(fetchFailed(new Error(`unexpected redirect to ${res.headers.location}`)));
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => fail(fetchFailed(err)));
        res.on("end", () => {
          signal?.removeEventListener("abort", onAbort);
          try {
            const data = decode(Buffer.concat(chunks), res.headers["content-encoding"]);
            resolve(new LeanResponse(url, status, res.statusMessage ?? "", res.headers, data) as unknown as Response);
          } catch (err) {
            reject(fetchFailed(err));
          }
        });
      });
      const fail = (err: unknown) => {
        signal?.removeEventListener("abort", onAbort);
        req.destroy();
        reject(err);
      };
      const onAbort = () => fail(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", (err) => fail(fetchFailed(err)));
      req.end(body);
    });
  }) as Fetch;
}
