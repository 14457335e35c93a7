import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppService, AppServiceRegistration, Bridge, Logger } from "matrix-appservice-bridge";
import { FakeHomeserver, FakeMatrixClient, MatrixError, MatrixHttpError, type AppserviceRegistration, type ClientEvent } from "./homeserver.js";

const DOMAIN = "example.org";

function registration(url: string | null = null): AppserviceRegistration {
  return {
    id: "tandem",
    url,
    as_token: "as_token_secret",
    hs_token: "hs_token_secret",
    sender_localpart: "tandembot",
    namespaces: {
      users: [
        { regex: "@slack_.*:example\\.org", exclusive: true },
        { regex: "@telegram_.*:example\\.org", exclusive: true },
      ],
      aliases: [{ regex: "#slack_.*:example\\.org", exclusive: true }],
      rooms: [],
    },
  };
}

/** A client holding the AS token, optionally asserting a user id (`?user_id=`). */
function asClient(hs: FakeHomeserver, userId?: string): FakeMatrixClient & { call: FakeMatrixClient["request"] } {
  const client = new FakeMatrixClient(hs.url, userId ?? `@tandembot:${DOMAIN}`, "as_token_secret");
  const call: FakeMatrixClient["request"] = (method, path, body, opts = {}) =>
    client.request(method, path, body, { ...opts, query: { ...(userId ? { user_id: userId } : {}), ...opts.query } });
  return Object.assign(client, { call });
}

