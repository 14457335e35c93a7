/**
 * Issue 5, item 5: faults while traffic flows. The bridge (in this process, configured Slack and
 * Telegram connectors against the fakes) stays up, /health says degraded and why while the fault
 * lasts, and afterwards every message arrives exactly once and in order:
 * - the homeserver down (a dead gateway answering 502, and refused connections);
 * - Slack Socket Mode dropped mid-traffic;
 * - Telegram 5xx and 429 storms on getUpdates and on sendMessage (retry_after honoured);
 * - Postgres stopped and started again (only with TANDEM_TEST_PG_URI: on a private cluster, so
 *   other suites using the shared test server are not disturbed).
 * The homeserver is down for seconds here; nothing in the bridge depends on how long: items wait
 * in the durable queue, retried with backoff capped at relay maxDelayMs (see docs/guarantees.md).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeHomeserver, FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { FakeTelegram, type BotHandle } from "../fakes/telegram.js";
import { freePort } from "../support/bridge-process.js";
import { countChat } from "../support/crash-scenario.js";
import { Harness, waitUntil } from "../support/harness.js";
import { requireTool } from "../support/required-tools.js";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GROUP = -100123;
const POSTER = 42;
const PRIVATE = 43;
const CAROL = "@slack_t0001_u0001:example.org";

interface Health { status: string; homeserver: { ok: boolean; error?: string }; database?: { ok: boolean; error?: string }; connections: Array<{ state: string }> }

/** A bridge logged in to the fake Slack and Telegram, with a portal for each chat the tests use. */
class World {
  slack!: FakeSlack;
  team!: TeamHandle;
  tg!: FakeTelegram;
  bot!: BotHandle;
  h!: Harness;
  alice!: FakeMatrixClient;
  rooms = { slack: "", group: "", private: "" };

