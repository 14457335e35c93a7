/**
 * The null bridge: the floor the homeserver phase (bench/homeserver.ts) measures Tandem against. A
 * bare Matrix appservice on plain node:http and `ws`, no matrix-appservice-bridge, no database,
 * that does one thing per message and nothing else:
 *
 *   Slack → Matrix: one `PUT /rooms/{room}/send/m.room.message/{txn}` as a pre-registered user per
 *                   Slack message received over Socket Mode (acked at once);
 *   Matrix → Slack: one `chat.postMessage` per m.room.message in a transaction the homeserver
 *                   pushes (answered once the posts are answered).
 *
 * No ghosts, no formatting, no queue, no message map, no dedup, no retries, no restart resume:
 * what it leaves out is what a bridge must do and the floor does not. Run compiled (plain node,
 * as Tandem runs), configured by one JSON argument (NullBridgeConfig); prints "null bridge ready"
 * once its listener is up and the Slack socket said hello.
 */
import http from "node:http";
import { WebSocket } from "ws";

export interface NullBridgeConfig {
  /** Port the appservice listener takes (loopback). */
  port: number;
  homeserverUrl: string;
  asToken: string;
  hsToken: string;
  /** The pre-registered user that sends every Slack message into Matrix. */
  senderMxid: string;
  /** Users in the appservice's namespace: their events are the bridge's own, not relayed. */
  ownPrefix: string;
  /** Slack Web API base, ending in "/" (…/api/). */
  slackApiUrl: string;
  botToken: string;
  appToken: string;
  /** Slack channel id → Matrix room id (one room per channel, both ways). */
  rooms: Record<string, string>;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One HTTP call with a JSON body; resolves with the parsed answer, rejects on a non-2xx. */
export function call(url: string, method: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: { "content-type": "application/json; charset=utf-8", "content-length": data.length, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${url.split("?")[0]} answered ${res.statusCode}: ${text.slice(0, 200)}`));
        else resolve(text ? JSON.parse(text) : {});
      });
    });
    req.on("error", reject);
    req.end(data);
  });
}

export async function runNullBridge(cfg: NullBridgeConfig): Promise<void> {
  const channelOf = new Map(Object.entries(cfg.rooms).map(([channel, room]) => [room, channel]));
  let txn = 0;
  const fail = (err: unknown) => process.stderr.write(`null bridge: ${err instanceof Error ? err.message : String(err)}\n`);

  const toMatrix = (channel: string, text: string) => {
    const room = cfg.rooms[channel];
    if (!room) return;
    const url = `${cfg.homeserverUrl}/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/n${process.pid}-${++txn}?user_id=${encodeURIComponent(cfg.senderMxid)}`;
    call(url, "PUT", { msgtype: "m.text", body: text }, { authorization: `Bearer ${cfg.asToken}` }).catch(fail);
  };

  const toSlack = (room: string, text: string) => {
    const channel = channelOf.get(room);
    if (!channel) return Promise.resolve();
    return call(new URL("chat.postMessage", cfg.slackApiUrl).href, "POST", { channel, text }, { authorization: `Bearer ${cfg.botToken}` }).catch(fail);
  };

  // The appservice listener: transactions on the legacy and the v1 paths, token in the query or header.
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const token = url.searchParams.get("access_token") ?? req.headers.authorization?.replace(/^Bearer /, "");
      const answer = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (token !== cfg.hsToken) return answer(403, { errcode: "M_FORBIDDEN" });
      if (req.method !== "PUT" || !/\/transactions\/[^/]+$/.test(url.pathname)) return answer(404, { errcode: "M_UNRECOGNIZED" });
      const events = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { events?: Array<{ type: string; room_id: string; sender: string; content?: { body?: unknown } }> }).events ?? [];
      const posts = events
        .filter((e) => e.type === "m.room.message" && !e.sender.startsWith(cfg.ownPrefix) && typeof e.content?.body === "string")
        .map((e) => toSlack(e.room_id, e.content!.body as string));
      void Promise.all(posts).then(() => answer(200, {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(cfg.port, "127.0.0.1", resolve));

  // Slack's Socket Mode: ack every envelope, relay a person's plain message.
  const open = (await call(new URL("apps.connections.open", cfg.slackApiUrl).href, "POST", {}, { authorization: `Bearer ${cfg.appToken}` })) as { ok: boolean; url?: string };
  if (!open.ok || !open.url) throw new Error(`apps.connections.open: ${JSON.stringify(open)}`);
  const ws = new WebSocket(open.url);
  await new Promise<void>((resolve, reject) => {
    ws.on("error", reject);
    ws.on("message", (data: Buffer) => {
      const frame = JSON.parse(data.toString("utf8")) as { type?: string; envelope_id?: string; payload?: { event?: { type?: string; channel?: string; text?: string; subtype?: string; bot_id?: string } } };
      if (frame.type === "hello") return resolve();
      if (!frame.envelope_id) return;
      ws.send(JSON.stringify({ envelope_id: frame.envelope_id }));
      const e = frame.payload?.event;
      if (e?.type === "message" && !e.subtype && !e.bot_id && e.channel && typeof e.text === "string") toMatrix(e.channel, e.text);
    });
  });
  process.stdout.write("null bridge ready\n");
  const stop = () => {
    ws.close();
    server.close();
    agent.destroy();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

// Run as a program (node null-bridge.js '<config JSON>'), not when imported.
if (process.argv[1]?.endsWith("null-bridge.js")) {
  runNullBridge(JSON.parse(process.argv[2] ?? "{}") as NullBridgeConfig).catch((err: unknown) => {
    process.stderr.write(`null bridge: failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
