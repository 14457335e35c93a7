// Issue 5 item 3: a Matrix → Slack send that may already have reached Slack (maybeSent: the bridge
// crashed, or a call failed ambiguously) is looked up by the Matrix event id in the message
// metadata before it is posted again, so a retry never doubles it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection, OutboundMessage } from "../../../../src/core/connector.js";
import { compareTs } from "../../../../src/networks/slack/outbound.js";
import { FakeSlack, type TeamHandle } from "../../../fakes/slack.js";
import { connect } from "./support.js";

let slack: FakeSlack;
let team: TeamHandle;
let conn: Connection;
const chat = `T0001:C0001`;
const text = (t: string, sourceId: string, extra: Partial<OutboundMessage> = {}): OutboundMessage => ({
  doc: [{ type: "paragraph", children: [{ type: "text", text: t }] }], sender: { name: "Alice" }, sourceId, ...extra,
});
const posts = (sourceId: string) => slack.messages(team, "C0001").filter((m) => m.metadata?.event_payload.event_id === sourceId);
const calls = (method: string) => slack.calls.filter((c) => c.method === method);

beforeAll(async () => {
  slack = await FakeSlack.start({ ackTimeoutMs: 400, pingIntervalMs: 1000, echoLeadMs: 0 });
  team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
  slack.addUser(team, { id: "U0001", name: "carol" });
  slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
  ({ conn } = await connect(slack, team));
});
afterAll(async () => {
  await conn?.stop();
  await slack?.stop();
});

describe("idempotent Slack sends (maybeSent)", () => {
  it("a message already posted is found by its event id in the history (with metadata) and not posted again", async () => {
    const first = await conn.send(chat, text("once", "$once"));
    for (let i = 0; i < 3; i++) slack.userPosts(team, "C0001", "U0001", `chatter ${i}`); // newer messages on top
    const historyBefore = calls("conversations.history").length;
    const again = await conn.send(chat, text("once", "$once", { maybeSent: true, receivedAt: Date.now() - 1000 }));
    expect(again).toEqual(first);
    expect(posts("$once")).toHaveLength(1);
    const lookup = calls("conversations.history").slice(historyBefore);
    expect(lookup).toHaveLength(1);
    expect(lookup[0]!.params).toMatchObject({ channel: "C0001", include_all_metadata: "true" });
    expect(Number(lookup[0]!.params.oldest)).toBeLessThan(Date.now() / 1000);
  });

  it("a message that never got out is posted once; without maybeSent there is no look-up", async () => {
    const before = calls("conversations.history").length;
    const refs = await conn.send(chat, text("lost in the crash", "$never", { maybeSent: true }));
    expect(refs).toHaveLength(1);
    expect(posts("$never")).toHaveLength(1);
    expect(calls("conversations.history").length).toBe(before + 1);
    await conn.send(chat, text("plain", "$plain"));
    expect(calls("conversations.history").length).toBe(before + 1);
  });

  it("in a thread the look-up reads the thread (conversations.replies)", async () => {
    const root = slack.userPosts(team, "C0001", "U0001", "thread root");
    const threadRoot = `T0001:C0001:${root}`;
    const first = await conn.send(chat, text("in thread", "$thr", { threadRoot }));
    const again = await conn.send(chat, text("in thread", "$thr", { threadRoot, maybeSent: true }));
    expect(again).toEqual(first);
    expect(posts("$thr")).toHaveLength(1);
    expect(calls("conversations.replies").at(-1)!.params).toMatchObject({ channel: "C0001", ts: root, include_all_metadata: "true" });
  });

  it("a long message cut short after some parts gets only the missing parts", async () => {
    const long = Array.from({ length: 3 }, (_, i) => `${String(i).repeat(30_000)}`).join("\n");
    const first = await conn.send(chat, text(long, "$long"));
    expect(first).toHaveLength(3);
    slack.userDeletes(team, "C0001", first[2]!.split(":")[2]!); // as if the crash came before part 3
    const again = await conn.send(chat, text(long, "$long", { maybeSent: true }));
    expect(again.slice(0, 2)).toEqual(first.slice(0, 2));
    expect(again).toHaveLength(3);
    expect(posts("$long")).toHaveLength(3);
  });

  it("when Slack refuses the look-up for good (no history scope) the message is posted rather than lost", async () => {
    const scopes = slack.scopes(team.botToken);
    slack.setScopes(team.botToken, scopes.filter((s) => s !== "channels:history"));
    try {
      const refs = await conn.send(chat, text("no scope", "$noscope", { maybeSent: true }));
      expect(refs).toHaveLength(1);
      expect(posts("$noscope")).toHaveLength(1);
    } finally {
      slack.setScopes(team.botToken, scopes);
    }
  });

  it("compareTs orders Slack timestamps exactly", () => {
    expect(["1700000000.000200", "1700000000.000100", "1699999999.999999"].sort(compareTs))
      .toEqual(["1699999999.999999", "1700000000.000100", "1700000000.000200"]);
  });
});
