/**
 * HomeserverLink against the fake homeserver (Synapse-like): the bot registration (M_USER_IN_USE is
 * fine), its profile, and how each answer to the appservice ping reads: ok, absent (before Matrix
 * 1.7), failed (the homeserver cannot reach the bridge, or the bridge answered an error), and the
 * homeserver's own trouble (a refused token, no answer) thrown for the caller.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HomeserverLink, troubleOf } from "../../../src/matrix/homeserver-link.js";
import { FakeHomeserver } from "../../fakes/homeserver.js";
import { freePort } from "../../support/ports.js";

const reg = (url: string) => ({
  id: "tandem", url, as_token: "as-token-0123456789", hs_token: "hs-token-0123456789", sender_localpart: "tandembot",
  namespaces: { users: [{ regex: "@tandembot:example\\.org", exclusive: true }], aliases: [], rooms: [] },
});

let hs: FakeHomeserver;
let bridge: http.Server;
let answer = 200;
const pings: Array<string | undefined> = [];
const links: HomeserverLink[] = [];
const link = (token = "as-token-0123456789", url = hs.url) => {
  const l = new HomeserverLink(url, token, "tandembot", "example.org", "tandem");
  links.push(l);
  return l;
};

beforeEach(async () => {
  hs = await FakeHomeserver.start();
  bridge = http.createServer((req, res) => {
    pings.push(req.headers.authorization);
    res.writeHead(answer, { "content-type": "application/json" }).end(answer === 200 ? "{}" : JSON.stringify({ errcode: "M_UNRECOGNIZED", error: "no" }));
  });
  await new Promise<void>((r) => bridge.listen(0, "127.0.0.1", () => r()));
  hs.setRegistration(reg(`http://127.0.0.1:${(bridge.address() as AddressInfo).port}`));
  answer = 200;
  pings.length = 0;
});
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  await hs.stop();
  await new Promise<void>((r) => bridge.close(() => r()));
});

describe("HomeserverLink", () => {
  it("registers the bot once (then M_USER_IN_USE is fine) and sets its profile; before that it has none", async () => {
    const l = link();
    expect(await l.botProfile()).toBeNull();
    await expect(l.ensureBotProfile("Tandem bridge", "")).rejects.toThrow(/not registered/);
    expect(await l.registerBot()).toBe("registered");
    expect(await l.registerBot()).toBe("existed");
    await l.ensureBotProfile("Tandem bridge", "mxc://example.org/avatar");
    expect(hs.profile("@tandembot:example.org")).toEqual({ displayname: "Tandem bridge", avatar_url: "mxc://example.org/avatar" });
    expect(await l.whoami()).toBe("@tandembot:example.org");
  });

  it("reads each answer to the appservice ping", async () => {
    const l = link();
    expect(await l.ping()).toMatchObject({ kind: "ok", durationMs: expect.any(Number) });
    expect(pings).toEqual(["Bearer hs-token-0123456789"]);
    answer = 404; // something answers at the bridge's address, but not the ping
    expect(await l.ping()).toEqual({ kind: "failed", errcode: "M_BAD_STATUS", message: "Ping returned error status", status: 404 });
    hs.setRegistration(reg(`http://127.0.0.1:${await freePort()}`)); // nothing listens there
    expect(await l.ping()).toMatchObject({ kind: "failed", errcode: "M_CONNECTION_FAILED" });
    hs.appservicePing = false; // Synapse 1.67
    expect(await l.ping()).toEqual({ kind: "absent" });
  });

  it("a refused token or no answer at all is the caller's trouble, not a ping result", async () => {
    const err = await link("not-the-token").ping().catch((e: unknown) => e);
    expect(troubleOf(err)).toEqual({ kind: "token" });
    const down = await link(undefined, `http://127.0.0.1:${await freePort()}`).whoami().catch((e: unknown) => e);
    expect(troubleOf(down)).toMatchObject({ kind: "unreachable", detail: expect.stringMatching(/ECONNREFUSED/) });
    hs.down = true;
    expect(troubleOf(await link().registerBot().catch((e: unknown) => e))).toMatchObject({ kind: "unreachable", detail: expect.stringMatching(/HTTP 502/) });
  });
});
