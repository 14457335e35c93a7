// Fake Slack: the Socket Mode side (WebSocket server, events_api envelopes, acks, redelivery).
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, WebSocket } from "ws";
import { type Json, nowSec, randomId, uuid } from "./slack-model.js";

export type DisconnectReason = "refresh_requested" | "warning" | "link_disabled" | "too_many_websockets";

/** One logical events_api delivery (an event); redeliveries reuse the record. */
export interface EnvelopeRecord {
  envelope_id: string;
  teamId: string;
  /** The event_callback payload (token, team_id, api_app_id, event, event_id, ...). */
  payload: Json;
  event: Json;
  /** retry_attempt of the latest delivery (0 = first). */
  retry_attempt: number;
  retry_reason: string;
  /** How many times it went over a socket. */
  deliveries: number;
  acked: boolean;
  ackedAt?: number;
  ackPayload?: Json;
  /** Gave up after maxRetries redeliveries without an ack. */
  failed: boolean;
  createdAt: number;
}

/** One frame actually written to a socket. */
export interface SentEnvelope {
  envelope_id: string;
  teamId: string;
  connectionId: number;
  retry_attempt: number;
  retry_reason: string;
  event: Json;
  frame: Json;
  at: number;
}

export interface AckRecord {
  envelope_id: string;
  payload: Json | undefined;
  connectionId: number;
  at: number;
}

interface Connection {
  id: number;
  teamId: string;
  ws: WebSocket;
  ready: boolean;
}

export interface SocketHubOptions {
  ackTimeoutMs: number;
  maxRetries: number;
  pingIntervalMs: number;
  disconnectGraceMs: number;
  /**
   * When a socket closes, redeliver its unacked envelopes at once (in order, ahead of newer
   * events) instead of when their ack timers fire. Slack documents retries, not their order;
   * this models the in-order case. Default false.
   */
  redeliverOnClose?: boolean;
  resolveTicket(ticket: string): { teamId: string; appId: string } | undefined;
}