  static async start(database?: { uri: string }): Promise<World> {
    const w = new World();
    w.slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000, echoLeadMs: 0, redeliverOnClose: true });
    w.team = w.slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    w.slack.addUser(w.team, { id: "U0001", name: "carol" });
    w.slack.addChannel(w.team, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
    w.tg = await FakeTelegram.start();
    w.bot = w.tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet", canReadAllGroupMessages: true });
    w.tg.addUser({ id: POSTER, first_name: "Ivan" });
    w.tg.addUser({ id: PRIVATE, first_name: "Olga" });
    w.tg.addChat({ id: GROUP, type: "supergroup", title: "Fleet Ops", members: [w.bot.id, POSTER] });
    w.tg.addChat({ id: PRIVATE, type: "private", members: [w.bot.id] });
    w.h = await Harness.start({ config: {
      slack: { api_url: w.slack.apiUrl }, telegram: { api_root: w.tg.apiRoot }, ...(database ? { database } : {}),
      bridge: { download_allowed_origins: new URL(w.slack.apiUrl).origin }, // the fake's files are on loopback
    } });
    w.alice = w.h.user("alice");
    const dm = await w.h.dm(w.alice);
    expect(await w.h.command(w.alice, dm, `login app ${w.team.botToken} ${w.team.appToken}`)).toMatch(/^Logged in/);
    expect(await w.h.command(w.alice, dm, `login telegram ${w.bot.token}`)).toMatch(/^Logged in/);
    await waitUntil(async () => (await w.health()).status === "ok", 15_000, "both logins connected");
    const roomOf = async (sender: string, body: string) =>
      (await w.hs.waitForEvent({ sender, type: "m.room.message", content: { body } }, { timeoutMs: 15_000 })).room_id;
    w.slack.userPosts(w.team, "C0001", "U0001", "hello slack");
    w.rooms.slack = await roomOf(CAROL, "hello slack");
    w.tg.userSends(GROUP, POSTER, { text: "hello group" });
    w.rooms.group = await roomOf(`@telegram_${POSTER}:example.org`, "hello group");
    w.tg.userSends(PRIVATE, PRIVATE, { text: "hello private" });
    w.rooms.private = await roomOf(`@telegram_${PRIVATE}:example.org`, "hello private");
    for (const room of [w.rooms.private, w.rooms.slack]) {
      await waitUntil(() => w.hs.members(room)[w.alice.userId] === "invite", 10_000, "invite to the portal");
      await w.alice.join(room);
    }
    return w;
  }

  get hs(): FakeHomeserver {
    return this.h.hs;
  }

  async health(): Promise<Health> {
    const res = await fetch(`http://127.0.0.1:${this.h.bridge.metricsPort}/health`);
    return (await res.json()) as Health;
  }

  /** Numbers of "<tag> N" messages in a room (from remote ghosts), in timeline order. */
  inMatrix(roomId: string, tag: string): number[] {
    const re = new RegExp(`^${tag} (\\d+)$`);
    return this.h.messages(roomId).map((e) => re.exec(String(e.content.body))?.[1]).filter((x): x is string => !!x).map(Number);
  }

  /** Numbers of "<tag> N" messages the bot posted to a Telegram chat, in order. */
  inTelegram(chat: number, tag: string): number[] {
    const re = new RegExp(`\\b${tag} (\\d+)$`);
    return this.tg.messages(chat).filter((m) => m.from?.id === this.bot.id).map((m) => re.exec(m.text ?? "")?.[1]).filter((x): x is string => !!x).map(Number);
  }

  /** Numbers of "<tag> N" messages the bot posted to a Slack channel, in order. */
  inSlack(channel: string, tag: string): number[] {
    const re = new RegExp(`^${tag} (\\d+)$`);
    return this.slack.messages(this.team, channel).filter((m) => m.bot_id === this.team.botId).map((m) => re.exec(m.text ?? "")?.[1])
      .filter((x): x is string => !!x).map(Number);
  }

  /**
   * Waits until 1..n arrived, then sends n+1 the same way (`send`) as a sentinel on the same lane:
   * once it is in, a late duplicate of 1..n would be too. Then checks exactly once and in order.
   */
  async expectAll(what: string, n: number, arrived: () => number[], send: (i: number) => unknown, timeoutMs = 30_000): Promise<void> {
    await waitUntil(() => new Set(arrived()).size >= n, timeoutMs, `${n} ${what} messages`).catch(() => undefined);
    await send(n + 1);
    await waitUntil(() => arrived().includes(n + 1), timeoutMs, `${what} sentinel`).catch(() => undefined);
    expect(countChat(what, n + 1, arrived()), what).toEqual({ chat: what, sent: n + 1, delivered: n + 1, lost: 0, duplicated: 0, reordered: 0 });
  }

  async stop(): Promise<void> {
    await this.h?.stop();
    await this.slack?.stop();
    await this.tg?.stop();
  }
}

