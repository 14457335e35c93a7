/**
 * Issue 5, item 7 end to end on the loopback network: who may do what, and what stays secret.
 * - permissions on every command and every relayed message: a relay-level user cannot log in,
 *   link or cut over but is relayed; someone not in the permissions table gets no answer, their
 *   invite is refused, and their messages stay in Matrix with one notice;
 * - one user cannot see, use or log out another user's login (list, status, logout, link,
 *   sync, audit, logging in to the same account);
 * - listeners bind to 127.0.0.1 by default;
 * - secrets: encrypted at rest (the stored row is AES-GCM, never the token), never logged
 *   (neither login tokens nor the registration's tokens nor the encryption key), redacted from
 *   the DM after login; and start refuses an external database without an encryption key.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/index.js";
import { startBridge } from "../../src/main.js";
import type { ClientEvent, FakeMatrixClient } from "../fakes/homeserver.js";
import { freePort, Harness, waitUntil } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";

const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);
const TOKEN_A = "lb-alice-secret-token-0001";
const TOKEN_B = "lb-bob-secret-token-0002";

describe("security: permissions, logins of others, listeners, secrets", () => {
  const lb = new LoopbackNetwork();
  lb.addAccount(TOKEN_A, "acctA", "Alpha Works");
  lb.addAccount(TOKEN_B, "acctB", "Beta Works");
  lb.addChat("ops", "ops");
  lb.addChat("bobs", "bobs");
  lb.addUser("ivan", "Ivan Petrov");
  const listens: unknown[][] = [];
  let h: Harness;
  let alice: FakeMatrixClient; // user
  let bob: FakeMatrixClient; // user
  let rita: FakeMatrixClient; // relay
  let nora: FakeMatrixClient; // not in the table: none
  let admin: FakeMatrixClient;
  let aliceDm: string;
  let bobDm: string;
  let portal: string;

  beforeAll(async () => {
    const realListen = net.Server.prototype.listen;
    net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
      listens.push(args);
      return (realListen as (...a: unknown[]) => net.Server).apply(this, args);
    } as typeof realListen;
    try {
      h = await Harness.start({
        connectors: () => [new LoopbackConnector(lb)], initialChatCount: { loopback: 10 },
        // No "*" and no server-wide entry: anyone not named has no access at all.
        config: { bridge: { permissions: { "@alice:example.org": "user", "@bob:example.org": "user", "@rita:example.org": "relay", "@admin:example.org": "admin" },
          public_url: "https://bridge.example.org" } },
      });
    } finally {
      net.Server.prototype.listen = realListen;
    }
    [alice, bob, rita, nora, admin] = ["alice", "bob", "rita", "nora", "admin"].map((u) => h.user(u));
    aliceDm = await h.dm(alice);
    bobDm = await h.dm(bob);
  });
  afterAll(async () => { await h?.stop(); });

  it("every listener the bridge opened is on 127.0.0.1 (the defaults); none on all interfaces", () => {
    const bridgePorts = [h.config.appservice.port, h.config.metrics.port];
    const ours = listens.filter((a) => bridgePorts.includes(Number(typeof a[0] === "object" && a[0] ? (a[0] as { port?: unknown }).port : a[0])));
    expect(ours.length).toBeGreaterThanOrEqual(2);
    for (const args of ours) {
      const host = typeof args[0] === "object" && args[0] ? (args[0] as { host?: unknown }).host : args[1];
      expect(host, JSON.stringify(args.slice(0, 2))).toBe("127.0.0.1");
    }
    expect(h.config.appservice.hostname).toBe("127.0.0.1");
    expect(h.config.metrics.hostname).toBe("127.0.0.1");
  });

  it("alice logs in; the token is redacted from the DM, encrypted at rest, and never logged", async () => {
    expect(await h.command(alice, aliceDm, "login loopback")).toMatch(/loopback token/);
    const tokenEvent = await alice.sendText(aliceDm, TOKEN_A);
    await h.waitForBot(aliceDm, /Logged in to loopback account Alpha Works/);
    await waitUntil(() => h.hs.allEvents({ type: "m.room.redaction", redacts: tokenEvent }).length > 0, 5000, "token message redacted");
    const rows = await h.bridge.store.db.query<{ secrets_enc: string }>("SELECT secrets_enc FROM logins");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.secrets_enc).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(rows[0]!.secrets_enc).not.toContain(TOKEN_A);
    expect(Buffer.from(rows[0]!.secrets_enc.split(":")[3]!, "base64").toString("latin1")).not.toContain("alice-secret");
    await waitUntil(() => !!h.hs.roomByAlias("#loopback_ops:example.org"), 10_000, "portal for ops");
    portal = h.hs.roomByAlias("#loopback_ops:example.org")!;
    await alice.join(portal);
  });

  it("the one public route, /_tandem/avatar/*, serves signed images only, sandboxed; forged URLs get 404", async () => {
    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(32, 1)]);
    await alice.setAvatarUrl(await alice.upload(png, "image/png", "a.png"));
    await alice.sendText(portal, "with my avatar");
    await waitUntil(() => lb.sent("ops").some((m) => m.text === "with my avatar"), 10_000, "relayed");
    const url = lb.sent("ops").find((m) => m.text === "with my avatar")!.senderAvatarUrl!;
    const local = url.replace("https://bridge.example.org", h.config.appservice.address);
    const res = await fetch(local);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'.*sandbox/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await fetch(local.replace(/avatar\/[A-Za-z0-9_-]{6}/, "avatar/AAAAAA"))).status).toBe(404);
    // Any other path on the appservice port wants the hs_token.
    expect((await fetch(`${h.config.appservice.address}/_matrix/app/v1/users/${encodeURIComponent("@loopback_x:example.org")}`)).status).toBe(401);
  });

  it("bob sees none of alice's logins and cannot log out, sync, audit or link through them", async () => {
    expect(await h.command(bob, bobDm, "list")).toMatch(/^No logins\.\nNo portals yet\.$/);
    const status = await h.command(bob, bobDm, "status");
    expect(status).toMatch(/No connections/);
    expect(status).not.toMatch(/Alpha/);
    expect(await h.command(bob, bobDm, "logout loopback acctA")).toMatch(/You have no Loopback login acctA/);
    expect(await h.command(bob, bobDm, "logout loopback loopback:acctA")).toMatch(/You have no Loopback login/);
    expect(await h.command(bob, bobDm, "sync")).toMatch(/You have no logins to sync/);
    expect(await h.command(bob, bobDm, "audit")).toMatch(/No bridged rooms to audit/);
    // Logging in to the account alice already bridged is refused (it would take over her login).
    expect(await h.command(bob, bobDm, `login loopback ${TOKEN_A}`)).toMatch(/already logged in by another user/);
    // A room of bob's where he and the bot have every power: still no login of his to link through.
    const room = await bob.createRoom({ name: "Bob's room", invite: [h.botMxid] });
    await h.waitForBot(room, /Hello/);
    const pl = await bob.getState(room, "m.room.power_levels");
    await bob.setState(room, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
    expect(await h.command(bob, room, "!tandem link loopback ops")).toMatch(/You have no Loopback login to link through/);
    expect(h.bridge.core.portals.linksOfRoom(room)).toEqual([]);
    // Alice's login is untouched, and she sees it.
    expect(h.bridge.core.logins().map((l) => l.id)).toEqual(["loopback:acctA"]);
    expect(await h.command(alice, aliceDm, "list")).toMatch(/loopback Alpha Works \(loopback:acctA\)/);
    expect(await h.command(alice, aliceDm, "status")).toMatch(/Loopback Alpha Works: connected/);
  });

  it("with his own login, bob's list and status show his and only his", async () => {
    expect(await h.command(bob, bobDm, `login loopback ${TOKEN_B}`)).toMatch(/Logged in to loopback account Beta Works/);
    const list = await h.command(bob, bobDm, "list");
    expect(list).toMatch(/Beta Works/);
    expect(list).not.toMatch(/Alpha Works|acctA/);
    expect(await h.command(bob, bobDm, "status")).not.toMatch(/Alpha/);
    expect(await h.command(bob, bobDm, "logout loopback acctA")).toMatch(/You have no Loopback login acctA/);
    // The admin sees every login.
    const adminDm = await h.dm(admin);
    expect(await h.command(admin, adminDm, "list")).toMatch(/Alpha Works[\s\S]*Beta Works|Beta Works[\s\S]*Alpha Works/);
  });

  it("a relay-level user is relayed but cannot log in, link or cut over", async () => {
    const ritaDm = await h.dm(rita);
    // The greeting offers no login to a relay-level user.
    const greeting = await h.waitForBot(ritaDm, /^Hello!/);
    expect(String(greeting.content.body)).toMatch(/needs the `user` permission level/);
    expect(String(greeting.content.body)).not.toMatch(/login/);
    for (const cmd of ["login loopback", `login loopback ${TOKEN_B}`, "cutover parallel", "status", "list", "sync", "audit"]) {
      expect(await h.command(rita, ritaDm, cmd), cmd).toMatch(/^Unknown command/);
    }
    expect(await h.command(rita, ritaDm, "ping")).toBe("pong");
    expect(await h.command(rita, ritaDm, "help")).not.toMatch(/login|cutover|link /);
    await h.hs.clientFor(h.botMxid).invite(portal, rita.userId);
    await rita.join(portal);
    expect(await h.command(rita, portal, "!tandem link loopback ops")).toMatch(/^Unknown command/);
    expect(await h.command(rita, portal, "!tandem cutover matrix-primary")).toMatch(/^Unknown command/);
    expect(h.bridge.core.portals.portal(portal)?.phase).toBe("parallel");
    await rita.sendText(portal, "relay-level hello");
    await waitUntil(() => lb.sent("ops").some((m) => m.text === "relay-level hello"), 10_000, "rita relayed");
    expect(lb.sent("ops").find((m) => m.text === "relay-level hello")!.senderName).toBe("rita");
  });

  it("someone not in the permissions table: invite refused, no answers, messages stay in Matrix with one notice", async () => {
    const botSaid = () => h.hs.timeline(portal).filter((e) => e.sender === h.botMxid && e.type === "m.room.message");
    const dm = await nora.createRoom({ preset: "trusted_private_chat", invite: [h.botMxid], is_direct: true });
    await waitUntil(() => h.hs.members(dm)[h.botMxid] === "leave", 10_000, "invite refused");
    expect(h.hs.timeline(dm).filter((e) => e.sender === h.botMxid && e.type === "m.room.message")).toEqual([]);
    await h.hs.clientFor(h.botMxid).invite(portal, nora.userId);
    await nora.join(portal);
    const before = botSaid().length;
    for (const text of ["!tandem help", "!tandem ping", "!tandem login loopback", "!tandem links"]) await nora.sendText(portal, text);
    await nora.sendText(portal, "hello from nora");
    await nora.sendText(portal, "hello again from nora");
    const notice = await h.waitForBot(portal, /@nora:example\.org: you are not allowed to relay/);
    expect(notice.content).toMatchObject({ msgtype: "m.notice" });
    await alice.sendText(portal, "sentinel from alice"); // behind nora's messages on the room's lane
    await waitUntil(() => lb.sent("ops").some((m) => m.text === "sentinel from alice"), 10_000, "the sentinel");
    expect(botSaid().slice(before).map(body)).toEqual([notice.content.body]); // one notice, no command answers
    expect(lb.sent("ops").filter((m) => /nora/.test(m.text) || /^!tandem/.test(m.text))).toEqual([]);
  });

  it("no secret reached the log: login tokens, registration tokens, the encryption key", () => {
    for (const secret of [TOKEN_A, TOKEN_B, h.registration.as_token, h.registration.hs_token, h.config.bridge.encryption_key]) {
      expect(h.logs).not.toContain(secret);
    }
    expect(h.logs.length).toBeGreaterThan(1000); // the log was captured at all
  });
});

describe("security: secrets policy at start", () => {
  const base = (database: Record<string, unknown>, key: string) => parseConfig({
    homeserver: { url: "http://127.0.0.1:9", domain: "example.org" },
    appservice: { port: 29399, registration: "r.yaml" }, database, bridge: { encryption_key: key }, metrics: { enabled: false },
    slack: { enabled: false }, telegram: { enabled: false },
  }, {}, { baseDir: "/nonexistent-tandem-test" });
  const registration = { id: "tandem", url: "http://127.0.0.1:29399", as_token: "as-token-xxxxxxxx", hs_token: "hs-token-yyyyyyyy", sender_localpart: "tandembot", rate_limited: false,
    namespaces: { users: [], aliases: [], rooms: [] } };

  it("refuses an external Postgres without an encryption key, with one line naming the key, before touching the database", async () => {
    const config = base({ uri: "postgres://tandem:pw@127.0.0.1:1/tandem" }, "");
    const err = await startBridge({ config, registration: registration as never, connectors: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).keyPath).toBe("bridge.encryption_key");
    expect((err as Error).message).toMatch(/^bridge\.encryption_key \(env TANDEM_ENCRYPTION_KEY\) is empty: it is required with an external database\.uri/);
    expect((err as Error).message).not.toMatch(/ECONNREFUSED|pw/); // refused before connecting
  });

  it("starts on the embedded database without a key, saying in the log that secrets are unencrypted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tandem-nokey-"));
    const port = await freePort();
    const config = parseConfig({
      homeserver: { url: "http://127.0.0.1:9", domain: "example.org" }, appservice: { port, registration: "r.yaml" },
      database: { uri: "", data_dir: "db" }, bridge: { encryption_key: "" }, metrics: { enabled: false }, slack: { enabled: false }, telegram: { enabled: false },
      logging: { format: "json" },
    }, {}, { baseDir: dir });
    const stream = new PassThrough();
    let log = "";
    stream.on("data", (d: Buffer) => { log += d.toString(); });
    const running = await startBridge({ config, registration: { ...registration, url: `http://127.0.0.1:${port}` } as never, connectors: [], logStream: stream });
    try {
      expect(log).toMatch(/"level":"warn".*bridge\.encryption_key is empty: login secrets are stored unencrypted|bridge\.encryption_key is empty: login secrets are stored unencrypted.*"level":"warn"/);
    } finally {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
