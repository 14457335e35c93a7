/**
 * Who is who (core/people.ts, people-service.ts, commands/people.ts) through the whole core on a
 * real store: claims over a network that DMs (Slack) and one whose users bring the code
 * (Telegram), mapping by e-mail (only exact, unique matches; the dry run writes nothing), CSV
 * files, and what a mapping does: with double puppeting the person's own account posts and their
 * ghost leaves the room, and their account's events are never relayed back; without it the ghost
 * keeps posting under a name that says whose it is.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { plainDoc } from "../../../src/formatting/ast.js";
import { PUPPET_MARK, type MatrixInbound } from "../../../src/core/matrix-port.js";
import type { Level } from "../../../src/core/permissions.js";
import { backends, storeOpener } from "../../support/db.js";
import { coreRig, linkBoth, matrixMessage, ROOM, until, type CoreRig } from "../../support/core-rig.js";

const open = storeOpener();
const IVAN = "@ivan:example.org";
const OLGA = "@olga:example.org";
const ADMIN = "@admin:example.org";
const IVAN_GHOST = "@loopback_ivan:example.org";

let n = 0;
/** Run a command in the sender's DM with the bot; returns the bot's replies. */
async function say(rig: CoreRig, sender: string, body: string, level: Level = "user"): Promise<string> {
  const replies: string[] = [];
  await rig.core.registry.handle({
    roomId: `!dm-${sender}`, sender, eventId: `$c${++n}`, body, level, isManagementRoom: true,
    reply: async (t) => { replies.push(t); }, redact: async () => undefined,
  });
  return replies.join("\n");
}

const codeIn = (text: string) => /\b([A-Z2-9]{8})\b/.exec(text)?.[1] ?? "";

