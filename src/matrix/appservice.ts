/**
 * The appservice side on matrix-appservice-bridge. We keep its Bridge and Intents but serve
 * the homeserver's requests ourselves (listener.ts: token before body, bounded bodies, the
 * legacy unprefixed paths) and handle transactions durably:
 * - a transaction is answered 200 only after its events are queued (the library answered at
 *   once, so a crash could lose events the homeserver thought delivered); on failure 500, and
 *   the homeserver retries the same transaction;
 * - a repeated transaction id is skipped only when its body is the same as the one committed
 *   under that id: Synapse on SQLite reuses ids after a restart, with new events in them.
 */
import type { Application, Request, Response } from "express";
import type { ServerResponse } from "node:http";
import { AppService, AppServiceRegistration, Bridge } from "./sdk.js";
import type { Logger } from "../core/log.js";
import type { MatrixInbound } from "../core/matrix-port.js";
import { parseMatrixEvent, type RawEvent } from "./events.js";
import { errorFields } from "../core/log.js";
import { parseBody, yielder, type RawBody, type SkipReason } from "./json-body.js";
import { MAX_EVENT_BYTES, createListener, matrixErrors, sendJson } from "./listener.js";

export type TransactionSink = (events: MatrixInbound[]) => Promise<void>;

/** Why events of a transaction were not handed to the core (the `reason` of tandem_matrix_events_dropped_total). */
export type DropReason = "repeated_transaction" | SkipReason | "unreadable";

/** How many transaction ids (with their body digests) are remembered. */
const REMEMBERED_TXNS = 10_000;

class DurableAppService extends AppService {
  /** Committed transactions: id → sha256 of the body and its event count. The homeserver may retry one we answered late. */
  private readonly committed = new Map<string, { digest: string; events: number }>();
  /** Events not handed to the core, by reason. */
  readonly dropped = new Map<DropReason, number>();
  sink: TransactionSink = async () => undefined;
  /** Told of every m.room.member event (a name or avatar may have changed): profile caches forget it. */
  onMember: ((roomId: string, userId: string) => void) | null = null;

  constructor(hsToken: string, private readonly log: Logger) {
    super({ homeserverToken: hsToken });
    const base = this as unknown as { onGetUsers(req: Request, res: Response): void; onGetRoomAlias(req: Request, res: Response): void };
    const listener = createListener(hsToken, log, {
      transaction: (txnId, body, res) => this.handleTransaction(txnId, body, res),
      ping: (body, res) => this.handlePing(body, res),
      userQuery: (req, res) => void base.onGetUsers(req, res),
      aliasQuery: (req, res) => void base.onGetRoomAlias(req, res),
    });
    // The base class built its own express app (body parser first, 308 on legacy paths); listen()
    // serves `app` (http.createServer({}, this.app)), and expressApp returned it.
    (this as unknown as { app: unknown }).app = listener.handle;
    this.routes = listener.app;
  }

  private readonly routes: Application;

  override get expressApp(): Application {
    return this.routes;
  }

  private drop(reason: DropReason, count: number, meta: Record<string, unknown>): void {
    if (count <= 0) return;
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + count);
    const message = reason === "repeated_transaction"
      ? "repeated transaction with the same body: its events were queued before, not handed over again"
      : "dropped Matrix events of a transaction";
    (reason === "repeated_transaction" ? this.log.info : this.log.warn).call(this.log, message, { reason, count, ...meta });
  }

  private async handleTransaction(txnId: string, body: RawBody, res: ServerResponse): Promise<void> {
    const seen = this.committed.get(txnId);
    if (seen?.digest === body.digest) {
      this.drop("repeated_transaction", seen.events, { txnId });
      sendJson(res, 200, {});
      return;
    }
    if (seen !== undefined) this.log.info("transaction id reused with a different body (a restarted homeserver?): processing it", { txnId });
    const doc = await parseBody(body, {
      maxValueBytes: MAX_EVENT_BYTES,
      onSkip: (reason, path, bytes) => this.drop(reason, 1, { txnId, path: path.join("."), bytes }),
    });
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
      sendJson(res, 400, { errcode: "M_BAD_JSON", error: "A transaction is a JSON object" });
      return;
    }
    const events = (doc as { events?: unknown }).events;
    const raw = Array.isArray(events) ? (events as RawEvent[]) : [];
    const parsed: MatrixInbound[] = [];
    let unreadable = 0;
    // Up to 100 events of 64 KiB each: reading them all at once would hold the event loop too.
    const breathe = yielder();
    for (const ev of raw) {
      await breathe();
      // The parser is pure and fuzzed never to throw; a bug there must still not make the
      // homeserver retry this transaction (and hold back every later one) forever.
      try {
        const p = parseMatrixEvent(ev);
        if (p) parsed.push(p);
      } catch (err) {
        unreadable++;
        this.log.warn("skipping a Matrix event that could not be read", { txnId, ...errorFields(err) });
      }
    }
    this.drop("unreadable", unreadable, { txnId });
    for (const ev of raw) {
      const e = (typeof ev === "object" && ev !== null ? ev : {}) as RawEvent;
      if (e.type === "m.room.member" && typeof e.room_id === "string" && typeof e.state_key === "string") this.onMember?.(e.room_id, e.state_key);
    }
    try {
      await this.sink(parsed);
    } catch (err) {
      this.log.error("could not queue a Matrix transaction; the homeserver will retry it", { txnId, ...errorFields(err) });
      sendJson(res, 500, { errcode: "M_UNKNOWN", error: "Temporary failure, retry" });
      return;
    }
    this.committed.delete(txnId); // re-inserted last: the oldest id is forgotten first
    this.committed.set(txnId, { digest: body.digest, events: raw.length });
    if (this.committed.size > REMEMBERED_TXNS) this.committed.delete(this.committed.keys().next().value!);
    sendJson(res, 200, {});
  }

  /** Matrix 1.7 appservice ping: the homeserver checks it can reach us (and that we accept its token). */
  private async handlePing(body: RawBody, res: ServerResponse): Promise<void> {
    const doc = await parseBody(body, { maxValueBytes: MAX_EVENT_BYTES });
    const txn = typeof doc === "object" && doc !== null ? (doc as { transaction_id?: unknown }).transaction_id : undefined;
    this.log.debug("appservice ping from the homeserver", { transactionId: typeof txn === "string" ? txn : undefined });
    sendJson(res, 200, {});
  }
}

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

  /** Matrix events of transactions not handed to the core since start, by reason (metrics). */
  droppedEvents(): ReadonlyMap<DropReason, number> {
    return this.appservice.dropped;
  }

  async start(sink: TransactionSink): Promise<void> {
    this.appservice.sink = sink;
    // Last in the chain (after the avatar route main mounts): errors in Matrix's shape.
    this.appservice.expressApp.use(matrixErrors(this.opts.log));
    await this.bridge.initialise();
    await this.bridge.listen(this.opts.port, this.opts.hostname, 10, this.appservice);
  }

  async stop(): Promise<void> {
    await this.bridge.close().catch(() => undefined);
  }
}
