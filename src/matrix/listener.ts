/**
 * The appservice listener's express app. It replaces matrix-appservice's, which parsed every
 * body (up to 20 MB, on any path, the public avatar route included) before a route looked at the
 * hs_token, and answered the unprefixed paths older homeservers use with a 308 that homeservers
 * do not follow (Synapse 1.67 then marks the appservice down and never delivers).
 *
 * Each request goes through, in this order:
 *   1. route: an appservice route, in its `/_matrix/app/v1/…` or legacy unprefixed form (served
 *      alike, as mautrix-go does), or anything else (avatars, /health: no body at all);
 *   2. token (appservice routes): the hs_token from `Authorization: Bearer` or `?access_token=`,
 *      compared in constant time, before a byte of the body is read;
 *   3. body: streamed with the route's size limit and a nesting limit (json-body.ts).
 * A refused request whose body is still coming is answered and its connection closed, so the
 * rest of the body is never read; the close waits LINGER_MS after the answer (see refuse).
 *
 * The two routes with a body (transactions and the ping) are served on plain node:http, before
 * Express: a homeserver sends one transaction per event or so, and Express's request set-up,
 * router and query parser cost more CPU than the rest of the request (`npm run bench -- --only
 * components`: 228-299 µs per one-event transaction through Express, 72-115 without). Express serves everything else (user and alias queries, /health, the avatar route) and
 * the odd spellings of those two routes (a trailing slash, other letter case) through the same
 * handlers.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorFields } from "../core/log.js";
import express, { type Application, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "../core/log.js";
import { BodyError, hasBody, readBody, tooLarge, type BodyLimits, type RawBody } from "./json-body.js";

/** A transaction: Synapse sends at most 100 events and 100 EDUs of ≤ 64 KiB each; this leaves room. */
export const TRANSACTION_MAX_BYTES = 20 * 1024 * 1024;
/** The appservice ping (Matrix 1.7) carries only a transaction_id. */
export const PING_MAX_BYTES = 64 * 1024;
/** Nesting of a whole body. Synapse itself cannot encode much deeper JSON (Python's recursion limit). */
export const MAX_DEPTH = 1024;
/** Nesting of one event; a deeper one is dropped (counted and logged), not the whole transaction. */
export const MAX_EVENT_DEPTH = 64;
/** One event: a PDU is at most 64 KiB, plus what the server adds under `unsigned`. */
export const MAX_EVENT_BYTES = 1024 * 1024;
/** A refused request with a body this small is read to its end (cheap) so the connection is kept. */
const DRAIN_MAX_BYTES = 64 * 1024;
/** How long a refused request's connection stays open, unread, after its answer is out (see refuse). */
export const LINGER_MS = 2000;

export interface ListenerHandlers {
  transaction(txnId: string, body: RawBody, res: ServerResponse): Promise<void>;
  ping(body: RawBody, res: ServerResponse): Promise<void>;
  userQuery(req: Request, res: Response): void;
  aliasQuery(req: Request, res: Response): void;
}

/** The listener: `handle` is what the HTTP server calls; `app` takes extra routes (avatars) and the error handler. */
export interface Listener {
  handle(req: IncomingMessage, res: ServerResponse): void;
  app: Application;
}

// Hashed first so lengths match and timing says nothing about the token's length.
const digest = (s: string) => createHash("sha256").update(s).digest();

/** Answers with a JSON body (what express's res.json sends, less its ETag). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The path part of a request's URL. */
function pathOf(req: IncomingMessage): string {
  const url = req.url ?? "";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

/** The value of the URL's `access_token` parameter ("" unless there is exactly one). */
function accessTokenOf(req: IncomingMessage): string {
  const url = req.url ?? "";
  const q = url.indexOf("?");
  if (q < 0) return "";
  const tokens = new URLSearchParams(url.slice(q + 1)).getAll("access_token");
  return tokens.length === 1 ? tokens[0]! : "";
}

/**
 * Answers a refused request in Matrix's error shape. If its body is still on its way and we will
 * not read it (too large, unauthenticated, or we stopped part way), the connection is closed after
 * the answer, so the sender cannot make us read (or buffer) the rest.
 *
 * Not at once, though: closing a socket with unread bytes makes the kernel answer with a reset,
 * and a client still writing its body sees that reset on its next write, often before it has
 * read our answer (a homeserver would log a broken connection, not the 413). So the answer goes
 * out whole (its length is declared) and the response is ended, and the socket closed, only
 * LINGER_MS later or when the client closes first. Meanwhile this process reads nothing: the
 * kernel's socket buffers take what fits, then the client's writes stall on TCP flow control, and
 * it reads the answer. This is the lingering close of HTTP servers (Apache, nginx), without their
 * reading and discarding: a client cannot make us take more bytes by waiting.
 */
export function refuse(req: IncomingMessage, res: ServerResponse, status: number, errcode: string, error: string): void {
  const declared = Number(req.headers["content-length"] ?? NaN);
  const untouched = req.readableFlowing === null;
  const pending = hasBody(req) && !req.complete && !(untouched && declared <= DRAIN_MAX_BYTES);
  if (!pending) return sendJson(res, status, { errcode, error });
  const text = JSON.stringify({ errcode, error });
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), connection: "close" });
  res.write(text);
  const socket = req.socket;
  const close = () => {
    clearTimeout(timer);
    socket.off("close", close);
    // Node's own end of a `connection: close` response may first resume the request to drain it.
    res.once("finish", () => socket.destroy());
    res.end();
  };
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  socket.once("close", close);
}

