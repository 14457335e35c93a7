/** Media downloads from the homeserver are read with a cap, sent the as_token only, and map errors. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { MatrixError } from "../../../src/core/errors.js";
import { AsHttp } from "../../../src/matrix/as-http.js";

const MB = 1024 * 1024;

describe("AsHttp.download", () => {
  let server: http.Server;
  let base: string;
  const seen: Array<{ url: string; auth?: string; written: number; aborted: boolean }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const entry = { url: req.url ?? "", auth: req.headers.authorization, written: 0, aborted: false };
      seen.push(entry);
      res.on("close", () => { entry.aborted = !res.writableFinished; });
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (path.endsWith("/small")) {
        res.writeHead(200, { "content-type": "image/png; charset=binary", "content-length": "3" });
        return res.end(Buffer.from([1, 2, 3]));
      }
      if (path.endsWith("/declared")) {
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(100 * MB) });
        return res.end(); // says 100 MB; never sends it
      }
      if (path.endsWith("/chunked")) {
        // No Content-Length: 1 MB chunks for as long as the client reads (up to 200 MB).
        res.writeHead(200, { "content-type": "application/octet-stream" });
        const write = () => {
          while (entry.written < 200 * MB) {
            entry.written += MB;
            if (!res.write(Buffer.alloc(MB, 1))) return void res.once("drain", write);
          }
          res.end();
        };
        return write();
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ errcode: "M_NOT_FOUND", error: "no such media" }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => { await new Promise((r) => server.close(r)); });

  const client = () => new AsHttp(base, "as-secret-token");

  it("returns small media with its type, sending the as_token and allow_remote", async () => {
    const dl = await client().download(`${base}/_matrix/client/v1/media/download/example.org/small`, MB);
    expect([...dl.data]).toEqual([1, 2, 3]);
    expect(dl.mime).toBe("image/png");
    const req = seen.find((s) => s.url.includes("/small"))!;
    expect(req.auth).toBe("Bearer as-secret-token");
    expect(req.url).toContain("allow_remote=true");
  });

  it("refuses a declared length over the cap, and stops a chunked answer soon after the cap", async () => {
    await expect(client().download(`${base}/_matrix/media/v3/download/example.org/declared`, 2 * MB))
      .rejects.toSatisfy((e: unknown) => e instanceof MatrixError && e.code === "M_TOO_LARGE" && !e.retryable);
    await expect(client().download(`${base}/_matrix/media/v3/download/example.org/chunked`, 2 * MB))
      .rejects.toSatisfy((e: unknown) => e instanceof MatrixError && e.code === "M_TOO_LARGE");
    const chunked = seen.find((s) => s.url.includes("/chunked"))!;
    // The server sees the connection close before it finished writing: the client cut it off.
    await vi.waitFor(() => expect(chunked.aborted).toBe(true), { timeout: 5000 });
    expect(chunked.written).toBeLessThan(50 * MB); // far from the 200 MB it would have sent
  });

  it("maps a Matrix error answer, and never sends the token to another origin", async () => {
    await expect(client().download(`${base}/_matrix/media/v3/download/example.org/missing`, MB))
      .rejects.toMatchObject({ statusCode: 404, errcode: "M_NOT_FOUND" });
    const before = seen.length;
    await expect(client().download("http://127.0.0.2:9/_matrix/media/v3/download/x/y", MB)).rejects.toMatchObject({ code: "EBADURL" });
    expect(seen.length).toBe(before);
  });
});
