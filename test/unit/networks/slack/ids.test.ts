import { describe, expect, it } from "vitest";
import {
  aliasLocalpart, chatRef, describeChat, domainFromUrl, fileRefId, ghostLocalpart, messageRef, parseChatRef, parseFileRefId,
  parseMessageRef, parseUserRef, roomName, tsToMs, userFromGhostLocalpart, userRef,
} from "../../../../src/networks/slack/ids.js";

describe("slack ids", () => {
  it("chat, user and message refs round-trip", () => {
    expect(chatRef("T0001", "C0001")).toBe("T0001:C0001");
    expect(parseChatRef("T0001:C0001")).toEqual({ team: "T0001", channel: "C0001" });
    expect(userRef("T0001", "U0001")).toBe("T0001:U0001");
    expect(parseUserRef(userRef("T0001", "W0AB12"))).toEqual({ team: "T0001", user: "W0AB12" });
    const m = messageRef("T0001", "C0001", "1732500000.000100");
    expect(m).toBe("T0001:C0001:1732500000.000100");
    expect(parseMessageRef(m)).toEqual({ team: "T0001", channel: "C0001", ts: "1732500000.000100" });
  });

  it("rejects refs of the wrong shape", () => {
    for (const bad of ["", "T0001", "t0001:c0001", "T0001:C0001:x", "T0001::C0001", "T0001:C0001:1.2:3"]) {
      expect(parseChatRef(bad)).toBeNull();
      if (bad !== "T0001:C0001") expect(parseMessageRef(bad)).toBeNull();
    }
    expect(parseMessageRef("T0001:C0001:F0FILE")).toBeNull();
    expect(() => ghostLocalpart("nope")).toThrow();
  });

  it("ghost localparts are lowercase and map back to upper-case ids", () => {
    expect(ghostLocalpart("T0001:U0001")).toBe("slack_t0001_u0001");
    expect(userFromGhostLocalpart("slack_t0001_u0001")).toBe("T0001:U0001");
    for (const u of ["T0A1B2:U0XYZ9", "E0123:W0456", "T1:B0BOT"]) expect(userFromGhostLocalpart(ghostLocalpart(u))).toBe(u);
    expect(userFromGhostLocalpart("telegram_123")).toBeNull();
    expect(userFromGhostLocalpart("slack_t0001")).toBeNull();
    expect(userFromGhostLocalpart("slack_t0001_u0001_x")).toBeNull();
  });

  it("aliases and room names", () => {
    expect(aliasLocalpart("acme", "general", "C0001")).toBe("slack_acme_general");
    expect(aliasLocalpart("Acme-Corp", "Dev Platform!", "C0001")).toBe("slack_acme-corp_dev-platform");
    expect(aliasLocalpart("acme", "日本", "C0ABC")).toBe("slack_acme_c0abc");
    expect(aliasLocalpart("acme", "", "D0DM")).toBe("slack_acme_d0dm");
    expect(roomName("channel", "general")).toBe("general (Slack)");
    expect(roomName("dm", "Alice Liddell")).toBe("Alice Liddell");
    expect(roomName("group", "mpdm-a--b-1", ["Alice", "Bob"])).toBe("Alice, Bob");
  });

  it("timestamps, file ids and the workspace domain", () => {
    expect(tsToMs("1732500000.000100")).toBe(1732500000000);
    expect(tsToMs("1732500000.123456")).toBe(1732500000123);
    expect(tsToMs("garbage")).toBe(0);
    expect(parseFileRefId(fileRefId("F01", "https://files.slack.com/files-pri/T-F01/a|b.png"))).toEqual({ fileId: "F01", url: "https://files.slack.com/files-pri/T-F01/a|b.png" });
    expect(parseFileRefId(fileRefId("F01"))).toEqual({ fileId: "F01" });
    expect(domainFromUrl("https://acme.slack.com/")).toBe("acme");
    expect(domainFromUrl("not a url")).toBeUndefined();
  });

  it("describes a channel for m.bridge: the workspace as network, web-client links, a state key per channel", () => {
    const login = { id: "slack:T0001", network: "slack", ownerMxid: "@a:x", remoteId: "T0001", name: "Acme", secrets: {} };
    expect(describeChat("T0001:C0001", "general", login)).toEqual({
      key: "T0001/C0001",
      network: { id: "T0001", displayname: "Acme", external_url: "https://app.slack.com/client/T0001" },
      channel: { id: "C0001", displayname: "general", external_url: "https://app.slack.com/client/T0001/C0001" },
    });
    // Logged out: the team id still names the workspace (the key must not change).
    expect(describeChat("T0001:C0001", "general")).toMatchObject({ key: "T0001/C0001", network: { id: "T0001", displayname: "T0001" } });
  });
});
