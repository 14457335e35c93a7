// Homeserver -> application service pushing for the fake homeserver: one transaction in flight at a
// time, events linearised, the same transaction (same txnId, same events) retried with exponential
// backoff until the AS answers 2xx, as the application-service spec requires.
import http from "node:http";
import https from "node:https";
import type { ClientEvent, JsonObject } from "./homeserver-model.js";

export interface PushTarget {
  url: string;
  hsToken: string;
}

export interface PushOptions {
  /**
   * Push as Synapse ≤ 1.7x does: `PUT {url}/transactions/{txnId}?access_token=…`, without the
   * `/_matrix/app/v1` prefix and without an Authorization header. Default: the v1 path with a Bearer header.
   */
  legacyPaths?: boolean;
}

export interface DeliveredTransaction {
  txnId: string;
  events: ClientEvent[];
  ephemeral: JsonObject[];
  /** How many PUTs it took (1 = delivered at the first try). */
  attempts: number;
  deliveredAt: number;
}

export interface RetryOptions {
  /** First retry delay (ms). Default 50. */
  initialMs?: number;
  /** Backoff cap (ms). Default 1000. */
  maxMs?: number;
  /** Per-request timeout (ms). Default 10000. */
  requestTimeoutMs?: number;
}

export interface HttpResult {
  status: number;
  body: string;
}

/**
 * A small HTTP client on node:http. Without `agent`, one connection per request (nothing lingers);
 * with one, its keep-alive connections are reused (the caller destroys it).
 */
export function httpRequest(
  method: string,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  signal?: AbortSignal,
  agent?: http.Agent,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === "https:" ? https : http;
    const req = mod.request(
      u,
      {
        method,
        agent: u.protocol === "https:" || !agent ? false : agent,
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...headers },
        timeout: timeoutMs,
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(body);
  });
}

/** The JSON body of a transaction; the same bytes for the same transaction (a retry is byte-identical). */
function transactionBody(txn: { events: ClientEvent[]; ephemeral: JsonObject[] }): string {
  const body: JsonObject = { events: txn.events };
  if (txn.ephemeral.length > 0) {
    body["ephemeral"] = txn.ephemeral;
    body["de.sorunome.msc2409.ephemeral"] = txn.ephemeral;
  }
  return JSON.stringify(body);
}

interface InFlight {
  txnId: string;
  events: ClientEvent[];
  ephemeral: JsonObject[];
  attempts: number;
}

export class AppservicePusher {
  /** Delivered transactions, oldest first. */
  readonly delivered: DeliveredTransaction[] = [];
  /** Every PUT attempted (successful or not). */
  attempts = 0;
  /** PUTs that failed (non-2xx, connection error, timeout): each one leads to a retry. */
  failures = 0;
  lastError: string | undefined;

