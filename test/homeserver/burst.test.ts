/**
 * Issue 16, row 2 on a real Synapse 1.67 (SQLite): a burst of 500 messages each way through a
 * Synapse restart. Synapse numbers appservice transactions again after a restart, so ids the
 * bridge has seen come back with new events; a bridge that answered a known id without reading
 * its body lost most of the Matrix side (303 of 500 in the run that found it). Every message
 * must arrive once, in order. Outbound pacing is off: at Slack's 1 message a second per channel
 * the burst would take minutes and measure the pacing, not the delivery.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { SynapseBridge, bodyOf } from "./support/bridge.js";
import type { MatrixUser } from "./support/matrix-user.js";
import { Synapse } from "./support/synapse.js";

const DOMAIN = "test.local";
const CAROL = `@slack_t0001_u0001:${DOMAIN}`;
const HALF = 250;

describe("500 messages each way through a Synapse restart", () => {
  let hs: Synapse;
  let bridge: SynapseBridge;
  let slack: FakeSlack;
  let team: TeamHandle;
  let admin: MatrixUser;
  let room: string;

  const slackTexts = () => slack.messages(team, "C0002").map((m) => m.text);
  const roomTexts = (sender: string) => admin.timeline(room, "m.room.message").filter((e) => e.sender === sender).map(bodyOf);

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 5000, pingIntervalMs: 5000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", display_name: "Carol" });
    slack.addChannel(team, { id: "C0002", name: "ops", members: ["U0001"], botMember: true });
    hs = await Synapse.create(DOMAIN);
    bridge = await SynapseBridge.create(hs, { slack, config: {
      slack: { conversation_count: 0, backfill_count: 0, outbound_pacing: false } } });
    await hs.start();
    await bridge.start();
    admin = await hs.mkuser("admin", { admin: true });
    const dm = await bridge.dm(admin);
    expect((await bridge.command(admin, dm, `login app ${team.botToken} ${team.appToken}`)).reply).toMatch(/^Logged in to Slack/);
    room = await admin.createRoom({ name: "Ops", invite: [bridge.botMxid],
      power_level_content_override: { users: { [admin.userId]: 100, [bridge.botMxid]: 100 } } });
    await admin.waitForEvent((e) => e.room_id === room && e.sender === bridge.botMxid && /Hello/.test(bodyOf(e)), { what: "the bot's hello" });
    expect((await bridge.command(admin, room, "!tandem link slack #ops")).reply).toMatch(/^Linked this room to Slack/);
  }, 180_000);

  afterAll(async () => {
    await admin?.stopSync();
    await bridge?.stop();
    await hs?.destroy();
    await slack?.stop();
  });

  it("arrives complete, once each and in order, with transaction ids reused after the restart", async () => {
    const want = (side: string) => Array.from({ length: 2 * HALF }, (_, i) => `burst ${side}${i + 1}`);
    for (let i = 1; i <= HALF; i++) {
      slack.userPosts(team, "C0002", "U0001", `burst s${i}`);
      await admin.sendText(room, `burst m${i}`);
    }
    await slack.waitFor(() => slackTexts().includes(`burst m${HALF}`), 180_000, "the first half on Slack");
    await hs.stop();
    // Slack keeps talking while the homeserver is down: the bridge queues it.
    for (let i = HALF + 1; i <= 2 * HALF - 50; i++) slack.userPosts(team, "C0002", "U0001", `burst s${i}`);
    await hs.start();
    for (let i = HALF + 1; i <= 2 * HALF; i++) {
      if (i > 2 * HALF - 50) slack.userPosts(team, "C0002", "U0001", `burst s${i}`);
      await admin.sendText(room, `burst m${i}`);
    }
    const slackSide = () => slackTexts().filter((t) => t.startsWith("burst m"));
    const matrixSide = () => roomTexts(CAROL).filter((t) => t.startsWith("burst s"));
    await slack.waitFor(() => slackSide().length >= 2 * HALF && matrixSide().length >= 2 * HALF ? true : undefined, 300_000,
      `all ${2 * HALF} each way (Slack has ${slackSide().length}, Matrix ${matrixSide().length})\n${bridge.tail()}`);
    // A sentinel on each lane: a late double would have arrived before it.
    await admin.sendText(room, "burst done-m");
    slack.userPosts(team, "C0002", "U0001", "burst done-s");
    await slack.waitFor(() => slackTexts().includes("burst done-m") && roomTexts(CAROL).includes("burst done-s") ? true : undefined, 60_000, "the sentinels");
    expect(slackSide()).toEqual(want("m"));
    expect(matrixSide()).toEqual(want("s"));
    // The scenario happened: Synapse sent ids the bridge had seen, with new events in them.
    expect(bridge.output).toMatch(/transaction id reused with a different body/);
  }, 600_000);
});