export class SocketHub {
  readonly envelopes: EnvelopeRecord[] = [];
  readonly sent: SentEnvelope[] = [];
  readonly acks: AckRecord[] = [];
  /** Every JSON frame a client sent that was not an ack. */
  readonly otherFrames: Json[] = [];
  connectionsOpened = 0;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly connections = new Set<Connection>();
  private readonly pending = new Map<string, EnvelopeRecord[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The connection each envelope was last written to, and its ack timer. */
  private readonly byId = new Map<string, EnvelopeRecord>();
  private readonly lastSent = new Map<EnvelopeRecord, { connId: number; timer: NodeJS.Timeout }>();
  private nextConnId = 1;
  private closed = false;

  constructor(private readonly opts: SocketHubOptions) {}

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const ticket = url.searchParams.get("ticket") ?? "";
    const who = url.pathname === "/link/" || url.pathname === "/link" ? this.opts.resolveTicket(ticket) : undefined;
    if (!who || this.closed) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, who.teamId, who.appId));
  }

  private onConnection(ws: WebSocket, teamId: string, appId: string): void {
    const conn: Connection = { id: this.nextConnId++, teamId, ws, ready: false };
    this.connections.add(conn);
    this.connectionsOpened += 1;
    ws.on("message", (data, isBinary) => this.onFrame(conn, data, isBinary));
    ws.on("close", () => {
      this.connections.delete(conn);
      if (this.opts.redeliverOnClose) this.redeliverFrom(conn.id);
    });
    ws.on("error", () => this.connections.delete(conn));
    let pinger: NodeJS.Timeout | undefined;
    if (this.opts.pingIntervalMs > 0) {
      pinger = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.ping(Buffer.from(`ping-${Date.now()}`));
      }, this.opts.pingIntervalMs);
      pinger.unref();
      ws.on("close", () => clearInterval(pinger));
    }
    ws.send(
      JSON.stringify({
        type: "hello",
        num_connections: this.openConnections(teamId).length,
        debug_info: { host: "fake", build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: appId },
      }),
      () => {
        conn.ready = true;
        this.flushPending(teamId);
      },
    );
  }

  private onFrame(conn: Connection, data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) return;
    let msg: Json;
    try {
      msg = JSON.parse(Buffer.isBuffer(data) ? data.toString("utf8") : String(data)) as Json;
    } catch {
      return;
    }
    if (typeof msg.envelope_id !== "string") {
      this.otherFrames.push(msg);
      return;
    }
    const payload = msg.payload as Json | undefined;
    this.acks.push({ envelope_id: msg.envelope_id, payload, connectionId: conn.id, at: Date.now() });
    const env = this.byId.get(msg.envelope_id);
    if (env && !env.acked) {
      const sent = this.lastSent.get(env);
      if (sent) {
        clearTimeout(sent.timer);
        this.timers.delete(sent.timer);
      }
      this.lastSent.delete(env);
      env.acked = true;
      env.ackedAt = Date.now();
      env.ackPayload = payload;
    }
  }

  private openConnections(teamId?: string): Connection[] {
    return [...this.connections].filter(
      (c) => c.ws.readyState === WebSocket.OPEN && (teamId === undefined || c.teamId === teamId),
    );
  }

  openConnectionCount(teamId?: string): number {
    return this.openConnections(teamId).length;
  }

  /** Queue an event_callback payload for a team's app; resolves once written to a socket (or queued). */
  deliver(teamId: string, payload: Json): Promise<void> {
    const env: EnvelopeRecord = {
      envelope_id: uuid(),
      teamId,
      payload,
      event: payload.event as Json,
      retry_attempt: 0,
      retry_reason: "",
      deliveries: 0,
      acked: false,
      failed: false,
      createdAt: Date.now(),
    };
    this.envelopes.push(env);
    this.byId.set(env.envelope_id, env);
    return this.send(env);
  }

  private send(env: EnvelopeRecord): Promise<void> {
    if (this.closed) return Promise.resolve();
    const conns = this.openConnections(env.teamId).filter((c) => c.ready);
    // Slack spreads envelopes over an app's connections; the newest connection is a fine stand-in.
    const conn = conns[conns.length - 1];
    if (!conn) {
      const q = this.pending.get(env.teamId) ?? [];
      q.push(env);
      this.pending.set(env.teamId, q);
      return Promise.resolve();
    }
    const frame: Json = {
      envelope_id: env.envelope_id,
      payload: env.payload,
      type: "events_api",
      accepts_response_payload: false,
      retry_attempt: env.retry_attempt,
      retry_reason: env.retry_reason,
    };
    env.deliveries += 1;
    this.sent.push({
      envelope_id: env.envelope_id,
      teamId: env.teamId,
      connectionId: conn.id,
      retry_attempt: env.retry_attempt,
      retry_reason: env.retry_reason,
      event: env.event,
      frame,
      at: Date.now(),
    });
    this.armAckTimer(env, conn.id);
    return new Promise((resolve) => conn.ws.send(JSON.stringify(frame), () => resolve()));
  }

  private armAckTimer(env: EnvelopeRecord, connId: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.lastSent.delete(env);
      if (env.acked || this.closed) return;
      if (env.retry_attempt >= this.opts.maxRetries) {
        env.failed = true;
        return;
      }
      env.retry_attempt += 1;
      env.retry_reason = "timeout";
      void this.send(env);
    }, this.opts.ackTimeoutMs);
    timer.unref();
    this.timers.add(timer);
    this.lastSent.set(env, { connId, timer });
  }

  /** The socket closed: its unacked envelopes go out again now, oldest first. */
  private redeliverFrom(connId: number): void {
    const lost = this.envelopes.filter((e) => !e.acked && !e.failed && this.lastSent.get(e)?.connId === connId);
    for (const env of lost) {
      const sent = this.lastSent.get(env)!;
      clearTimeout(sent.timer);
      this.timers.delete(sent.timer);
      this.lastSent.delete(env);
      if (env.retry_attempt >= this.opts.maxRetries) {
        env.failed = true;
        continue;
      }
      env.retry_attempt += 1;
      env.retry_reason = "timeout";
      void this.send(env);
    }
  }

  private flushPending(teamId: string): void {
    const q = this.pending.get(teamId);
    if (!q || q.length === 0) return;
    this.pending.delete(teamId);
    for (const env of q) void this.send(env);
  }

  /** Events waiting for a connection (the app had none open when they happened). */
  pendingCount(teamId?: string): number {
    let n = 0;
    for (const [t, q] of this.pending) if (teamId === undefined || t === teamId) n += q.length;
    return n;
  }

  /** Forget queued events (e.g. state seeded before the bridge connected). */
  clearPending(teamId?: string): void {
    if (teamId === undefined) this.pending.clear();
    else this.pending.delete(teamId);
  }

  /** Send Slack's `disconnect` frame and close the socket if the client does not. */
  async disconnect(reason: DisconnectReason, teamId?: string): Promise<void> {
    const conns = this.openConnections(teamId);
    await Promise.all(
      conns.map(
        (c) =>
          new Promise<void>((resolve) => {
            c.ws.send(
              JSON.stringify({ type: "disconnect", reason, debug_info: { host: "fake" } }),
              () => resolve(),
            );
            const t = setTimeout(() => {
              if (c.ws.readyState === WebSocket.OPEN) c.ws.close(1000);
            }, this.opts.disconnectGraceMs);
            t.unref();
          }),
      ),
    );
  }

  /** Kill sockets without a close frame (network failure). */
  drop(teamId?: string): void {
    for (const c of this.openConnections(teamId)) c.ws.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.connections) c.ws.terminate();
    this.connections.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** Build the Events API `event_callback` wrapper for a team's app. */
export function eventCallback(
  team: { id: string; appId: string; botUserId: string; verificationToken: string },
  event: Json,
): Json {
  return {
    token: team.verificationToken,
    team_id: team.id,
    context_team_id: team.id,
    context_enterprise_id: null,
    api_app_id: team.appId,
    event,
    type: "event_callback",
    event_id: randomId("Ev", 10),
    event_time: nowSec(),
    authorizations: [
      { enterprise_id: null, team_id: team.id, user_id: team.botUserId, is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
    event_context: `4-${Buffer.from(JSON.stringify({ et: event.type, tid: team.id })).toString("base64url")}`,
  };
}
