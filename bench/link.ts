/**
 * Phase "link 20 busy rooms" (`--only link`, issue 18): 20 Slack channels with the same 5 people
 * are linked at once, people the bridge has never set up, whose ghosts are already in many other
 * rooms (so every profile update is a member event in each of them, as on a real homeserver).
 * Measured: the time from the first post to the 120th message in Matrix, and the profile
 * updates, avatar uploads and member events the set-up cost. One set-up per person is 5 + 5
 * profile updates and at most 5 uploads, whatever the number of rooms.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { openStore } from "../src/store/store.js";
import { Traffic } from "./drive.js";
import type { BenchDatabases } from "./pg.js";
import { BridgeProcess } from "./proc.js";
import { round, type BenchResult, type LinkResult } from "./report.js";
import { ENCRYPTION_KEY, ghostMxid, pool, World, worldSpec } from "./world.js";

const CHANNELS = 20;
const PEOPLE = 5;
const MESSAGES = 120;

/** A distinct small PNG per person (the fakes read only the header). */
const picture = (n: number) => Buffer.concat([
  Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.from([0, 0, 0, 8, 0, 0, 0, 8]),
  Buffer.from("0806000000", "hex"), Buffer.alloc(32, n),
]);

export async function linkPhase(dbs: BenchDatabases, result: BenchResult, busySizes: number[], resultsDir: string, broken: string[], log: (s: string) => void): Promise<void> {
  result.link = [];
  for (const busy of busySizes) result.link.push(await linkOnce(dbs, busy, resultsDir, broken, log));
}

async function linkOnce(dbs: BenchDatabases, busy: number, resultsDir: string, broken: string[], log: (s: string) => void): Promise<LinkResult> {
  const db = await dbs.fresh(`link${busy}`);
  const w = await World.start(db, "warn");
  let proc: BridgeProcess | null = null;
  try {
    if (!w.hs.userExists(w.botMxid)) await registerAsUser(w, w.botMxid); // the bridge has not started yet
    await w.seed(worldSpec({ slack: CHANNELS, usersPerChat: PEOPLE }), db);
    const people = w.slackChats[0]!.users;
    const ghosts = people.map((id) => ghostMxid("slack", `${w.team.id}:${id}`));
    // People new to the bridge (the seed knows them), each with their own picture.
    const store = await openStore({ uri: db.uri, dataDir: db.dataDir, encryptionKey: ENCRYPTION_KEY });
    try {
      await store.db.query("DELETE FROM ghosts");
    } finally {
      await store.close();
    }
    people.forEach((id, i) => w.slack.updateUser(w.team, id, { image: picture(i + 1) }));
    w.slack.clearPendingEvents(w.team); // those user_change events are not part of the linking
    // Their ghosts are in `busy` other rooms already.
    const rooms = await pool(busy, 8, () => w.alice.createRoom({ preset: "public_chat", name: "busy" }));
    await pool(busy * ghosts.length, 16, async (i) => {
      await w.hs.clientFor(ghosts[i % ghosts.length]!).join(rooms[Math.floor(i / ghosts.length)]!);
    });

    const started = await BridgeProcess.start(w, { logFile: path.join(resultsDir, `bridge-link-${busy}.log`) });
    proc = started.proc;
    if (!(await proc.connected(30_000))) broken.push(`link ${busy}: the logins did not connect within 30 s`);
    const requestsBefore = w.hs.requests.length;
    const eventsBefore = w.hs.eventCount;
    const traffic = new Traffic(w);
    // Everyone posts in every channel (100), then 20 more: the first 120 messages after linking.
    const t0 = performance.timeOrigin + performance.now();
    for (let i = 0; i < MESSAGES; i++) traffic.send("slack->matrix", i % CHANNELS, Math.floor(i / CHANNELS) % PEOPLE);
    const complete = await traffic.settle(busy > 20 ? 600_000 : 180_000);
    if (!complete) broken.push(`link ${busy}: ${traffic.pending} of ${MESSAGES} messages not relayed in time`);
    const arrivals = traffic.results(0).map((r) => (r.e2e.matrix === undefined ? Infinity : r.at + r.e2e.matrix)).sort((a, b) => a - b);
    const seconds = (arrivals[MESSAGES - 1]! - t0) / 1000;

    const requests = w.hs.requests.slice(requestsBefore);
    const puts = (field: string) => requests.filter((r) => r.method === "PUT" && /\/profile\/(@|%40)slack_/.test(r.path) && r.path.endsWith(`/${field}`)).length;
    const memberEvents = w.hs.allEvents().slice(eventsBefore).filter((e) => e.type === "m.room.member" && ghosts.includes(e.sender)).length;
    const out: LinkResult = {
      busyRooms: busy, channels: CHANNELS, people: PEOPLE, messages: MESSAGES, seconds: round(seconds, 2), complete,
      displaynameUpdates: puts("displayname"), avatarUpdates: puts("avatar_url"),
      uploads: requests.filter((r) => r.method === "POST" && r.path.endsWith("/upload")).length,
      ghostMemberEvents: memberEvents,
    };
    log(`link 20 busy rooms (ghosts in ${busy} other rooms): first ${MESSAGES} messages in ${out.seconds} s; ${out.displaynameUpdates} display names, ${out.avatarUpdates} avatars, ${out.uploads} uploads, ${memberEvents} ghost member events`);
    if (proc.error) broken.push(`link ${busy}: ${proc.error}`);
    traffic.close();
    return out;
  } finally {
    await proc?.stop();
    await w.stop();
  }
}

/** Registers a user of the appservice's namespace with its token, as the bridge does. */
async function registerAsUser(w: World, mxid: string): Promise<void> {
  const res = await fetch(`${w.hs.url}/_matrix/client/v3/register`, {
    method: "POST", headers: { authorization: `Bearer ${w.registration.as_token}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "m.login.application_service", username: mxid.slice(1, mxid.indexOf(":")), inhibit_login: true }),
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`register ${mxid}: HTTP ${res.status}`);
}
