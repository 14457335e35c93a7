/**
 * The appservice listener's HTTP layer (issue 16 rows 2 and 3, issue 11 §2): the token is checked
 * before a byte of the body is read, bodies are bounded per route (size and nesting), the legacy
 * unprefixed paths and the Matrix 1.7 ping are served, and a reused transaction id is processed
 * unless its body is the one already committed.
 */
import http from "node:http";
import net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MatrixAppservice } from "../../../src/matrix/appservice.js";
import { LINGER_MS } from "../../../src/matrix/listener.js";
import { silentLogger } from "../../../src/core/log.js";
import type { MatrixInbound } from "../../../src/core/matrix-port.js";
import { freePort } from "../../support/harness.js";

const HS = "hs-token-cccccccccccccccccccccccc";
const registration = {
  id: "tandem", url: "http://127.0.0.1:1", as_token: "as-token-aaaaaaaa", hs_token: HS,
  sender_localpart: "tandembot", rate_limited: false,
  namespaces: { users: [{ exclusive: true, regex: "^@tandembot:example\\.org$" }], aliases: [], rooms: [] },
};
const message = (id: string, content: unknown = { msgtype: "m.text", body: `text of ${id}` }) => ({
  type: "m.room.message", room_id: "!r:example.org", event_id: id, sender: "@alice:example.org", origin_server_ts: 1, content,
});
const nested = (depth: number): unknown => (depth === 0 ? "leaf" : { a: nested(depth - 1) });