/** An unexpected failure of a request: logged, and answered in Matrix's shape unless an answer is out. */
function failed(log: Logger, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  log.error("appservice request failed", { path: pathOf(req), ...errorFields(err) });
  refuse(req, res, 500, "M_UNKNOWN", "Internal error");
}

/** `PUT …/transactions/{txnId}` and `POST /_matrix/app/v1/ping`, as the homeserver spells them. */
const TRANSACTION_PATH = /^(?:\/_matrix\/app\/v1)?\/transactions\/([^/]+)$/;
const PING_PATH = "/_matrix/app/v1/ping";

export function createListener(hsToken: string, log: Logger, handlers: ListenerHandlers): Listener {
  const app = express();
  app.disable("x-powered-by");
  const expected = digest(hsToken);

  let lastWrongTokenWarning = -Infinity;
  /** False (after answering 401/403) unless the request carries the hs_token. */
  const authenticated = (req: IncomingMessage, res: ServerResponse): boolean => {
    const header = req.headers.authorization;
    const provided = header?.startsWith("Bearer ") ? header.slice(7) : accessTokenOf(req);
    if (provided && timingSafeEqual(digest(provided), expected)) return true;
    // A homeserver with an old registration looks like this: say so, at most once a minute (a flood stays one line a minute).
    if (provided && Date.now() - lastWrongTokenWarning >= 60_000) {
      lastWrongTokenWarning = Date.now();
      log.warn("refused a request with a wrong hs_token; if it came from the homeserver, load the current registration file into it", { path: pathOf(req) });
    }
    refuse(req, res, provided ? 403 : 401, provided ? "M_FORBIDDEN" : "M_UNAUTHORIZED", "Bad token supplied");
    return false;
  };
  const noBody = (req: Request, res: Response): boolean => {
    if (!hasBody(req)) return true;
    const e = tooLarge(0);
    refuse(req, res, e.status, e.errcode, "This route takes no request body");
    return false;
  };
  const withBody = (limits: BodyLimits, handle: (res: ServerResponse, body: RawBody) => Promise<void>) =>
    (req: IncomingMessage, res: ServerResponse, next: (err: unknown) => void) => {
      if (!authenticated(req, res)) return;
      readBody(req, limits).then((body) => handle(res, body)).catch((err: unknown) => {
        if (err instanceof BodyError) {
          if (err.status === 413 || err.errcode === "M_NOT_JSON") log.warn("appservice request refused", { path: pathOf(req), error: err.message });
          if (!res.headersSent && !req.socket.destroyed) refuse(req, res, err.status, err.errcode, err.message);
          return;
        }
        next(err);
      });
    };
  const bodyLimits = (maxBytes: number): BodyLimits => ({ maxBytes, maxDepth: MAX_DEPTH, maxElementDepth: MAX_EVENT_DEPTH });
  const transaction = (txnId: string) => withBody(bodyLimits(TRANSACTION_MAX_BYTES), (res, body) => handlers.transaction(txnId, body, res));
  const ping = withBody(bodyLimits(PING_MAX_BYTES), (res, body) => handlers.ping(body, res));

  // Both the spec'd paths and the legacy unprefixed ones (Synapse ≤ 1.x pushes to those, with ?access_token=).
  for (const prefix of ["/_matrix/app/v1", ""]) {
    app.put(`${prefix}/transactions/:txnId`, (req, res, next) => transaction(String(req.params.txnId))(req, res, next));
    app.get(`${prefix}/users/:userId`, (req, res) => { if (authenticated(req, res) && noBody(req, res)) handlers.userQuery(req, res); });
    app.get(`${prefix}/rooms/:alias`, (req, res) => { if (authenticated(req, res) && noBody(req, res)) handlers.aliasQuery(req, res); });
  }
  app.post(PING_PATH, ping);
  // Other appservice paths (third-party lookups): authenticated, then unknown.
  app.all("/_matrix/app/*", (req, res) => {
    if (authenticated(req, res)) refuse(req, res, 404, "M_UNRECOGNIZED", "Unrecognized request");
  });
  app.get("/health", (req, res) => { if (noBody(req, res)) res.send("OK"); });
  // Every route mounted later (the public avatar route) takes no body: refused here, unread.
  app.use((req, res, next) => { if (noBody(req, res)) next(); });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method;
    if (method === "PUT" || method === "POST") {
      const path = pathOf(req);
      const onError = (err: unknown) => { if (!res.headersSent) failed(log, req, res, err); else res.destroy(); };
      if (method === "POST" && path === PING_PATH) return ping(req, res, onError);
      const m = method === "PUT" ? TRANSACTION_PATH.exec(path) : null;
      const txnId = m ? decodedOrNull(m[1]!) : null;
      if (txnId !== null) return transaction(txnId)(req, res, onError);
    }
    app(req, res);
  };
  return { handle, app };
}

function decodedOrNull(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null; // left to express's route, as before this lane
  }
}

/** The last handler: errors in Matrix's shape, never express's default page (a stack trace outside production). */
export function matrixErrors(log: Logger) {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    failed(log, req, res, err);
  };
}
