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

export class HealthBoard {
  private readonly logins = new Map<string, LoginHealth>();
  /** Set while the homeserver cannot be reached. */
  homeserverError: string | null = null;
  /** Set while the database cannot be used (queue reads fail); cleared by the next read that works. */
  databaseError: string | null = null;

  track(loginId: string, network: string, name: string, ownerMxid: string): LoginHealth {
    const h: LoginHealth = {
      loginId, network, name, ownerMxid, state: "connecting", since: Date.now(),
      lastSuccessAt: null, errors: 0, relayed: { toMatrix: 0, fromMatrix: 0 }, lagMs: null,
    };
    this.logins.set(loginId, h);
    return h;
  }

  forget(loginId: string): void {
    this.logins.delete(loginId);
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
  }

  error(loginId: string): void {
    const h = this.logins.get(loginId);
    if (h) h.errors++;
  }

  /** ok when every login is connected and the homeserver and the database answer. */
  overall(): "ok" | "degraded" {
    if (this.homeserverError || this.databaseError) return "degraded";
    return this.all().every((h) => h.state === "connected") ? "ok" : "degraded";
  }
}
