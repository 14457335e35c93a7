/**
 * Live health of every login: connection state, last successful relay, error count.
 * Read by `status`, /health and /metrics. In memory: it describes this process.
 */
import type { ConnectionState } from "./connector.js";

export interface LoginHealth {
  loginId: string;
  network: string;
  name: string;
  ownerMxid: string;
  state: ConnectionState;
  message?: string;
  since: number;
  lastSuccessAt: number | null;
  errors: number;
  relayed: { toMatrix: number; fromMatrix: number };
  /** Last measured remote-event → Matrix-send delay, ms. */
  lagMs: number | null;
}

/** Told where each figure changes, so counters are counted there (metrics), never rebuilt from a snapshot. */
export interface HealthListener {
  /** A login is tracked (started): its series start at zero. */
  tracked?(h: LoginHealth): void;
  relayed?(h: LoginHealth, direction: "toMatrix" | "fromMatrix"): void;
  errored?(h: LoginHealth): void;
  /** The login is gone (logged out): its series go too. */
  forgotten?(h: LoginHealth): void;
}

export class HealthBoard {
  private readonly logins = new Map<string, LoginHealth>();
  private readonly listeners: HealthListener[] = [];
  /** Set while the homeserver cannot be reached; cleared by the next call that reaches it. */
  homeserverError: string | null = null;
  /**
   * Set while the bridge's own footing on the homeserver is missing: its token refused, its bot not
   * registered. Calls as ghosts may still work meanwhile, so they do not clear it; only the start-up
   * (or the periodic probe) that finds it fixed does.
   */
  homeserverSetupError: string | null = null;
  /** Set while the database cannot be used (queue reads fail); cleared by the next read that works. */
  databaseError: string | null = null;
  /** Set while the database answers but refuses writes (read-only, rights revoked); cleared by the next probe write that works. */
  databaseWriteError: string | null = null;

  track(loginId: string, network: string, name: string, ownerMxid: string): LoginHealth {
    const h: LoginHealth = {
      loginId, network, name, ownerMxid, state: "connecting", since: Date.now(),
      lastSuccessAt: null, errors: 0, relayed: { toMatrix: 0, fromMatrix: 0 }, lagMs: null,
    };
    this.logins.set(loginId, h);
    for (const l of this.listeners) l.tracked?.(h);
    return h;
  }

  subscribe(listener: HealthListener): void {
    this.listeners.push(listener);
  }

  forget(loginId: string): void {
    const h = this.logins.get(loginId);
    this.logins.delete(loginId);
    if (h) for (const l of this.listeners) l.forgotten?.(h);
  }

  get(loginId: string): LoginHealth | undefined {
    return this.logins.get(loginId);
  }

  all(): LoginHealth[] {
    return [...this.logins.values()];
  }

  setState(loginId: string, state: ConnectionState, message?: string): void {
    const h = this.logins.get(loginId);
    if (!h) return;
    if (h.state !== state) h.since = Date.now();
    h.state = state;
    h.message = message;
  }

  success(loginId: string, direction: "toMatrix" | "fromMatrix", lagMs?: number): void {
    const h = this.logins.get(loginId);
    if (!h) return;
    h.lastSuccessAt = Date.now();
    h.relayed[direction]++;
    if (lagMs !== undefined) h.lagMs = lagMs;
    for (const l of this.listeners) l.relayed?.(h, direction);
  }

  error(loginId: string): void {
    const h = this.logins.get(loginId);
    if (!h) return;
    h.errors++;
    for (const l of this.listeners) l.errored?.(h);
  }

  /** What is wrong with the homeserver, or null: the start-up problem first (it explains the rest). */
  homeserverProblem(): string | null {
    return this.homeserverSetupError ?? this.homeserverError;
  }

  /** What is wrong with the database, or null. */
  databaseProblem(): string | null {
    return this.databaseError ?? this.databaseWriteError;
  }

  /** ok when every login is connected, the homeserver answers and accepts the bridge, and the database answers and takes writes. */
  overall(): "ok" | "degraded" {
    if (this.homeserverProblem() || this.databaseProblem()) return "degraded";
    return this.all().every((h) => h.state === "connected") ? "ok" : "degraded";
  }
}
