/**
 * The components phase: CPU per item of three parts of the relay path, each alone in a process of
 * its own (bench/component-child.ts), Tandem's code beside the plainest code that does the same:
 *
 *   appservice transaction  one-event transactions pushed to the listener (Tandem's
 *                            MatrixAppservice: token check, bounded body, parse; or node:http and
 *                            JSON.parse), measured on the listener's side;
 *   Slack Web API call      chat.postMessage (Tandem's WebClient on its own transport; or one
 *                            node:http POST), measured on the caller's side;
 *   Socket Mode frame       an events_api frame in and its ack out (the SDK behind Tandem's guard;
 *                            or a bare `ws` client), measured on the client's side.
 *
 * One item at a time (the next once the last is answered), after a warm-up, as at a low rate. The
 * homeserver phase's ratio is the bridge's whole per-message cost; this says which part of it is
 * which, with much less noise (nothing else runs in the measured process), and with BENCH_SRC it
 * compares two versions of one component.
 */
import { fork, type ChildProcess } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { WebSocketServer, type WebSocket } from "ws";
import { buildForBench } from "./build.js";
import type { ComponentMode, ComponentReply, ComponentRequest } from "./component-child.js";
import { NODE_FLAGS } from "./proc.js";

export interface ComponentFigure {
  /** CPU µs per item: Tandem's component, the floor's, and their ratio. */
  tandemUs: number;
  plainUs: number;
  ratio: number;
}
export interface ComponentsResult {
  items: number;
  warmUp: number;
  transaction: ComponentFigure;
  webCall: ComponentFigure;
  socketFrame: ComponentFigure;
}

const HS_TOKEN = "hs-token-components-0123456789abcdef";
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

class Child {
  private readonly replies: Array<(m: ComponentReply) => void> = [];
  private constructor(private readonly proc: ChildProcess) {
    proc.on("message", (m: ComponentReply) => this.replies.shift()?.(m));
  }
  static start(): Child {
    const entry = path.join(path.dirname(buildForBench()), "component-child.js");
    return new Child(fork(entry, [], { execArgv: [...NODE_FLAGS], stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  }
  ask(req: ComponentRequest): Promise<ComponentReply> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`component child exited (${code}) during ${req.type}`));
      this.proc.once("exit", onExit);
      this.replies.push((m) => { this.proc.off("exit", onExit); resolve(m); });
      this.proc.send(req);
    });
  }
  async cpu(): Promise<number> {
    const r = await this.ask({ type: "cpu" });
    if (r.type !== "cpu") throw new Error(`expected cpu, got ${r.type}`);
    return r.us;
  }
  stop(): void {
    this.proc.kill();
  }
}

/** Runs `warmUp` items, then `items` more between two CPU readings of the child: µs per item. */
async function measure(child: Child, warmUp: number, items: number, run: (n: number, from: number) => Promise<void>): Promise<number> {
  await run(warmUp, 0);
  const before = await child.cpu();
  await run(items, warmUp);
  return (await child.cpu() - before) / items;
}

