// The fake Slack, driven by the real @slack/web-api WebClient and @slack/socket-mode SocketModeClient.
import { type Logger, LogLevel, WebAPIPlatformError, WebAPIRateLimitedError, WebClient } from "@slack/web-api";
import { SocketModeClient } from "@slack/socket-mode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type Json, type TeamHandle } from "./slack.js";

const silent: Logger = {
  debug: () => {}, info: () => {}, warn: () => {}, error: () => {},
  setLevel: () => {}, getLevel: () => LogLevel.ERROR, setName: () => {},
};

// 16x8 PNG header is all imageSize needs; the rest is opaque bytes.
const PNG = Buffer.concat([
  Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"),
  Buffer.from([0, 0, 0, 16, 0, 0, 0, 8]),
  Buffer.from("0806000000", "hex"),
  Buffer.alloc(64, 7),
]);

interface SmArgs {
  ack: (r?: Json) => Promise<void>;
  event: Json;
  envelope_id: string;
  retry_num: number;
  retry_reason: string;
}

let slack: FakeSlack;
let team: TeamHandle;
const sockets: SocketModeClient[] = [];

function web(token: string, extra: ConstructorParameters<typeof WebClient>[1] = {}): WebClient {
  return new WebClient(token, { slackApiUrl: slack.apiUrl, logger: silent, retryConfig: { retries: 0 }, ...extra });
}

function socket(appToken: string): SocketModeClient {
  const c = new SocketModeClient({
    appToken,
    logger: silent,
    // The SDK waits clientPingTimeout * n before reconnecting; keep it short.
    clientPingTimeout: 600,
    clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } },
  });
  sockets.push(c);
  return c;
}

async function platformError(p: Promise<unknown>): Promise<Json> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WebAPIPlatformError);
  return (err as WebAPIPlatformError).data as unknown as Json;
}

beforeAll(async () => {
  slack = await FakeSlack.start({ ackTimeoutMs: 300, pingIntervalMs: 1000 });
  team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
  slack.addUser(team.id, { id: "U0001", name: "alice", real_name: "Alice Liddell", display_name: "alice" });
  slack.addUser(team.id, { id: "U0002", name: "bob", real_name: "Bob" });
  slack.addChannel(team.id, { id: "C0001", name: "general", members: ["U0001", "U0002"], botMember: true });
  slack.addChannel(team.id, { id: "C0002", name: "random", members: ["U0001"] });
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.disconnect().catch(() => undefined)));
  await slack?.stop();
});

