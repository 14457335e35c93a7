/**
 * An HTTP proxy between the bridge and the fake homeserver that can spoil answers the way a
 * broken deployment does: a proxy's HTML 502 page, a 200 with a web page instead of JSON
 * (a misrouted reverse proxy), or JSON cut short (a connection dropped mid-answer, after the
 * homeserver did the work). Listens on 127.0.0.1 only. Tests point homeserver.url at it.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type SpoilMode = "pass" | "html502" | "garbage200" | "truncated";

const HOP_BY_HOP = new Set(["host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "proxy-connection"]);

export class SpoilingProxy {
  mode: SpoilMode = "pass";
  /** Where requests go when passed on, e.g. the fake homeserver's URL (may be set after start). */
  target = "";
  /** Only requests whose path matches are spoiled. Default: every client-server and media call. */
  match: RegExp = /^\/_matrix\/(client|media)\//;
  /** How many answers were spoiled so far. */
  spoiled = 0;
  private readonly server = http.createServer((req, res) => void this.handle(req, res).catch((err: unknown) => {
    if (!res.headersSent) res.writeHead(599);
    res.end(String(err));
  }));

  static async start(): Promise<SpoilingProxy> {
    const p = new SpoilingProxy();
    await new Promise<void>((resolve) => p.server.listen(0, "127.0.0.1", () => resolve()));
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const spoil = this.mode !== "pass" && this.match.test(req.url ?? "");
    if (spoil && this.mode !== "truncated") {
      this.spoiled++;
      if (this.mode === "html502") res.writeHead(502, { "content-type": "text/html" }).end("<html><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>");
      else res.writeHead(200, { "content-type": "text/html" }).end("<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>");
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && typeof v === "string") headers[k] = v;
    const up = await fetch(this.target + (req.url ?? "/"), {
      method: req.method, headers, body: chunks.length && req.method !== "GET" && req.method !== "HEAD" ? Buffer.concat(chunks) : undefined,
    });
    const data = Buffer.from(await up.arrayBuffer());
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => { if (!HOP_BY_HOP.has(k) && k !== "content-encoding") out[k] = v; });
    if (spoil) {
      // The homeserver did the work; its answer is lost half-way.
      this.spoiled++;
      res.writeHead(up.status, { "content-type": "application/json" }).end(data.subarray(0, Math.max(1, Math.floor(data.length / 2))));
      return;
    }
    res.writeHead(up.status, out).end(data);
  }
}
