/**
 * The appservice listener as an attacker meets it. Every homeserver route (transactions, user
 * and alias queries) wants the hs_token, compared in constant time (through
 * crypto.timingSafeEqual on equal-length digests, whatever was sent), on the v1 and the legacy
 * unprefixed paths alike; and malformed or oversized bodies get a Matrix error, never a stack trace, while a
 * transaction with junk among its events still delivers the good ones.
 */
import * as crypto from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MatrixAppservice } from "../../../src/matrix/appservice.js";
import { silentLogger } from "../../../src/core/log.js";
import type { MatrixInbound } from "../../../src/core/matrix-port.js";
import { freePort } from "../../support/harness.js";

vi.mock("node:crypto", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:crypto")>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

const HS = "hs-token-bbbbbbbbbbbbbbbbbbbbbbbb";
const registration = {
  id: "tandem", url: "http://127.0.0.1:1", as_token: "as-token-aaaaaaaa", hs_token: HS,
  sender_localpart: "tandembot", rate_limited: false,
  namespaces: { users: [{ exclusive: true, regex: "^@tandembot:example\\.org$" }], aliases: [], rooms: [] },
};
const message = (id: string) => ({
  type: "m.room.message", room_id: "!r:example.org", event_id: id, sender: "@alice:example.org", origin_server_ts: 1, content: { msgtype: "m.text", body: "hi" },
});

describe("appservice listener security", () => {
  let as: MatrixAppservice | undefined;
  let base = "";
  const got: MatrixInbound[] = [];
  const safeEqual = vi.mocked(crypto.timingSafeEqual);

  beforeEach(async () => {
    got.length = 0;
    const port = await freePort();
    as = new MatrixAppservice({ homeserverUrl: "http://127.0.0.1:9", domain: "example.org", registration, hostname: "127.0.0.1", port, log: silentLogger });
    await as.start(async (e) => { got.push(...e); });
    base = `http://127.0.0.1:${port}`;
  });
  afterEach(async () => { await as?.stop(); as = undefined; });

  const txn = (id: string, headers: Record<string, string>, body: string | object = { events: [message("$1")] }, query = "", prefix = "/_matrix/app/v1") =>
    fetch(`${base}${prefix}/transactions/${id}${query}`, {
      method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json", ...headers },
    });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it("every homeserver route refuses a missing, empty, wrong, truncated or extended token", async () => {
    const routes = [
      (h: Record<string, string>, q = "") => fetch(`${base}/_matrix/app/v1/users/${encodeURIComponent("@slack_t1_u1:example.org")}${q}`, { headers: h }),
      (h: Record<string, string>, q = "") => fetch(`${base}/_matrix/app/v1/rooms/${encodeURIComponent("#slack_acme_general:example.org")}${q}`, { headers: h }),
      (h: Record<string, string>, q = "") => txn(`t-${Math.random()}`, h, undefined, q),
      // The legacy unprefixed paths (Synapse 1.67) behind the same check.
      (h: Record<string, string>, q = "") => fetch(`${base}/users/${encodeURIComponent("@slack_t1_u1:example.org")}${q}`, { headers: h }),
      (h: Record<string, string>, q = "") => fetch(`${base}/rooms/${encodeURIComponent("#slack_acme_general:example.org")}${q}`, { headers: h }),
      (h: Record<string, string>, q = "") => txn(`t-${Math.random()}`, h, { events: [message("$2")] }, q, ""),
    ];
    for (const route of routes) {
      expect((await route({})).status).toBe(401);
      expect((await route({ authorization: "Bearer " })).status).toBe(401);
      expect((await route({ authorization: HS })).status).toBe(401); // no Bearer scheme
      for (const wrong of ["wrong", HS.slice(0, -1), HS + "x", HS.toUpperCase(), registration.as_token]) {
        const res = await route(bearer(wrong));
        expect(res.status).toBe(403);
        expect(await res.json()).toMatchObject({ errcode: "M_FORBIDDEN" });
        expect((await route({}, `?access_token=${encodeURIComponent(wrong)}`)).status).toBe(403);
      }
    }
    expect(got).toEqual([]);
    // And the right token, in the header or the query, is let in everywhere.
    for (const route of routes) {
      expect((await route(bearer(HS))).status).toBeLessThan(300);
      expect((await route({}, `?access_token=${HS}`)).status).toBeLessThan(300);
    }
    expect(got.map((e) => e.eventId)).toEqual(["$1", "$1", "$2", "$2"]);
  });

  it("compares in constant time: timingSafeEqual on equal-length digests for every request", async () => {
    safeEqual.mockClear();
    const tokens = ["x", HS.slice(0, 5), HS + "-longer-than-the-real-one", HS];
    for (const t of tokens) await fetch(`${base}/_matrix/app/v1/users/@a:example.org`, { headers: bearer(t) });
    await txn("ct-1", bearer("nope"));
    expect(safeEqual).toHaveBeenCalledTimes(tokens.length + 1);
    for (const [a, b] of safeEqual.mock.calls) expect((a as Buffer).length).toBe((b as Buffer).length);
  });

  it("unknown appservice paths want the token too, and then say nothing", async () => {
    expect((await fetch(`${base}/_matrix/app/v1/thirdparty/protocol/slack`)).status).toBe(401);
    const unknown = await fetch(`${base}/_matrix/app/v1/thirdparty/protocol/slack`, { headers: bearer(HS) });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ errcode: "M_UNRECOGNIZED" });
    expect(got).toEqual([]);
  });

  it("a body that is not JSON, truncated JSON or too large gets a Matrix error without a stack trace", async () => {
    for (const body of ["not json", '{"events":[{"type":"m.room.mess', "<html>", "\u0000\u0001"]) {
      const res = await txn("bad", bearer(HS), body);
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ errcode: "M_NOT_JSON" });
      expect(text).not.toMatch(/at .*node_modules|SyntaxError|\.js:\d+/);
    }
    const huge = await txn("huge", bearer(HS), JSON.stringify({ events: [{ ...message("$big"), content: { msgtype: "m.text", body: "x".repeat(21 * 1024 * 1024) } }] }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ errcode: "M_TOO_LARGE" });
    expect(got).toEqual([]);
  });

  it("junk among a transaction's events is skipped, the good ones arrive, and the transaction is answered 200", async () => {
    const junk = [null, 0, "x", [], [message("$nested")], { type: null }, { ...message("$nocontent"), content: null }, { ...message("$badsender"), sender: 5 }];
    const res = await txn("mixed", bearer(HS), { events: [...junk, message("$good1"), message("$good2")] });
    expect(res.status).toBe(200);
    expect(got.map((e) => e.eventId)).toEqual(["$good1", "$good2"]);
    for (const body of [{}, { events: null }, { events: "x" }, { events: { 0: message("$obj") } }, [message("$top")], "5"] as Array<string | object>) {
      expect((await txn(`odd-${JSON.stringify(body).length}`, bearer(HS), body)).status).toBeLessThan(500);
    }
    expect(got.map((e) => e.eventId)).toEqual(["$good1", "$good2"]);
  });
});
