/**
 * GET /audit?window=24h[&room=<roomId>]: the parity audit for every bridged room (or one)
 * as JSON, on the metrics listener. 400 with the accepted forms when the window is not one.
 */
import { parseWindow, runAudit, type AuditSources } from "../core/audit.js";
import type { Route } from "./http.js";

const json = (status: number, body: unknown) => [status, { "content-type": "application/json", "cache-control": "no-store" }, JSON.stringify(body, null, 2)] as const;

export function auditRoute(src: AuditSources): Route {
  return async (req, res, url) => {
    if (req.method !== "GET" || url.pathname !== "/audit") return false;
    const windowArg = url.searchParams.get("window") ?? undefined;
    const window = parseWindow(windowArg);
    const [status, headers, body] = !window
      ? json(400, { error: `bad window "${windowArg}": use e.g. 30m, 1h, 24h or 7d (1 minute to 90 days)` })
      : json(200, await runAudit(src, window, url.searchParams.getAll("room").length ? url.searchParams.getAll("room") : undefined));
    res.writeHead(status, headers).end(body);
    return true;
  };
}
