/**
 * The history import over the metrics listener, for `tandem import` (the CLI asks the running
 * bridge: the embedded database is single-process, and the bridge's logins, ghosts and portals
 * are the import's):
 *   GET  /import        the current (or last) import's progress, JSON (null when none ran)
 *   POST /import        start one: {"network","path"? (an export's),"conversation"?,"since"?,"until"?,"dryRun"?,"loginId"?}
 *   POST /import/stop   stop it at the next event (a rerun resumes)
 * POST is taken only from the loopback interface: the listener has no authentication, and an
 * import writes to the homeserver.
 */
import type http from "node:http";
import { TandemError } from "../core/errors.js";
import type { HistoryImports, ImportRequest } from "../core/history-import/importer.js";
import type { Route } from "./http.js";

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

function send(res: http.ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
  return true;
}

async function readJsonBody(req: http.IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new Error(`larger than ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
}

export function importRoute(imports: HistoryImports): Route {
  return async (req, res, url) => {
    if (url.pathname !== "/import" && url.pathname !== "/import/stop") return false;
    if (req.method === "GET" && url.pathname === "/import") return send(res, 200, imports.snapshot());
    if (req.method !== "POST") return send(res, 405, { error: "use GET /import, POST /import or POST /import/stop" });
    if (!LOOPBACK.test(req.socket.remoteAddress ?? "")) return send(res, 403, { error: "imports are started and stopped from the bridge's own host only" });
    if (url.pathname === "/import/stop") return send(res, 200, await imports.stop());
    let body: Partial<ImportRequest>;
    try {
      body = await readJsonBody(req, 64 * 1024) as Partial<ImportRequest>;
    } catch (err) {
      return send(res, 400, { error: `the body is not JSON: ${err instanceof Error ? err.message : String(err)}` });
    }
    if (typeof body?.network !== "string") return send(res, 400, { error: "network is required (e.g. \"slack\")" });
    const bad = (["since", "until"] as const).find((k) => body[k] !== undefined && typeof body[k] !== "number");
    if (bad) return send(res, 400, { error: `${bad} must be ms since the epoch` });
    try {
      return send(res, 202, await imports.start({
        network: body.network, by: "cli", ...(typeof body.path === "string" ? { path: body.path } : {}),
        ...(typeof body.conversation === "string" ? { conversation: body.conversation } : {}),
        ...(typeof body.loginId === "string" ? { loginId: body.loginId } : {}),
        ...(body.since !== undefined ? { since: body.since } : {}), ...(body.until !== undefined ? { until: body.until } : {}),
        dryRun: body.dryRun === true,
      }));
    } catch (err) {
      if (err instanceof TandemError && err.userMessage) return send(res, 409, { error: err.userMessage });
      throw err;
    }
  };
}