describe("faults: homeserver, Socket Mode, Telegram storms", () => {
  let w: World;
  beforeAll(async () => { w = await World.start(); }, 60_000);
  afterAll(async () => { await w?.stop(); });

  it.each([["a gateway answering 502", true], ["refused connections", "refuse"]] as const)(
    "homeserver down (%s) during Slack and Telegram traffic: up and degraded with the reason, then caught up in order",
    async (_what, mode) => {
      const tag = `hs${mode === true ? "502" : "refuse"}`;
      w.hs.down = mode;
      const downAt = Date.now();
      for (let i = 1; i <= 30; i++) {
        w.slack.userPosts(w.team, "C0001", "U0001", `${tag} ${i}`);
        w.tg.userSends(GROUP, POSTER, { text: `${tag} ${i}` });
        await sleep(20);
      }
      await waitUntil(async () => (await w.health()).homeserver.ok === false, 10_000, "/health naming the homeserver");
      const h = await w.health();
      expect(h.status).toBe("degraded");
      expect(h.homeserver.error).toMatch(/homeserver unreachable|HTTP_502|502/);
      await sleep(Math.max(0, 6000 - (Date.now() - downAt))); // down ~6 s
      expect(w.inMatrix(w.rooms.slack, tag)).toEqual([]);
      w.hs.down = false;
      await w.expectAll(`${tag} slack→matrix`, 30, () => w.inMatrix(w.rooms.slack, tag), (i) => w.slack.userPosts(w.team, "C0001", "U0001", `${tag} ${i}`));
      await w.expectAll(`${tag} telegram→matrix`, 30, () => w.inMatrix(w.rooms.group, tag), (i) => w.tg.userSends(GROUP, POSTER, { text: `${tag} ${i}` }));
      await waitUntil(async () => (await w.health()).status === "ok", 10_000, "/health ok again");
    }, 60_000);

  it("a Matrix event delivered again in a new transaction (a restarted bridge forgot the txnId) is relayed once", async () => {
    const eventId = await w.alice.sendText(w.rooms.private, "replayed 1");
    await waitUntil(() => w.inTelegram(PRIVATE, "replayed").length === 1, 10_000, "the first copy on Telegram");
    const res = await fetch(`${w.h.config.appservice.address}/_matrix/app/v1/transactions/replay-${Date.now()}`, {
      method: "PUT", headers: { authorization: `Bearer ${w.h.registration.hs_token}`, "content-type": "application/json" },
      body: JSON.stringify({ events: [w.hs.event(eventId)] }),
    });
    expect(res.status).toBe(200);
    await w.alice.sendText(w.rooms.private, "replayed 2"); // a sentinel behind the replay on the room's lane
    await waitUntil(() => w.inTelegram(PRIVATE, "replayed").includes(2), 10_000, "the sentinel on Telegram");
    expect(w.inTelegram(PRIVATE, "replayed")).toEqual([1, 2]);
  });

  it("Socket Mode dropped mid-traffic: reconnects, nothing lost or doubled, in order", async () => {
    const opened = w.slack.connectionsOpened;
    for (let i = 1; i <= 60; i++) {
      w.slack.userPosts(w.team, "C0001", "U0001", `drop ${i}`);
      if (i === 20) w.slack.dropConnections();
      await sleep(10);
    }
    await w.expectAll("socket-drop slack→matrix", 60, () => w.inMatrix(w.rooms.slack, "drop"), (i) => w.slack.userPosts(w.team, "C0001", "U0001", `drop ${i}`));
    expect(w.slack.connectionsOpened).toBeGreaterThan(opened);
    await waitUntil(async () => (await w.health()).status === "ok", 10_000, "reconnected");
  }, 60_000);

  it("Slack 429s on chat.postMessage: retried after Retry-After (looking first whether it got out), exactly once, in order", async () => {
    const before = w.slack.calls.length;
    w.slack.rateLimitNext("chat.postMessage", 2, 2);
    for (let i = 1; i <= 10; i++) await w.alice.sendText(w.rooms.slack, `limited ${i}`);
    await w.expectAll("ratelimited matrix→slack", 10, () => w.inSlack("C0001", "limited"), (i) => w.alice.sendText(w.rooms.slack, `limited ${i}`), 30_000);
    const calls = w.slack.calls.slice(before).filter((c) => c.method === "chat.postMessage");
    expect(calls.slice(0, 2).map((c) => c.status)).toEqual([429, 429]);
    expect(calls[2]!.at - calls[1]!.at, "the retry waited Retry-After (2 s)").toBeGreaterThanOrEqual(1900);
    // The retried item could have reached Slack before: it was looked up by its event id first.
    expect(w.slack.calls.slice(before).some((c) => c.method === "conversations.history" && String(c.params.include_all_metadata) === "true")).toBe(true);
  }, 60_000);

  it("Telegram 5xx and 429 storms on getUpdates: polling waits retry_after, nothing lost, in order", async () => {
    const before = w.tg.calls("getUpdates").length;
    w.tg.failNext("getUpdates", 1, { error_code: 429, retry_after: 3 });
    w.tg.failNext("getUpdates", 2, { status: 502 });
    for (let i = 1; i <= 20; i++) {
      w.tg.userSends(GROUP, POSTER, { text: `poll ${i}` });
      await sleep(50);
    }
    await w.expectAll("getUpdates-storm telegram→matrix", 20, () => w.inMatrix(w.rooms.group, "poll"), (i) => w.tg.userSends(GROUP, POSTER, { text: `poll ${i}` }), 40_000);
    // The poll held when the storm was set up returned the first update; the next calls got 429, 502, 502.
    const calls = w.tg.calls("getUpdates").slice(before);
    expect(calls.length).toBeGreaterThanOrEqual(4);
    expect(calls[1]!.at - calls[0]!.at, "the poll after the 429 waited retry_after (3 s)").toBeGreaterThanOrEqual(2900);
  }, 60_000);

  it("Telegram 5xx and 429 storms on sendMessage: retried, retry_after honoured, nothing lost or doubled, in order", async () => {
    const before = w.tg.calls("sendMessage").length;
    w.tg.failNext("sendMessage", 3, { status: 502 });
    w.tg.failNext("sendMessage", 2, { error_code: 429, retry_after: 2 });
    for (let i = 1; i <= 20; i++) await w.alice.sendText(w.rooms.private, `send ${i}`);
    await w.expectAll("sendMessage-storm matrix→telegram", 20, () => w.inTelegram(PRIVATE, "send"), (i) => w.alice.sendText(w.rooms.private, `send ${i}`), 40_000);
    const calls = w.tg.calls("sendMessage").slice(before);
    expect(calls.length).toBe(20 + 5 + 1); // the sentinel too
    // The second 429 is call 5: the next call waited for retry_after.
    expect(calls[5]!.at - calls[4]!.at).toBeGreaterThanOrEqual(1900);
  }, 60_000);
});