describe("people: claims and mappings", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  it("a claim over a network that DMs: the code goes to that remote user, and only its Matrix owner can use it, once", async () => {
    rig = await coreRig(await open(backends[0]!));
    expect(await say(rig, IVAN, "claim loopback nobody")).toMatch(/No Loopback user nobody/);
    expect(await say(rig, IVAN, "claim loopback ivan")).toMatch(/sent a code to that Loopback account/);
    expect(rig.a.directs).toHaveLength(1);
    expect(rig.a.directs[0]!.user).toBe("ivan");
    expect(rig.a.directs[0]!.text).toContain(IVAN);
    const code = codeIn(rig.a.directs[0]!.text);
    expect(await say(rig, IVAN, "claim ABCDEFGH")).toMatch(/not valid/);
    expect(await say(rig, OLGA, `claim ${code}`)).toMatch(/not valid/); // someone else's code
    expect(await say(rig, IVAN, `claim ${code}`)).toBe("Done: Loopback user ivan is now mapped to you.");
    expect(await say(rig, IVAN, `claim ${code}`)).toMatch(/not valid/); // single use
    expect((await rig.store.mappings!.list()).map((m) => [m.userRef, m.mxid, m.method, m.byMxid])).toEqual([["ivan", IVAN, "claim", IVAN]]);
    expect(await say(rig, ADMIN, "mappings log", "admin")).toMatch(/map loopback ivan ↔ @ivan:example.org \(claim, by @ivan:example.org\)/);
  });

  it("a claim where the remote user brings the code (a bot may not write first): /start CODE from that account maps it", async () => {
    rig = await coreRig(await open(backends[0]!));
    rig.b.noDirect = true;
    const reply = await say(rig, OLGA, "claim loopback2");
    expect(reply).toMatch(/Send `\/start [A-Z2-9]{8}` to the bridge's Loopback2 bot \(Beta\)/);
    expect(rig.b.directs).toEqual([]);
    const code = codeIn(reply);
    expect(await say(rig, OLGA, `claim ${code}`)).toMatch(/not valid/); // it must come from the other side
    expect(await rig.b.claim("olga", "WRONG234")).toMatch(/not valid/);
    expect(await rig.b.claim("olga", code)).toBe("Done: this account is now mapped to @olga:example.org on Matrix.");
    expect(await rig.b.claim("mallory", code)).toMatch(/not valid/);
    expect(rig.core.people.directory.mxidOf("loopback2", "olga")).toBe(OLGA);
  });

  it("map by e-mail maps only exact, unique matches; the dry run lists them and writes nothing", async () => {
    rig = await coreRig(await open(backends[0]!));
    for (const [id, name, email] of [["zoe", "Zoe", "Zoe@Example.org"], ["petr", "Petr", "ops@example.org"], ["pavel", "Pavel", "ops@example.org"], ["anna", "Anna", "anna@example.org"], ["ivan", "Ivan Petrov", "ivan@example.org"]] as const) {
      rig.a.addUser(id, name);
      rig.a.emails.set(id, email);
    }
    rig.a.addUser("nomail", "No Mail");
    rig.matrix.accounts = [
      { mxid: "@zoe:example.org", emails: ["zoe@example.org"] },
      { mxid: "@ops:example.org", emails: ["ops@example.org"] },
      { mxid: "@anna:example.org", emails: ["anna@example.org"] },
      { mxid: "@anna2:example.org", emails: ["ANNA@example.org"] },
      { mxid: "@loopback_x:example.org", emails: ["ivan@example.org"] }, // a bridge user never counts
      { mxid: IVAN, emails: ["ivan@example.org"] },
    ];
    const dry = await say(rig, ADMIN, "map loopback --by-email --dry-run", "admin");
    expect(dry).toMatch(/^Dry run: would map 2 of 6 Loopback users by e-mail/);
    expect(dry).toContain("• Zoe (zoe) → @zoe:example.org");
    expect(dry).toContain("• Ivan Petrov (ivan) → @ivan:example.org");
    expect(dry).toMatch(/Petr \(petr\): ops@example.org is shared by 2 loopback users/);
    expect(dry).toMatch(/Anna \(anna\): anna@example.org belongs to 2 Matrix accounts/);
    expect(await rig.store.mappings!.list()).toEqual([]);
    expect(await rig.store.mappings!.history(10)).toEqual([]);

    expect(await say(rig, ADMIN, "map loopback --by-email", "admin")).toMatch(/^Mapped 2 of 6/);
    expect((await rig.store.mappings!.list()).map((m) => [m.userRef, m.mxid, m.method, m.byMxid])).toEqual([
      ["ivan", IVAN, "email", ADMIN], ["zoe", "@zoe:example.org", "email", ADMIN],
    ]);
    expect(await say(rig, ADMIN, "map loopback --by-email --dry-run", "admin")).toMatch(/Ivan Petrov \(ivan\): already mapped to @ivan:example.org/);
  });

  it("a CSV with one bad line maps nobody; a good one maps everyone in it; admins map and unmap one by one", async () => {
    rig = await coreRig(await open(backends[0]!));
    rig.a.addUser("zoe", "Zoe");
    const dir = mkdtempSync(join(tmpdir(), "tandem-csv-"));
    writeFileSync(join(dir, "bad.csv"), "remote,matrix\nivan,@ivan:example.org\nzoe,@zoe:elsewhere.org\nghost,@g:example.org\n");
    const bad = await say(rig, ADMIN, `map loopback --csv ${join(dir, "bad.csv")}`, "admin");
    expect(bad).toMatch(/The CSV has 2 problems; nothing was mapped/);
    expect(bad).toMatch(/line 3: @zoe:elsewhere.org is not a user of this homeserver/);
    expect(bad).toMatch(/line 4: No Loopback user ghost/);
    expect(await rig.store.mappings!.list()).toEqual([]);
    writeFileSync(join(dir, "good.csv"), "ivan,@ivan:example.org\n# comment\n\nzoe,@zoe:example.org\n");
    expect(await say(rig, ADMIN, `map loopback --csv ${join(dir, "good.csv")} --dry-run`, "admin")).toMatch(/^Dry run: would map 2/);
    expect(await rig.store.mappings!.list()).toEqual([]);
    expect(await say(rig, ADMIN, `map loopback --csv ${join(dir, "good.csv")}`, "admin")).toMatch(/^Mapped 2/);
    expect(await say(rig, ADMIN, "map loopback zoe @other:example.org", "admin")).toMatch(/already mapped to @zoe:example.org; `unmap loopback zoe` first/);
    expect(await say(rig, IVAN, "unmap loopback zoe")).toMatch(/Only an admin/);
    expect(await say(rig, ADMIN, "unmap loopback zoe", "admin")).toBe("Unmapped Loopback user zoe (was @zoe:example.org).");
    expect(await say(rig, ADMIN, "map loopback zoe @other:example.org", "admin")).toBe("Mapped Loopback user zoe to @other:example.org.");
    expect(await say(rig, ADMIN, "map loopback zoe @tandembot:example.org @x", "admin")).toMatch(/^Usage/);
    expect(await say(rig, ADMIN, "map loopback ivan @loopback_ivan:example.org", "admin")).toMatch(/is one of the bridge's own users/);
    expect((await rig.store.mappings!.history(10)).map((r) => `${r.action} ${r.userRef} ${r.mxid} ${r.method}`)).toEqual([
      "map zoe @other:example.org admin", "unmap zoe @zoe:example.org csv", "map zoe @zoe:example.org csv", "map ivan @ivan:example.org csv",
    ]);
  });
});

describe("people: what a mapping does in the rooms", () => {
  let rig: CoreRig;
  afterEach(async () => { await rig?.stop(); });

  const ops = () => rig.a.sent("ops").map((m) => m.text);

  it("with double puppeting, a mapped person's message, edit and reaction come from their own account, their ghost leaves, and nothing echoes back", async () => {
    rig = await coreRig(await open(backends[0]!));
    rig.matrix.puppets = true;
    await linkBoth(rig);
    const before = await rig.a.post("ops", "ivan", "before the mapping");
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === "before the mapping"), "ghost message");
    expect(rig.matrix.messages(ROOM).find((e) => e.content.body === "before the mapping")!.sender).toBe(IVAN_GHOST);
    expect(await say(rig, ADMIN, "map loopback ivan @ivan:example.org", "admin")).toMatch(/^Mapped/);

    const ref = await rig.a.post("ops", "ivan", "hello as me");
    await until(() => rig.b.sent("fleet").some((m) => m.text === "hello as me"), "fan-out");
    const mine = rig.matrix.messages(ROOM).find((e) => e.content.body === "hello as me")!;
    expect(mine.sender).toBe(IVAN);
    expect(mine.content[PUPPET_MARK]).toBe("tandem");
    expect(rig.matrix.joined.has(`${ROOM}|${IVAN}`)).toBe(true);
    expect(rig.matrix.left).toContainEqual({ roomId: ROOM, mxid: IVAN_GHOST });

    await rig.a.editPost("ops", "ivan", ref, "hello as me, edited");
    await rig.a.editPost("ops", "ivan", before, "before, edited");
    await rig.a.push([{ kind: "reaction", key: "react:1", chat: "ops", at: Date.now(), target: ref, sender: "ivan", emoji: "👍", on: true }]);
    await rig.a.post("ops", "ivan", "sentinel 1");
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === "sentinel 1"), "sentinel 1");
    const edit = (body: string) => rig.matrix.messages(ROOM).find((e) => e.content.body === `* ${body}`)!;
    expect(edit("hello as me, edited").sender).toBe(IVAN);
    expect(edit("before, edited").sender).toBe(IVAN_GHOST); // only the author can edit a message in clients
    expect(rig.matrix.events.find((e) => e.type === "m.reaction")!.sender).toBe(IVAN);

    // The homeserver hands the bridge what it sent as Ivan: marked, it goes nowhere.
    const echoes: MatrixInbound[] = rig.matrix.events.filter((e) => e.sender === IVAN).map((e) => ({
      kind: "message", roomId: ROOM, eventId: e.eventId, sender: IVAN, ts: Date.now(), msgtype: "text",
      doc: plainDoc(String(e.content.body ?? "x")), body: String(e.content.body ?? "x"), puppeted: true,
    }));
    await rig.core.onMatrixEvents(echoes);
    await matrixMessage(rig, "sentinel 2");
    await until(() => ops().includes("sentinel 2"), "sentinel 2 on the remote side");
    expect(ops()).toEqual(["sentinel 2"]);
  });

  it("with double puppeting, mapping moves the person into the portals their ghost is in, and their deleted message is redacted by them", async () => {
    rig = await coreRig(await open(backends[0]!));
    rig.matrix.puppets = true;
    await linkBoth(rig);
    const ref = await rig.a.post("ops", "ivan", "by the ghost");
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === "by the ghost"), "ghost message");
    expect(await rig.matrix.joinedMembers(ROOM)).toContain(IVAN_GHOST);
    await say(rig, ADMIN, "map loopback ivan @ivan:example.org", "admin");
    await until(async () => (await rig.matrix.joinedMembers(ROOM)).includes(IVAN), "Ivan joined to the portal");
    await until(async () => !(await rig.matrix.joinedMembers(ROOM)).includes(IVAN_GHOST), "the ghost gone");

    const mine = await rig.a.post("ops", "ivan", "mine");
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === "mine"), "Ivan's message");
    await rig.a.push([{ kind: "delete", key: "del:1", chat: "ops", at: Date.now(), target: mine, sender: "ivan" }]);
    await rig.a.push([{ kind: "delete", key: "del:2", chat: "ops", at: Date.now(), target: ref, sender: "ivan" }]);
    await rig.a.post("ops", "ivan", "sentinel");
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === "sentinel"), "sentinel");
    const redactions = rig.matrix.calls.filter((c) => c.op === "redact").map((c) => c.args[1]);
    expect(redactions).toEqual([IVAN, rig.matrix.botMxid]); // the ghost's old message: by the bot, as before
  });

  it("without double puppeting, the mapped person keeps a ghost whose name says whose it is, until unmapped", async () => {
    rig = await coreRig(await open(backends[0]!));
    await linkBoth(rig);
    await rig.a.post("ops", "ivan", "one");
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === "one"), "one");
    expect(rig.matrix.profiles.get(IVAN_GHOST)?.displayName).toBe("Ivan Petrov");
    await say(rig, ADMIN, "map loopback ivan @ivan:example.org", "admin");
    await rig.a.post("ops", "ivan", "two");
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === "two"), "two");
    expect(rig.matrix.messages(ROOM).find((e) => e.content.body === "two")!.sender).toBe(IVAN_GHOST);
    expect(rig.matrix.profiles.get(IVAN_GHOST)?.displayName).toBe("Ivan Petrov (@ivan:example.org)");
    await say(rig, ADMIN, "unmap loopback ivan", "admin");
    await rig.a.post("ops", "ivan", "three");
    await until(() => rig.matrix.messages(ROOM).some((e) => e.content.body === "three"), "three");
    expect(rig.matrix.profiles.get(IVAN_GHOST)?.displayName).toBe("Ivan Petrov");
  });
});