describe("Web API", () => {
  it("auth.test: ok, invalid_auth, token_revoked, not_allowed_token_type", async () => {
    const res = await web(team.botToken).auth.test();
    expect(res).toMatchObject({
      ok: true, url: "https://acme.slack.com/", team: "Acme", team_id: "T0001", user_id: team.botUserId,
      bot_id: team.botId, is_enterprise_install: false,
    });
    expect(res.response_metadata?.scopes).toContain("chat:write");

    expect(await platformError(web("xoxb-nope").auth.test())).toMatchObject({ ok: false, error: "invalid_auth" });
    expect(await platformError(web(team.appToken).chat.postMessage({ channel: "C0001", text: "x" }))).toMatchObject({ error: "not_allowed_token_type" });
    expect(await platformError(web(team.botToken).apps.connections.open({}))).toMatchObject({ error: "not_allowed_token_type" });

    const other = slack.createTeam({ id: "T0009" });
    slack.revokeToken(other.botToken);
    expect(await platformError(web(other.botToken).auth.test())).toMatchObject({ error: "token_revoked" });
  });

  it("missing_scope names needed and provided", async () => {
    const t = slack.createTeam({ id: "T0008" });
    slack.addUser(t.id, { id: "U0801", name: "carol" });
    slack.addChannel(t.id, { id: "C0801", name: "ops", members: ["U0801"], botMember: true });
    slack.setScopes(t.botToken, ["channels:read", "users:read"]);
    const data = await platformError(web(t.botToken).chat.postMessage({ channel: "C0801", text: "hi" }));
    expect(data).toMatchObject({ ok: false, error: "missing_scope", needed: "chat:write", provided: "channels:read,users:read" });
    const hist = await platformError(web(t.botToken).conversations.history({ channel: "C0801" }));
    expect(hist).toMatchObject({ error: "missing_scope", needed: "channels:history" });
  });

  it("channel errors, users and conversation listing", async () => {
    const w = web(team.botToken);
    expect(await platformError(w.chat.postMessage({ channel: "C9999", text: "x" }))).toMatchObject({ error: "channel_not_found" });
    expect(await platformError(w.chat.postMessage({ channel: "C0002", text: "x" }))).toMatchObject({ error: "not_in_channel" });
    expect(await platformError(w.chat.postMessage({ channel: "C0001", text: "x".repeat(40_001) }))).toMatchObject({ error: "msg_too_long" });
    const alice = await w.users.info({ user: "U0001" });
    expect(alice.user?.profile?.display_name).toBe("alice");
    expect(alice.user?.profile?.image_72).toMatch(new RegExp(`^${slack.baseUrl}/avatars/`));
    const avatar = await fetch(alice.user!.profile!.image_72!);
    expect(avatar.headers.get("content-type")).toBe("image/png");
    const bot = await w.users.info({ user: team.botUserId });
    expect(bot.user).toMatchObject({ is_bot: true, profile: { bot_id: team.botId } });

    const page1 = await w.conversations.list({ types: "public_channel,private_channel,mpim,im", limit: 1 });
    expect(page1.channels).toHaveLength(1);
    expect(page1.response_metadata?.next_cursor).toBeTruthy();
    const page2 = await w.conversations.list({ types: "public_channel", limit: 1, cursor: page1.response_metadata!.next_cursor! });
    const all = [...page1.channels!, ...page2.channels!];
    expect(all.map((c) => [c.id, c.is_member])).toEqual([["C0001", true], ["C0002", false]]);
  });

  it("history, threads, edits and the smaller read methods", async () => {
    const t = slack.createTeam({ id: "T0007", domain: "seven" });
    slack.addUser(t.id, { id: "U0701", name: "dave" });
    slack.addChannel(t.id, { id: "C0701", name: "hist", members: ["U0701"], botMember: true, topic: "talk" });
    const a = slack.userPosts(t.id, "C0701", "U0701", "one", { silent: true });
    const b = slack.userPosts(t.id, "C0701", "U0701", "two", { silent: true });
    const r1 = slack.userPosts(t.id, "C0701", "U0701", "reply", { thread_ts: a, silent: true });
    const r2 = slack.userPosts(t.id, "C0701", "U0701", "broadcast", { thread_ts: a, broadcast: true, silent: true });
    const me = slack.userPosts(t.id, "C0701", "U0701", "waves", { me: true, silent: true });
    expect(slack.pendingEvents(t)).toBe(0);
    slack.userEdits(t.id, "C0701", b, "two!");
    slack.clearPendingEvents(t);
    expect([a, b, r1, r2, me]).toEqual([...[a, b, r1, r2, me]].sort());

    const w = web(t.botToken);
    const h1 = await w.conversations.history({ channel: "C0701", limit: 2 });
    expect(h1.messages!.map((m) => m.ts)).toEqual([me, r2]);
    expect(h1.has_more).toBe(true);
    const h2 = await w.conversations.history({ channel: "C0701", limit: 10, cursor: h1.response_metadata!.next_cursor! });
    expect(h2.messages!.map((m) => m.ts)).toEqual([b, a]);
    expect(h2.messages![0]).toMatchObject({ text: "two!", edited: { user: "U0701" } });
    expect(h2.messages![1]).toMatchObject({ thread_ts: a, reply_count: 2, latest_reply: r2 });
    expect(h1.messages![0]).toMatchObject({ subtype: "me_message" });
    const rep = await w.conversations.replies({ channel: "C0701", ts: a });
    expect(rep.messages!.map((m) => [m.ts, (m as Json).subtype, m.parent_user_id])).toEqual([[a, undefined, undefined], [r1, undefined, "U0701"], [r2, "thread_broadcast", "U0701"]]);
    const win = await w.conversations.history({ channel: "C0701", oldest: a, latest: r2, inclusive: true });
    expect(win.messages!.map((m) => m.ts)).toEqual([r2, b, a]);

    expect((await w.conversations.info({ channel: "C0701" })).channel).toMatchObject({ name: "hist", is_member: true, topic: { value: "talk" } });
    expect((await w.conversations.members({ channel: "C0701" })).members).toEqual(["U0701", t.botUserId]);
    expect((await w.team.info()).team).toMatchObject({ id: "T0007", domain: "seven" });
    expect((await w.bots.info({ bot: t.botId })).bot).toMatchObject({ user_id: t.botUserId, app_id: t.appId });
    expect((await w.chat.getPermalink({ channel: "C0701", message_ts: r1 })).permalink).toBe(`https://seven.slack.com/archives/C0701/p${r1.replace(".", "")}?thread_ts=${a}&cid=C0701`);
    const users = await w.users.list({ limit: 2 });
    expect(users.members).toHaveLength(2);
    expect(users.response_metadata?.next_cursor).toBeTruthy();
    slack.addEmoji(t, "party_parrot");
    expect((await w.emoji.list()).emoji?.party_parrot).toMatch(/\/emoji\/T0007\/party_parrot\.png$/);
    const dm = await w.chat.postMessage({ channel: "U0701", text: "psst" });
    expect(slack.channel(t, dm.channel!)).toMatchObject({ is_im: true, user: "U0701" });
    expect(await platformError(w.chat.update({ channel: "C0701", ts: a, text: "mine now" }))).toMatchObject({ error: "cant_update_message" });
    expect(await platformError(w.chat.delete({ channel: "C0701", ts: "1.000000" }))).toMatchObject({ error: "message_not_found" });
    slack.archiveChannel(t, "C0701", "U0701");
    expect(await platformError(w.chat.postMessage({ channel: "C0701", text: "x" }))).toMatchObject({ error: "is_archived" });
  });

  it("an edited message with a file carries blocks of its new text, as Slack renders them", async () => {
    const t = slack.createTeam({ id: "T0010", domain: "ten" });
    slack.addUser(t.id, { id: "U1001", name: "erin" });
    slack.addChannel(t.id, { id: "C1001", name: "files", members: ["U1001"], botMember: true });
    const ts = slack.userPosts(t.id, "C1001", "U1001", "the report", { silent: true, files: [{ name: "r.txt", data: Buffer.from("r") }] });
    slack.userEdits(t.id, "C1001", ts, "the final report");
    slack.clearPendingEvents(t);
    const [m] = (await web(t.botToken).conversations.history({ channel: "C1001" })).messages!;
    expect(m).toMatchObject({ subtype: "file_share", text: "the final report", edited: { user: "U1001" } });
    expect(JSON.stringify(m!.blocks)).toContain("the final report");
  });

  it("429 with Retry-After is honoured by WebClient", async () => {
    slack.rateLimitNext("users.info", 1, 1);
    const started = Date.now();
    const res = await web(team.botToken, { retryConfig: { retries: 2, minTimeout: 0, maxTimeout: 10 } }).users.info({ user: "U0001" });
    expect(res.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(slack.calls.filter((c) => c.method === "users.info").slice(-2).map((c) => c.status)).toEqual([429, 200]);

    slack.rateLimitNext("users.info", 1, 7);
    const err = await web(team.botToken, { rejectRateLimitedCalls: true }).users.info({ user: "U0001" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebAPIRateLimitedError);
    expect((err as WebAPIRateLimitedError).retryAfter).toBe(7);
  });
});

describe("Socket Mode", () => {
  let sm: SocketModeClient;
  const received: SmArgs[] = [];
  /** Texts whose first delivery is deliberately not acked. */
  const skipFirstAck = new Set<string>();

  beforeAll(async () => {
    sm = socket(team.appToken);
    sm.on("message", async (args: SmArgs) => {
      received.push(args);
      const text = String(args.event.text ?? "");
      if (skipFirstAck.has(text) && args.retry_num === 0) return;
      await args.ack();
    });
    await sm.start();
    expect(slack.connectionsOpened).toBe(1);
  });

  it("a user message arrives as an events_api envelope and is acked", async () => {
    const ts = slack.userPosts(team.id, "C0001", "U0001", "hello <@U0002> :wave:");
    const env = await slack.waitForEnvelope((e) => e.ts === ts, { acked: true });
    expect(env.payload).toMatchObject({
      team_id: "T0001", api_app_id: team.appId, type: "event_callback",
      authorizations: [{ team_id: "T0001", user_id: team.botUserId, is_bot: true }],
    });
    expect(String(env.payload.event_id)).toMatch(/^Ev/);
    const got = received.find((r) => r.event.ts === ts)!;
    expect(got.event).toMatchObject({ type: "message", channel: "C0001", user: "U0001", channel_type: "channel", event_ts: ts, team: "T0001" });
    expect(got.retry_num).toBe(0);
    const blocks = got.event.blocks as Json[];
    expect(blocks[0]).toMatchObject({ type: "rich_text" });
    expect(JSON.stringify(blocks)).toContain('"user_id":"U0002"');
    // Not delivered: the bot is not in C0002.
    slack.userPosts(team.id, "C0002", "U0001", "unseen");
    await new Promise((r) => setTimeout(r, 50));
    expect(slack.envelopes.some((e) => e.event.text === "unseen")).toBe(false);
  });

  it("hold: an event reaches the socket while conversations.list is still unanswered", async () => {
    const hold = slack.hold("conversations.list");
    const listing = web(team.botToken).conversations.list({ types: "public_channel" });
    let answered = false;
    void listing.then(() => { answered = true; });
    await hold.arrived();
    const ts = slack.userPosts(team.id, "C0001", "U0001", "while listing");
    await slack.waitForEnvelope((e) => e.ts === ts, { acked: true });
    expect(answered).toBe(false);
    hold.release();
    expect((await listing).channels?.some((c) => c.id === "C0001")).toBe(true);
  });

  it("hold: arrivedFor counts different values of a parameter, not a second call with the same one", async () => {
    const hold = slack.hold("conversations.history");
    const history = (limit: number) => web(team.botToken).conversations.history({ channel: "C0001", limit });
    const calls = [history(5), history(5)]; // a client's retry looks like this
    await hold.arrived(2);
    let two = false;
    void hold.arrivedFor("limit", 2).then(() => { two = true; });
    await new Promise((r) => setImmediate(r));
    expect(two).toBe(false);
    calls.push(history(7));
    await hold.arrivedFor("limit", 2);
    hold.release();
    for (const c of await Promise.all(calls)) expect(c.ok).toBe(true);
  });

  it("an unacked envelope is redelivered with retry_attempt 1, reason timeout", async () => {
    skipFirstAck.add("please retry");
    const ts = slack.userPosts(team.id, "C0001", "U0002", "please retry");
    const env = await slack.waitForEnvelope((e) => e.ts === ts, { acked: true, timeoutMs: 3000 });
    expect(env.retry_attempt).toBe(1);
    expect(env.retry_reason).toBe("timeout");
    const deliveries = received.filter((r) => r.event.ts === ts);
    expect(deliveries.map((d) => [d.retry_num, d.retry_reason])).toEqual([[0, ""], [1, "timeout"]]);
    expect(new Set(deliveries.map((d) => d.envelope_id)).size).toBe(1);
  });

  it("chat.postMessage: the echo arrives before the HTTP response", async () => {
    const order: string[] = [];
    const listener = (args: SmArgs): void => {
      if (args.event.text === "echo me") order.push("event");
    };
    sm.on("message", listener);
    const res = await web(team.botToken).chat.postMessage({
      channel: "C0001", text: "echo me", username: "Alice (Matrix)", icon_url: "https://example.org/a.png",
      metadata: { event_type: "tandem_bridged", event_payload: { mx: "$abc" } },
    });
    order.push("response");
    sm.off("message", listener);
    expect(order).toEqual(["event", "response"]);
    const echo = received.find((r) => r.event.ts === res.ts)!.event;
    expect(echo).toMatchObject({
      subtype: "bot_message", username: "Alice (Matrix)", bot_id: team.botId, app_id: team.appId,
      user: team.botUserId, text: "echo me", metadata: { event_type: "tandem_bridged" },
    });
    expect(echo.bot_profile).toMatchObject({ id: team.botId, app_id: team.appId });
    expect(res.message).toMatchObject({ ts: res.ts, bot_id: team.botId });
    const stored = slack.message(team.id, "C0001", res.ts!)!;
    expect(stored._request).toMatchObject({ username: "Alice (Matrix)", icon_url: "https://example.org/a.png" });

    // Edits and deletes echo too.
    const w = web(team.botToken);
    await w.chat.update({ channel: "C0001", ts: res.ts!, text: "echo edited" });
    const changed = received.find((r) => r.event.subtype === "message_changed" && (r.event.message as Json).ts === res.ts)!;
    expect(changed.event).toMatchObject({ hidden: true, message: { text: "echo edited", edited: { user: team.botUserId } }, previous_message: { text: "echo me" } });
    await w.chat.delete({ channel: "C0001", ts: res.ts! });
    expect(received.find((r) => r.event.subtype === "message_deleted" && r.event.deleted_ts === res.ts)).toBeDefined();
    expect(slack.message(team.id, "C0001", res.ts!)).toBeUndefined();
  });

  it("reactions: events and already_reacted / no_reaction", async () => {
    const ts = slack.userPosts(team.id, "C0001", "U0001", "react to me");
    const w = web(team.botToken);
    await w.reactions.add({ channel: "C0001", timestamp: ts, name: "thumbsup" });
    expect(await platformError(w.reactions.add({ channel: "C0001", timestamp: ts, name: "thumbsup" }))).toMatchObject({ error: "already_reacted" });
    expect(await platformError(w.reactions.remove({ channel: "C0001", timestamp: ts, name: "tada" }))).toMatchObject({ error: "no_reaction" });
    slack.userReacts(team.id, "C0001", ts, "U0002", "tada");
    const ev = await slack.waitForEnvelope((e) => e.type === "reaction_added" && e.reaction === "tada");
    expect(ev.event).toMatchObject({ user: "U0002", item: { type: "message", channel: "C0001", ts }, item_user: "U0001" });
    expect(slack.reactions(team.id, "C0001", ts).map((r) => r.name)).toEqual(["thumbsup", "tada"]);
  });

  it("files upload v2 end to end, downloads need the bot token", async () => {
    const w = web(team.botToken);
    const res = await w.filesUploadV2({ channel_id: "C0001", file: PNG, filename: "pic.png", title: "A picture", initial_comment: "look" });
    expect(res.ok).toBe(true);
    const env = await slack.waitForEnvelope((e) => e.subtype === "file_share" && e.text === "look", { acked: true });
    const file = (env.event.files as Json[])[0]!;
    expect(file).toMatchObject({ name: "pic.png", title: "A picture", mimetype: "image/png", filetype: "png", size: PNG.length, original_w: 16, original_h: 8 });
    expect(env.event).toMatchObject({ user: team.botUserId, bot_id: team.botId, channel: "C0001" });

    const ok = await fetch(String(file.url_private_download), { headers: { Authorization: `Bearer ${team.botToken}` } });
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).equals(PNG)).toBe(true);
    const anon = await fetch(String(file.url_private), { redirect: "manual" });
    expect(anon.status).toBe(302);
    const followed = await fetch(String(file.url_private));
    expect(followed.headers.get("content-type")).toContain("text/html");
    expect(slack.file(String(file.id))?.data.equals(PNG)).toBe(true);

    // The raw three-step flow, with a plain body upload, into a thread.
    const parent = slack.userPosts(team.id, "C0001", "U0001", "thread parent");
    const up = await w.files.getUploadURLExternal({ filename: "notes.txt", length: 5 });
    const put = await fetch(up.upload_url!, { method: "POST", body: "hello" });
    expect(await put.text()).toBe("OK - 5");
    const done = await w.files.completeUploadExternal({ files: [{ id: up.file_id! }], channel_id: "C0001", thread_ts: parent });
    expect(done.files?.[0]?.id).toBe(up.file_id);
    const msg = await slack.waitForMessage(team.id, "C0001", (m) => m.thread_ts === parent && m.subtype === "file_share");
    expect(msg.files?.[0]).toMatchObject({ id: up.file_id, mimetype: "text/plain" });
    const info = await w.files.info({ file: up.file_id! });
    expect(info.file?.shares?.public?.C0001?.[0]?.ts).toBe(msg.ts);
    expect(slack.message(team.id, "C0001", parent)).toMatchObject({ reply_count: 1, thread_ts: parent });
  });

  it("refresh_requested disconnect: the client reconnects by itself", async () => {
    const before = slack.connectionsOpened;
    await slack.disconnect("refresh_requested");
    await slack.waitFor(() => slack.connectionsOpened === before + 1 && slack.openConnections(team) === 1, 8000, "reconnect");
    const ts = slack.userPosts(team.id, "C0001", "U0001", "after reconnect");
    await slack.waitForEnvelope((e) => e.ts === ts, { acked: true });
  });

  it("dropped connections are redelivered after the client reconnects", async () => {
    const before = slack.connectionsOpened;
    skipFirstAck.add("lost in transit");
    const ts = slack.userPosts(team.id, "C0001", "U0001", "lost in transit");
    await slack.waitForEnvelope((e) => e.ts === ts);
    slack.dropConnections();
    await slack.waitFor(() => slack.connectionsOpened > before, 8000, "reconnect after drop");
    const env = await slack.waitForEnvelope((e) => e.ts === ts, { acked: true, timeoutMs: 5000 });
    expect(env.retry_attempt).toBeGreaterThanOrEqual(1);
  });
});

describe("Socket Mode start errors", () => {
  it("an unknown app token makes start() reject with invalid_auth", async () => {
    const c = socket("xapp-1-bogus");
    const err = await c.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebAPIPlatformError);
    expect((err as WebAPIPlatformError).data.error).toBe("invalid_auth");
  });
});
