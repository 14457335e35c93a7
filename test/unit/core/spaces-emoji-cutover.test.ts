/** The pure parts of issue 15 items 3-5: pack content, reaction keys, Slack's emoji list, room creators, finished power levels. */
import { describe, expect, it } from "vitest";
import { fillEmoticons, packContent, reactionContent, REACTION_SHORTCODE } from "../../../src/core/emoji-packs.js";
import { finishedPowerLevels } from "../../../src/core/cutover-finish.js";
import { creationPlan, creatorsPrivileged, defaultRoomVersion } from "../../../src/matrix/room-creators.js";
import { resolveEmojiList } from "../../../src/networks/slack/emoji.js";
import { CommandError } from "../../../src/core/errors.js";

const lookup = (name: string) => (name === "partyparrot" ? "mxc://x/p" : undefined);

describe("custom emoji", () => {
  it("Slack's emoji.list: aliases resolved (originals first), aliases of standard emoji and loops left out", () => {
    expect(resolveEmojiList({
      pp: "alias:partyparrot", partyparrot: "https://emoji.example/p.png", yes: "alias:thumbsup",
      loop1: "alias:loop2", loop2: "alias:loop1", odd: 42, shipit: "https://emoji.example/s.gif",
    })).toEqual([
      { name: "partyparrot", image: "https://emoji.example/p.png" }, { name: "shipit", image: "https://emoji.example/s.gif" },
      { name: "pp", image: "https://emoji.example/p.png" },
    ]);
  });

  it("a reaction with a pack emoji is keyed by its image with the shortcode; any other stays as it is", () => {
    expect(reactionContent("$t", ":partyparrot:", lookup)).toEqual({
      "m.relates_to": { rel_type: "m.annotation", event_id: "$t", key: "mxc://x/p" }, [REACTION_SHORTCODE]: ":partyparrot:",
    });
    expect(reactionContent("$t", ":nosuch:", lookup)).toEqual({ "m.relates_to": { rel_type: "m.annotation", event_id: "$t", key: ":nosuch:" } });
    expect(reactionContent("$t", "👍", lookup)).toEqual({ "m.relates_to": { rel_type: "m.annotation", event_id: "$t", key: "👍" } });
  });

  it("fills emoticons the pack knows, leaves the rest and docs without any untouched", () => {
    const doc = [{ type: "paragraph" as const, children: [{ type: "emoticon" as const, name: "partyparrot" }, { type: "emoticon" as const, name: "nosuch" }] }];
    expect(fillEmoticons(doc, lookup)).toEqual([{ type: "paragraph", children: [{ type: "emoticon", name: "partyparrot", mxc: "mxc://x/p" }, { type: "emoticon", name: "nosuch" }] }]);
    const plain = [{ type: "paragraph" as const, children: [{ type: "text" as const, text: ":partyparrot:" }] }];
    expect(fillEmoticons(plain, lookup)).toBe(plain);
  });

  it("the pack content has the MSC2545 shape", () => {
    expect(packContent("Acme emoji", new Map([["b", { mxc: "mxc://x/b" }], ["a", { mxc: "mxc://x/a" }]]))).toEqual({
      pack: { display_name: "Acme emoji", usage: ["emoticon"] },
      images: { a: { url: "mxc://x/a", body: ":a:" }, b: { url: "mxc://x/b", body: ":b:" } },
    });
  });
});

describe("rooms the bridge creates name the admins", () => {
  it("room version 12 and later: the admins are additional creators, and no creator is in the users map", () => {
    expect(creatorsPrivileged("12")).toBe(true);
    expect(creatorsPrivileged("13")).toBe(true);
    expect(creatorsPrivileged("11")).toBe(false);
    expect(creatorsPrivileged("org.matrix.hydra.11")).toBe(false);
    expect(creationPlan("12", "@bot:x", ["@a:x", "@bot:x", "@a:x"])).toEqual({ creationContent: { additional_creators: ["@a:x"] }, users: {}, creatorsAreAdmins: true });
  });

  it("older versions (Synapse 1.67: 10) or unknown: the admins get power 100 next to the bot", () => {
    expect(creationPlan("10", "@bot:x", ["@a:x"])).toEqual({ creationContent: {}, users: { "@bot:x": 100, "@a:x": 100 }, creatorsAreAdmins: false });
    expect(creationPlan(undefined, "@bot:x", [])).toEqual({ creationContent: {}, users: { "@bot:x": 100 }, creatorsAreAdmins: false });
  });

  it("reads the default room version from /capabilities", () => {
    expect(defaultRoomVersion({ capabilities: { "m.room_versions": { default: "12", available: {} } } })).toBe("12");
    expect(defaultRoomVersion({})).toBeUndefined();
    expect(defaultRoomVersion(null)).toBeUndefined();
  });
});

describe("cutover finish power levels", () => {
  it("the named people get 100, the bot leaves the users map, everyone else keeps their level", () => {
    const pl = { users: { "@bot:x": 100, "@a:x": 50, "@ghost:x": 0 }, users_default: 0, state_default: 50 };
    expect(finishedPowerLevels(pl, "@bot:x", ["@a:x", "@b:x"])).toEqual({ users: { "@a:x": 100, "@b:x": 100, "@ghost:x": 0 }, users_default: 0, state_default: 50 });
  });

  it("room version 12: creators are not raised (nor put in the users map), and a creator bot may raise anyone", () => {
    const pl = { users: { "@b:x": 0 } };
    expect(finishedPowerLevels(pl, "@bot:x", ["@a:x", "@b:x"], ["@bot:x", "@a:x"])).toEqual({ users: { "@b:x": 100 } });
  });

  it("a bot below 100 cannot raise anyone to 100: refused before anything changes (unless they have it already)", () => {
    const pl = { users: { "@bot:x": 50, "@a:x": 100 } };
    expect(() => finishedPowerLevels(pl, "@bot:x", ["@b:x"])).toThrow(CommandError);
    expect(finishedPowerLevels(pl, "@bot:x", ["@a:x"])).toEqual({ users: { "@a:x": 100 } });
  });
});
