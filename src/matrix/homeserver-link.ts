/**
 * The bridge's own standing on the homeserver, as plain client-server calls with the as_token:
 * its bot user (registered, with a profile), the appservice ping, whoami. Used at start and by the
 * idle probe (homeserver-watch.ts), and by `tandem doctor` to check the same things the same way.
 */
import { randomUUID } from "node:crypto";
import { AsHttp } from "./as-http.js";
import { errcodeOf, isUnreachable } from "./errors.js";

const enc = encodeURIComponent;
/** Probes and start-up calls are small: a homeserver that takes longer than this is as good as down. */
const CALL_TIMEOUT_MS = 15_000;

export type PingResult =
  | { kind: "ok"; durationMs: number }
  /** The homeserver predates Matrix 1.7 (Synapse 1.67 answers 404 M_UNRECOGNIZED). */
  | { kind: "absent" }
  /** The homeserver could not reach the bridge (M_CONNECTION_FAILED, M_CONNECTION_TIMEOUT) or got an error from it (M_BAD_STATUS, with its HTTP status). */
  | { kind: "failed"; errcode: string; message: string; status?: number };

/** How a failed call to the homeserver reads for an operator. */
export type Trouble =
  /** The homeserver does not know the as_token: the registration is not loaded (or was changed since). */
  | { kind: "token" }
  /** No Matrix answer at all: refused, reset, timed out, or a proxy's error page. */
  | { kind: "unreachable"; detail: string }
  /** A Matrix refusal of something else (M_FORBIDDEN, M_EXCLUSIVE, …). */
  | { kind: "refused"; detail: string };

export function troubleOf(err: unknown): Trouble {
  const code = errcodeOf(err);
  if (code === "M_UNKNOWN_TOKEN" || code === "M_MISSING_TOKEN") return { kind: "token" };
  const detail = err instanceof Error ? err.message : String(err);
  return isUnreachable(err) ? { kind: "unreachable", detail } : { kind: "refused", detail };
}

/** The one line an operator needs when the homeserver refuses the as_token (bridge log, /health, doctor). */
export function unknownTokenMessage(registrationPath: string): string {
  return `homeserver did not accept the registration (M_UNKNOWN_TOKEN: it does not know the bridge's as_token): load ${registrationPath} into the homeserver again ` +
    `(Synapse: app_service_config_files in homeserver.yaml, then restart it; the file changes with generate-registration --force)`;
}

export class HomeserverLink {
  private readonly http: AsHttp;
  readonly botMxid: string;

  constructor(homeserverUrl: string, asToken: string, private readonly botLocalpart: string, domain: string, private readonly appserviceId: string) {
    this.http = new AsHttp(homeserverUrl, asToken, CALL_TIMEOUT_MS);
    this.botMxid = `@${botLocalpart}:${domain}`;
  }

  /**
   * Register the bot user (`m.login.application_service`). Not every homeserver creates the
   * registration's sender_localpart user (Synapse does not): until it exists its profile cannot be
   * read. M_USER_IN_USE means it exists already.
   */
  async registerBot(): Promise<"registered" | "existed"> {
    try {
      await this.http.request("POST", "/_matrix/client/v3/register", {
        body: { type: "m.login.application_service", username: this.botLocalpart, inhibit_login: true },
      });
      return "registered";
    } catch (err) {
      if (errcodeOf(err) === "M_USER_IN_USE") return "existed";
      throw err;
    }
  }

  /** The bot's profile, or null when the homeserver has none (404: Synapse's answer for a user that was never registered). */
  async botProfile(): Promise<{ displayname?: string; avatar_url?: string } | null> {
    try {
      return await this.http.request<{ displayname?: string; avatar_url?: string }>("GET", `/_matrix/client/v3/profile/${enc(this.botMxid)}`);
    } catch (err) {
      if (errcodeOf(err) === "M_NOT_FOUND") return null;
      throw err;
    }
  }

  /** Set the bot's display name and avatar where they differ (reading the profile first also proves the bot exists). */
  async ensureBotProfile(displayname: string, avatar: string): Promise<void> {
    const profile = await this.botProfile();
    if (!profile) throw Object.assign(new Error(`the bot ${this.botMxid} has no profile on the homeserver (M_NOT_FOUND): it is not registered`), { errcode: "M_NOT_FOUND", statusCode: 404 });
    const path = (field: string) => `/_matrix/client/v3/profile/${enc(this.botMxid)}/${field}`;
    if (displayname && profile.displayname !== displayname) await this.http.request("PUT", path("displayname"), { body: { displayname } });
    if (avatar && profile.avatar_url !== avatar) await this.http.request("PUT", path("avatar_url"), { body: { avatar_url: avatar } });
  }

  /**
   * The appservice ping (Matrix 1.7): the homeserver calls the bridge's /_matrix/app/v1/ping, so
   * both sides know at once that they reach each other, and a homeserver that had marked the bridge
   * down retries its transactions now instead of after its backoff.
   */
  async ping(): Promise<PingResult> {
    const started = Date.now();
    try {
      const res = await this.http.request<{ duration_ms?: unknown }>("POST", `/_matrix/client/v1/appservice/${enc(this.appserviceId)}/ping`, {
        body: { transaction_id: `tandem-${randomUUID()}` },
      });
      return { kind: "ok", durationMs: typeof res.duration_ms === "number" ? res.duration_ms : Date.now() - started };
    } catch (err) {
      const e = err as { statusCode?: number; body?: { errcode?: string; error?: string; status?: unknown } };
      const errcode = errcodeOf(err);
      // Before Matrix 1.7 there is no such endpoint: 404/405 M_UNRECOGNIZED (or a bare 404).
      if (errcode === "M_UNRECOGNIZED" || (!errcode && (e.statusCode === 404 || e.statusCode === 405))) return { kind: "absent" };
      if (errcode && errcode !== "M_UNKNOWN_TOKEN" && errcode !== "M_MISSING_TOKEN" && e.statusCode !== undefined && e.statusCode >= 400) {
        const status = typeof e.body?.status === "number" ? e.body.status : undefined;
        return { kind: "failed", errcode, message: e.body?.error ?? errcode, ...(status !== undefined ? { status } : {}) };
      }
      throw err; // the homeserver itself is unreachable or refuses our token: the caller's trouble, not the ping's
    }
  }

  /** Who the as_token is on the homeserver (the bot): the cheapest authenticated call, for the idle probe. */
  async whoami(): Promise<string> {
    const res = await this.http.request<{ user_id?: unknown }>("GET", "/_matrix/client/v3/account/whoami");
    return typeof res.user_id === "string" ? res.user_id : "";
  }

  close(): void {
    this.http.close();
  }
}
