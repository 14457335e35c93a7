/**
 * Webhook mode: one small HTTP server per process receives every bot's updates at
 * POST <path of telegram.webhook_url>/<bot id>. Telegram sends the secret we gave setWebhook in
 * X-Telegram-Bot-Api-Secret-Token; anything else is refused. We answer 200 only once the update
 * is durably queued; on failure we answer 500 and Telegram delivers it again later.
 *
 * The server listens on the address given by the connector (by default appservice.hostname and
 * port 29320); put a TLS-terminating reverse proxy in front and point telegram.webhook_url at it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { timingSafeEqual } from "node:crypto";
import type { Update } from "grammy/types";
import type { Logger } from "../../core/log.js";
import { errorFields } from "../../core/log.js";

export interface WebhookRoute {
  secret: string;
  handle(update: Update): Promise<void>;
}

const MAX_BODY = 4 * 1024 * 1024;

export class WebhookHub {
  private readonly routes = new Map<string, WebhookRoute>();
  private server: Server | null = null;
  private listening: Promise<number> | null = null;

  constructor(private readonly host: string, private readonly port: number, private readonly log: Logger) {}

  /** Adds a bot; starts the server with the first one. Resolves with the port listened on. */
  async add(botId: string, route: WebhookRoute): Promise<number> {
    this.routes.set(botId, route);
    if (!this.listening) this.listening = this.listen();
    return this.listening;
  }

  /** Removes a bot; the server closes with the last one. */
  async remove(botId: string, route: WebhookRoute): Promise<void> {
    if (this.routes.get(botId) === route) this.routes.delete(botId);
    if (this.routes.size > 0 || !this.server) return;
    const server = this.server;
    this.server = null;
    this.listening = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private listen(): Promise<number> {
    const server = createServer((req, res) => {
      this.serve(req, res).catch((err) => {
        this.log.warn("webhook request failed", { ...errorFields(err) });
        answer(res, 500, "error");
      });
    });
    this.server = server;
    return new Promise<number>((resolve, reject) => {
      server.once("error", (err) => {
        this.listening = null;
        this.server = null;
        reject(err);
      });
      server.listen(this.port, this.host, () => resolve((server.address() as AddressInfo).port));
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") return answer(res, 405, "POST only");
    const botId = /\/(-?\d+)\/?$/.exec(new URL(req.url ?? "/", "http://x").pathname)?.[1];
    const route = botId ? this.routes.get(botId) : undefined;
    if (!route) return answer(res, 404, "unknown bot");
    const given = req.headers["x-telegram-bot-api-secret-token"];
    if (typeof given !== "string" || !sameSecret(given, route.secret)) return answer(res, 401, "bad secret");
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) return answer(res, 413, "too large");
      chunks.push(chunk);
    }
    let update: Update;
    try {
      update = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Update;
    } catch {
      return answer(res, 400, "not JSON"); // Telegram would resend it forever otherwise: drop it
    }
    if (typeof update !== "object" || update === null || typeof update.update_id !== "number") return answer(res, 400, "not an update");
    await route.handle(update);
    answer(res, 200, "");
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function answer(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": "text/plain" });
  res.end(text);
}