describe("appservice listener HTTP layer", () => {
  let as: MatrixAppservice | undefined;
  let port = 0;
  let base = "";
  const got: MatrixInbound[] = [];
  /** The listener's side of each connection: what it read off the wire, whatever a client's writes say. */
  const serverSockets: net.Socket[] = [];
  const bytesReadByServer = () => serverSockets.reduce((n, s) => n + s.bytesRead, 0);
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (m: string, meta?: Record<string, unknown>) => { warnings.push(`${m} ${JSON.stringify(meta)}`); }, child: () => log };

  beforeEach(async () => {
    got.length = 0;
    warnings.length = 0;
    port = await freePort();
    as = new MatrixAppservice({ homeserverUrl: "http://127.0.0.1:9", domain: "example.org", registration, hostname: "127.0.0.1", port, log });
    // The public avatar route is mounted by main the same way.
    as.expressApp.get("/_tandem/avatar/:sig", (_req, res) => { res.status(404).send("not found"); });
    await as.start(async (e) => { got.push(...e); });
    base = `http://127.0.0.1:${port}`;
    serverSockets.length = 0;
    (as as unknown as { appservice: { server: http.Server } }).appservice.server.on("connection", (s: net.Socket) => serverSockets.push(s));
  });
  afterEach(async () => { await as?.stop(); as = undefined; });

  const put = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${HS}` }) =>
    fetch(`${base}${path}`, { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
  const dropped = (reason: string) => as!.droppedEvents().get(reason as never) ?? 0;

  /** Opens a raw connection and sends a request's head (and optionally the start of its body). */
  async function rawRequest(head: string, start = ""): Promise<{ sock: net.Socket; answer: Promise<string> }> {
    const sock = net.connect(port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    const answer = new Promise<string>((resolve) => {
      let text = "";
      sock.on("data", (d) => { text += d.toString("latin1"); if (text.includes("\r\n\r\n") && /\}\s*$/.test(text)) resolve(text); });
      sock.on("close", () => resolve(text));
    });
    sock.on("error", () => undefined);
    sock.write(head + start);
    return { sock, answer };
  }
  /** More than the kernel buffers on a loopback connection whose server reads nothing (tcp_rmem's maximum is 32 MB here). */
  const UNDELIVERABLE = 96 * 1024 * 1024;
  /** Writes `bytes` more (spaces, or as well-formed 1 MiB chunks of a chunked body); "written" only if the server took them all. */
  const writeRest = (sock: net.Socket, bytes: number, framing: "raw" | "chunked" = "raw") => new Promise<string>((resolve) => {
    if (sock.destroyed) return resolve("closed");
    sock.once("close", () => resolve("closed"));
    const MIB = 1024 * 1024;
    const data = framing === "raw" ? Buffer.alloc(bytes, 0x20)
      : Buffer.concat(Array.from({ length: Math.ceil(bytes / MIB) }, () => Buffer.concat([Buffer.from(`${MIB.toString(16)}\r\n`), Buffer.alloc(MIB, 0x20), Buffer.from("\r\n")])));
    // A write still pending when the connection is reset is called back without an error (Node 20), so an open socket is what says the server took it.
    sock.write(data, (err) => resolve(err ? "error" : sock.destroyed ? "closed" : "written"));
  });

  it("an unauthenticated 19 MB transaction is answered before its body is sent, and the rest is never read", async () => {
    const size = 19 * 1024 * 1024;
    const { sock, answer } = await rawRequest(
      `PUT /_matrix/app/v1/transactions/t1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`, '{"events":[');
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 401/);
    expect(text).toMatch(/connection: close/i);
    expect(text).toContain("M_UNAUTHORIZED");
    // The server reads none of the rest and closes the connection LINGER_MS after its answer: more
    // than the kernel's buffers take (a few tens of MB at most) cannot be delivered.
    expect(await writeRest(sock, UNDELIVERABLE)).not.toBe("written");
    sock.destroy();
    expect(bytesReadByServer()).toBeLessThan(1024 * 1024);
    expect(got).toEqual([]);
  });

  it("a wrong token on the legacy path with a large body is refused the same way, unread", async () => {
    const size = 5 * 1024 * 1024;
    const { sock, answer } = await rawRequest(`PUT /transactions/t2?access_token=wrong HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
    expect(await answer).toMatch(/^HTTP\/1\.1 403[^]*M_FORBIDDEN/);
    expect(await writeRest(sock, UNDELIVERABLE)).not.toBe("written");
    sock.destroy();
    expect(bytesReadByServer()).toBeLessThan(1024 * 1024);
    // The operator hears of it once (a homeserver with an old registration), and the token is not logged.
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/users/@a:example.org?access_token=wrong-${i}`)).status).toBe(403);
    expect(warnings.filter((w) => /wrong hs_token/.test(w))).toHaveLength(1);
    expect(warnings.join("\n")).not.toMatch(/wrong-\d|access_token=/);
  });

  it("an unauthenticated chunked body (no declared length) is refused unread too", async () => {
    const { sock, answer } = await rawRequest(`PUT /_matrix/app/v1/transactions/t3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, "10\r\n{\"events\":[     \r\n");
    expect(await answer).toMatch(/^HTTP\/1\.1 401[^]*connection: close[^]*M_UNAUTHORIZED/i);
    // Well-formed chunks: a server that read on would take them all (garbage would end it with a parse error instead).
    expect(await writeRest(sock, UNDELIVERABLE, "chunked")).not.toBe("written");
    sock.destroy();
    expect(bytesReadByServer()).toBeLessThan(1024 * 1024);
  });

  it("a refused request with a small body is read to its end and its connection kept for the next request", async () => {
    const body = "x".repeat(1000);
    const { sock, answer } = await rawRequest(`PUT /_matrix/app/v1/transactions/t4?access_token=wrong HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    const first = await answer;
    expect(first).toMatch(/^HTTP\/1\.1 403[^]*M_FORBIDDEN/);
    expect(first).not.toMatch(/connection: close/i);
    // The same connection serves the next request.
    const second = new Promise<string>((resolve) => {
      let text = "";
      sock.on("data", (d) => { text += d.toString("latin1"); if (/\r\n\r\nOK$/.test(text)) resolve(text); });
      sock.on("close", () => resolve(text));
    });
    sock.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await second).toMatch(/^HTTP\/1\.1 200/);
    sock.destroy();
  });

  it("an authenticated body over the route's limit is refused with 413 before it is read (declared or streamed)", async () => {
    const declared = await rawRequest(`PUT /_matrix/app/v1/transactions/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${HS}\r\nContent-Length: ${21 * 1024 * 1024}\r\n\r\n`);
    expect(await declared.answer).toMatch(/^HTTP\/1\.1 413[^]*M_TOO_LARGE/);
    declared.sock.destroy();
    expect(warnings.filter((w) => /appservice request refused/.test(w))).toEqual([expect.stringMatching(/transactions\/big.*over 20971520 bytes/)]);
    // Chunked, no length: refused once it passes the limit (20 MiB), long before the 96 MiB the
    // client would send: it never gets to end its request, and it reads the 413 while still
    // sending (not a reset: the server does not close at once, see refuse), then gives up.
    const MIB = 96;
    let sent = 0;
    const outcome = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${base}/_matrix/app/v1/transactions/chunked`, { method: "PUT", headers: { authorization: `Bearer ${HS}`, "transfer-encoding": "chunked" } },
        (res) => { res.resume(); resolve(res.statusCode!); req.destroy(); });
      req.on("error", (err) => { if (!req.destroyed) reject(err); });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const pump = () => { while (sent < MIB && req.write(chunk)) sent++; if (sent < MIB) req.once("drain", () => { sent++; pump(); }); else req.end(); };
      pump();
    });
    expect(outcome).toBe(413);
    expect(sent, "the answer came before the whole body was sent").toBeLessThan(MIB);
    // The ping takes 64 KiB at most; user and alias queries, /health and the public avatar route take no body at all.
    const ping = await fetch(`${base}/_matrix/app/v1/ping`, { method: "POST", body: JSON.stringify({ transaction_id: "x".repeat(70_000) }), headers: { authorization: `Bearer ${HS}` } });
    expect(ping.status).toBe(413);
    for (const path of [`/_matrix/app/v1/users/@a:example.org?access_token=${HS}`, `/rooms/%23a:example.org?access_token=${HS}`, "/health", "/_tandem/avatar/abc"]) {
      const res = await new Promise<number>((resolve) => {
        const req = http.request(`${base}${path}`, { method: "GET", headers: { "content-length": "10" } }, (r) => { r.resume(); resolve(r.statusCode!); });
        req.end("0123456789");
      });
      expect(res, path).toBe(413);
    }
    expect((await fetch(`${base}/_tandem/avatar/abc`)).status).toBe(404); // without a body it is served
    expect(got).toEqual([]);
  });

  it("a refused body's connection stays open, unread, for a while after the answer, so a client still sending reads it rather than a reset", async () => {
    // Declared over the limit with its first KiB sent: answered unread. A socket closed with unread
    // bytes is answered by the kernel with a reset, which would cut the client's next write.
    const { sock, answer } = await rawRequest(`PUT /_matrix/app/v1/transactions/linger HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${HS}\r\nContent-Length: ${21 * 1024 * 1024}\r\n\r\n`, " ".repeat(1024));
    expect(await answer).toMatch(/^HTTP\/1\.1 413[^]*connection: close[^]*M_TOO_LARGE/i);
    const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
    let failure = "";
    sock.on("error", (err: NodeJS.ErrnoException) => { failure = err.code ?? err.message; });
    expect(await writeRest(sock, 64 * 1024), "the client goes on sending, as one streaming its body does").toBe("written");
    await new Promise((r) => setTimeout(r, LINGER_MS / 4));
    expect({ destroyed: sock.destroyed, failure }, "still open, not reset").toEqual({ destroyed: false, failure: "" });
    // …and the server does close it, having read none of it.
    await closed;
    expect(bytesReadByServer()).toBeLessThan(64 * 1024 + 4096);
    expect(got).toEqual([]);
  });

  it("a body nested too deep is refused with a clear error; an event nested too deep is dropped, counted, and the rest delivered", async () => {
    const deep = await put("/_matrix/app/v1/transactions/deep", "[".repeat(2000) + "]".repeat(2000));
    expect(deep.status).toBe(400);
    expect(await deep.json()).toEqual({ errcode: "M_NOT_JSON", error: "Request body is not valid JSON: nested deeper than 1024 levels" });
    const res = await put("/_matrix/app/v1/transactions/mixed", { events: [message("$ok1"), message("$deep", nested(100)), message("$ok2")] });
    expect(res.status).toBe(200);
    expect(got.map((e) => e.eventId)).toEqual(["$ok1", "$ok2"]);
    expect(dropped("too_deep")).toBe(1);
  });

  it("an event over 1 MiB is dropped and counted; the transaction's other events arrive", async () => {
    const res = await put("/_matrix/app/v1/transactions/large", { events: [message("$big", { msgtype: "m.text", body: "x".repeat(1_100_000) }), message("$small")] });
    expect(res.status).toBe(200);
    expect(got.map((e) => e.eventId)).toEqual(["$small"]);
    expect(dropped("too_large")).toBe(1);
  });

  it("serves the legacy unprefixed paths with the token in the query (as Synapse 1.67 sends them), and the v1 ping", async () => {
    const txn = await put(`/transactions/legacy1?access_token=${HS}`, { events: [message("$legacy")] }, {});
    expect(txn.status).toBe(200);
    expect(got.map((e) => e.eventId)).toEqual(["$legacy"]);
    expect((await fetch(`${base}/users/${encodeURIComponent("@x:example.org")}?access_token=${HS}`, { redirect: "manual" })).status).toBe(200);
    expect((await fetch(`${base}/rooms/${encodeURIComponent("#x:example.org")}?access_token=${HS}`, { redirect: "manual" })).status).toBe(200);
    const ping = await fetch(`${base}/_matrix/app/v1/ping`, { method: "POST", body: JSON.stringify({ transaction_id: "ping-1" }), headers: { authorization: `Bearer ${HS}`, "content-type": "application/json" } });
    expect(ping.status).toBe(200);
    expect(await ping.json()).toEqual({});
    expect((await fetch(`${base}/_matrix/app/v1/ping`, { method: "POST", body: "{}" })).status).toBe(401);
  });

  it("a reused transaction id with a different body is processed; the same body again is acknowledged, counted, not handed over", async () => {
    expect((await put("/_matrix/app/v1/transactions/7", { events: [message("$a")] })).status).toBe(200);
    expect((await put("/_matrix/app/v1/transactions/7", { events: [message("$b"), message("$c")] })).status).toBe(200);
    expect(got.map((e) => e.eventId)).toEqual(["$a", "$b", "$c"]);
    expect((await put("/_matrix/app/v1/transactions/7", { events: [message("$b"), message("$c")] })).status).toBe(200);
    expect(got.map((e) => e.eventId)).toEqual(["$a", "$b", "$c"]);
    expect(dropped("repeated_transaction")).toBe(2);
  });
});
