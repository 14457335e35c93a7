/**
 * Bad input on the Slack side (issue 5, item 6), through the real connector, the fake Slack and
 * the fake homeserver (which refuses events over 64 KiB, as Synapse does):
 * - malformed and unknown envelopes are acked and skipped; the next message still arrives;
 * - HTML and script in names, topics and messages stay text in Matrix (no live markup), and
 *   Slack markup typed by Matrix users (or in their names) stays text in Slack;
 * - giant messages: 100 kB from Slack arrives whole, split into events that fit; 40,001
 *   characters from Matrix go out as two Slack messages under Slack's 40,000;
 * - zero-byte files both ways, and a Matrix file over 50 MB gets a notice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientEvent, FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type Json, type TeamHandle } from "../fakes/slack.js";
import type { SocketHub } from "../fakes/slack-socket.js";
import { eventCallback } from "../fakes/slack-socket.js";
import { Harness, waitUntil } from "../support/harness.js";
import { htmlProblems } from "../support/fuzz.js";

const EVIL = "<img src=x onerror=alert(1)>Eve<script>alert(2)</script>";
const EVE = "@slack_t0001_u0009:example.org";
const CAROL = "@slack_t0001_u0001:example.org";
const body = (e: ClientEvent) => String((e.content as { body?: unknown }).body);

describe("Slack: bad input", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  let h: Harness;
  let alice: FakeMatrixClient;
  let general: string;

  /** Put a raw events_api payload on the team's socket, as Slack would (the fake has no public call for garbage). */
  const inject = (payload: Json) => (slack as unknown as { hub: SocketHub }).hub.deliver(team.id, payload);
  const wrap = (event: unknown) => ({ ...eventCallback(slack.team(team.id) as never, { type: "placeholder" }), event }) as Json;

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", display_name: "Carol" });
    slack.addUser(team, { id: "U0009", name: "eve", real_name: EVIL, display_name: EVIL });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001", "U0009"], botMember: true, topic: `<b>${EVIL}</b>` });
    h = await Harness.start({ config: {
      slack: { api_url: slack.apiUrl, conversation_count: 10, backfill_count: 0 }, telegram: { enabled: false },
      bridge: { download_allowed_origins: new URL(slack.apiUrl).origin }, // the fake's files are on loopback
    } });
    alice = h.user("alice");
    await alice.setDisplayName("<!channel> *Alice* <https://evil.example|x>");
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/Logged in to Slack workspace Acme/);
    await waitUntil(() => !!h.hs.roomByAlias("#slack_acme_general:example.org"), 10_000, "general portal");
    general = h.hs.roomByAlias("#slack_acme_general:example.org")!;
    await alice.join(general);
    await waitUntil(() => h.bridge.core.health.all().some((x) => x.state === "connected"), 10_000, "Socket Mode connected");
  });
  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("malformed and unknown envelopes are acked and skipped; the connection goes on", async () => {
    const before = slack.envelopes.length;
    const junk: unknown[] = [
      null, "a string", 42, [], {}, { type: "message" }, { type: "message", channel: "C0001" }, { type: "message", channel: "C0001", user: "U0001", ts: "x", text: null },
      { type: "message", channel: { id: "C0001" }, user: ["U0001"], ts: 1, text: { evil: true } },
      { type: "message", channel: "C0001", user: "U0001", ts: "1700000000.000001", text: "deep", blocks: [nest(800)] },
      { type: "message", subtype: "message_changed", channel: "C0001", message: null }, { type: "reaction_added", item: "nope" },
      { type: "channel_rename", channel: "C0001" }, { type: "user_change", user: { id: 5 } }, { type: "some_event_from_2030", payload: { x: 1 } },
      { type: "message", subtype: "file_share", channel: "C0001", user: "U0001", ts: "1700000000.000002", files: [null, 5, { id: 7 }, { mode: "tombstone" }] },
    ];
    for (const ev of junk) await inject(wrap(ev));
    await inject({ type: "event_callback", event: "not an object", team_id: team.id } as Json);
    await inject({ type: "something_else_entirely" } as Json);
    // Slack's own events_api payload without an `event` (the SDK would throw on it, ending the process).
    await inject({ token: "x", type: "app_rate_limited", team_id: team.id, minute_rate_limited: 1518467820, api_app_id: "A1" } as Json);
    await waitUntil(() => slack.envelopes.slice(before).every((e) => e.acked), 10_000, "every junk envelope acked");
    slack.userPosts(team, "C0001", "U0001", "still relaying after the junk");
    await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: "still relaying after the junk" } });
    expect(await h.bridge.store.queue.deadItems(10)).toEqual([]);
  });

  it("HTML and script in a Slack name, topic and message stay text in Matrix", async () => {
    expect(h.hs.stateContent(general, "m.room.topic")?.topic).toBe(`<b>${EVIL}</b>`); // state is plain text in Matrix
    slack.userPosts(team, "C0001", "U0009", "<script>alert(1)</script> &lt;img src=x onerror=alert(1)&gt; <https://x.example|<b>link</b>> <javascript:alert(1)|click>");
    const ev = await h.hs.waitForEvent({ room_id: general, sender: EVE, type: "m.room.message" });
    expect(h.hs.profile(EVE)?.displayname).toBe(EVIL);
    const html = String(ev.content.formatted_body ?? "");
    expect(htmlProblems(html)).toEqual([]);
    expect(body(ev)).toContain("<img src=x onerror=alert(1)>");
    await inject(wrap({ type: "message", subtype: "channel_topic", channel: "C0001", user: "U0009", topic: `<svg onload=alert(1)>`, ts: "1700000100.000100" }));
    await waitUntil(() => h.hs.stateContent(general, "m.room.topic")?.topic === "<svg onload=alert(1)>", 10_000, "topic as text");
    // Mentioning Eve from Slack: her hostile name is the pill text, escaped.
    slack.userPosts(team, "C0001", "U0001", "hi <@U0009>");
    const pill = await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: /^hi / } });
    expect(htmlProblems(String(pill.content.formatted_body ?? ""))).toEqual([]);
    expect(String(pill.content.formatted_body)).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });

  it("Slack markup typed in Matrix, or in a Matrix name, stays text in Slack", async () => {
    await alice.sendHtml(general, "<!channel> <@U0001> <https://evil.example|click> & *x*", "&lt;!channel&gt; &lt;@U0001&gt; <b>bold</b>");
    const m = await slack.waitForMessage(team, "C0001", (x) => /bold/.test(String(x.text)), 10_000);
    expect(m.text).not.toMatch(/<!channel>|<@U0001>/);
    expect(m.text).toContain("&lt;!channel&gt;");
    expect(m._request).toMatchObject({ username: "<!channel> *Alice* <https://evil.example|x>" }); // username is shown as is, never parsed
    // A file's comment names the sender in mrkdwn: the name's markup must not become a ping or a link there.
    const mxc = await alice.upload(Buffer.from("hello"), "text/plain", "note.txt");
    await alice.sendMessage(general, { msgtype: "m.file", body: "note.txt", url: mxc, info: { mimetype: "text/plain", size: 5 } });
    const f = await slack.waitForMessage(team, "C0001", (x) => x.subtype === "file_share", 10_000);
    expect(String(f.text)).not.toMatch(/<!channel>|<https:\/\/evil/);
    expect(String(f.text)).toContain("&lt;!channel&gt;");
  });

  it("a 100 kB Slack message arrives whole, in order, as events that each fit", async () => {
    const line = (i: number) => `line ${String(i).padStart(5, "0")} *bold* _it_ ~s~ \`c\` <https://x.example/${i}|link> :wave:`;
    const text = Array.from({ length: 1500 }, (_, i) => line(i)).join("\n");
    expect(text.length).toBeGreaterThan(100_000);
    slack.userPosts(team, "C0001", "U0001", text);
    await waitUntil(() => h.messages(general, CAROL).some((e) => body(e).includes("line 01499")), 20_000, "the last line");
    const parts = h.messages(general, CAROL).filter((e) => /line \d{5}/.test(body(e)));
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(Buffer.byteLength(JSON.stringify(p.content))).toBeLessThan(65_536);
    const lines = parts.map(body).join("\n").split("\n").map((l) => /line (\d{5})/.exec(l)?.[1]).filter(Boolean);
    expect(lines).toEqual(Array.from({ length: 1500 }, (_, i) => String(i).padStart(5, "0")));
    expect(await h.bridge.store.queue.deadItems(10)).toEqual([]);
  });

  it("40,001 characters from Matrix go out as two Slack messages under 40,000", async () => {
    const text = "x".repeat(20_000) + "y" + "z".repeat(20_000);
    const id = await alice.sendText(general, text);
    await waitUntil(async () => (await h.bridge.store.messages.byEvent(id)).length === 2, 20_000, "two Slack parts");
    const posted = slack.messages(team, "C0001").filter((m) => /^[xyz]+$/.test(String(m.text)));
    expect(posted).toHaveLength(2);
    for (const p of posted) expect(String(p.text).length).toBeLessThanOrEqual(40_000);
    expect(posted.map((p) => p.text).join("")).toBe(text);
  });

  it("zero-byte files both ways, and a Matrix file over 50 MB gets a notice instead of an upload", async () => {
    slack.userPosts(team, "C0001", "U0001", "", { files: [{ name: "empty.txt", data: Buffer.alloc(0) }] });
    const empty = await h.hs.waitForEvent({ room_id: general, sender: CAROL, content: { body: /empty\.txt/ } }, { timeoutMs: 10_000 });
    expect(["m.file", "m.notice"]).toContain(empty.content.msgtype);

    const mxc = await alice.upload(Buffer.alloc(0), "text/plain", "nothing.txt");
    await alice.sendMessage(general, { msgtype: "m.file", body: "nothing.txt", url: mxc, info: { mimetype: "text/plain", size: 0 } });
    await waitUntil(() => slack.messages(team, "C0001").some((m) => /nothing\.txt/.test(JSON.stringify(m))) ||
      h.messages(general, h.botMxid).some((e) => /nothing\.txt/.test(body(e))), 10_000, "the empty file posted, or a notice");

    const small = await alice.upload(Buffer.from("tiny"), "application/octet-stream", "huge.iso");
    await alice.sendMessage(general, { msgtype: "m.file", body: "huge.iso", url: small, info: { mimetype: "application/octet-stream", size: 60 * 1024 * 1024 } });
    const notice = await h.waitForBot(general, /huge\.iso is too large for Slack \(limit 50 MB\)/);
    expect(notice.content.msgtype).toBe("m.notice");
    expect(slack.files().some((f) => f.name === "huge.iso")).toBe(false);
  });
});

function nest(depth: number): unknown {
  let v: unknown = { type: "text", text: "x" };
  for (let i = 0; i < depth; i++) v = { type: "rich_text_section", elements: [v] };
  return v;
}
