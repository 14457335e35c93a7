/**
 * The metrics listener: GET /metrics (Prometheus text from the registry observability/metrics.ts
 * builds), GET /health (JSON; 200 when ok, 503 when degraded), and any
 * extra routes main adds (the signed avatar URLs, the status page).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Route = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean> | boolean;

export class MetricsServer {
  private server: http.Server | null = null;
  private readonly routes: Route[] = [];

  route(r: Route): void {
    this.routes.push(r);
  }

  async listen(port: number, hostname: string): Promise<number> {
    this.server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      void (async () => {
        for (const r of this.routes) if (await r(req, res, url)) return;
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }));
      })().catch((err) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: String(err instanceof Error ? err.message : err) }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, hostname, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
