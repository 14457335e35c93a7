// What the people commands ask of Slack (src/networks/slack/people.ts), against the fake: the
// workspace's people with their e-mails (no bots, no deactivated accounts, every page), a DM from
// the app to one user, and an admin's `U123` checked against the workspace.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../../../fakes/slack.js";
import { connect } from "./support.js";

let slack: FakeSlack;
beforeAll(async () => { slack = await FakeSlack.start({ ackTimeoutMs: 400, pingIntervalMs: 1000 }); });
afterAll(async () => { await slack.stop(); });

describe("Slack: people", () => {
  it("lists people with their e-mails over every page, leaving out bots and deactivated accounts", async () => {
    const team = slack.createTeam({ id: "T0100", name: "Big" });
    for (let i = 0; i < 205; i++) slack.addUser(team, { id: `U${1000 + i}`, name: `p${i}`, real_name: `Person ${i}`, ...(i % 2 ? { email: `p${i}@big.example` } : {}) });
    slack.addUser(team, { id: "U9001", name: "gone", email: "gone@big.example", deleted: true });
    slack.addUser(team, { id: "U9002", name: "robot", is_bot: true, bot_id: "B9002" });
    const { conn } = await connect(slack, team);
    const users = await conn.listUsers!();
    expect(users).toHaveLength(205);
    expect(users.find((u) => u.user === "T0100:U1001")).toEqual({ user: "T0100:U1001", name: "Person 1", email: "p1@big.example" });
    expect(users.find((u) => u.user === "T0100:U1000")).toEqual({ user: "T0100:U1000", name: "Person 0" });
    expect(users.some((u) => /U900[12]/.test(u.user))).toBe(false);
    await conn.stop();
  });

  it("DMs one user through conversations.open + chat.postMessage, and resolves only this workspace's users", async () => {
    const team = slack.createTeam({ id: "T0200", name: "Small" });
    slack.addUser(team, { id: "U0201", name: "carol" });
    slack.addChannel(team, { id: "D0201", is_im: true, user: "U0201" });
    const { conn } = await connect(slack, team);
    await conn.sendDirect!("T0200:U0201", "your code is ABCD2345");
    expect(slack.messages(team, "D0201").map((m) => m.text)).toEqual(["your code is ABCD2345"]);
    await expect(conn.sendDirect!("T9999:U0201", "x")).rejects.toThrow(/not a user of workspace T0200/);
    expect(await conn.resolveUser!("U0201")).toBe("T0200:U0201");
    expect(await conn.resolveUser!("T0200:U0201")).toBe("T0200:U0201");
    expect(await conn.resolveUser!("U0999")).toBeNull();
    expect(await conn.resolveUser!("T9999:U0201")).toBeNull();
    expect(await conn.resolveUser!("#general")).toBeNull();
    await conn.stop();
  });
});
