/**
 * Downloads stay on the network's file hosts: loopback, private and link-local addresses are
 * refused after DNS resolution (at connect time), redirects are checked hop by hop, credentials do
 * not follow a change of origin, and a silent host fails fast and retryably.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardedFetch, parseOrigins, type DownloadPolicy } from "../../../src/networks/guarded-fetch.js";
import { isPublicAddress } from "../../../src/networks/public-address.js";

describe("isPublicAddress", () => {
  it.each([
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "fc00::2", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1", "fe80::1%eth0", "[::1]",
    "not an address",
  ])("%s is not public", (ip) => expect(isPublicAddress(ip)).toBe(false));

  it.each(["1.1.1.1", "8.8.8.8", "172.32.0.1", "192.169.0.1", "54.230.1.1", "2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8"])(
    "%s is public", (ip) => expect(isPublicAddress(ip)).toBe(true));
});

describe("parseOrigins", () => {
  it("reads origins separated by spaces or commas", () => {
    expect([...parseOrigins(" http://127.0.0.1:8080, https://files.example.org/  ")]).toEqual(["http://127.0.0.1:8080", "https://files.example.org"]);
    expect(parseOrigins("").size).toBe(0);
  });
});

describe("guardedFetch", () => {
  let server: http.Server;
  let origin = "";
  const hits: Array<{ path: string; auth?: string }> = [];
  let other: http.Server;
  let otherOrigin = "";
  const otherHits: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits.push({ path: req.url ?? "", auth: req.headers.authorization });
      if (req.url === "/stall") return; // accepts, never answers
      if (req.url === "/to-other") return void res.writeHead(302, { location: `${otherOrigin}/secret` }).end();
      if (req.url === "/to-self") return void res.writeHead(302, { location: "/file" }).end();
      res.writeHead(200, { "content-type": "text/plain" }).end("file bytes");
    });
    other = http.createServer((req, res) => {
      otherHits.push(`${req.url ?? ""} auth=${req.headers.authorization ?? "none"}`);
      res.end("internal");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    otherOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    other.closeAllConnections();
    await new Promise((r) => server.close(r));
    await new Promise((r) => other.close(r));
  });

  const trusting = (...origins: string[]): DownloadPolicy => ({ isNetworkHost: () => false, trustedOrigins: new Set(origins) });
  const opts = { timeoutMs: 10_000, what: "file download" };

  it("fetches from an origin the operator trusts, even on loopback", async () => {
    const { res, redirected } = await guardedFetch(new URL(`${origin}/file`), trusting(origin), opts);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("file bytes");
    expect(redirected).toBe(false);
  });

  it("refuses a network host that resolves to loopback, checked when connecting, and sends nothing", async () => {
    const before = hits.length;
    // "localhost" passes the host rule here: only the address it resolves to stops it.
    const policy: DownloadPolicy = { isNetworkHost: (h) => h === "localhost", trustedOrigins: new Set() };
    // https to the test server's port: had the lookup let it through, the handshake would reach it.
    const url = new URL(`https://localhost:${(server.address() as AddressInfo).port}/status.json`);
    await expect(guardedFetch(url, policy, opts)).rejects.toMatchObject({ code: "download_refused", retryable: false });
    expect(hits.length).toBe(before);
  });

  it("refuses http, IP literals and hosts that are not the network's, before connecting", async () => {
    const before = hits.length;
    const policy: DownloadPolicy = { isNetworkHost: (h) => h.endsWith("slack.com"), trustedOrigins: new Set() };
    for (const u of [`${origin}/file`, "https://127.0.0.1/x", "https://[::1]/x", "https://169.254.169.254/latest/meta-data", "http://files.slack.com/x", "https://evil.example/x"]) {
      await expect(guardedFetch(new URL(u), policy, opts), u).rejects.toMatchObject({ code: "download_refused", retryable: false });
    }
    expect(hits.length).toBe(before);
  });

  it("checks every redirect hop: a trusted origin cannot redirect to one that is not", async () => {
    await expect(guardedFetch(new URL(`${origin}/to-other`), trusting(origin), opts)).rejects.toMatchObject({ code: "download_refused" });
    expect(otherHits).toEqual([]);
  });

  it("follows a redirect within the rules, and drops the Authorization header when the origin changes", async () => {
    const same = await guardedFetch(new URL(`${origin}/to-self`), trusting(origin), { ...opts, headers: { Authorization: "Bearer xoxb-1" } });
    expect(same.redirected).toBe(true);
    expect(await same.res.text()).toBe("file bytes");
    expect(hits.at(-1)).toEqual({ path: "/file", auth: "Bearer xoxb-1" });

    const cross = await guardedFetch(new URL(`${origin}/to-other`), trusting(origin, otherOrigin), { ...opts, headers: { Authorization: "Bearer xoxb-1" } });
    expect(await cross.res.text()).toBe("internal");
    expect(otherHits).toEqual(["/secret auth=none"]);
  });

  it("gives up on a host that accepts and stays silent, as a retryable network failure", async () => {
    await expect(guardedFetch(new URL(`${origin}/stall`), trusting(origin), { ...opts, idleMs: 200 }))
      .rejects.toMatchObject({ code: "network", retryable: true });
  });

  it("a refused connection is a retryable network failure", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    await expect(guardedFetch(new URL(`${dead}/x`), trusting(dead), opts)).rejects.toMatchObject({ code: "network", retryable: true });
  });
});
