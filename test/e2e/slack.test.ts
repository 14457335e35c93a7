/**
 * Issue 3 end to end: the real bridge (its configured Slack connector, real @slack/web-api and
 * @slack/socket-mode clients) against the fake Slack and the fake homeserver, as a new user
 * would meet it: `login app` in the DM with the bot, portals for the bot's conversations,
 * ghosts, and every relay both ways, then reconnects, a restart and a revoked token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientEvent, FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { Harness, waitUntil } from "../support/harness.js";

// A 16x8 PNG (header is all the fakes read for dimensions).
const PNG = Buffer.concat([
  Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"),
  Buffer.from([0, 0, 0, 16, 0, 0, 0, 8]),
  Buffer.from("0806000000", "hex"),
  Buffer.alloc(64, 7),
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CAROL = "@slack_t0001_u0001:example.org";
const DAVE = "@slack_t0001_u0002:example.org";

describe("Slack end to end", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  let h: Harness;
  let alice: FakeMatrixClient;
  let bob: FakeMatrixClient;
  let dm: string;
  let general: string;
  /** Carol's first message: Slack ts and Matrix event. */
  let carolTs: string;
  let carolEvent: ClientEvent;

  const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);
  const slackText = (channel: string, text: string) =>
    slack.waitForMessage(team, channel, (m) => m.text === text, 10_000);

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", display_name: "Carol" });
    slack.addUser(team, { id: "U0002", name: "dave", real_name: "Dave Lister" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001", "U0002"], botMember: true, topic: "Company-wide" });
    slack.addChannel(team, { id: "C0002", name: "random", members: ["U0001"], botMember: true });
    slack.addChannel(team, { id: "G0003", name: "secret", is_private: true, members: ["U0002"], botMember: true });
    slack.addChannel(team, { id: "D0004", is_im: true, user: "U0001" });
    slack.addChannel(team, { id: "C0009", name: "elsewhere", members: ["U0001"] });
    h = await Harness.start({ config: {
      slack: { api_url: slack.apiUrl, conversation_count: 10 }, telegram: { enabled: false }, bridge: { max_file_size: 4096, public_url: "https://bridge.example.org", download_allowed_origins: new URL(slack.apiUrl).origin },
    } });
    alice = h.user("alice");
    await alice.setAvatarUrl(await alice.upload(PNG, "image/png", "alice.png"));
    bob = h.user("bob");
    dm = await h.dm(alice);
  });

  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("login app: clear replies for wrong, swapped, revoked tokens and a missing scope", async () => {
    const revoked = slack.createTeam({ id: "T0002", name: "Revoked" });
    slack.revokeToken(revoked.botToken);
    const noCustomize = slack.createTeam({ id: "T0003", name: "Narrow", botScopes: ["channels:history", "channels:read", "chat:write", "files:read", "files:write", "groups:history", "groups:read", "im:history", "im:read", "mpim:history", "mpim:read", "reactions:read", "reactions:write", "users:read"] });

    expect(await h.command(alice, dm, "login app xoxb-0-wrong xapp-1-wrong")).toMatch(/does not accept the bot token \(invalid_auth\)/);
    expect(await h.command(alice, dm, `login app ${team.botToken} ${team.botToken}`)).toMatch(/Both tokens are bot tokens.*xapp-/);
    expect(await h.command(alice, dm, `login app ${team.botToken} xapp-1-unknown`)).toMatch(/does not accept the app-level token/);
    expect(await h.command(alice, dm, `login app ${revoked.botToken} ${revoked.appToken}`)).toMatch(/bot token was revoked/);
    expect(await h.command(alice, dm, `login app ${noCustomize.botToken} ${noCustomize.appToken}`))
      .toMatch(/missing the bot scope chat:write\.customize.*config\/slack-app-manifest\.yaml/);
    expect(await h.command(alice, dm, "login app xoxp-user-token")).toMatch(/bot token starts with xoxb-/);
    expect(h.bridge.core.logins()).toHaveLength(0);
  });

  it("login app with prompts: tokens redacted, reply names the workspace, portals for the bot's conversations", async () => {
    expect(await h.command(alice, dm, "login app")).toMatch(/bot token \(xoxb-/);
    expect(await h.command(alice, dm, team.botToken)).toMatch(/app-level token \(xapp-/);
    expect(await h.command(alice, dm, team.appToken)).toMatch(/^Logged in to Slack workspace Acme/);
    const tokenMessages = h.hs.timeline(dm).filter((e) => e.sender === alice.userId && e.type === "m.room.message").slice(-2);
    for (const e of tokenMessages) {
      await waitUntil(() => h.hs.allEvents({ type: "m.room.redaction", redacts: e.event_id }).length > 0, 5000, "token message redacted");
    }
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_general:example.org"), 10_000, "general portal");
    general = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    expect(h.hs.stateContent(general, "m.room.name")?.name).toBe("general (Slack)");
    expect(h.hs.stateContent(general, "m.room.topic")?.topic).toBe("Company-wide");
    // MSC2346 bridge info from the Slack connector: the workspace, the channel, links into Slack.
    const bridgeInfo = Object.entries(h.hs.roomState(general)["m.bridge"] ?? {});
    expect(bridgeInfo).toHaveLength(1);
    const [stateKey, bridgeEv] = bridgeInfo[0]!;
    expect(stateKey).toMatch(new RegExp(`^tandem://slack/${team.id}/C\\w+$`));
    expect(bridgeEv.content).toMatchObject({
      bridgebot: h.botMxid, creator: alice.userId, protocol: { id: "slack", displayname: "Slack", external_url: "https://slack.com" },
      network: { id: team.id, displayname: "Acme" }, channel: { displayname: "general", external_url: expect.stringMatching(/^https:\/\/app\.slack\.com\/client\//) },
    });
    expect(h.hs.members(general)[alice.userId]).toBe("invite");
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_random:example.org") && !!h.hs.roomByAlias("#slack_acme_secret:example.org"), 10_000, "other portals");
    await waitUntil(() => h.hs.rooms().some((r) => h.hs.stateContent(r, "m.room.name")?.name === "Carol"), 10_000, "DM portal named after Carol");
    expect(h.hs.roomByAlias("#slack_acme_elsewhere:example.org")).toBeUndefined();
    await alice.join(general);
    await bob.join(general).catch(async () => {
      await h.hs.clientFor(h.botMxid).invite(general, bob.userId);
      await bob.join(general);
    });
    await waitUntil(() => h.bridge.core.health.all().some((x) => x.state === "connected"), 10_000, "Socket Mode connected");
    expect(await h.command(alice, dm, "status")).toMatch(/Slack Acme: connected/);
  });

  it("a Slack message appears from the ghost with display name and avatar", async () => {
    // As a Slack client sends it: mrkdwn text plus the rich_text block the bridge prefers.
    carolTs = slack.userPosts(team, "C0001", "U0001", "hello *world* from <@U0002>", {
      blocks: [{ type: "rich_text", block_id: "x1", elements: [{ type: "rich_text_section", elements: [
        { type: "text", text: "hello " }, { type: "text", text: "world", style: { bold: true } }, { type: "text", text: " from " }, { type: "user", user_id: "U0002" },
      ] }] }],
    });
    carolEvent = await h.hs.waitForEvent({ room_id: general, type: "m.room.message", sender: CAROL }, { timeoutMs: 5000 });
    expect(carolEvent.content).toMatchObject({ msgtype: "m.text", body: "hello world from Dave Lister" });
    expect(String(carolEvent.content.formatted_body)).toContain("<strong>world</strong>");
    expect(String(carolEvent.content.formatted_body)).toContain(`https://matrix.to/#/${DAVE}`);
    expect(h.hs.profile(CAROL)?.displayname).toBe("Carol");
    expect(h.hs.profile(CAROL)?.avatar_url).toMatch(/^mxc:\/\//);
  });

  it("Slack mrkdwn: channel links become portal links, emoji shortcodes unicode", async () => {
    slack.userPosts(team, "C0001", "U0001", "see <#C0002> :wave:");
    const ev = await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: /^see / } });
    expect(ev.content.body).toMatch(/^see #?random 👋$/);
    expect(String(ev.content.formatted_body)).toContain('href="https://matrix.to/#/#slack_acme_random:example.org"');
  });

  it("a message in a conversation without a portal creates it on the spot; sync picks up new ones", async () => {
    slack.addChannel(team, { id: "C0005", name: "late", members: ["U0001"], botMember: true });
    slack.userPosts(team, "C0005", "U0001", "first words in late");
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_late:example.org"), 10_000, "portal for late");
    const late = h.hs.roomByAlias("#slack_acme_late:example.org")!;
    await h.hs.waitForEvent({ room_id: late, sender: CAROL, content: { body: "first words in late" } });
    expect(h.hs.members(late)[alice.userId]).toBe("invite");
    slack.addChannel(team, { id: "C0006", name: "quiet", members: ["U0002"], botMember: true });
    expect(await h.command(alice, dm, "sync")).toBe("Slack Acme: 1 new portal.");
    expect(h.hs.roomByAlias("#slack_acme_quiet:example.org")).toBeDefined();
  });

  it("Matrix → Slack: text as the bot with the sender's name, tagged with the event id; the echo never comes back", async () => {
    const eventId = await alice.sendHtml(general, "hi from matrix", "hi from <b>matrix</b>");
    const m = await slackText("C0001", "hi from *matrix*");
    expect(m._request).toMatchObject({ username: "alice" });
    // Slack fetches icon_url from the internet: it is the bridge's signed public avatar URL.
    expect(String(m._request!.icon_url)).toMatch(/^https:\/\/bridge\.example\.org\/_tandem\/avatar\//);
    expect((await slackText("C0001", "hi from *matrix*")).icons).toBeDefined();
    expect(m).toMatchObject({ bot_id: team.botId, metadata: { event_type: "tandem_matrix_event", event_payload: { event_id: eventId } } });
    await waitUntil(async () => (await h.bridge.store.messages.byEvent(eventId)).length > 0, 5000, "message map row");
    expect((await h.bridge.store.messages.byEvent(eventId))[0]!.remoteRef).toBe(`T0001:C0001:${m.ts}`);
    // Slack delivered the post's echo before answering it; a message posted after it is a sentinel on the same lane.
    slack.userPosts(team, "C0001", "U0001", "after the echo");
    await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "after the echo" } });
    expect(h.messages(general).filter((e) => body(e).includes("hi from"))).toHaveLength(1);
  });
  it("a Matrix reply or thread message becomes a Slack thread reply; a Slack thread becomes m.thread", async () => {
    await alice.reply(general, carolEvent.event_id, "answer in thread");
    expect((await slackText("C0001", "answer in thread")).thread_ts).toBe(carolTs);

    const replyTs = slack.userPosts(team, "C0001", "U0002", "first reply", { thread_ts: carolTs });
    const ev = await h.hs.waitForEvent({ room_id: general, sender: DAVE, content: { body: "first reply" } });
    expect(ev.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: carolEvent.event_id });
    // Replying to a thread reply answers in that thread (Slack threads hang off the root only).
    // (The Matrix event is visible a moment before the bridge has mapped it; a person takes longer.)
    await waitUntil(async () => (await h.bridge.store.messages.byEvent(ev.event_id)).length > 0, 5000, "first reply mapped");
    await alice.reply(general, ev.event_id, "reply to the reply");
    expect((await slackText("C0001", "reply to the reply")).thread_ts).toBe(carolTs);
    await alice.sendMessage(general, { msgtype: "m.text", body: "threaded from matrix", "m.relates_to": {
      rel_type: "m.thread", event_id: carolEvent.event_id, is_falling_back: true, "m.in_reply_to": { event_id: ev.event_id } } });
    expect((await slackText("C0001", "threaded from matrix")).thread_ts).toBe(carolTs);

    slack.userPosts(team, "C0001", "U0002", "to everyone", { thread_ts: carolTs, broadcast: true });
    const bc = await h.hs.waitForEvent({ room_id: general, sender: DAVE, content: { body: "to everyone" } });
    expect(bc.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: carolEvent.event_id });
    void replyTs;
  });

  it("Matrix edits and redactions update and delete the Slack copy; their echoes stay out of Matrix", async () => {
    const id = await alice.sendText(general, "typo heer");
    const m = await slackText("C0001", "typo heer");
    await alice.edit(general, id, "typo here");
    await slack.waitFor(() => slack.message(team, "C0001", m.ts)?.text === "typo here", 5000, "chat.update");
    await alice.redact(general, id);
    await slack.waitFor(() => !slack.message(team, "C0001", m.ts), 5000, "chat.delete");
    expect(slack.calls.filter((c) => c.method === "chat.update" || c.method === "chat.delete").map((c) => c.method)).toEqual(["chat.update", "chat.delete"]);
    slack.userPosts(team, "C0001", "U0001", "after the edit echoes"); // a sentinel behind the echoes
    await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "after the edit echoes" } });
    expect(h.hs.timeline(general).filter((e) => e.sender.startsWith("@slack_") && (e.type === "m.room.redaction" || JSON.stringify(e.content).includes("typo")))).toEqual([]);
  });

  it("reactions: two Matrix users on one emoji are one Slack reaction, removed when the last goes; Slack reactions come back", async () => {
    const r1 = await alice.react(general, carolEvent.event_id, "👍");
    await slack.waitFor(() => slack.reactions(team, "C0001", carolTs).length > 0, 5000, "reactions.add");
    const r2 = await bob.react(general, carolEvent.event_id, "👍");
    /** A Matrix message after it on the room's lane: once Slack has it, the reaction change before it is done. */
    const settle = async (text: string) => {
      await alice.sendText(general, text);
      await slackText("C0001", text);
    };
    await settle("sentinel after bob's reaction");
    expect(slack.reactions(team, "C0001", carolTs)).toEqual([{ name: "+1", users: [team.botUserId], count: 1 }]);
    await alice.redact(general, r1);
    await settle("sentinel after alice's unreaction");
    expect(slack.reactions(team, "C0001", carolTs)).toHaveLength(1);
    await bob.redact(general, r2);
    await slack.waitFor(() => slack.reactions(team, "C0001", carolTs).length === 0, 5000, "reactions.remove");

    slack.userReacts(team, "C0001", carolTs, "U0002", "tada");
    const re = await h.hs.waitForEvent({ room_id: general, type: "m.reaction", sender: DAVE });
    expect(re.content["m.relates_to"]).toEqual({ rel_type: "m.annotation", event_id: carolEvent.event_id, key: "🎉" });
    slack.userReacts(team, "C0001", carolTs, "U0002", "tada", false);
    await h.hs.waitForEvent({ room_id: general, type: "m.room.redaction", redacts: re.event_id });
    // The bot's own reactions.add echo never became a Matrix reaction.
    expect(h.hs.timeline(general).filter((e) => e.type === "m.reaction" && e.sender !== DAVE && !e.sender.startsWith("@alice") && !e.sender.startsWith("@bob"))).toEqual([]);
  });

  it("files both ways: an image with its size, type and dimensions", async () => {
    slack.userPosts(team, "C0001", "U0002", "look at this", { files: [{ name: "pic.png", data: PNG }] });
    const img = await h.hs.waitForEvent({ room_id: general, sender: DAVE, content: { msgtype: "m.image" } });
    expect(img.content).toMatchObject({ body: "pic.png", info: { mimetype: "image/png", size: PNG.length, w: 16, h: 8 } });
    expect(h.hs.media(String(img.content.url))?.data.equals(PNG)).toBe(true);
    await h.hs.waitForEvent({ room_id: general, sender: DAVE, content: { msgtype: "m.text", body: "look at this" } });

    const mxc = await alice.upload(PNG, "image/png", "cat.png");
    const id = await alice.sendMessage(general, { msgtype: "m.image", body: "cat.png", url: mxc, info: { mimetype: "image/png", size: PNG.length, w: 16, h: 8 } });
    const msg = await slack.waitForMessage(team, "C0001", (m) => m.subtype === "file_share" && (m.files?.[0] as { name?: string } | undefined)?.name === "cat.png", 10_000);
    const file = slack.file(String((msg.files![0] as { id: string }).id))!;
    expect(file).toMatchObject({ mimetype: "image/png", width: 16, height: 8 });
    expect(file.data.equals(PNG)).toBe(true);
    expect(msg.text).toContain("alice");
    await waitUntil(async () => (await h.bridge.store.messages.byEvent(id)).length > 0, 5000, "file message map row");
    expect((await h.bridge.store.messages.byEvent(id)).map((r) => r.remoteRef)).toEqual([`T0001:C0001:${msg.ts}`]);
  });

  it("a Slack file over max_file_size becomes a notice with its name and link", async () => {
    slack.userPosts(team, "C0001", "U0002", "", { files: [{ name: "big.bin", data: Buffer.alloc(5000, 1) }] });
    const notice = await h.hs.waitForEvent({ room_id: general, sender: DAVE, content: { msgtype: "m.notice" } });
    expect(notice.content.body).toMatch(/big\.bin .*too large.*https:\/\/acme\.slack\.com\/files\//);
  });

  it("/me both ways", async () => {
    slack.userPosts(team, "C0001", "U0001", "waves", { me: true });
    await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { msgtype: "m.emote", body: "waves" } });
    await alice.sendMessage(general, { msgtype: "m.emote", body: "dances" });
    expect((await slackText("C0001", "_alice dances_"))._request).toMatchObject({ username: "alice" });
  });

  it("Slack edits and deletes become m.replace and redactions", async () => {
    slack.userEdits(team, "C0001", carolTs, "hello again");
    const edit = await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { "m.relates_to": { rel_type: "m.replace" } } });
    expect(edit.content).toMatchObject({ "m.new_content": { body: "hello again" }, "m.relates_to": { event_id: carolEvent.event_id } });
    const ts = slack.userPosts(team, "C0001", "U0001", "regrettable");
    const ev = await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "regrettable" } });
    slack.userDeletes(team, "C0001", ts);
    await h.hs.waitForEvent({ room_id: general, type: "m.room.redaction", redacts: ev.event_id });
  });

  it("channel renames, archive, joins and profile changes are mirrored", async () => {
    const random = h.hs.roomByAlias("#slack_acme_random:example.org")!;
    slack.renameChannel(team, "C0002", "watercooler");
    await waitUntil(() => h.hs.stateContent(random, "m.room.name")?.name === "watercooler (Slack)", 5000, "rename");
    slack.userJoins(team, "C0002", "U0002");
    await waitUntil(() => h.hs.members(random)[DAVE] === "join", 5000, "Dave joins");
    slack.archiveChannel(team, "C0002");
    await h.waitForBot(random, /archived/, 5000);
    slack.updateUser(team, "U0001", { display_name: "Captain Carol" });
    await waitUntil(() => h.hs.profile(CAROL)?.displayname === "Captain Carol", 5000, "ghost renamed");
  });

  it("the bot's own posts never come back (dropped before they are queued)", async () => {
    const own = slack.messages(team, "C0001").filter((m) => m.bot_id === team.botId).map((m) => m.ts);
    expect(own.length).toBeGreaterThanOrEqual(5);
    const keys = (await h.bridge.store.db.query<{ source_key: string }>("SELECT source_key FROM relay_queue WHERE source_key LIKE 'r:slack:%'")).map((r) => r.source_key);
    expect(keys.length).toBeGreaterThan(10);
    for (const ts of own) expect(keys.filter((k) => k.includes(ts))).toEqual([]);
    expect(keys.filter((k) => k.includes(team.botUserId))).toEqual([]);
    const bot = `@slack_t0001_${team.botUserId.toLowerCase()}:example.org`;
    expect(h.hs.allEvents((e) => e.sender === bot)).toEqual([]);
    const fromMatrix = ["hi from matrix", "answer in thread", "reply to the reply", "threaded from matrix", "dances"];
    for (const text of fromMatrix) expect(h.messages(general).filter((e) => body(e).includes(text))).toHaveLength(1);
  });

  it("a burst into one channel: each message handed out after another needs no duplicate look-up of its own", async () => {
    // Carol and #general are known by now: what is counted is the relay's own statements. The messages
    // arrive faster than the worker sends them, so all but the first are handed out by the statement
    // that finishes the one before (done + map rows + next), which answers their duplicate check too.
    const n = 20;
    const db = h.bridge.store.db as { query: (sql: string, params?: unknown[]) => Promise<unknown[]> };
    const query = db.query;
    const lookUps: string[] = [];
    db.query = (sql, params) => {
      if (/FROM messages WHERE/.test(sql)) lookUps.push(sql);
      return query.call(db, sql, params);
    };
    try {
      const done = () => h.bridge.core.queue.counts.done;
      const doneBefore = done();
      const before = h.bridge.store.db.statementCount;
      for (let i = 0; i < n; i++) slack.userPosts(team, "C0001", "U0001", `burst ${i}`);
      await waitUntil(() => done() - doneBefore >= n, 10_000, "every item of the burst done");
      const statements = h.bridge.store.db.statementCount - before;
      expect(h.messages(general).filter((e) => body(e).startsWith("burst ")).map(body)).toEqual(Array.from({ length: n }, (_, i) => `burst ${i}`));
      expect(lookUps).toEqual([]);
      // Each message: at most its insert (several envelopes may share one) and the statement that finishes it.
      expect(statements).toBeLessThanOrEqual(2 * n);
    } finally {
      db.query = query;
    }
  });

  it("an envelope is acked only once queued; a redelivery (retry_attempt 1) does not double the message", async () => {
    const core = h.bridge.core as unknown as { enqueue: (items: unknown[]) => Promise<void> };
    const original = core.enqueue.bind(core);
    let queuedAt = 0;
    core.enqueue = async (items) => {
      const slow = JSON.stringify(items).includes("slow one");
      if (slow && queuedAt === 0) await sleep(1600); // longer than the fake's 1 s ack timeout
      await original(items);
      if (slow && queuedAt === 0) queuedAt = Date.now();
    };
    try {
      const ts = slack.userPosts(team, "C0001", "U0001", "slow one");
      const env = await slack.waitForEnvelope((e) => e.ts === ts, { acked: true, timeoutMs: 8000 });
      expect(env.retry_attempt).toBeGreaterThanOrEqual(1);
      expect(env.deliveries).toBeGreaterThanOrEqual(2);
      expect(env.ackedAt!).toBeGreaterThanOrEqual(queuedAt);
      await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "slow one" } });
      // Every delivery answered (so each was queued or dropped), then a sentinel in the same channel:
      // a doubled "slow one" would be in the channel's lane before it.
      await waitUntil(() => slack.unackedEnvelopes().length === 0, 10_000, "every delivery acked");
      slack.userPosts(team, "C0001", "U0001", "sentinel after slow one");
      await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "sentinel after slow one" } });
      expect(h.messages(general).filter((e) => body(e) === "slow one")).toHaveLength(1);
    } finally {
      core.enqueue = original;
    }
  });

  it("refresh_requested and dropped sockets: the connection comes back and relaying goes on", async () => {
    let before = slack.connectionsOpened;
    await slack.disconnect("refresh_requested", team);
    await slack.waitFor(() => slack.connectionsOpened > before && slack.openConnections(team) === 1, 8000, "reconnect after refresh_requested");
    slack.userPosts(team, "C0001", "U0001", "after refresh");
    await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "after refresh" } });
    before = slack.connectionsOpened;
    slack.dropConnections(team);
    await slack.waitFor(() => slack.connectionsOpened > before && slack.openConnections(team) === 1, 8000, "reconnect after drop");
    slack.userPosts(team, "C0001", "U0001", "after drop");
    await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "after drop" } });
  });

  it("a second workspace side by side", async () => {
    const globex = slack.createTeam({ id: "T0004", name: "Globex", domain: "globex" });
    slack.addUser(globex, { id: "U0401", name: "hank", real_name: "Hank Scorpio" });
    slack.addChannel(globex, { id: "C0401", name: "general", members: ["U0401"], botMember: true });
    // One line, tokens in the wrong order: the bridge says so and uses them the right way round.
    const reply = await h.command(alice, dm, `login app ${globex.appToken} ${globex.botToken}`);
    expect(reply).toMatch(/^Logged in to Slack workspace Globex\n.*other order/);
    const loginMsg = h.hs.timeline(dm).filter((e) => e.sender === alice.userId && e.type === "m.room.message").at(-1)!;
    await waitUntil(() => h.hs.allEvents({ type: "m.room.redaction", redacts: loginMsg.event_id }).length > 0, 5000, "one-line login redacted");
    await waitUntil(() => !!h.hs.roomByAlias("#slack_globex_general:example.org"), 10_000, "Globex portal");
    const room = h.hs.roomByAlias("#slack_globex_general:example.org")!;
    await slack.waitFor(() => slack.openConnections(globex) === 1, 8000, "Globex socket");
    slack.userPosts(globex, "C0401", "U0401", "hello from globex");
    await h.hs.waitForEvent({ room_id: room, sender: "@slack_t0004_u0401:example.org", content: { body: "hello from globex" } });
    expect(h.messages(general).some((e) => body(e) === "hello from globex")).toBe(false);
  });

  it("after a restart every login reconnects by itself and relaying works both ways", async () => {
    const before = slack.connectionsOpened;
    await h.restart();
    await slack.waitFor(() => slack.connectionsOpened >= before + 2 && slack.openConnections(team) === 1 && slack.openConnections("T0004") === 1, 10_000, "reconnect after restart");
    slack.userPosts(team, "C0001", "U0001", "after restart");
    await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "after restart" } });
    await alice.sendText(general, "matrix after restart");
    await slackText("C0001", "matrix after restart");
  });

  it("tokens never reach the log", () => {
    for (const t of [team.botToken, team.appToken, slack.team("T0004").botToken, slack.team("T0004").appToken]) expect(h.logs).not.toContain(t);
    expect(h.logs).not.toMatch(/xox[bp]-\d/);
    expect(h.logs).not.toMatch(/xapp-1-[A-Z0-9]/);
  });

  it("a revoked token: status shows bad credentials and the owner gets one DM", async () => {
    slack.revokeToken(team.appToken);
    slack.revokeToken(team.botToken);
    slack.dropConnections(team);
    await h.waitForBot(dm, /Slack login Acme stopped working: .*revoked/, 10_000);
    await alice.sendText(general, "into the void"); // chat.postMessage now fails with token_revoked too
    // Its failed attempt is what could tell the owner again: wait for it to be recorded, then for the
    // bot's answer in the DM (the sentinel there).
    await waitUntil(async () => (await h.bridge.store.db.query<{ attempts: number }>(
      "SELECT attempts FROM relay_queue WHERE payload::text LIKE '%into the void%' AND attempts > 0")).length > 0, 10_000, "the send tried and failed");
    expect(await h.command(alice, dm, "status")).toMatch(/Slack Acme: bad-credentials \(the bot token was revoked \(token_revoked\)/);
    expect(h.messages(dm).filter((e) => e.sender === h.botMxid && /stopped working/.test(body(e)))).toHaveLength(1);
    expect(await h.command(alice, dm, "logout slack T0004")).toMatch(/Logged out of Slack Globex/);
  });
});
