/**
 * Issue 15 on a real Synapse 1.67, who is who and double puppeting: the second registration
 * (`generate-registration --double-puppet`) loaded next to the main one, Alice claims her Slack
 * user with the code the app DMs her there, Bob is mapped by e-mail (the bot reads the
 * homeserver's e-mails through Synapse's admin API, being a server admin), and Alice's next
 * Slack message appears as @alice herself while her ghost leaves the room, with nothing echoed
 * back to Slack.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { waitFor } from "../support/bridge-process.js";
import { SynapseBridge, bodyOf, runCli } from "./support/bridge.js";
import type { ClientEvent, MatrixUser } from "./support/matrix-user.js";
import { Synapse } from "./support/synapse.js";
import { importProgress, roomHistory } from "./support/history.js";

const DOMAIN = "test.local";
const ALICE_GHOST = `@slack_t0001_u0001:${DOMAIN}`;

describe("people on a real Synapse: claim, map by e-mail, double puppeting", () => {
  let hs: Synapse;
  let bridge: SynapseBridge;
  let slack: FakeSlack;
  let team: TeamHandle;
  let admin: MatrixUser;
  let alice: MatrixUser;
  let adminDm: string;
  let room: string;
  const past: Array<{ text: string; ts: string }> = [];

  const inRoom = (pred: (e: ClientEvent) => boolean, what: string) =>
    admin.waitForEvent((e) => e.room_id === room && pred(e), { what, timeoutMs: 30_000 });
  const slackTexts = () => slack.messages(team, "C0001").map((m) => m.text);

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 2000, pingIntervalMs: 5000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "alice", real_name: "Alice Liddell", email: "alice@wonder.example" });
    slack.addUser(team, { id: "U0002", name: "bob", real_name: "Bob Builder", email: "Bob@Test.Local" });
    slack.addChannel(team, { id: "C0001", name: "ops", members: ["U0001", "U0002"], botMember: true });
    slack.addChannel(team, { id: "D0001", is_im: true, user: "U0001" });
    // Posted before the bridge: history for the import, as Alice and Bob themselves.
    slack.addChannel(team, { id: "C0002", name: "archive", members: ["U0001", "U0002"], botMember: true });
    for (const [user, text] of [["U0001", "old one from alice"], ["U0002", "old one from bob"], ["U0001", "old two from alice"]] as const) {
      past.push({ text, ts: slack.userPosts(team, "C0002", user, text, { silent: true }) });
    }
    hs = await Synapse.create(DOMAIN);
    bridge = await SynapseBridge.create(hs, { slack, config: {
      slack: { conversation_count: 0, backfill_count: 0 },
      appservice: { double_puppet_registration: join(hs.dir, "..", "double-puppet.yaml") },
    } });
    const gen = await runCli(["generate-registration", "--double-puppet", "-c", bridge.configPath]);
    expect(gen.code, gen.stdout + gen.stderr).toBe(0);
    hs.addAppservice("tandem-double-puppet", join(hs.dir, "..", "double-puppet.yaml"));
    await hs.start();
    await bridge.start();
    admin = await hs.mkuser("admin", { admin: true });
    alice = await hs.mkuser("alice");
    const bob = await hs.mkuser("bob");
    // The operator lets the bridge read e-mails: Bob's address, and the bot made a server admin.
    await admin.request("PUT", `/_synapse/admin/v2/users/${encodeURIComponent(bob.userId)}`, { threepids: [{ medium: "email", address: "bob@test.local" }] });
    await admin.request("PUT", `/_synapse/admin/v2/users/${encodeURIComponent(bridge.botMxid)}`, { admin: true });
    adminDm = await bridge.dm(admin);
    expect((await bridge.command(admin, adminDm, `login app ${team.botToken} ${team.appToken}`)).reply).toMatch(/^Logged in to Slack/);
    await bridge.waitHealthy();
    room = await admin.createRoom({ name: "Ops", invite: [bridge.botMxid], power_level_content_override: { users: { [admin.userId]: 100, [bridge.botMxid]: 100 } } });
    await inRoom((e) => e.sender === bridge.botMxid && /Hello/.test(bodyOf(e)), "the bot's hello");
    expect((await bridge.command(admin, room, "!tandem link slack #ops")).reply).toMatch(/^Linked this room to Slack/);
  });

  afterAll(async () => {
    await admin?.stopSync();
    await alice?.stopSync();
    await bridge?.stop();
    await hs?.destroy();
    await slack?.stop();
  });

  it("Alice claims her Slack user with the code the Slack app sent her", async () => {
    slack.userPosts(team, "C0001", "U0001", "before the claim");
    await inRoom((e) => e.sender === ALICE_GHOST && bodyOf(e) === "before the claim", "Alice's ghost posting");
    const dm = await bridge.dm(alice);
    expect((await bridge.command(alice, dm, "claim slack U0001")).reply).toMatch(/sent a code to that Slack account/);
    const sent = await slack.waitFor(() => slack.messages(team, "D0001").find((m) => /claim [A-Z2-9]{8}/.test(m.text)), 10_000, "the code in Alice's Slack DM");
    expect(sent.text).toContain(alice.userId);
    const code = /claim ([A-Z2-9]{8})/.exec(sent.text)![1]!;
    expect((await bridge.command(alice, dm, "claim WRONG234")).reply).toMatch(/not valid/);
    expect((await bridge.command(alice, dm, `claim ${code}`)).reply).toBe("Done: Slack user T0001:U0001 is now mapped to you.");
  });

  it("Bob is mapped by his e-mail: the dry run lists him, the run maps him", async () => {
    const dry = (await bridge.command(admin, adminDm, "map slack --by-email --dry-run")).reply;
    expect(dry).toMatch(/^Dry run: would map 1 of 2 Slack users by e-mail/);
    expect(dry).toContain(`• Bob Builder (T0001:U0002) → @bob:${DOMAIN}`);
    expect(dry).toMatch(/Alice Liddell \(T0001:U0001\): already mapped to @alice:test.local/);
    expect((await bridge.command(admin, adminDm, "map slack --by-email")).reply).toMatch(/^Mapped 1 of 2/);
    const list = (await bridge.command(admin, adminDm, "mappings")).reply;
    expect(list).toContain(`slack T0001:U0001 → @alice:${DOMAIN} (claim by @alice:${DOMAIN}`);
    expect(list).toContain(`slack T0001:U0002 → @bob:${DOMAIN} (email by @admin:${DOMAIN}`);
  });

  it("with double puppeting, Alice's Slack message appears as @alice, her ghost leaves the room, and nothing echoes back", async () => {
    slack.userPosts(team, "C0001", "U0001", "as myself");
    const mine = await inRoom((e) => bodyOf(e) === "as myself", "Alice's own message");
    expect(mine.sender).toBe(alice.userId);
    await waitFor(async () => (await admin.members(room))[ALICE_GHOST] === "leave", 30_000, "Alice's ghost leaving");
    expect((await admin.members(room))[alice.userId]).toBe("join");

    await admin.sendText(room, "sentinel");
    await slack.waitFor(() => slackTexts().includes("sentinel"), 30_000, "the sentinel on Slack");
    expect(slackTexts().filter((t) => t === "as myself")).toHaveLength(1); // Alice's own post, not an echo
  });

  it("in an imported history too: Alice's and Bob's past messages appear as @alice and @bob, at their original times", async () => {
    expect((await bridge.command(admin, adminDm, "import slack --conversation #archive")).reply).toMatch(/running/);
    await waitFor(async () => (await importProgress(bridge.metricsPort))?.state === "done", 120_000, "the import", 500);
    const roomId = (await importProgress(bridge.metricsPort))!.conversations[0]!.roomId!;
    await admin.join(roomId);
    const imported = (await roomHistory(admin, roomId)).filter((e) => e.type === "m.room.message" && /^old /.test(bodyOf(e)));
    expect(imported.map((e) => [bodyOf(e), e.sender])).toEqual([
      ["old one from alice", alice.userId], ["old one from bob", `@bob:${DOMAIN}`], ["old two from alice", alice.userId],
    ]);
    expect(imported.map((e) => e.origin_server_ts)).toEqual(past.map((p) => Math.round(Number(p.ts) * 1000)));
  });
});