  private queue: ClientEvent[] = [];
  private ephQueue: JsonObject[] = [];
  private inFlight: InFlight | undefined;
  private sending = false;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private paused = false;
  private stopped = false;
  private abort = new AbortController();
  /**
   * Transactions go over kept-alive connections, as Synapse's (Twisted's persistent connection
   * pool) and conduwuit's (reqwest) do: an appservice sees a new connection only now and then.
   */
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  // Numeric, increasing, and unique across fake instances (matrix-appservice dedupes on the last txnId).
  private nextTxn = Date.now();
  private readonly firstTxn = this.nextTxn;
  private idleWaiters: Array<() => void> = [];
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly target: () => PushTarget | undefined,
    retry: RetryOptions = {},
    private readonly maxEventsPerTxn = 100,
    private readonly pushOpts: PushOptions = {},
  ) {
    this.initialMs = retry.initialMs ?? 50;
    this.maxMs = retry.maxMs ?? 1000;
    this.requestTimeoutMs = retry.requestTimeoutMs ?? 10_000;
    this.delayMs = this.initialMs;
  }

  get isPaused(): boolean {
    return this.paused;
  }
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.kick();
  }

  /** Events waiting (queued or in flight). */
  get pending(): number {
    return this.queue.length + this.ephQueue.length + (this.inFlight ? this.inFlight.events.length + this.inFlight.ephemeral.length : 0);
  }
  get idle(): boolean {
    return this.pending === 0;
  }

  enqueue(event: ClientEvent): void {
    if (this.stopped || !this.target()) return; // no registration url: nothing is pushed (as Synapse)
    this.queue.push(event);
    this.kick();
  }

  enqueueEphemeral(edu: JsonObject): void {
    if (this.stopped || !this.target()) return;
    this.ephQueue.push(edu);
    this.kick();
  }

  /** Resolves when everything queued so far has been delivered. */
  waitIdle(timeoutMs = 5000): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        reject(
          new Error(
            `FakeHomeserver: push queue not idle after ${timeoutMs}ms (pending=${this.pending}, paused=${this.paused}, ` +
              `attempts=${this.attempts}, failures=${this.failures}, lastError=${this.lastError ?? "none"})`,
          ),
        );
      }, timeoutMs);
      this.idleWaiters.push(done);
    });
  }

  /**
   * As a homeserver restarted on SQLite does: transaction ids start over from the first one this
   * pusher used, so the next transactions reuse ids the AS has seen, with new events in them.
   */
  restartTransactionIds(): void {
    this.nextTxn = this.firstTxn;
  }

  /** PUTs a delivered transaction again, byte for byte (a retry the AS already committed). */
  async replay(txn: DeliveredTransaction): Promise<HttpResult> {
    const target = this.target();
    if (!target) throw new Error("no registration url to push to");
    return this.put(target, txn.txnId, transactionBody(txn));
  }

  private put(target: PushTarget, txnId: string, body: string): Promise<HttpResult> {
    const base = target.url.replace(/\/+$/, "");
    const id = encodeURIComponent(txnId);
    return this.pushOpts.legacyPaths
      ? httpRequest("PUT", `${base}/transactions/${id}?access_token=${encodeURIComponent(target.hsToken)}`, body, {}, this.requestTimeoutMs, this.abort.signal, this.agent)
      : httpRequest("PUT", `${base}/_matrix/app/v1/transactions/${id}`, body, { Authorization: `Bearer ${target.hsToken}` }, this.requestTimeoutMs, this.abort.signal, this.agent);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    this.agent.destroy();
  }

  private kick(): void {
    if (this.stopped || this.paused || this.sending || this.timer) return;
    if (!this.inFlight) {
      if (this.queue.length === 0 && this.ephQueue.length === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
        return;
      }
      this.inFlight = {
        txnId: String(this.nextTxn++),
        events: this.queue.splice(0, this.maxEventsPerTxn),
        ephemeral: this.ephQueue.splice(0, this.maxEventsPerTxn),
        attempts: 0,
      };
    }
    void this.attempt(this.inFlight);
  }

  private async attempt(txn: InFlight): Promise<void> {
    const target = this.target();
    if (!target) {
      // Registration removed its url: drop what is pending, as nothing would deliver it.
      this.inFlight = undefined;
      this.queue = [];
      this.ephQueue = [];
      this.kick();
      return;
    }
    this.sending = true;
    this.attempts++;
    txn.attempts++;
    let ok = false;
    try {
      const res = await this.put(target, txn.txnId, transactionBody(txn));
      ok = res.status >= 200 && res.status < 300;
      if (!ok) this.lastError = `HTTP ${res.status} ${res.body.slice(0, 200)}`;
    } catch (err) {
      this.lastError = err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? ""} ${err.message}`.trim() : String(err);
    }
    this.sending = false;
    if (this.stopped) return;
    if (ok) {
      this.delivered.push({
        txnId: txn.txnId,
        events: txn.events,
        ephemeral: txn.ephemeral,
        attempts: txn.attempts,
        deliveredAt: Date.now(),
      });
      this.inFlight = undefined;
      this.delayMs = this.initialMs;
      this.kick();
      return;
    }
    this.failures++;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delay);
  }
}
