/**
 * Issue 15 item 4 against the fake Slack (real SDK clients) and the fake homeserver: the
 * workspace's custom emoji (`emoji.list`, aliases resolved) become an image pack in the
 * workspace's space, uploaded once per image; `:partyparrot:` becomes an inline emote, a custom
 * reaction uses the image's mxc URI as its key, and both go back to Slack as `:name:`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientEvent, FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { Harness, waitUntil } from "../support/harness.js";

const png = (fill: number) => Buffer.concat([
  Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.from([0, 0, 0, 8, 0, 0, 0, 8]), Buffer.from("0806000000", "hex"), Buffer.alloc(32, fill),
]);
const PARROT = png(1);

describe("Slack custom emoji as an image pack", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  let h: Harness;
  let alice: FakeMatrixClient;
  let general: string;
  let space: string;
  let pack: { images: Record<string, { url: string; body: string }>; pack: { display_name: string } };

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 1000, pingIntervalMs: 1000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers" });
    slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001"], botMember: true });
    slack.addEmoji(team, "partyparrot", PARROT);
    slack.addEmoji(team, "partyparrot_copy", PARROT); // same picture under another name: one upload
    slack.addEmoji(team, "pp", "alias:partyparrot");
    slack.addEmoji(team, "yes", "alias:thumbsup"); // an alias of a standard emoji: no image of its own
    slack.addEmoji(team, "shipit", png(2));
    h = await Harness.start({ config: {
      slack: { api_url: slack.apiUrl, conversation_count: 10 }, telegram: { enabled: false },
      bridge: { download_allowed_origins: new URL(slack.apiUrl).origin },
    } });
    alice = h.user("alice");
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/Logged in to Slack workspace Acme/);
    space = (await h.hs.waitForEvent({ type: "m.room.create", content: { type: "m.space" } })).room_id;
    await h.hs.waitForEvent({ type: "im.ponies.room_emotes", room_id: space }, { timeoutMs: 15_000 });
    general = (await h.hs.waitForEvent({ type: "m.room.name", content: { name: "general (Slack)" } }, { timeoutMs: 15_000 })).room_id;
    pack = h.hs.stateContent(space, "im.ponies.room_emotes", "tandem") as typeof pack;
  });

  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("the space holds the pack, as m.room.image_pack and im.ponies.room_emotes, aliases resolved, each image uploaded once", async () => {
    expect(Object.keys(pack.images)).toEqual(["partyparrot", "partyparrot_copy", "pp", "shipit"]);
    expect(pack.images.partyparrot!.body).toBe(":partyparrot:");
    expect(pack.pack.display_name).toBe("Acme emoji");
    expect(h.hs.stateContent(space, "m.room.image_pack", "tandem")).toEqual(pack);
    const parrot = pack.images.partyparrot!.url;
    expect(pack.images.pp!.url).toBe(parrot);
    expect(pack.images.partyparrot_copy!.url).toBe(parrot); // same bytes, same upload
    expect(pack.images.shipit!.url).not.toBe(parrot);
    expect(h.hs.media(parrot)?.data.equals(PARROT)).toBe(true);
    await waitUntil(() => h.hs.stateContent(space, "m.space.child", general) !== undefined, 10_000, "general in the space");
  });

  it(":partyparrot: in a Slack message becomes an inline emote; an unknown name stays text", async () => {
    slack.userPosts(team, "C0001", "U0001", "ship it :partyparrot: :nosuch:");
    const ev = await h.hs.waitForEvent({ room_id: general, content: { body: "ship it :partyparrot: :nosuch:" } });
    const url = pack.images.partyparrot!.url;
    expect((ev.content as { formatted_body?: string }).formatted_body)
      .toBe(`ship it <img data-mx-emoticon src="${url}" alt=":partyparrot:" title=":partyparrot:" height="32"> :nosuch:`);
  });

  it("a custom reaction from Slack uses the image as key, with the shortcode; a Matrix reaction with it goes back as :name:", async () => {
    const ts = slack.userPosts(team, "C0001", "U0001", "react to me");
    const msg = await h.hs.waitForEvent({ room_id: general, content: { body: "react to me" } });
    slack.userReacts(team, "C0001", ts, "U0001", "shipit");
    const r = await h.hs.waitForEvent((e: ClientEvent) => e.type === "m.reaction" && e.room_id === general);
    expect(r.content).toMatchObject({
      "m.relates_to": { rel_type: "m.annotation", event_id: msg.event_id, key: pack.images.shipit!.url },
      "com.beeper.reaction.shortcode": ":shipit:",
    });
    await alice.join(general);
    await alice.sendEvent(general, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: msg.event_id, key: pack.images.partyparrot!.url } });
    await waitUntil(() => slack.reactions(team, "C0001", ts).some((x) => x.name === "partyparrot"), 10_000, "the reaction on Slack");
  });

  it("an inline emote from Matrix goes to Slack as :name:", async () => {
    const url = pack.images.partyparrot!.url;
    await alice.sendEvent(general, "m.room.message", {
      msgtype: "m.text", body: "party :partyparrot:", format: "org.matrix.custom.html",
      formatted_body: `party <img data-mx-emoticon src="${url}" alt=":partyparrot:" title=":partyparrot:" height="32">`,
    });
    await slack.waitForMessage(team, "C0001", (m) => m.text === "party :partyparrot:", 10_000);
  });

  it("after a restart the pack is found again: nothing uploaded twice, emotes still resolve", async () => {
    const before = h.hs.mediaCount;
    await h.restart();
    slack.userPosts(team, "C0001", "U0001", "after restart :shipit:");
    const ev = await h.hs.waitForEvent({ room_id: general, content: { body: "after restart :shipit:" } });
    expect((ev.content as { formatted_body?: string }).formatted_body).toContain(pack.images.shipit!.url);
    expect(h.hs.mediaCount).toBe(before);
  });
});
