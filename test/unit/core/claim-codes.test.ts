/** One-time claim codes (core/claim-codes.ts): bound to who asked, single use, expiring, rate-limited. */
import { describe, expect, it } from "vitest";
import { ClaimCodes } from "../../../src/core/claim-codes.js";

const ALICE = "@alice:example.org";
const MALLORY = "@mallory:example.org";

function codesAt(limits: Partial<ConstructorParameters<typeof ClaimCodes>[0]> = {}) {
  const clock = { now: 1_000_000 };
  const codes = new ClaimCodes({ ttlMs: 600_000, issuesPerWindow: 3, failuresPerWindow: 5, windowMs: 600_000, ...limits }, () => clock.now);
  return { codes, clock };
}

describe("claim codes", () => {
  it("a code sent to a remote user works once, for the Matrix user who asked, typed in any case", () => {
    const { codes } = codesAt();
    const claim = codes.issue(ALICE, "slack", "T1:U1")!;
    expect(claim.code).toMatch(/^[A-Z2-9]{8}$/);
    expect(codes.redeem(claim.code, { mxid: MALLORY })).toEqual({ ok: false, reason: "invalid" });
    expect(codes.redeem(` ${claim.code.toLowerCase()} `, { mxid: ALICE })).toMatchObject({ ok: true, claim: { mxid: ALICE, network: "slack", userRef: "T1:U1" } });
    expect(codes.redeem(claim.code, { mxid: ALICE })).toEqual({ ok: false, reason: "invalid" });
  });

  it("a code the remote user brings (Telegram) works only from that network, and not when typed in Matrix", () => {
    const { codes } = codesAt();
    const claim = codes.issue(ALICE, "telegram")!;
    expect(codes.redeem(claim.code, { mxid: ALICE })).toEqual({ ok: false, reason: "invalid" });
    expect(codes.redeem(claim.code, { network: "slack", userRef: "T1:U9" })).toEqual({ ok: false, reason: "invalid" });
    expect(codes.redeem(claim.code, { network: "telegram", userRef: "42" })).toMatchObject({ ok: true, claim: { mxid: ALICE, network: "telegram" } });
  });

  it("an expired code is refused as expired", () => {
    const { codes, clock } = codesAt();
    const claim = codes.issue(ALICE, "slack", "T1:U1")!;
    clock.now += 600_000;
    expect(codes.redeem(claim.code, { mxid: ALICE })).toEqual({ ok: false, reason: "expired" });
  });

  it("a new code replaces the older one for the same network", () => {
    const { codes } = codesAt();
    const first = codes.issue(ALICE, "slack", "T1:U1")!;
    const second = codes.issue(ALICE, "slack", "T1:U1")!;
    expect(codes.redeem(first.code, { mxid: ALICE })).toEqual({ ok: false, reason: "invalid" });
    expect(codes.redeem(second.code, { mxid: ALICE }).ok).toBe(true);
  });

  it("wrong codes are limited per person: after five, even the right one waits for the window", () => {
    const { codes, clock } = codesAt();
    const claim = codes.issue(ALICE, "slack", "T1:U1")!;
    for (let i = 0; i < 5; i++) expect(codes.redeem("WRONG234", { mxid: ALICE })).toEqual({ ok: false, reason: "invalid" });
    expect(codes.redeem(claim.code, { mxid: ALICE })).toEqual({ ok: false, reason: "limited" });
    expect(codes.redeem("WRONG234", { mxid: MALLORY })).toEqual({ ok: false, reason: "invalid" }); // counted per person
    clock.now += 300_000; // the code still works for 5 more minutes, but not for a guesser
    expect(codes.redeem(claim.code, { mxid: ALICE })).toEqual({ ok: false, reason: "limited" });
  });

  it("asking for codes is limited per Matrix user (each Slack code is a DM to someone)", () => {
    const { codes, clock } = codesAt();
    for (let i = 0; i < 3; i++) expect(codes.issue(ALICE, "slack", "T1:U1")).not.toBeNull();
    expect(codes.issue(ALICE, "slack", "T1:U1")).toBeNull();
    expect(codes.issue(MALLORY, "slack", "T1:U2")).not.toBeNull();
    clock.now += 600_001;
    expect(codes.issue(ALICE, "slack", "T1:U1")).not.toBeNull();
  });
});
