/**
 * The listener's two lanes (src/matrix/listener.ts): transactions and the ping, the requests a
 * homeserver sends per event, are served on plain node:http without entering Express; every
 * other request (and the odd spellings of those two routes) goes through Express, to the same
 * handlers with the same token check.
 */
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createListener, sendJson } from "../../../src/matrix/listener.js";
import { silentLogger } from "../../../src/core/log.js";

const HS = "hs-token-dddddddddddddddddddddddd";

describe("appservice listener lanes", () => {
  let server: http.Server | undefined;
  afterEach(async () => { await new Promise((r) => server?.close(r)); server = undefined; });

  async function start() {
    const calls: string[] = [];
    const errors: string[] = [];
    const log = { ...silentLogger, error: (m: string, meta?: Record<string, unknown>) => { errors.push(`${m} ${JSON.stringify(meta)}`); }, child: () => log };
    const listener = createListener(HS, log, {
      transaction: async (txnId, body, res) => {
        if (txnId === "boom") throw new Error("handler bug");
        calls.push(`txn ${txnId} ${body.data.toString()}`);
        sendJson(res, 200, {});
      },
      ping: async (_body, res) => { calls.push("ping"); sendJson(res, 200, {}); },
      userQuery: (_req, res) => { calls.push("user"); res.json({}); },
      aliasQuery: (_req, res) => { calls.push("alias"); res.json({}); },
    });
    const throughExpress: string[] = [];
    // Express's app(req, res) hands every request to app.handle: counted here.
    type Handle = (req: http.IncomingMessage, res: http.ServerResponse, next: unknown) => void;
    const app = listener.app as unknown as { handle: Handle };
    const expressHandle = app.handle.bind(app);
    app.handle = (req, res, next) => {
      throughExpress.push(`${req.method} ${req.url}`);
      expressHandle(req, res, next);
    };
    server = http.createServer({}, listener.handle);
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const send = async (method: string, path: string, body?: string, headers: Record<string, string> = { authorization: `Bearer ${HS}` }) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, body, headers: { "content-type": "application/json", ...headers } });
      return { status: res.status, body: await res.text(), type: res.headers.get("content-type") };
    };
    return { calls, errors, throughExpress, send };
  }

  it("serves transactions and the ping without Express, in both path forms, with the token in the header or the query", async () => {
    const { calls, throughExpress, send } = await start();
    expect(await send("PUT", "/_matrix/app/v1/transactions/t%201", '{"events":[]}')).toEqual({ status: 200, body: "{}", type: "application/json; charset=utf-8" });
    expect((await send("PUT", `/transactions/t2?access_token=${HS}`, '{"events":[]}', {})).status).toBe(200);
    expect((await send("POST", "/_matrix/app/v1/ping", '{"transaction_id":"p"}')).status).toBe(200);
    expect(calls).toEqual(['txn t 1 {"events":[]}', 'txn t2 {"events":[]}', "ping"]);
    expect(throughExpress).toEqual([]);
  });

  it("refuses a wrong, missing or repeated token on the plain lane as Express did, without calling the handler", async () => {
    const { calls, throughExpress, send } = await start();
    expect(await send("PUT", "/_matrix/app/v1/transactions/t3", "{}", { authorization: "Bearer nope" }))
      .toMatchObject({ status: 403, body: JSON.stringify({ errcode: "M_FORBIDDEN", error: "Bad token supplied" }) });
    expect((await send("PUT", "/transactions/t4", "{}", {})).status).toBe(401);
    // Two access_token parameters are no token (express's query parser made them an array).
    expect((await send("PUT", `/transactions/t5?access_token=${HS}&access_token=${HS}`, "{}", {})).status).toBe(401);
    expect(calls).toEqual([]);
    expect(throughExpress).toEqual([]);
  });

  it("answers a handler's unexpected failure on the plain lane in Matrix's shape, and logs it", async () => {
    const { errors, throughExpress, send } = await start();
    expect(await send("PUT", "/_matrix/app/v1/transactions/boom", "{}"))
      .toMatchObject({ status: 500, body: JSON.stringify({ errcode: "M_UNKNOWN", error: "Internal error" }) });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("appservice request failed");
    expect(errors[0]).toContain("/_matrix/app/v1/transactions/boom");
    expect(errors[0]).toContain("handler bug");
    expect(throughExpress).toEqual([]);
  });

  it("sends every other request, and the odd spellings of the two routes, through Express to the same handlers", async () => {
    const { calls, throughExpress, send } = await start();
    expect((await send("PUT", "/_matrix/app/v1/transactions/t7/", "{}")).status).toBe(200); // trailing slash
    expect((await send("PUT", "/_matrix/app/v1/Transactions/t8", "{}")).status).toBe(200); // express routes ignore case
    expect((await send("PUT", "/_matrix/app/v1/transactions/t9/", "{}", { authorization: "Bearer nope" })).status).toBe(403);
    expect((await send("GET", "/_matrix/app/v1/users/@a:example.org")).status).toBe(200);
    expect((await send("GET", "/_matrix/app/v1/transactions/t10")).status).toBe(404);
    expect((await send("GET", "/health")).body).toBe("OK");
    expect(calls).toEqual(["txn t7 {}", "txn t8 {}", "user"]);
    expect(throughExpress).toEqual([
      "PUT /_matrix/app/v1/transactions/t7/", "PUT /_matrix/app/v1/Transactions/t8", "PUT /_matrix/app/v1/transactions/t9/",
      "GET /_matrix/app/v1/users/@a:example.org", "GET /_matrix/app/v1/transactions/t10", "GET /health",
    ]);
  });
});
