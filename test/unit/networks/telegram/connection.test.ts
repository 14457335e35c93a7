// One bot's connection against the fake Bot API: polling, offsets vs. the durable queue, states, webhook mode.
import { Api } from "grammy";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ConnectionStatus, EventSink, LoginRecord } from "../../../../src/core/connector.js";
import { silentLogger } from "../../../../src/core/log.js";
import type { RemoteEvent } from "../../../../src/core/types.js";
import { ALLOWED_UPDATES, TelegramConnection, type TelegramSettings } from "../../../../src/networks/telegram/connection.js";
import { WebhookHub } from "../../../../src/networks/telegram/webhook.js";
import { telegramSettings } from "../../../../src/networks/telegram/index.js";
import { parseConfig } from "../../../../src/config/index.js";
import { FakeTelegram, type BotHandle } from "../../../fakes/telegram.js";
import { freePort } from "../../../support/harness.js";

const GROUP = -100123;
const IVAN = 42;

class RecordingSink implements EventSink {
  readonly events: RemoteEvent[] = [];
  readonly states: ConnectionStatus[] = [];
  /** Each push first awaits this (tests hold the queue with it). */
  gate: Promise<void> = Promise.resolve();
  failures = 0;
  /** Pushes begun (an update handed to the core, queued or not yet). */
  pushes = 0;
  async push(events: RemoteEvent[]): Promise<void> {
    this.pushes++;
    await this.gate;
    if (this.failures > 0) {
      this.failures--;
      throw new Error("database unavailable");
    }
    this.events.push(...events);
  }
  status(s: ConnectionStatus): void {
    this.states.push(s);
  }
  get state(): string | undefined {
    return this.states.at(-1)?.state;
  }
  texts(): string[] {
    return this.events.flatMap((e) => (e.kind === "message" ? [JSON.stringify(e.msg.doc)] : []));
  }
}

let tg: FakeTelegram;
let bot: BotHandle;
let sink: RecordingSink;
const conns: TelegramConnection[] = [];

const settings = (over: Partial<TelegramSettings> = {}): TelegramSettings => ({
  apiRoot: tg.apiRoot, mode: "polling", webhookUrl: "", webhookSecret: "", maxDownloadSize: 20 * 1024 * 1024, maxUploadSize: 50 * 1024 * 1024,
  pollTimeoutSeconds: 1, backoff: { initialMs: 20, maxMs: 200 }, requestTimeoutSeconds: 10, ...over,
});
const login = (token = bot.token): LoginRecord => ({ id: `telegram:${bot.id}`, network: "telegram", ownerMxid: "@alice:example.org", remoteId: String(bot.id), name: "@fleet_bot", secrets: { token } });

function connect(s: TelegramSettings = settings(), to: RecordingSink = sink, hub: WebhookHub | null = null): TelegramConnection {
  const c = new TelegramConnection(login(), to, s, silentLogger, hub);
  conns.push(c);
  c.start();
  return c;
}
const says = (text: string) => JSON.stringify([{ type: "paragraph", children: [{ type: "text", text }] }]);

beforeEach(async () => {
  tg = await FakeTelegram.start();
  bot = tg.createBot({ id: 7001, username: "fleet_bot", first_name: "Fleet", canReadAllGroupMessages: true });
  tg.addUser({ id: IVAN, first_name: "Ivan", last_name: "Petrov", photo: Buffer.from("ivan-face") });
  tg.addChat({ id: GROUP, type: "supergroup", title: "Fleet Ops", username: "fleetops", description: "Ops chat", photo: Buffer.from("group-pic"), members: [IVAN, bot.id] });
  sink = new RecordingSink();
});

afterEach(async () => {
  for (const c of conns.splice(0)) await c.stop();
  await tg.stop();
});

