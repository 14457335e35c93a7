/**
 * One component of the relay path in a process of its own, for the components phase
 * (bench/components.ts): Tandem's code for it, or the plainest code that does the same (the
 * floor), so the CPU of the process is the component's alone. The parent plays the other end
 * and asks for this process's CPU before and after the measured items.
 *
 *   listener-tandem / listener-plain  serve appservice transactions (Tandem's MatrixAppservice,
 *                                      or node:http and JSON.parse)
 *   web-tandem / web-plain            call chat.postMessage (Tandem's WebClient, or the null
 *                                      bridge's one node:http POST)
 *   socket-tandem / socket-plain      take Socket Mode frames and ack them (the SDK with Tandem's
 *                                      guard, or a bare `ws` client)
 */
import http from "node:http";
import { WebSocket } from "ws";
import { silentLogger } from "../src/core/log.js";
import { MatrixAppservice } from "../src/matrix/appservice.js";
import { makeWebClient, sdkLogger } from "../src/networks/slack/api.js";
import { guardSocketMode } from "../src/networks/slack/socket-guard.js";
import { call as plainCall } from "./null-bridge.js";

export type ComponentMode = "listener-tandem" | "listener-plain" | "web-tandem" | "web-plain" | "socket-tandem" | "socket-plain";
export type ComponentRequest =
  | { type: "serve"; mode: ComponentMode; hsToken: string }
  | { type: "call"; mode: ComponentMode; apiUrl: string; count: number }
  | { type: "connect"; mode: ComponentMode; apiUrl: string; wsUrl: string }
  | { type: "cpu" };
export type ComponentReply =
  | { type: "listening"; port: number }
  | { type: "called" }
  | { type: "connected" }
  | { type: "cpu"; us: number };

const send = (m: ComponentReply) => process.send!(m);
const cpuUs = () => { const c = process.cpuUsage(); return c.user + c.system; };

async function serve(mode: ComponentMode, hsToken: string): Promise<number> {
  if (mode === "listener-tandem") {
    const port = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
    });
    const registration = {
      id: "bench", url: "http://127.0.0.1:1", as_token: "as-token-bench", hs_token: hsToken, sender_localpart: "benchbot", rate_limited: false,
      namespaces: { users: [{ exclusive: true, regex: "@bench_.*:example\\.org" }], aliases: [], rooms: [] },
    };
    const as = new MatrixAppservice({ homeserverUrl: "http://127.0.0.1:9", domain: "example.org", registration, hostname: "127.0.0.1", port, log: silentLogger });
    await as.start(async () => undefined);
    return port;
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      JSON.parse(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

async function call(mode: ComponentMode, apiUrl: string, count: number): Promise<void> {
  const web = mode === "web-tandem" ? makeWebClient("xoxb-bench", { apiUrl, log: silentLogger, retries: 0, timeoutMs: 10_000 }) : null;
  for (let i = 0; i < count; i++) {
    const args = { channel: "C0BENCH", text: `message ${i}` };
    if (web) await web.chat.postMessage(args);
    else await plainCall(`${apiUrl}chat.postMessage`, "POST", args, { authorization: "Bearer xoxb-bench" });
  }
}

async function connect(mode: ComponentMode, apiUrl: string, wsUrl: string): Promise<void> {
  if (mode === "socket-tandem") {
    const { SocketModeClient } = await import("@slack/socket-mode");
    const client = new SocketModeClient({ appToken: "xapp-bench", clientOptions: { slackApiUrl: apiUrl }, autoReconnectEnabled: false, logger: sdkLogger(silentLogger) });
    client.on("slack_event", (args: { ack(): Promise<void> }) => void args.ack());
    guardSocketMode(client, silentLogger);
    await client.start();
    return;
  }
  const ws = new WebSocket(wsUrl);
  ws.on("message", (data) => {
    const frame = JSON.parse(String(data)) as { envelope_id?: string };
    if (!frame.envelope_id) return;
    ws.send(JSON.stringify({ envelope_id: frame.envelope_id }));
  });
  await new Promise((resolve) => ws.once("message", resolve)); // hello
}

process.on("message", (m: ComponentRequest) => {
  const fail = (err: unknown) => { process.stderr.write(`component child: ${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); };
  if (m.type === "cpu") send({ type: "cpu", us: cpuUs() });
  else if (m.type === "serve") serve(m.mode, m.hsToken).then((port) => send({ type: "listening", port }), fail);
  else if (m.type === "call") call(m.mode, m.apiUrl, m.count).then(() => send({ type: "called" }), fail);
  else connect(m.mode, m.apiUrl, m.wsUrl).then(() => send({ type: "connected" }), fail);
});
