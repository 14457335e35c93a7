/**
 * Issue 18: a ghost is set up once per person, not once per room. Five Slack users post in
 * twenty channels at once; the fake homeserver's request log counts the profile updates and
 * media uploads the bridge made. Then, across a restart, a picture already uploaded is not
 * uploaded again, and a profile the homeserver already has is not sent again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeMatrixClient } from "../fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../fakes/slack.js";
import { Harness, waitUntil } from "../support/harness.js";

const USERS = 5;
const CHANNELS = 20;
const pad = (n: number) => String(n).padStart(4, "0");
const userId = (n: number) => `U${pad(n)}`;
const ghost = (n: number) => `@slack_t0001_u${pad(n)}:example.org`;
/** A distinct small PNG per person (the fakes read only the header). */
const image = (n: number) => Buffer.concat([
  Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.from([0, 0, 0, 8, 0, 0, 0, 8]),
  Buffer.from("0806000000", "hex"), Buffer.alloc(32, n),
]);

describe("ghost set-up once per person", () => {
  let slack: FakeSlack;
  let team: TeamHandle;
  let h: Harness;
  let alice: FakeMatrixClient;

  const profilePuts = (field: "displayname" | "avatar_url", who = "slack_") => h.hs.requests.filter((r) =>
    r.method === "PUT" && decodeURIComponent(r.path).includes(`/profile/@${who}`) && r.path.endsWith(`/${field}`)).length;
  const uploads = () => h.hs.requests.filter((r) => r.method === "POST" && r.path.endsWith("/upload")).length;
  const relayed = (text: RegExp) => h.hs.allEvents({ type: "m.room.message" }).filter((e) =>
    e.sender.startsWith("@slack_") && text.test(String((e.content as { body?: unknown }).body))).length;

  beforeAll(async () => {
    slack = await FakeSlack.start({ ackTimeoutMs: 5000, pingIntervalMs: 1000 });
    team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
    for (let u = 1; u <= USERS; u++) slack.addUser(team, { id: userId(u), name: `user${u}`, real_name: `User ${u}`, image: image(u) });
    const members = Array.from({ length: USERS }, (_, i) => userId(i + 1));
    for (let c = 1; c <= CHANNELS; c++) slack.addChannel(team, { id: `C${pad(c)}`, name: `chan-${c}`, members, botMember: true });
    h = await Harness.start({ config: {
      slack: { api_url: slack.apiUrl, conversation_count: CHANNELS }, telegram: { enabled: false },
      bridge: { download_allowed_origins: new URL(slack.apiUrl).origin }, // the fake's avatars are on loopback
    } });
    alice = h.user("alice");
    const dm = await h.dm(alice);
    expect(await h.command(alice, dm, `login app ${team.botToken} ${team.appToken}`)).toMatch(/Logged in to Slack workspace Acme/);
    await waitUntil(() => Array.from({ length: CHANNELS }, (_, i) => h.hs.roomByAlias(`#slack_acme_chan-${i + 1}:example.org`)).every(Boolean), 20_000, "portals");
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
  });

  it("5 users posting in 20 channels at once: one profile and one avatar upload per person, a join per room", async () => {
    const [names, avatars, uploaded] = [profilePuts("displayname"), profilePuts("avatar_url"), uploads()];
    for (let c = 1; c <= CHANNELS; c++) for (let u = 1; u <= USERS; u++) slack.userPosts(team, `C${pad(c)}`, userId(u), `hello c${c} u${u}`);
    await waitUntil(() => relayed(/^hello c\d+ u\d+$/) === CHANNELS * USERS, 60_000, "every message in Matrix");

    expect(profilePuts("displayname") - names).toBeLessThanOrEqual(USERS);
    expect(profilePuts("avatar_url") - avatars).toBeLessThanOrEqual(USERS);
    expect(uploads() - uploaded).toBeLessThanOrEqual(USERS);
    const mxcs = new Set<string>();
    for (let u = 1; u <= USERS; u++) {
      const profile = h.hs.profile(ghost(u));
      expect(profile?.displayname).toBe(`User ${u}`);
      expect(profile?.avatar_url).toMatch(/^mxc:\/\//);
      mxcs.add(profile!.avatar_url!);
      for (let c = 1; c <= CHANNELS; c++) {
        const room = h.hs.roomByAlias(`#slack_acme_chan-${c}:example.org`)!;
        expect(h.hs.stateContent(room, "m.room.member", ghost(u))?.membership).toBe("join");
      }
    }
    expect(mxcs.size).toBe(USERS); // five different pictures, none mixed up
  }, 90_000);

  it("after a restart, a picture uploaded before is reused and a profile the homeserver has is not sent again", async () => {
    await h.restart();
    const first = h.hs.profile(ghost(1))!.avatar_url!;
    // User 6 is new, with user 1's picture (at another URL): its ghost gets the mxc stored for those bytes.
    slack.addUser(team, { id: userId(6), name: "user6", real_name: "User 6", image: image(1) });
    // User 7's ghost is already on the homeserver with its profile (an earlier bridge, a store restored from backup).
    const res = await fetch(`${h.hs.url}/_matrix/client/v3/register`, {
      method: "POST", headers: { authorization: `Bearer ${h.registration.as_token}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "m.login.application_service", username: "slack_t0001_u0007", inhibit_login: true }),
    });
    expect(res.status).toBe(200);
    const earlier = h.hs.clientFor(ghost(7));
    await earlier.setDisplayName("User 7");
    await earlier.setAvatarUrl(first);
    slack.addUser(team, { id: userId(7), name: "user7", real_name: "User 7", image: image(1) });
    const [names, avatars, uploaded] = [profilePuts("displayname"), profilePuts("avatar_url"), uploads()];
    const seven = [profilePuts("displayname", "slack_t0001_u0007"), profilePuts("avatar_url", "slack_t0001_u0007")];

    slack.userJoins(team, "C0001", userId(6));
    slack.userJoins(team, "C0001", userId(7));
    slack.userPosts(team, "C0001", userId(6), "six was here");
    slack.userPosts(team, "C0001", userId(7), "seven was here");
    await waitUntil(() => relayed(/^(six|seven) was here$/) === 2, 20_000, "both messages in Matrix");

    expect(uploads()).toBe(uploaded);
    expect(h.hs.profile(ghost(6))).toEqual({ displayname: "User 6", avatar_url: first });
    expect(h.hs.profile(ghost(7))).toEqual({ displayname: "User 7", avatar_url: first });
    expect([profilePuts("displayname", "slack_t0001_u0007"), profilePuts("avatar_url", "slack_t0001_u0007")]).toEqual(seven);
    expect([profilePuts("displayname") - names, profilePuts("avatar_url") - avatars]).toEqual([1, 1]); // user 6's only
  }, 60_000);
});