describe("telegram connection: polling", () => {
  it("connects with the update types it needs and relays messages in order", async () => {
    connect();
    await tg.waitFor(() => sink.state === "connected");
    expect(sink.states[0]).toEqual({ state: "connecting" });
    expect(sink.states.at(-1)).toEqual({ state: "connected", message: "@fleet_bot" });
    expect(tg.getUpdatesCalls[0]!.allowed_updates).toEqual([...ALLOWED_UPDATES]);
    expect(tg.getUpdatesCalls[0]!.allowed_updates).toEqual(expect.arrayContaining(["edited_message", "message_reaction", "my_chat_member", "chat_member"]));
    tg.userSends(GROUP, IVAN, { text: "one" });
    tg.userSends(GROUP, IVAN, { text: "two" });
    await tg.waitFor(() => sink.events.length === 2);
    expect(sink.texts()).toEqual([says("one"), says("two")]);
    expect(sink.events[0]).toMatchObject({ kind: "message", chat: String(GROUP), sender: String(IVAN) });
  });

  it("an idle bot's long poll asks Telegram to hold it 50 s: about one request a minute at rest", async () => {
    const config = parseConfig({ homeserver: { url: "http://127.0.0.1:1", domain: "example.org" }, telegram: { api_root: tg.apiRoot } }, {}, { baseDir: "/tmp" });
    connect(telegramSettings(config, { backoff: { initialMs: 20, maxMs: 200 } }));
    await tg.waitFor(() => tg.getUpdatesCalls.length >= 2); // the first asks for what is pending at once
    expect(tg.getUpdatesCalls[0]!.timeout).toBe(0);
    expect(tg.getUpdatesCalls[1]!.timeout).toBe(50);
  });

  it("moves the offset past an update only once it is queued", async () => {
    let open!: () => void;
    sink.gate = new Promise((r) => { open = r; });
    connect();
    await tg.waitFor(() => sink.state === "connected");
    tg.userSends(GROUP, IVAN, { text: "held" });
    await tg.waitFor(() => tg.getUpdatesCalls.length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(tg.pendingUpdates(bot.id)).toHaveLength(1); // not confirmed while the push is pending
    open();
    await tg.waitFor(() => sink.events.length === 1);
    await tg.waitFor(() => tg.pendingUpdates(bot.id).length === 0, 3000, "the update to be confirmed");
  });

  it("retries a failed push (state shows it) and never skips the update", async () => {
    sink.failures = 2;
    connect();
    tg.userSends(GROUP, IVAN, { text: "keep me" });
    await tg.waitFor(() => sink.events.length === 1);
    expect(sink.texts()).toEqual([says("keep me")]);
    expect(sink.states.some((s) => s.state === "error" && /could not queue/.test(s.message ?? ""))).toBe(true);
    await tg.waitFor(() => sink.state === "connected");
  });

  it("skips an update it cannot read and keeps polling", async () => {
    connect();
    await tg.waitFor(() => sink.state === "connected");
    // A malformed update straight into the bot's queue (no public API for that in the fake).
    const world = tg as unknown as { enqueue(b: unknown, body: unknown): boolean; botRecord(id: number): unknown };
    world.enqueue(world.botRecord(bot.id), { message: { message_id: "x", chat: null, text: 5 } });
    tg.userSends(GROUP, IVAN, { text: "after the bad one" });
    await tg.waitFor(() => sink.events.length === 1);
    expect(sink.texts()).toEqual([says("after the bad one")]);
    expect(sink.state).toBe("connected");
  });

  it("a user seen under a new name gets a user-info event before their message", async () => {
    connect();
    tg.userSends(GROUP, IVAN, { text: "first" });
    await tg.waitFor(() => sink.events.length === 1);
    const renamed = { ...tg.messages(GROUP).at(-1)!, message_id: 500, text: "renamed", from: { id: IVAN, is_bot: false, first_name: "Ivan", last_name: "Smirnov" } };
    const world = tg as unknown as { enqueue(b: unknown, body: unknown): boolean; botRecord(id: number): unknown };
    world.enqueue(world.botRecord(bot.id), { message: renamed });
    await tg.waitFor(() => sink.events.length === 3);
    expect(sink.events[1]).toMatchObject({ kind: "user-info", user: String(IVAN), chat: String(GROUP), info: { name: "Ivan Smirnov", avatar: expect.stringMatching(/^user:42:/) } });
    expect(sink.events[2]).toMatchObject({ kind: "message", ref: `${GROUP}:500` });
  });

  it("a revoked token → bad-credentials, and polling stops", async () => {
    connect();
    await tg.waitFor(() => sink.state === "connected");
    tg.revokeToken(bot.token);
    await tg.waitFor(() => sink.state === "bad-credentials");
    const calls = tg.getUpdatesCalls.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(tg.getUpdatesCalls.length).toBe(calls);
  });

  it("a bad token at start → bad-credentials without polling", async () => {
    const c = new TelegramConnection({ ...login(), secrets: { token: "7001:AAnot-a-real-token-at-all-000000000" } }, sink, settings(), silentLogger, null);
    conns.push(c);
    c.start();
    await tg.waitFor(() => sink.state === "bad-credentials");
    expect(tg.getUpdatesCalls).toHaveLength(0);
  });

  it("409 from another poller → error state, then connected again; 5xx and resets back off and recover", async () => {
    connect();
    await tg.waitFor(() => sink.state === "connected");
    const other = new Api(bot.token, { apiRoot: tg.apiRoot });
    await other.getUpdates({ timeout: 0 }); // terminates our held long poll with 409
    await tg.waitFor(() => sink.states.some((s) => s.state === "error" && /409/.test(s.message ?? "")));
    await tg.waitFor(() => sink.state === "connected");
    tg.failNext("getUpdates", 2, { status: 502 });
    tg.failNext("getUpdates", 1, { network: "reset" });
    tg.userSends(GROUP, IVAN, { text: "still here" }); // answers the held poll; the next three fail
    await tg.waitFor(() => sink.states.some((s) => s.state === "transient-disconnect"), 5000);
    await tg.waitFor(() => sink.state === "connected", 5000);
    tg.userSends(GROUP, IVAN, { text: "and here" });
    await tg.waitFor(() => sink.events.length === 2, 5000);
    expect(sink.texts()).toEqual([says("still here"), says("and here")]);
  });

  it("stop confirms what was queued; what was not is delivered again to the next start", async () => {
    const first = connect();
    tg.userSends(GROUP, IVAN, { text: "queued" });
    await tg.waitFor(() => sink.events.length === 1);
    let never!: Promise<void>;
    sink.gate = never = new Promise(() => undefined); // the queue hangs: the next update is never queued
    tg.userSends(GROUP, IVAN, { text: "in flight" });
    await tg.waitFor(() => sink.pushes === 2); // handed to us, stuck in the queue
    await first.stop();
    void never;
    expect(sink.state).toBe("stopped");
    const next = new RecordingSink();
    connect(settings(), next);
    await tg.waitFor(() => next.events.length === 1);
    expect(next.texts()).toEqual([says("in flight")]);
  });
});

describe("telegram connection: webhook mode", () => {
  it("sets the webhook with a secret token and receives updates only with it", async () => {
    const port = await freePort();
    const hub = new WebhookHub("127.0.0.1", port, silentLogger);
    connect(settings({ mode: "webhook", webhookUrl: `http://127.0.0.1:${port}/telegram`, webhookSecret: "s3cret-token" }), sink, hub);
    await tg.waitFor(() => sink.state === "connected");
    expect(sink.states.at(-1)!.message).toMatch(/webhook/);
    expect(tg.calls("setWebhook")[0]!.params).toMatchObject({ url: `http://127.0.0.1:${port}/telegram/${bot.id}`, secret_token: "s3cret-token", max_connections: 1 });
    expect(tg.calls("setWebhook")[0]!.params.allowed_updates).toEqual([...ALLOWED_UPDATES]);
    tg.userSends(GROUP, IVAN, { text: "via webhook" });
    await tg.waitFor(() => sink.events.length === 1);
    expect(sink.texts()).toEqual([says("via webhook")]);
    const forged = await fetch(`http://127.0.0.1:${port}/telegram/${bot.id}`, {
      method: "POST", headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": "wrong" },
      body: JSON.stringify({ update_id: 1, message: { message_id: 99, date: 1, chat: { id: GROUP, type: "supergroup", title: "x" }, text: "forged" } }),
    });
    expect(forged.status).toBe(401);
    expect(sink.events).toHaveLength(1);
  });

  it("answers 500 when the update cannot be queued, so Telegram delivers it again", async () => {
    const port = await freePort();
    const hub = new WebhookHub("127.0.0.1", port, silentLogger);
    tg.webhookRetryMs = 20;
    sink.failures = 1;
    connect(settings({ mode: "webhook", webhookUrl: `http://127.0.0.1:${port}/hook` }), sink, hub);
    await tg.waitFor(() => sink.state === "connected");
    // No webhook_secret configured: one is derived from the token.
    expect(String(tg.calls("setWebhook")[0]!.params.secret_token)).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    tg.userSends(GROUP, IVAN, { text: "twice lucky" });
    await tg.waitFor(() => sink.events.length === 1, 5000);
    expect(sink.texts()).toEqual([says("twice lucky")]);
  });
});
