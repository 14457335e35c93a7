/**
 * Live logins: one Connection per stored login, started at boot and after `login`,
 * stopped on `logout`. Each gets an EventSink that queues its events durably and
 * reports its state to the health board.
 */
import type { LoginRow } from "../store/api.js";
import type { Connection, EventSink, LoginRecord, NetworkConnector } from "./connector.js";
import type { CoreDeps } from "./context.js";
import { remoteLane, type RemotePayload } from "./payloads.js";
import type { RemoteEvent } from "./types.js";
import type { NewQueueItem } from "../store/api.js";
import { errorFields } from "./log.js";

export class LoginManager {
  private readonly connections = new Map<string, Connection>();
  private readonly records = new Map<string, LoginRecord>();

  constructor(
    private readonly deps: CoreDeps,
    private readonly enqueue: (items: NewQueueItem[]) => Promise<void>,
    /** Told once when a login's credentials stop working (to DM its owner). */
    private readonly onBadCredentials: (login: LoginRecord, message: string) => void,
  ) {}

  /** Set by the bridge: a code a remote user brought (`EventSink.claim`); resolves to the answer for them. */
  onClaim?: (network: string, user: string, code: string) => Promise<string>;

  connection(loginId: string): Connection | undefined {
    return this.connections.get(loginId);
  }

  record(loginId: string): LoginRecord | undefined {
    return this.records.get(loginId);
  }

  all(): LoginRecord[] {
    return [...this.records.values()];
  }

  /** Connect every stored login; one that fails to start is reported, not fatal. */
  async startAll(): Promise<void> {
    const rows = await this.deps.store.logins.list();
    await Promise.all(rows.map((row) => this.start(row).catch((err) => {
      this.deps.log.error("login could not start", { login: row.id, ...errorFields(err) });
      this.deps.health.setState(row.id, "error", String(err instanceof Error ? err.message : err));
    })));
  }

  async start(row: Omit<LoginRow, "createdAt">): Promise<Connection> {
    const connector = this.deps.connectors.get(row.network);
    if (!connector) throw new Error(`network ${row.network} is not enabled`);
    await this.stop(row.id);
    const login: LoginRecord = { id: row.id, network: row.network, ownerMxid: row.ownerMxid, remoteId: row.remoteId, name: row.name, secrets: row.secrets };
    this.records.set(login.id, login);
    this.deps.health.track(login.id, login.network, login.name, login.ownerMxid);
    const conn = await connector.connect(login, this.sinkFor(connector, login));
    this.connections.set(login.id, conn);
    return conn;
  }

  async stop(loginId: string): Promise<void> {
    const conn = this.connections.get(loginId);
    this.connections.delete(loginId);
    if (conn) await conn.stop().catch((err) => this.deps.log.warn("connection stop failed", { login: loginId, ...errorFields(err) }));
  }

  async remove(loginId: string): Promise<void> {
    await this.stop(loginId);
    this.records.delete(loginId);
    this.deps.health.forget(loginId);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.connections.keys()].map((id) => this.stop(id)));
  }

  private sinkFor(connector: NetworkConnector, login: LoginRecord): EventSink {
    const log = this.deps.log.child({ network: connector.network, login: login.id });
    let told = false;
    return {
      push: async (events: RemoteEvent[]) => {
        const receivedAt = Date.now();
        await this.enqueue(events.map((event) => ({
          lane: remoteLane(connector.network, event.chat),
          sourceKey: `r:${connector.network}:${event.key}`,
          payload: { t: "remote", loginId: login.id, network: connector.network, receivedAt, event } satisfies RemotePayload,
          // A message is a no-op once the map has its ref: the queue can answer that in the insert that hands it out.
          ...(event.kind === "message" ? { mapKey: { network: connector.network, remoteRef: event.ref } } : {}),
        })));
      },
      claim: (user, code) => this.onClaim ? this.onClaim(connector.network, user, code) : Promise.resolve("This bridge does not map accounts."),
      status: (s) => {
        log.info("connection state", { state: s.state, message: s.message });
        this.deps.health.setState(login.id, s.state, s.message);
        if (s.state === "bad-credentials" && !told) {
          told = true;
          this.onBadCredentials(login, s.message ?? "the credentials were rejected");
        }
        if (s.state === "connected") told = false;
      },
    };
  }
}
