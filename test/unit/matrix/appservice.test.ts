/**
 * The appservice listener: hs_token checked on every request, and a transaction answered
 * 200 only after its events were handed to the (durable) sink; a failing sink gets a 500 so
 * the homeserver retries the same transaction.
 */
import { afterEach, describe, expect, it } from "vitest";
import { MatrixAppservice } from "../../../src/matrix/appservice.js";
import { silentLogger } from "../../../src/core/log.js";
import type { MatrixInbound } from "../../../src/core/matrix-port.js";
import { freePort } from "../../support/harness.js";

const registration = {
  id: "tandem", url: "http://127.0.0.1:1", as_token: "as-token-aaaaaaaa", hs_token: "hs-token-bbbbbbbb",
  sender_localpart: "tandembot", rate_limited: false,
  namespaces: { users: [{ exclusive: true, regex: "^@tandembot:example\\.org$" }], aliases: [], rooms: [] },
};

const event = (id: string) => ({
  type: "m.room.message", room_id: "!r:example.org", event_id: id, sender: "@alice:example.org", origin_server_ts: 1,
  content: { msgtype: "m.text", body: "hi" },
});

describe("appservice transactions", () => {
  let as: MatrixAppservice | undefined;
  afterEach(async () => { await as?.stop(); as = undefined; });

  async function start(sink: (e: MatrixInbound[]) => Promise<void>): Promise<string> {
    const port = await freePort();
    as = new MatrixAppservice({ homeserverUrl: "http://127.0.0.1:9", domain: "example.org", registration, hostname: "127.0.0.1", port, log: silentLogger });
    await as.start(sink);
    return `http://127.0.0.1:${port}`;
  }
  const put = (base: string, txn: string, token: string | null, body: unknown = { events: [event("$1")] }) =>
    fetch(`${base}/_matrix/app/v1/transactions/${txn}`, {
      method: "PUT", body: JSON.stringify(body),
      headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    });

  it("rejects a wrong or missing hs_token without touching the sink", async () => {
    const got: MatrixInbound[] = [];
    const base = await start(async (e) => { got.push(...e); });
    expect((await put(base, "1", "wrong-token")).status).toBe(403);
    expect((await put(base, "2", null)).status).toBe(401);
    const q = await fetch(`${base}/_matrix/app/v1/users/@x:example.org?access_token=nope`);
    expect(q.status).toBe(403);
    expect(got).toHaveLength(0);
  });

  it("answers 200 only after the sink resolves, and 500 when it fails", async () => {
    let fail = true;
    let committed = 0;
    const base = await start(async (e) => {
      await new Promise((r) => setTimeout(r, 50));
      if (fail) throw new Error("database down");
      committed += e.length;
    });
    const first = await put(base, "t1", registration.hs_token);
    expect(first.status).toBe(500);
    expect(committed).toBe(0);
    fail = false;
    const t0 = Date.now();
    const retry = await put(base, "t1", registration.hs_token);
    expect(retry.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45); // it waited for the commit
    expect(committed).toBe(1);
    // The same transaction id again is acknowledged without handing the events over twice.
    expect((await put(base, "t1", registration.hs_token)).status).toBe(200);
    expect(committed).toBe(1);
  });

  it("skips malformed events but keeps the good ones of a transaction", async () => {
    const got: MatrixInbound[] = [];
    const base = await start(async (e) => { got.push(...e); });
    const res = await put(base, "m1", registration.hs_token, { events: [{ nonsense: true }, "x", event("$good"), { type: "m.room.message" }] });
    expect(res.status).toBe(200);
    expect(got.map((e) => e.eventId)).toEqual(["$good"]);
  });
});