async function expectMatrixError(p: Promise<unknown>, status: number, errcode: string): Promise<MatrixHttpError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${status} ${errcode}`).toBeInstanceOf(MatrixHttpError);
  const m = err as MatrixHttpError;
  expect({ status: m.status, errcode: m.errcode }).toEqual({ status, errcode });
  expect(typeof (m.body as { error?: unknown }).error).toBe("string");
  return m;
}

/** A tiny stand-in bridge: records transactions; `failFirst` answers 500 that many times first. */
async function startFakeBridge(failFirst = 0): Promise<{
  url: string;
  received: Array<{ txnId: string; auth: string | undefined; body: { events: ClientEvent[] } }>;
  /** TCP connections the homeserver opened to it. */
  connections(): number;
  close(): Promise<void>;
}> {
  const received: Array<{ txnId: string; auth: string | undefined; body: { events: ClientEvent[] } }> = [];
  let failures = failFirst;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const m = /^\/_matrix\/app\/v1\/transactions\/([^/?]+)$/.exec(req.url ?? "");
      if (req.method !== "PUT" || !m) {
        res.writeHead(404).end();
        return;
      }
      received.push({ txnId: decodeURIComponent(m[1]!), auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString()) });
      if (failures > 0) {
        failures--;
        res.writeHead(500, { "Content-Type": "application/json" }).end('{"errcode":"M_UNKNOWN","error":"down"}');
        return;
      }
      res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
  });
  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("FakeHomeserver", () => {
  let hs: FakeHomeserver;
  beforeEach(async () => {
    hs = await FakeHomeserver.start({ domain: DOMAIN, registration: registration(), retry: { initialMs: 20, maxMs: 100 } });
  });
  afterEach(async () => {
    await hs.stop();
  });

  it("answers /versions and enforces access tokens", async () => {
    const res = await fetch(`${hs.url}/_matrix/client/versions`);
    expect(((await res.json()) as { versions: string[] }).versions).toContain("v1.11");
    const anon = new FakeMatrixClient(hs.url, "@x:example.org", "nope");
    await expectMatrixError(anon.whoami(), 401, "M_UNKNOWN_TOKEN");
    await expectMatrixError(anon.request("GET", "/_matrix/client/v3/account/whoami", undefined, { noAuth: true }), 401, "M_MISSING_TOKEN");
    const alice = hs.createUser("alice");
    // access_token query parameter works too, and r0 paths are accepted
    const viaQuery = await alice.request("GET", "/_matrix/client/r0/account/whoami", undefined, { noAuth: true, query: { access_token: alice.accessToken } });
    expect(viaQuery["user_id"]).toBe("@alice:example.org");
    await expectMatrixError(alice.request("GET", "/_matrix/client/v3/nope"), 404, "M_UNRECOGNIZED");
  });

  it("registers AS users only inside the namespaces, lowercase, once", async () => {
    const as = asClient(hs);
    const reg = await as.call("POST", "/_matrix/client/v3/register", { type: "m.login.application_service", username: "slack_t1_u1" });
    expect(reg["user_id"]).toBe("@slack_t1_u1:example.org");
    expect(hs.userExists("@slack_t1_u1:example.org")).toBe(true);
    await expectMatrixError(as.call("POST", "/_matrix/client/v3/register", { type: "m.login.application_service", username: "slack_t1_u1" }), 400, "M_USER_IN_USE");
    await expectMatrixError(as.call("POST", "/_matrix/client/v3/register", { type: "m.login.application_service", username: "bob" }), 400, "M_EXCLUSIVE");
    await expectMatrixError(as.call("POST", "/_matrix/client/v3/register", { type: "m.login.application_service", username: "slack_T1_U2" }), 400, "M_INVALID_USERNAME");
    // as Synapse: the bot (sender_localpart) may authenticate before it exists, but has no profile until it registers
    expect(hs.userExists("@tandembot:example.org")).toBe(false);
    await expectMatrixError(as.call("GET", "/_matrix/client/v3/profile/@tandembot:example.org"), 404, "M_NOT_FOUND");
    expect((await as.call("POST", "/_matrix/client/v3/register", { type: "m.login.application_service", username: "tandembot" }))["user_id"]).toBe("@tandembot:example.org");
    expect(await as.call("GET", "/_matrix/client/v3/profile/@tandembot:example.org")).toEqual({});
    await expectMatrixError(as.call("POST", "/_matrix/client/v3/register", { type: "m.login.application_service", username: "tandembot" }), 400, "M_USER_IN_USE");

    // masquerading: only registered users inside the namespace
    expect((await asClient(hs, "@slack_t1_u1:example.org").call("GET", "/_matrix/client/v3/account/whoami"))["user_id"]).toBe("@slack_t1_u1:example.org");
    expect((await as.call("GET", "/_matrix/client/v3/account/whoami"))["user_id"]).toBe("@tandembot:example.org");
    await expectMatrixError(asClient(hs, "@slack_t1_nobody:example.org").call("GET", "/_matrix/client/v3/account/whoami"), 403, "M_FORBIDDEN");
    await expectMatrixError(asClient(hs, "@alice:example.org").call("GET", "/_matrix/client/v3/account/whoami"), 403, "M_FORBIDDEN");

    // normal users: exclusive namespaces are reserved, upper case rejected
    expect(() => hs.createUser("slack_t1_u9")).toThrow(MatrixError);
    expect(() => hs.createUser("Alice")).toThrowError(/upper-case/);
    const anon = new FakeMatrixClient(hs.url, "", "");
    const uia = await anon.fetchRaw("POST", "/_matrix/client/v3/register", { username: "carol" }, { noAuth: true });
    expect(uia.status).toBe(401);
    expect(((await uia.json()) as { flows: unknown[] }).flows).toEqual([{ stages: ["m.login.dummy"] }]);
    await expectMatrixError(
      anon.request("POST", "/_matrix/client/v3/register", { username: "slack_t1_x", auth: { type: "m.login.dummy" } }, { noAuth: true }),
      400,
      "M_EXCLUSIVE",
    );
    const carol = await anon.request("POST", "/_matrix/client/v3/register", { username: "carol", password: "pw", auth: { type: "m.login.dummy" } }, { noAuth: true });
    expect(carol["user_id"]).toBe("@carol:example.org");
    expect(typeof carol["access_token"]).toBe("string");
  });

  it("send: txnId idempotency, membership required, ts for appservices only", async () => {
    const alice = hs.createUser("alice", { displayname: "Alice" });
    const bob = hs.createUser("bob");
    const roomId = await alice.createRoom({ name: "Ops" });

    const first = await alice.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "once" }, "txn1");
    const again = await alice.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "once" }, "txn1");
    expect(again).toBe(first);
    expect(hs.timeline(roomId).filter((e) => e.content["body"] === "once")).toHaveLength(1);
    // another device (token) of the same user: a different transaction scope
    const alice2 = hs.clientFor(alice.userId);
    expect(await alice2.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "once" }, "txn1")).not.toBe(first);

    await expectMatrixError(bob.sendMessage(roomId, "not joined"), 403, "M_FORBIDDEN");
    await expectMatrixError(bob.join(roomId), 403, "M_FORBIDDEN"); // private room, not invited
    await alice.invite(roomId, bob.userId);
    expect(hs.members(roomId)[bob.userId]).toBe("invite");
    await bob.join(roomId);
    const ev = await bob.sendMessage(roomId, "hello");
    expect(hs.event(ev)).toMatchObject({ sender: bob.userId, room_id: roomId, content: { body: "hello" } });
    await bob.leave(roomId);
    await expectMatrixError(bob.sendMessage(roomId, "gone"), 403, "M_FORBIDDEN");

    // ts is honoured for the AS, ignored for normal users
    const as = asClient(hs);
    await alice.invite(roomId, hs.botUserId!);
    await as.call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
    const { event_id } = await as.call<{ event_id: string }>("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t9`, { msgtype: "m.text", body: "old" }, { query: { ts: 1000 } });
    expect(hs.event(event_id)!.origin_server_ts).toBe(1000);
    const { event_id: e2 } = await alice.request<{ event_id: string }>("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t9`, { body: "now" }, { query: { ts: 1000 } });
    expect(hs.event(e2)!.origin_server_ts).toBeGreaterThan(1000);
  });

  it("state and redactions need power; createRoom applies presets and overrides", async () => {
    const alice = hs.createUser("alice");
    const bob = hs.createUser("bob");
    const roomId = await alice.createRoom({
      preset: "public_chat",
      topic: "t",
      power_level_content_override: { events_default: 0 },
      initial_state: [{ type: "m.room.history_visibility", content: { history_visibility: "joined" } }],
    });
    const types = hs.timeline(roomId).map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(["m.room.create", "m.room.member", "m.room.power_levels"]);
    expect(hs.stateContent(roomId, "m.room.power_levels")).toMatchObject({ users: { [alice.userId]: 100 }, state_default: 50 });
    expect(hs.stateContent(roomId, "m.room.join_rules")).toEqual({ join_rule: "public" });
    expect(hs.stateContent(roomId, "m.room.history_visibility")).toEqual({ history_visibility: "joined" });
    await bob.join(roomId); // public room: no invite needed

    await expectMatrixError(bob.setState(roomId, "m.room.name", "", { name: "bob's" }), 403, "M_FORBIDDEN");
    await expectMatrixError(bob.setState(roomId, "m.room.power_levels", "", { users: { [bob.userId]: 100 } }), 403, "M_FORBIDDEN");
    await alice.setState(roomId, "m.room.name", "", { name: "Ops" });
    expect(await bob.getState(roomId, "m.room.name")).toEqual({ name: "Ops" });
    await expectMatrixError(bob.getState(roomId, "m.room.avatar"), 404, "M_NOT_FOUND");

    const msg = await alice.sendMessage(roomId, "secret");
    await expectMatrixError(bob.redact(roomId, msg), 403, "M_FORBIDDEN");
    const own = await bob.sendMessage(roomId, "mine");
    await bob.redact(roomId, own, "oops");
    expect(hs.event(own)!.content).toEqual({});
    expect(hs.event(own)!.unsigned?.["redacted_because"]).toMatchObject({ type: "m.room.redaction", redacts: own, content: { reason: "oops" } });

    const pl = hs.stateContent(roomId, "m.room.power_levels")!;
    await alice.setState(roomId, "m.room.power_levels", "", { ...pl, users: { ...(pl["users"] as object), [bob.userId]: 50 } });
    await bob.setState(roomId, "m.room.name", "", { name: "Bob's" });
    await bob.redact(roomId, msg);
    await expectMatrixError(bob.kick(roomId, alice.userId), 403, "M_FORBIDDEN");
    await alice.kick(roomId, bob.userId, "bye");
    expect(hs.members(roomId)[bob.userId]).toBe("leave");
  });

  it("holdRoomCreation: the alias is taken and resolves before the room can be read, as in Synapse", async () => {
    const alice = hs.createUser("alice");
    const bob = hs.createUser("bob");
    const hold = hs.holdRoomCreation();
    const creating = alice.createRoom({ room_alias_name: "slow", name: "Slow" });
    await hold.arrived();
    const roomId = hold.waiting[0]!;
    expect(hs.roomByAlias("#slow:example.org")).toBe(roomId);
    await expectMatrixError(bob.createRoom({ room_alias_name: "slow" }), 400, "M_ROOM_IN_USE");
    await expectMatrixError(alice.request("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`), 403, "M_FORBIDDEN");
    hold.release();
    expect(await creating).toBe(roomId);
    expect(hs.stateContent(roomId, "m.room.name")).toEqual({ name: "Slow" });
    expect(hs.members(roomId)[alice.userId]).toBe("join");
    expect(await alice.createRoom({ room_alias_name: "quick" })).toBe(hs.roomByAlias("#quick:example.org")); // not held any more
  });

  it("createRoom with an alias; M_ROOM_IN_USE; directory; exclusive aliases", async () => {
    const alice = hs.createUser("alice");
    const bob = hs.createUser("bob");
    const roomId = await alice.createRoom({ room_alias_name: "fleet-ops", invite: [bob.userId], is_direct: true });
    expect(hs.roomByAlias("#fleet-ops:example.org")).toBe(roomId);
    expect(hs.stateContent(roomId, "m.room.canonical_alias")).toEqual({ alias: "#fleet-ops:example.org" });
    expect(hs.stateContent(roomId, "m.room.member", bob.userId)).toMatchObject({ membership: "invite", is_direct: true });
    await expectMatrixError(bob.createRoom({ room_alias_name: "fleet-ops" }), 400, "M_ROOM_IN_USE");
    await expectMatrixError(alice.createRoom({ room_alias_name: "slack_t1_general" }), 400, "M_EXCLUSIVE");
    await expectMatrixError(alice.createRoom({ invite: [alice.userId] }), 403, "M_FORBIDDEN");

    const dir = await bob.request("GET", `/_matrix/client/v3/directory/room/${encodeURIComponent("#fleet-ops:example.org")}`);
    expect(dir).toEqual({ room_id: roomId, servers: ["example.org"] });
    expect(await bob.join("#fleet-ops:example.org")).toBe(roomId);
    await alice.request("PUT", `/_matrix/client/v3/directory/room/${encodeURIComponent("#ops2:example.org")}`, { room_id: roomId });
    await expectMatrixError(alice.request("PUT", `/_matrix/client/v3/directory/room/${encodeURIComponent("#ops2:example.org")}`, { room_id: roomId }), 409, "M_UNKNOWN");
    await alice.request("DELETE", `/_matrix/client/v3/directory/room/${encodeURIComponent("#ops2:example.org")}`);
    expect(hs.roomByAlias("#ops2:example.org")).toBeUndefined();
    await expectMatrixError(bob.request("GET", `/_matrix/client/v3/directory/room/${encodeURIComponent("#nope:example.org")}`), 404, "M_NOT_FOUND");
  });

  it("media: upload, legacy and authenticated download, config", async () => {
    const alice = hs.createUser("alice");
    const mxc = await alice.upload(Buffer.from("PNGDATA"), "image/png", "cat.png");
    expect(mxc).toMatch(/^mxc:\/\/example\.org\/[A-Za-z]+$/);
    expect(hs.media(mxc)).toEqual({ data: Buffer.from("PNGDATA"), contentType: "image/png", filename: "cat.png" });

    const legacy = await alice.download(mxc, { legacy: true });
    expect(legacy).toEqual({ data: Buffer.from("PNGDATA"), contentType: "image/png" });
    const authed = await alice.download(mxc);
    expect(authed.data.toString()).toBe("PNGDATA");
    const [, server, id] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc)!;
    const res = await fetch(`${hs.url}/_matrix/client/v1/media/download/${server}/${id}/other.png`, { headers: { Authorization: `Bearer ${alice.accessToken}` } });
    expect(res.headers.get("content-disposition")).toBe("inline; filename*=utf-8''other.png");
    await expectMatrixError(alice.request("GET", `/_matrix/client/v1/media/download/${server}/${id}`, undefined, { noAuth: true }), 401, "M_MISSING_TOKEN");
    await expectMatrixError(alice.download(`mxc://example.org/missing`), 404, "M_NOT_FOUND");
    expect(await alice.request("GET", "/_matrix/media/v3/config")).toEqual({ "m.upload.size": 50 * 1024 * 1024 });
    expect(await alice.request("GET", "/_matrix/client/v1/media/config")).toEqual({ "m.upload.size": 50 * 1024 * 1024 });
  });

  it("pushes transactions with the hs_token, in order, retrying until 200", async () => {
    const bridge = await startFakeBridge(2);
    try {
      hs.setRegistration(registration(bridge.url));
      const alice = hs.createUser("alice");
      const roomId = await alice.createRoom({ invite: [`@tandembot:${DOMAIN}`] });
      await asClient(hs).call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {});
      const eventId = await alice.sendMessage(roomId, "hi bridge");
      const pushed = await hs.waitForEvent({ type: "m.room.message", content: { body: "hi bridge" } });
      expect(pushed.event_id).toBe(eventId);
      await hs.waitForPushIdle();

      expect(hs.transactionRetries).toBeGreaterThanOrEqual(2);
      expect(hs.transactionAttempts).toBe(hs.transactionsDelivered + hs.transactionRetries);
      expect(bridge.received.every((r) => r.auth === "Bearer hs_token_secret")).toBe(true);
      // the first transaction was retried with the same id and the same events
      const [a, b, c] = bridge.received;
      expect(a!.txnId).toBe(b!.txnId);
      expect(b!.txnId).toBe(c!.txnId);
      expect(c!.body).toEqual(a!.body);
      // everything arrived once, in order, in client format
      const delivered = hs.transactions.flatMap((t) => t.events);
      const ids = delivered.map((e) => e.event_id);
      expect(new Set(ids).size).toBe(ids.length);
      const timelineIds = hs.timeline(roomId).map((e) => e.event_id);
      expect(ids.filter((id) => timelineIds.includes(id))).toEqual(timelineIds.filter((id) => ids.includes(id)));
      const msg = delivered.find((e) => e.event_id === eventId)!;
      expect(msg).toMatchObject({ type: "m.room.message", room_id: roomId, sender: alice.userId, content: { body: "hi bridge" } });
      expect(typeof msg.origin_server_ts).toBe("number");
      // the invite of the bot was pushed too (state_key in namespace)
      expect(delivered.some((e) => e.type === "m.room.member" && e.state_key === `@tandembot:${DOMAIN}` && e.content["membership"] === "invite")).toBe(true);

      // paused: events queue up and flow after resuming
      hs.pushPaused = true;
      const before = bridge.received.length;
      await alice.sendMessage(roomId, "while paused");
      await new Promise((r) => setTimeout(r, 100));
      expect(bridge.received.length).toBe(before);
      expect(hs.pushPending).toBe(1);
      hs.pushPaused = false;
      await hs.waitForPushIdle();
      expect(bridge.received.at(-1)!.body.events.map((e) => e.content["body"])).toEqual(["while paused"]);
      // a room without any AS user is not pushed
      const lonely = await alice.createRoom({});
      await alice.sendMessage(lonely, "private");
      await hs.waitForPushIdle();
      expect(hs.transactions.flatMap((t) => t.events).some((e) => e.room_id === lonely)).toBe(false);
    } finally {
      await bridge.close();
    }
  });

  it("keeps its connection to the appservice open between transactions, as Synapse's connection pool does", async () => {
    const bridge = await startFakeBridge();
    try {
      hs.setRegistration(registration(bridge.url));
      const alice = hs.createUser("alice");
      const roomId = await alice.createRoom({ invite: [`@tandembot:${DOMAIN}`] });
      await asClient(hs).call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {});
      await hs.waitForPushIdle();
      const before = bridge.received.length;
      for (const body of ["one", "two", "three"]) {
        await alice.sendMessage(roomId, body);
        await hs.waitForPushIdle(); // one transaction each, the next after the last was answered
      }
      expect(bridge.received.length).toBe(before + 3);
      expect(bridge.connections()).toBe(1);
    } finally {
      await bridge.close();
    }
  });

  it("appservice ping (Matrix 1.7): POSTs /_matrix/app/v1/ping with the hs_token; absent, as on Synapse 1.67, when appservicePing is false", async () => {
    const pings: Array<{ url: string | undefined; auth: string | undefined; body: string }> = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => { body += c.toString(); });
      req.on("end", () => {
        pings.push({ url: req.url, auth: req.headers.authorization, body });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      hs.setRegistration(registration(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
      const as = asClient(hs);
      const res = await as.call("POST", "/_matrix/client/v1/appservice/tandem/ping", { transaction_id: "t1" });
      expect(typeof res["duration_ms"]).toBe("number");
      expect(pings).toEqual([{ url: "/_matrix/app/v1/ping", auth: "Bearer hs_token_secret", body: JSON.stringify({ transaction_id: "t1" }) }]);
      await expectMatrixError(as.call("POST", "/_matrix/client/v1/appservice/other/ping", {}), 403, "M_FORBIDDEN");

      hs.appservicePing = false;
      await expectMatrixError(as.call("POST", "/_matrix/client/v1/appservice/tandem/ping", {}), 404, "M_UNRECOGNIZED");
      expect(pings).toHaveLength(1);
      expect(((await (await fetch(`${hs.url}/_matrix/client/versions`)).json()) as { versions: string[] }).versions.at(-1)).toBe("v1.2");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("down answers 502; waitForEvent explains timeouts", async () => {
    const alice = hs.createUser("alice");
    hs.down = true;
    const res = await alice.fetchRaw("GET", "/_matrix/client/v3/account/whoami");
    expect(res.status).toBe(502);
    hs.down = false;
    await alice.whoami();
    await expect(hs.waitForEvent({ type: "m.nothing" }, { timeoutMs: 50 })).rejects.toThrow(/no event matched.*m\.nothing.*within 50ms/s);
  });
});

describe("FakeHomeserver driven by matrix-appservice-bridge", () => {
  it("supports the SDK's real calls: register, join via bot invite, send, profile, media, events in", async () => {
    Logger.configure({ console: "off" });
    const hs = await FakeHomeserver.start({ domain: DOMAIN });
    const reg = new AppServiceRegistration(null);
    reg.setId("tandem");
    reg.setHomeserverToken(AppServiceRegistration.generateToken());
    reg.setAppServiceToken(AppServiceRegistration.generateToken());
    reg.setSenderLocalpart("tandembot");
    reg.addRegexPattern("users", "@slack_.*:example\\.org", true);
    reg.addRegexPattern("aliases", "#slack_.*:example\\.org", true);
    const received: Array<{ type: string; sender: string; content: Record<string, unknown> }> = [];
    const bridge = new Bridge({
      homeserverUrl: hs.url,
      domain: DOMAIN,
      registration: reg,
      disableStores: true,
      controller: {
        onEvent: (request) => {
          const ev = request.getData() as unknown as { type: string; sender: string; content: Record<string, unknown> };
          received.push(ev);
        },
      },
    });
    const appservice = new AppService({ homeserverToken: reg.getHomeserverToken()! });
    try {
      await bridge.initialise();
      await bridge.listen(0, "127.0.0.1", 10, appservice);
      const port = ((appservice as unknown as { server: http.Server }).server.address() as AddressInfo).port;
      reg.setAppServiceUrl(`http://127.0.0.1:${port}`);
      hs.setRegistration(reg); // the bridge generated the registration; the homeserver loads it

      const bot = bridge.getIntent();
      const { room_id: roomId } = await bot.createRoom({
        createAsClient: true,
        options: { name: "general (Slack)", room_alias_name: "slack_t1_general", preset: "private_chat", visibility: "private" },
      });
      expect(hs.roomByAlias("#slack_t1_general:example.org")).toBe(roomId);

      const ghost = bridge.getIntent("@slack_t1_u1:example.org");
      const sent = await ghost.sendText(roomId, "hi");
      expect(hs.userExists("@slack_t1_u1:example.org")).toBe(true); // auto-registered
      expect(hs.members(roomId)["@slack_t1_u1:example.org"]).toBe("join"); // bot invited, ghost joined
      expect(hs.event(sent.event_id)).toMatchObject({ sender: "@slack_t1_u1:example.org", content: { msgtype: "m.text", body: "hi" } });

      await ghost.setDisplayName("Una (Slack)");
      expect(hs.profile("@slack_t1_u1:example.org")).toEqual({ displayname: "Una (Slack)" });
      expect(hs.stateContent(roomId, "m.room.member", "@slack_t1_u1:example.org")).toMatchObject({ displayname: "Una (Slack)" });
      const mxc = await ghost.uploadContent(Buffer.from("avatar-bytes"), { type: "image/png", name: "a.png" });
      expect(hs.media(mxc)?.data.toString()).toBe("avatar-bytes");
      await ghost.setAvatarUrl(mxc);
      expect(await ghost.getProfileInfo("@slack_t1_u1:example.org")).toMatchObject({ displayname: "Una (Slack)", avatar_url: mxc });
      const state = await bot.getStateEvent(roomId, "m.room.name", "");
      expect(state).toEqual({ name: "general (Slack)" });
      const fetched = await bot.getEvent(roomId, sent.event_id);
      expect(fetched).toMatchObject({ event_id: sent.event_id, sender: "@slack_t1_u1:example.org" });
      await ghost.botSdkIntent.underlyingClient.redactEvent(roomId, sent.event_id, "edit");

      // a Matrix user talks; the bridge receives it through a pushed transaction
      const alice = hs.createUser("alice");
      await bot.invite(roomId, alice.userId);
      await alice.join("#slack_t1_general:example.org");
      await alice.sendMessage(roomId, "hello slack");
      await hs.waitForPushIdle();
      await expect.poll(() => received.some((e) => e.sender === alice.userId && e.content["body"] === "hello slack"), { timeout: 5000 }).toBe(true);
      // the ghost's own message was pushed too (bridges drop echoes themselves)
      expect(hs.transactions.flatMap((t) => t.events).some((e) => e.event_id === sent.event_id)).toBe(true);
      const paths = hs.requests.map((r) => `${r.method} ${r.path.replace(/\/(v3|r0|v1)\//, "/*/")}`);
      expect(paths).toContain("POST /_matrix/client/*/register");
    } finally {
      await bridge.close().catch(() => undefined);
      await hs.stop();
    }
  });
});
