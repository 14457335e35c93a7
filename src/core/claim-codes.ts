/**
 * One-time codes that prove a Matrix user and a remote user are the same person (`claim`).
 * A code is bound to the Matrix user who asked for it and to one network (and, for Slack, to the
 * remote user it was sent to); it works once, expires, and wrong guesses are counted per person,
 * so a code of 8 characters from 32 cannot be found by trying. Kept in memory: a restart voids
 * the codes in flight (the person asks again), which is cheaper than storing secrets.
 */
import { randomInt } from "node:crypto";

/** No 0/O, 1/I/L: codes are read off one screen and typed on another. */
const ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LENGTH = 8;

export interface ClaimLimits {
  /** How long a code works. Default 10 minutes. */
  ttlMs: number;
  /** Codes one Matrix user may ask for per window (each Slack code is a DM to someone). Default 3. */
  issuesPerWindow: number;
  /** Wrong codes one person (Matrix user, or remote user) may enter per window. Default 5. */
  failuresPerWindow: number;
  windowMs: number;
}

export const DEFAULT_CLAIM_LIMITS: ClaimLimits = { ttlMs: 10 * 60_000, issuesPerWindow: 3, failuresPerWindow: 5, windowMs: 10 * 60_000 };

export interface PendingClaim {
  code: string;
  mxid: string;
  network: string;
  /** The remote user the code was sent to (Slack); absent when the remote user brings it (Telegram `/start`). */
  userRef?: string;
  expires: number;
}

export type Redeemed =
  | { ok: true; claim: PendingClaim }
  | { ok: false; reason: "limited" | "invalid" | "expired" };

export class ClaimCodes {
  private readonly pending = new Map<string, PendingClaim>();
  /** Who → times of recent events (issues, failures), for the limits. */
  private readonly issued = new Map<string, number[]>();
  private readonly failed = new Map<string, number[]>();

  constructor(private readonly limits: ClaimLimits = DEFAULT_CLAIM_LIMITS, private readonly now: () => number = Date.now) {}

  /** A new code, or null when `mxid` asked for too many lately. A new code replaces their older one for the network. */
  issue(mxid: string, network: string, userRef?: string): PendingClaim | null {
    this.sweep();
    if (this.recent(this.issued, mxid) >= this.limits.issuesPerWindow) return null;
    this.note(this.issued, mxid);
    for (const [code, c] of this.pending) if (c.mxid === mxid && c.network === network) this.pending.delete(code);
    let code: string;
    do code = Array.from({ length: CODE_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
    while (this.pending.has(code));
    const claim: PendingClaim = { code, mxid, network, userRef, expires: this.now() + this.limits.ttlMs };
    this.pending.set(code, claim);
    return claim;
  }

  /**
   * Use a code. `by` is who entered it: `{ mxid }` in Matrix (Slack codes), or `{ network, userRef }`
   * on the remote side (Telegram). Succeeds once; a wrong code counts against `by`.
   */
  redeem(input: string, by: { mxid: string } | { network: string; userRef: string }): Redeemed {
    this.sweep();
    const who = "mxid" in by ? by.mxid : `${by.network}|${by.userRef}`;
    if (this.recent(this.failed, who) >= this.limits.failuresPerWindow) return { ok: false, reason: "limited" };
    const code = input.trim().toUpperCase();
    const claim = this.pending.get(code);
    const fail = (reason: "invalid" | "expired"): Redeemed => {
      this.note(this.failed, who);
      return { ok: false, reason };
    };
    if (!claim) return fail("invalid");
    // A code is only good in the hands it was meant for: a Slack code from its Matrix owner, a
    // Telegram code from the Telegram side. Anyone else presenting it learns nothing.
    if ("mxid" in by ? claim.mxid !== by.mxid || !claim.userRef : claim.network !== by.network || claim.userRef) return fail("invalid");
    if (claim.expires <= this.now()) {
      this.pending.delete(code);
      return fail("expired");
    }
    this.pending.delete(code);
    return { ok: true, claim };
  }

  private recent(map: Map<string, number[]>, who: string): number {
    const since = this.now() - this.limits.windowMs;
    const times = (map.get(who) ?? []).filter((t) => t > since);
    if (times.length) map.set(who, times);
    else map.delete(who);
    return times.length;
  }

  private note(map: Map<string, number[]>, who: string): void {
    map.set(who, [...(map.get(who) ?? []), this.now()]);
  }

  /** Forget expired codes (they would fail anyway; this bounds memory). */
  private sweep(): void {
    const now = this.now();
    for (const [code, c] of this.pending) if (c.expires <= now - this.limits.windowMs) this.pending.delete(code);
  }
}