/** pg_ctl of the installed PostgreSQL (the test server script's). */
function pgBin(): string | null {
  for (const v of ["15", "16", "17", "14"]) if (existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`)) return `/usr/lib/postgresql/${v}/bin`;
  return null;
}

describe.runIf(requireTool("PostgreSQL (TANDEM_TEST_PG_URI and pg_ctl)", !!process.env.TANDEM_TEST_PG_URI && !!pgBin(), "export TANDEM_TEST_PG_URI=$(scripts/pg-test-server.sh)"))("faults: Postgres restarted", () => {
  let w: World;
  let env: NodeJS.ProcessEnv;
  let dataDir = "";
  const server = () => run("bash", ["scripts/pg-test-server.sh"], { env });
  const pgCtl = (...args: string[]) => run("runuser", ["-u", "postgres", "--", `${pgBin()}/pg_ctl`, "-D", dataDir, ...args], { env });

  beforeAll(async () => {
    // A private cluster: stopping the shared test server would break other suites running against it.
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "tandem-pg-fault-"));
    dataDir = join(dir, "data");
    env = { ...process.env, PGTEST_PORT: String(port), PGTEST_DIR: dir };
    const { stdout } = await server();
    w = await World.start({ uri: stdout.trim() });
  }, 120_000);
  afterAll(async () => {
    await w?.stop();
    if (env) await run("bash", ["scripts/pg-test-server.sh", "stop"], { env }).catch(() => undefined);
  });

  it("Postgres down during traffic both ways: the bridge stays up, /health says why, then catches up in order", async () => {
    await pgCtl("-m", "fast", "-w", "stop");
    const tgIn = (async () => {
      for (let i = 1; i <= 20; i++) {
        w.tg.userSends(GROUP, POSTER, { text: `pg ${i}` });
        await sleep(50);
      }
    })();
    const matrixOut = (async () => {
      for (let i = 1; i <= 20; i++) await w.alice.sendText(w.rooms.private, `pg ${i}`);
    })();
    await waitUntil(async () => (await w.health()).database?.ok === false, 15_000, "/health naming the database");
    const h = await w.health();
    expect(h.status).toBe("degraded");
    expect(h.database?.error).toBeTruthy();
    await sleep(3000);
    await server(); // starts it again with the same data and options
    await tgIn;
    await matrixOut;
    await w.expectAll("pg telegram→matrix", 20, () => w.inMatrix(w.rooms.group, "pg"), (i) => w.tg.userSends(GROUP, POSTER, { text: `pg ${i}` }), 60_000);
    await w.expectAll("pg matrix→telegram", 20, () => w.inTelegram(PRIVATE, "pg"), (i) => w.alice.sendText(w.rooms.private, `pg ${i}`), 60_000);
    await waitUntil(async () => (await w.health()).status === "ok", 20_000, "/health ok again");
  }, 120_000);
});
