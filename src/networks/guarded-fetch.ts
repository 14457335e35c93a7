/**
 * Downloads from URLs a network hands us (Slack's url_private, avatar URLs), kept on the network's
 * own file hosts. A URL in a remote event is attacker-controlled: fetched blindly, a file "on"
 * http://127.0.0.1:29319/status.json or a cloud metadata address lands in a Matrix room. So:
 *
 * - a URL must be https on one of the network's file hosts, or on an origin the operator listed
 *   (`bridge.download_allowed_origins`, for test servers and self-hosted mirrors);
 * - a network host must resolve to public addresses only, checked at connect time by the socket's
 *   own `lookup`, so a name that answers differently the second time (DNS rebinding) gains nothing;
 * - every redirect hop is checked the same way, and credentials never follow a change of origin;
 * - a silent connection fails after `idleMs`, and the whole download after `timeoutMs`, so a dead
 *   host costs seconds per attempt, not minutes.
 *
 * Built on node:http(s) rather than fetch: fetch cannot check the address it connects to.
 */
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { Readable } from "node:stream";
import { RemoteError } from "../core/errors.js";
import { isPublicAddress } from "./public-address.js";

export interface DownloadPolicy {
  /** Whether an https URL's host is one of the network's own file hosts (its address is checked too). */
  isNetworkHost(host: string): boolean;
  /** Origins (`scheme://host[:port]`) the operator trusts: fetched over http or https, at any address. */
  trustedOrigins: ReadonlySet<string>;
}

export interface GuardedFetchOptions {
  headers?: Record<string, string>;
  /** Whole download, body included. */
  timeoutMs: number;
  /** Longest silence on the socket (connecting included). Default 30 s. */
  idleMs?: number;
  /** What is being fetched, for error messages ("file download"). */
  what: string;
}

export interface GuardedResponse {
  res: Response;
  /** A redirect was followed (Slack answers an unauthorised file request with a redirect to sign-in). */
  redirected: boolean;
}

const MAX_REDIRECTS = 5;
const DEFAULT_IDLE_MS = 30_000;

/** Parses `bridge.download_allowed_origins` ("http://127.0.0.1:8080 https://files.example.org"). */
export function parseOrigins(list: string): Set<string> {
  return new Set(list.split(/[\s,]+/).filter(Boolean).map((s) => new URL(s).origin));
}

/** A URL the policy does not allow: never retried, the room is told. */
export function refused(what: string, url: URL, why: string): RemoteError {
  return new RemoteError("download_refused", `${what}: ${url.origin} refused: ${why}`, {
    retryable: false, userMessage: `the file's address (${url.hostname}) is not one the bridge downloads from`,
  });
}

/** Whether a URL may be fetched, and whether its address must be checked when connecting. */
function admit(url: URL, policy: DownloadPolicy, what: string): { checkAddress: boolean } {
  if (policy.trustedOrigins.has(url.origin)) return { checkAddress: false };
  if (url.protocol !== "https:") throw refused(what, url, "not https");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) throw refused(what, url, "an IP address, not a file host of the network");
  if (!policy.isNetworkHost(host.toLowerCase())) throw refused(what, url, "not a file host of the network");
  return { checkAddress: true };
}

/** The socket's DNS lookup, refusing a name with any loopback, private or link-local address. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, "", 0);
    const blocked = addresses.find((a) => !isPublicAddress(a.address));
    if (blocked || addresses.length === 0) {
      const e = Object.assign(new Error(`${hostname} resolves to ${blocked?.address ?? "nothing"}, not a public address`), { code: "EADDRNOTPUBLIC" });
      return callback(e, "", 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 16 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 16 }),
};

function networkError(what: string, err: unknown): RemoteError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  return new RemoteError("network", message, { retryable: true, cause: err, userMessage: `the file could not be downloaded (${code ?? "network error"})` });
}

/** GET `url` under `policy`, following checked redirects; the body streams (read it with readCapped). */
export async function guardedFetch(start: URL, policy: DownloadPolicy, opts: GuardedFetchOptions): Promise<GuardedResponse> {
  const deadline = Date.now() + opts.timeoutMs;
  let url = start;
  let headers = { ...opts.headers };
  for (let hop = 0; ; hop++) {
    const res = await getOnce(url, policy, headers, deadline, opts);
    const location = res.headers.location;
    if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new RemoteError("too_many_redirects", `${opts.what}: more than ${MAX_REDIRECTS} redirects`, { retryable: false });
      const next = new URL(location, url);
      // Like fetch: credentials go to the origin they were meant for, not where it redirects.
      if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== "authorization"));
      url = next;
      continue;
    }
    return { res: toResponse(res), redirected: hop > 0 };
  }
}

function getOnce(url: URL, policy: DownloadPolicy, headers: Record<string, string>, deadline: number, opts: GuardedFetchOptions): Promise<http.IncomingMessage> {
  const { checkAddress } = admit(url, policy, opts.what);
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method: "GET", headers, agent: agents[url.protocol as "http:" | "https:"],
      ...(checkAddress ? { lookup: publicOnlyLookup } : {}),
    }, (res) => {
      // The whole-download deadline keeps running while the body is read.
      const left = deadline - Date.now();
      const timer = setTimeout(() => res.destroy(networkError(opts.what, new Error(`timed out after ${opts.timeoutMs} ms`))), Math.max(0, left));
      timer.unref();
      res.once("close", () => clearTimeout(timer));
      resolve(res);
    });
    const idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    req.setTimeout(Math.min(idleMs, Math.max(1, deadline - Date.now())), () => req.destroy(Object.assign(new Error(`no answer for ${idleMs} ms`), { code: "ETIMEDOUT" })));
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRNOTPUBLIC") reject(refused(opts.what, url, err.message));
      else reject(networkError(opts.what, err));
    });
    req.end();
  });
}

/** The answer as a fetch Response, so callers read it the same way (readCapped). */
function toResponse(res: http.IncomingMessage): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (Array.isArray(v)) for (const one of v) headers.append(k, one);
    else if (v !== undefined) headers.set(k, v);
  }
  const status = res.statusCode ?? 502;
  const bodyless = status === 204 || status === 304 || status < 200;
  if (bodyless) res.resume();
  const body = bodyless ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
  return new Response(body, { status: status < 200 || status > 599 ? 502 : status, headers });
}
