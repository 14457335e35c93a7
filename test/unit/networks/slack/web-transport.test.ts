/**
 * The Web API's transport (src/networks/slack/web-transport.ts) under the real WebClient, through
 * SlackApi: calls leave without Node's fetch, and what the relay queue sees of failures (timeouts,
 * refused connections, redirects, rate limits, Slack's refusals) is what it saw with fetch.
 */
import http from "node:http";
import zlib from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SlackApi } from "../../../../src/networks/slack/api.js";
import { slackWebFetch } from "../../../../src/networks/slack/web-transport.js";
import type { RemoteError } from "../../../../src/core/errors.js";
import { silentLogger } from "../../../../src/core/log.js";
import { FakeSlack, type TeamHandle } from "../../../fakes/slack.js";

const log = silentLogger;

/** A loopback server whose answer each test sets; it records what reached it. */
async function rawServer(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void>; server: http.Server }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/api/`, server,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const apiAt = (apiUrl: string, timeoutMs = 5000) => new SlackApi("xoxb-test", { apiUrl, log, retries: 0, timeoutMs });

describe("the Slack Web API transport", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  const realFetch = globalThis.fetch;
  let fetchCalls = 0;

  beforeAll(async () => {
    slack = await FakeSlack.start();
    team = slack.createTeam({ id: "T0WEB", name: "Web", domain: "web" });
    slack.addChannel(team, { id: "C0WEB", name: "general", botMember: true });
  });
  afterAll(async () => {
    await slack.stop();
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
  });
  const countFetch = () => {
    fetchCalls = 0;
    globalThis.fetch = ((...a: Parameters<typeof fetch>) => { fetchCalls++; return realFetch(...a); }) as typeof fetch;
  };

  it("posts without Node's fetch, and the answer reaches the caller as with it", async () => {
    countFetch();
    const api = new SlackApi(team.botToken, { apiUrl: slack.apiUrl, log, retries: 0, timeoutMs: 5000 });
    const res = await api.call<{ ts: string; channel: string }>("chat.postMessage", { channel: "C0WEB", text: "hello *there* & <you>" });
    expect(res.ok).toBe(true);
    expect(slack.message(team, "C0WEB", res.ts)?.text).toBe("hello *there* & <you>");
    expect(fetchCalls).toBe(0);
  });

  it("Slack's refusals, rate limits and server errors map as before", async () => {
    const api = new SlackApi(team.botToken, { apiUrl: slack.apiUrl, log, retries: 0, timeoutMs: 5000 });
    await expect(api.call("chat.postMessage", { channel: "C0NOPE", text: "x" })).rejects.toMatchObject({ code: "channel_not_found", retryable: false });
    slack.rateLimitNext("chat.postMessage", 1, 7);
    await expect(api.call("chat.postMessage", { channel: "C0WEB", text: "x" })).rejects.toMatchObject({ code: "ratelimited", retryable: true, retryAfterMs: 7000 });
    slack.failNext("chat.postMessage", 1, 503);
    await expect(api.call("chat.postMessage", { channel: "C0WEB", text: "x" })).rejects.toMatchObject({ retryable: true });
    // A bad token is reported as bad credentials.
    const reported: RemoteError[] = [];
    const bad = new SlackApi("xoxb-nobody", { apiUrl: slack.apiUrl, log, retries: 0, timeoutMs: 5000 }, (e) => reported.push(e));
    await expect(bad.call("auth.test")).rejects.toMatchObject({ badCredentials: true });
    expect(reported).toHaveLength(1);
  });

  it("a silent server: the timeout ends the request (its socket closed) with a retryable error", async () => {
    let closed!: () => void;
    const socketClosed = new Promise<void>((r) => { closed = r; });
    const srv = await rawServer((req) => { req.socket.once("close", closed); });
    try {
      await expect(apiAt(srv.url, 200).call("chat.postMessage", { channel: "C1", text: "x" })).rejects.toMatchObject({ retryable: true });
      await socketClosed;
    } finally {
      await srv.close();
    }
  });

  it("a redirect is refused, not followed (fetch's redirect: 'error')", async () => {
    let followed = 0;
    const srv = await rawServer((req, res) => {
      if (req.url?.includes("elsewhere")) { followed++; res.end('{"ok":true}'); return; }
      res.writeHead(302, { location: "/elsewhere" }).end();
    });
    try {
      await expect(apiAt(srv.url).call("chat.postMessage", { channel: "C1", text: "x" })).rejects.toMatchObject({ retryable: true, message: expect.stringContaining("fetch failed") });
      expect(followed).toBe(0);
    } finally {
      await srv.close();
    }
  });

  it("a refused connection is a retryable network error", async () => {
    const srv = await rawServer(() => undefined);
    const url = srv.url;
    await srv.close();
    await expect(apiAt(url).call("auth.test")).rejects.toMatchObject({ code: "network", retryable: true });
  });

  it("a compressed answer is decoded; the request carries the SDK's body and headers", async () => {
    let seen: { body: string; headers: http.IncomingHttpHeaders } | null = null;
    const srv = await rawServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen = { body: Buffer.concat(chunks).toString("utf8"), headers: req.headers };
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(zlib.gzipSync('{"ok":true,"ts":"1.2"}'));
      });
    });
    try {
      const res = await apiAt(srv.url).call<{ ts: string }>("chat.postMessage", { channel: "C1", text: "é & =" });
      expect(res.ts).toBe("1.2");
      expect(new URLSearchParams(seen!.body).get("text")).toBe("é & =");
      expect(seen!.headers.authorization).toBe("Bearer xoxb-test");
      expect(Number(seen!.headers["content-length"])).toBe(Buffer.byteLength(seen!.body));
    } finally {
      await srv.close();
    }
  });

  it("what it does not carry (a FormData upload, another redirect mode) goes to the fallback fetch", async () => {
    const calls: unknown[] = [];
    const f = slackWebFetch(async (input) => { calls.push(input); return new Response('{"ok":true}'); });
    const form = new FormData();
    form.set("file", new Blob(["x"]));
    await f("http://127.0.0.1:9/upload", { method: "POST", body: form, redirect: "error" });
    await f("http://127.0.0.1:9/other", { method: "GET" });
    expect(calls).toEqual(["http://127.0.0.1:9/upload", "http://127.0.0.1:9/other"]);
  });
});