async function transactionUs(mode: ComponentMode, warmUp: number, items: number): Promise<number> {
  const child = Child.start();
  try {
    const r = await child.ask({ type: "serve", mode, hsToken: HS_TOKEN });
    if (r.type !== "listening") throw new Error(`expected listening, got ${r.type}`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const put = (i: number) => new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ events: [{ type: "m.room.message", room_id: "!bench:example.org", event_id: `$ev${i}`, sender: "@bench_1:example.org", origin_server_ts: 1, content: { msgtype: "m.text", body: `message ${i}` }, unsigned: { age: 1 } }], ephemeral: [] });
      // Synapse 1.67 pushes to the legacy path with the token in the query.
      const req = http.request({ agent, host: "127.0.0.1", port: r.port, method: "PUT", path: `/transactions/${i}?access_token=${HS_TOKEN}`, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`transaction answered ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.end(body);
    });
    const us = await measure(child, warmUp, items, async (n, from) => { for (let i = 0; i < n; i++) await put(from + i); });
    agent.destroy();
    return us;
  } finally {
    child.stop();
  }
}

/** A Slack Web API and Socket Mode endpoint that answers at once. */
async function fakeSlack(): Promise<{ apiUrl: string; wsUrl: string; sockets: Set<WebSocket>; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const port = (server.address() as { port: number }).port;
      const body = req.url?.endsWith("/apps.connections.open")
        ? { ok: true, url: `ws://127.0.0.1:${port}/link` }
        : { ok: true, channel: "C0BENCH", ts: "1700000000.000100", message: { type: "message", text: "x", ts: "1700000000.000100" } };
      const text = JSON.stringify(body);
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  });
  const wss = new WebSocketServer({ server, path: "/link" });
  const sockets = new Set<WebSocket>();
  wss.on("connection", (ws) => {
    sockets.add(ws);
    ws.send(JSON.stringify({ type: "hello", num_connections: 1, connection_info: { app_id: "A0BENCH" } }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`, wsUrl: `ws://127.0.0.1:${port}/link`, sockets,
    close: () => new Promise((r) => { for (const s of sockets) s.terminate(); wss.close(); server.close(() => r()); }),
  };
}

async function webCallUs(mode: ComponentMode, warmUp: number, items: number): Promise<number> {
  const slack = await fakeSlack();
  const child = Child.start();
  try {
    return await measure(child, warmUp, items, async (n) => {
      const r = await child.ask({ type: "call", mode, apiUrl: slack.apiUrl, count: n });
      if (r.type !== "called") throw new Error(`expected called, got ${r.type}`);
    });
  } finally {
    child.stop();
    await slack.close();
  }
}

async function socketFrameUs(mode: ComponentMode, warmUp: number, items: number): Promise<number> {
  const slack = await fakeSlack();
  const child = Child.start();
  try {
    const r = await child.ask({ type: "connect", mode, apiUrl: slack.apiUrl, wsUrl: slack.wsUrl });
    if (r.type !== "connected") throw new Error(`expected connected, got ${r.type}`);
    const [ws] = [...slack.sockets];
    if (!ws) throw new Error("the Socket Mode client did not connect");
    // One frame at a time: the next goes out when the last one's ack is in.
    const frame = (i: number) => new Promise<void>((resolve) => {
      ws.once("message", () => resolve());
      ws.send(JSON.stringify({
        envelope_id: `env-${i}`, type: "events_api", accepts_response_payload: false, retry_attempt: 0, retry_reason: "",
        payload: {
          token: "t", team_id: "T0BENCH", api_app_id: "A0BENCH", type: "event_callback", event_id: `Ev${i}`, event_time: 1700000000, authorizations: [],
          event: { type: "message", channel: "C0BENCH", channel_type: "channel", user: "U0BENCH", text: `message ${i}`, ts: `1700000000.${String(i).padStart(6, "0")}`, event_ts: "1700000000.000001", client_msg_id: `m${i}` },
        },
      }));
    });
    return await measure(child, warmUp, items, async (n, from) => { for (let i = 0; i < n; i++) await frame(from + i); });
  } finally {
    child.stop();
    await slack.close();
  }
}

async function pair(run: (mode: ComponentMode) => Promise<number>, tandem: ComponentMode, plain: ComponentMode): Promise<ComponentFigure> {
  const tandemUs = await run(tandem);
  const plainUs = await run(plain);
  return { tandemUs: round(tandemUs), plainUs: round(plainUs), ratio: round(tandemUs / plainUs, 2) };
}

export async function componentsPhase(opts: { quick: boolean; log: (line: string) => void }): Promise<ComponentsResult> {
  const warmUp = opts.quick ? 300 : 3000;
  const items = opts.quick ? 500 : 5000;
  const transaction = await pair((m) => transactionUs(m, warmUp, items), "listener-tandem", "listener-plain");
  opts.log(`components: appservice transaction ${transaction.tandemUs} µs CPU (floor ${transaction.plainUs})`);
  const webCall = await pair((m) => webCallUs(m, warmUp, items), "web-tandem", "web-plain");
  opts.log(`components: Slack Web API call ${webCall.tandemUs} µs CPU (floor ${webCall.plainUs})`);
  const socketFrame = await pair((m) => socketFrameUs(m, warmUp, items), "socket-tandem", "socket-plain");
  opts.log(`components: Socket Mode frame ${socketFrame.tandemUs} µs CPU (floor ${socketFrame.plainUs})`);
  return { items, warmUp, transaction, webCall, socketFrame };
}
