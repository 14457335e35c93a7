// The Socket Mode side of one login, through the real SDK clients and the fake Slack: acks only
// after the push, redelivery after a failed push, echoes dropped, reconnects, bad credentials.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "../../../../src/core/connector.js";
import { RemoteError } from "../../../../src/core/errors.js";
import { DEFAULT_SOCKET } from "../../../../src/networks/slack/index.js";
import { FakeSlack, type TeamHandle } from "../../../fakes/slack.js";
import { RecordingSink, connect, sleep } from "./support.js";

let slack: FakeSlack;
const open: Connection[] = [];

beforeAll(async () => {
  slack = await FakeSlack.start({ ackTimeoutMs: 400, pingIntervalMs: 1000 });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.stop()));
});
afterAll(async () => {
  await slack?.stop();
});

let n = 0;
function newTeam(): TeamHandle {
  const team = slack.createTeam({ id: `T0C${++n}`, name: `Team ${n}`, domain: `team${n}` });
  slack.addUser(team, { id: "U0001", name: "carol", display_name: "Carol" });
  slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
  return team;
}

async function connected(team: TeamHandle, sink?: RecordingSink) {
  const r = await connect(slack, team, sink);
  open.push(r.conn);
  return r;
}

describe("Slack connection", () => {
  it("at rest pings Slack every 20 s, not every 1.7 s (the SDK pings every clientPingTimeout / 3); Slack's own pings watch the socket within 30 s", () => {
    expect(DEFAULT_SOCKET.clientPingTimeoutMs / 3).toBe(20_000);
    expect(DEFAULT_SOCKET.serverPingTimeoutMs).toBe(30_000);
  });

  it("reports connecting then connected, with one socket", async () => {
    const team = newTeam();
    const { sink } = await connected(team);
    expect(sink.statuses.map((s) => s.state)).toEqual(["connecting", "connected"]);
    expect(sink.statuses[1]!.message).toContain(team.name);
    expect(slack.openConnections(team)).toBe(1);
  });

  it("acks an envelope only after the push resolved", async () => {
    const team = newTeam();
    const { sink } = await connected(team);
    sink.hold();
    const ts = slack.userPosts(team, "C0001", "U0001", "held back");
    await slack.waitFor(() => sink.pushes > 0, 3000, "push started");
    // Slack's ack timer ran out (400 ms) and it sent the envelope again: no ack went out meanwhile.
    const env = slack.envelopes.find((e) => e.event.ts === ts)!;
    await slack.waitFor(() => env.deliveries >= 2, 3000, "Slack's redelivery of the unacked envelope");
    expect(env.acked).toBe(false);
    sink.letGo();
    await slack.waitForEnvelope((e) => e.ts === ts, { acked: true, timeoutMs: 3000 });
    // The redelivery is pushed too, under the same key (the core's queue drops it by key).
    expect(new Set(sink.events.map((e) => e.key))).toEqual(new Set([`msg:${team.id}:C0001:${ts}`]));
  });

  it("a failed push is not acked; Slack redelivers (retry_attempt 1) and the retry is pushed and acked", async () => {
    const team = newTeam();
    const { sink } = await connected(team);
    sink.failNext = 1;
    const ts = slack.userPosts(team, "C0001", "U0001", "try again");
    const env = await slack.waitForEnvelope((e) => e.ts === ts, { acked: true, timeoutMs: 5000 });
    expect(env.retry_attempt).toBe(1);
    expect(env.retry_reason).toBe("timeout");
    expect(sink.pushes).toBe(2);
    expect(sink.events.filter((e) => e.kind === "message")).toHaveLength(1);
  });

  it("drops the echo of its own post (which arrives before chat.postMessage returns) and knows its bot user", async () => {
    const team = newTeam();
    const { conn, sink } = await connected(team);
    const [ref] = await conn.send(`${team.id}:C0001`, { doc: [{ type: "paragraph", children: [{ type: "text", text: "from matrix" }] }], sender: { name: "Alice" }, sourceId: "$e1" });
    await slack.waitForEnvelope((e) => e.text === "from matrix", { acked: true });
    slack.userPosts(team, "C0001", "U0001", "marker");
    await slack.waitFor(() => sink.events.some((e) => e.kind === "message" && e.msg.doc.length > 0 && JSON.stringify(e.msg.doc).includes("marker")), 3000, "marker");
    expect(sink.events.filter((e) => e.kind === "message" && e.ref === ref)).toEqual([]);
    expect(conn.isOwnUser(`${team.id}:${team.botUserId}`)).toBe(true);
    expect(conn.isOwnUser(`${team.id}:U0001`)).toBe(false);
    expect(conn.isOwnUser(`T0OTHER:${team.botUserId}`)).toBe(false);
  });

  it("reconnects after refresh_requested and after a dropped socket", async () => {
    const team = newTeam();
    const { sink } = await connected(team);
    let before = slack.connectionsOpened;
    await slack.disconnect("refresh_requested", team);
    await slack.waitFor(() => slack.connectionsOpened > before && slack.openConnections(team) === 1, 5000, "reconnect");
    await slack.waitFor(() => sink.state === "connected", 3000, "connected again");
    expect(sink.statuses.map((s) => s.state)).toContain("transient-disconnect");
    before = slack.connectionsOpened;
    slack.dropConnections(team);
    await slack.waitFor(() => slack.connectionsOpened > before && slack.openConnections(team) === 1, 5000, "reconnect after drop");
    const ts = slack.userPosts(team, "C0001", "U0001", "still here");
    await slack.waitForEnvelope((e) => e.ts === ts, { acked: true });
  });

  it("a revoked app token: bad-credentials once, and no more reconnect attempts", async () => {
    const team = newTeam();
    const { sink } = await connected(team);
    slack.revokeToken(team.appToken);
    slack.dropConnections(team);
    await slack.waitFor(() => sink.state === "bad-credentials", 5000, "bad-credentials");
    expect(sink.statuses.at(-1)!.message).toMatch(/app-level token was revoked/);
    const opened = slack.connectionsOpened;
    const opens = slack.calls.filter((c) => c.method === "apps.connections.open").length;
    await sleep(600);
    expect(slack.connectionsOpened).toBe(opened);
    expect(slack.calls.filter((c) => c.method === "apps.connections.open").length).toBe(opens);
    expect(sink.statuses.filter((s) => s.state === "bad-credentials")).toHaveLength(1);
  });

  it("a revoked bot token found by a Web API call: RemoteError with badCredentials, status reported, socket closed", async () => {
    const team = newTeam();
    const { conn, sink } = await connected(team);
    slack.revokeToken(team.botToken);
    const err = await conn.send(`${team.id}:C0001`, { doc: [{ type: "paragraph", children: [{ type: "text", text: "x" }] }], sender: { name: "A" }, sourceId: "$e2" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ code: "token_revoked", badCredentials: true, retryable: true });
    expect(sink.state).toBe("bad-credentials");
    await slack.waitFor(() => slack.openConnections(team) === 0, 3000, "socket closed");
    await conn.react(`${team.id}:C0001`, `${team.id}:C0001:1.000001`, "👍", true).catch(() => undefined);
    expect(sink.statuses.filter((s) => s.state === "bad-credentials")).toHaveLength(1);
  });

  it("an app token that is not an app token is bad credentials, not an endless retry", async () => {
    const team = newTeam();
    const sink = new RecordingSink();
    const { createSlackConnector } = await import("../../../../src/networks/slack/index.js");
    const { configFor, loginFor } = await import("./support.js");
    const { silentLogger } = await import("../../../../src/core/log.js");
    const connector = createSlackConnector(configFor(slack), silentLogger, { socket: { reconnectBaseMs: 20 } });
    const conn = await connector.connect({ ...loginFor(team), secrets: { botToken: team.botToken, appToken: team.botToken } }, sink);
    open.push(conn);
    await slack.waitFor(() => sink.state === "bad-credentials", 5000, "bad-credentials");
    expect(sink.statuses.at(-1)!.message).toMatch(/cannot open Socket Mode \(not_allowed_token_type\)/);
  });

  it("stop() closes the socket for good", async () => {
    const team = newTeam();
    const { conn } = await connected(team);
    await conn.stop();
    open.splice(open.indexOf(conn), 1);
    const opened = slack.connectionsOpened;
    await sleep(300);
    expect(slack.openConnections(team)).toBe(0);
    expect(slack.connectionsOpened).toBe(opened);
  });
});
