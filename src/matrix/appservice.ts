/**
 * The appservice side on matrix-appservice-bridge. We keep its Bridge, Intents and HTTP
 * listener but replace two pieces of the transaction handler:
 * - the hs_token is compared in constant time (it used `!==`);
 * - a transaction is answered 200 only after its events are durably queued (it answered
 *   at once, so a crash could lose events the homeserver thought delivered). On failure we
 *   answer 500 and the homeserver retries the same transaction.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { AppService, AppServiceRegistration, Bridge } from "matrix-appservice-bridge";
import type { Logger } from "../core/log.js";
import type { MatrixInbound } from "../core/matrix-port.js";
import { parseMatrixEvent, type RawEvent } from "./events.js";
import { errorFields } from "../core/log.js";

export type TransactionSink = (events: MatrixInbound[]) => Promise<void>;

function sameSecret(a: string, b: string): boolean {
  // Hash first so lengths match and timing says nothing about the token's length.
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

class DurableAppService extends AppService {
  /** Transactions already committed; the homeserver may retry one we answered late. */
  private readonly seen = new Set<string>();
  sink: TransactionSink = async () => undefined;
  /** Told of every m.room.member event (a name or avatar may have changed): profile caches forget it. */
  onMember: ((roomId: string, userId: string) => void) | null = null;

  constructor(private readonly hsToken: string, private readonly log: Logger) {
    super({ homeserverToken: hsToken, httpMaxSizeBytes: 20 * 1024 * 1024 });
    // The base class declares isInvalidToken private; every route calls it, so replace it here.
    (this as unknown as { isInvalidToken: (req: Request, res: Response) => boolean }).isInvalidToken =
      (req, res) => this.checkToken(req, res);
  }

  private checkToken(req: Request, res: Response): boolean {
    const header = req.headers.authorization;
    const provided = header?.startsWith("Bearer ") ? header.slice(7) : typeof req.query.access_token === "string" ? req.query.access_token : "";
    if (provided && sameSecret(provided, this.hsToken)) return false;
    res.status(provided ? 403 : 401).send({ errcode: provided ? "M_FORBIDDEN" : "M_UNAUTHORIZED", error: "Bad token supplied" });
    return true;
  }

  handleTransaction(req: Request, res: Response): void {
    if (this.checkToken(req, res)) return;
    const txnId = req.params.txnId;
    const body = req.body as { events?: unknown } | undefined;
    if (!txnId || !body || typeof body !== "object") {
      res.status(400).send({ errcode: "M_BAD_JSON", error: "Missing transaction id or body" });
      return;
    }
    if (this.seen.has(txnId)) {
      res.send({});
      return;
    }
    const raw = Array.isArray(body.events) ? (body.events as RawEvent[]) : [];
    const parsed: MatrixInbound[] = [];
    for (const ev of raw) {
      // The parser is pure and fuzzed never to throw; a bug there must still not make the
      // homeserver retry this transaction (and hold back every later one) forever.
      try {
        const p = parseMatrixEvent(ev);
        if (p) parsed.push(p);
      } catch (err) {
        this.log.warn("skipping a Matrix event that could not be read", { txnId, ...errorFields(err) });
      }
    }
    for (const ev of raw) {
      const e = (typeof ev === "object" && ev !== null ? ev : {}) as RawEvent;
      if (e.type === "m.room.member" && typeof e.room_id === "string" && typeof e.state_key === "string") this.onMember?.(e.room_id, e.state_key);
    }
    this.sink(parsed).then(
      () => {
        this.seen.add(txnId);
        if (this.seen.size > 10_000) this.seen.delete(this.seen.values().next().value!);
        res.send({});
      },
      (err: unknown) => {
        this.log.error("could not queue a Matrix transaction; the homeserver will retry it", { txnId, ...errorFields(err) });
        res.status(500).send({ errcode: "M_UNKNOWN", error: "Temporary failure, retry" });
      },
    );
  }
}

// The base constructor binds `this.onTransaction` to the route, and TS declares it private:
// point the prototype's onTransaction at ours so the bound handler is the durable one.
(DurableAppService.prototype as unknown as { onTransaction: unknown }).onTransaction = DurableAppService.prototype.handleTransaction;

export interface AppserviceOptions {
  homeserverUrl: string;
  domain: string;
  registration: Record<string, unknown>;
  hostname: string;
  port: number;
  log: Logger;
}

export class MatrixAppservice {
  readonly bridge: Bridge;
  readonly registration: AppServiceRegistration;
  private readonly appservice: DurableAppService;

  constructor(private readonly opts: AppserviceOptions) {
    this.registration = AppServiceRegistration.fromObject(opts.registration as never);
    this.bridge = new Bridge({
      homeserverUrl: opts.homeserverUrl,
      domain: opts.domain,
      registration: this.registration,
      disableStores: true,
      disableContext: true,
      suppressEcho: true,
      // Events reach the core through DurableAppService; the library's own dispatch is unused.
      controller: { onEvent: () => undefined },
    });
    this.appservice = new DurableAppService(this.registration.getHomeserverToken()!, opts.log);
  }

  /** The express app of the appservice listener, for extra public routes (avatars). */
  get expressApp() {
    return this.appservice.expressApp;
  }

  /** User-namespace regexes, for telling our own users (echoes) from people. */
  userNamespaces(): RegExp[] {
    const ns = (this.opts.registration.namespaces as { users?: Array<{ regex: string }> } | undefined)?.users ?? [];
    return ns.map((n) => new RegExp(`^${n.regex}$`));
  }

  /** Called for every m.room.member event received (see DurableAppService.onMember). */
  set onMember(fn: ((roomId: string, userId: string) => void) | null) {
    this.appservice.onMember = fn;
  }

  async start(sink: TransactionSink): Promise<void> {
    this.appservice.sink = sink;
    // Bodies that are not JSON or too large fail in body-parser, before any route: answer in
    // Matrix's error shape, never with express's default page (a stack trace outside production).
    this.appservice.expressApp.use((err: { status?: unknown; statusCode?: unknown }, _req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) return next(err);
      const status = typeof err?.status === "number" && err.status >= 400 && err.status < 600 ? err.status : 500;
      if (status >= 500) this.opts.log.error("appservice request failed", { ...errorFields(err) });
      const [errcode, error] = status === 413 ? ["M_TOO_LARGE", "Request body too large"] : status < 500 ? ["M_NOT_JSON", "Request body is not valid JSON"] : ["M_UNKNOWN", "Internal error"];
      res.status(status).send({ errcode, error });
    });
    await this.bridge.initialise();
    await this.bridge.listen(this.opts.port, this.opts.hostname, 10, this.appservice);
  }

  /** Register the bot (if needed) and set its profile. */
  async setupBot(displayName: string, avatar: string): Promise<void> {
    const bot = this.bridge.getIntent();
    await bot.ensureRegistered();
    await bot.ensureProfile(displayName, avatar || undefined);
  }

  async stop(): Promise<void> {
    await this.bridge.close().catch(() => undefined);
  }
}
