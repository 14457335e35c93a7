/**
 * Property test of the command processor (src/core/commands/registry.ts) on random message
 * bodies from senders of every level, in the DM and in other rooms: it never throws, answers
 * each message at most once with a bounded, plain reply, never runs a command above the
 * sender's level or a DM-only command outside the DM, never says anything to someone with no
 * permission level, and a prompt only ever takes answers from the person it asked.
 */
import { describe, expect, it } from "vitest";
import { CommandRegistry, type Command, type IncomingCommand } from "../../../src/core/commands/registry.js";
import { CommandError } from "../../../src/core/errors.js";
import { silentLogger } from "../../../src/core/log.js";
import { levelAtLeast, type Level } from "../../../src/core/permissions.js";
import { EVIL_STRINGS, hugeString, int, pick, randomString, rng, runs, SEEDS } from "../../support/fuzz.js";

const PREFIX = "!tandem";
const LEVELS: Level[] = ["none", "relay", "user", "admin"];
const ran: Array<{ name: string; level: Level; mgmt: boolean }> = [];
const cmd = (name: string, level: Exclude<Level, "none">, extra: Partial<Command> = {}): Command => ({
  name, level, help: name, run: async (ctx) => { ran.push({ name, level: ctx.level, mgmt: ctx.isManagementRoom }); await ctx.reply(`ran ${name}`); }, ...extra,
});
const commands: Command[] = [
  cmd("help", "relay"), cmd("ping", "relay"), cmd("links", "relay"), cmd("status", "user"), cmd("list", "user"), cmd("sync", "user"),
  cmd("link", "user"), cmd("unlink", "user"), cmd("audit", "user"), cmd("cutover", "admin"), cmd("logout", "user", { dmOnly: true }),
  cmd("fail", "relay", { run: () => { throw new CommandError("You did it wrong."); } }),
  cmd("crash", "relay", { run: () => { throw new Error("internal detail /srv/secret/path"); } }),
  cmd("login app", "user", {
    dmOnly: true,
    run: (ctx) => ctx.ask([{ key: "bot", prompt: "Send the bot token.", secret: true, pattern: /^xoxb-/ }, { key: "app", prompt: "Send the app token.", secret: true }], {},
      async (v) => { ran.push({ name: "login app", level: ctx.level, mgmt: ctx.isManagementRoom }); await ctx.reply(`logged in ${v.bot!.length}`); }),
  }),
];
const WORDS = [...commands.map((c) => c.name), "HELP", "Ping", "login", "login telegram", "cancel", "xoxb-1-2", "xapp-1", "all", "slack", "#general", "-100123", "1h"];

function body(next: () => number): string {
  const r = next();
  const words = Array.from({ length: 1 + int(next, 4) }, () => (next() < 0.7 ? pick(next, WORDS) : pick(next, EVIL_STRINGS)));
  const sep = pick(next, [" ", "  ", "\t", "\n", "\u00a0", "\u2003", " \u200b "]);
  const text = r < 0.1 ? hugeString(next, 5_000 + int(next, 100_000)) : r < 0.25 ? randomString(next, 40) : words.join(sep);
  return next() < 0.4 ? `${pick(next, [PREFIX, `${PREFIX} `, `${PREFIX}\n`, `  ${PREFIX}  `, PREFIX.toUpperCase(), "!tandemx "])}${text}` : text;
}

describe.each(SEEDS)("command processor fuzz, seed %i", (seed) => {
  it("random bodies from every level, in the DM and elsewhere", async () => {
    const next = rng(seed);
    const reg = new CommandRegistry(PREFIX, 60_000, silentLogger);
    reg.add(...commands);
    for (let k = 0; k < runs(1500); k++) {
      const level = pick(next, LEVELS);
      const mgmt = next() < 0.5;
      const sender = `@${level}${int(next, 3)}:example.org`;
      const roomId = mgmt ? `!dm-${sender}` : pick(next, ["!room1:x", "!room2:x"]);
      const text = body(next);
      const replies: Array<{ text: string; html?: string }> = [];
      ran.length = 0;
      const msg: IncomingCommand = {
        roomId, sender, eventId: `$${k}`, body: text, level, isManagementRoom: mgmt,
        reply: async (t, html) => { replies.push({ text: t, html }); }, redact: async () => undefined,
      };
      expect(() => reg.isCommand(text, mgmt, roomId, sender)).not.toThrow();
      await expect(reg.handle(msg)).resolves.toBeUndefined();
      if (level === "none") {
        expect(replies, `a stranger got an answer to ${JSON.stringify(text.slice(0, 80))}`).toEqual([]);
        expect(ran).toEqual([]);
        continue;
      }
      expect(replies.length).toBeLessThanOrEqual(2); // at most an answer, plus "could not remove your message"
      for (const r of replies) {
        expect(r.html).toBeUndefined();
        expect(r.text.length).toBeLessThan(1000);
        expect(r.text).not.toMatch(/internal detail|\/srv\/secret/);
      }
      for (const r of ran) {
        const c = commands.find((x) => x.name === r.name)!;
        expect(levelAtLeast(level, c.level), `${level} ran ${c.name}`).toBe(true);
        if (c.dmOnly) expect(r.mgmt).toBe(true);
      }
    }
  });

  it("a prompt takes answers only from the person and room it asked, and a secret answer is redacted", async () => {
    const next = rng(seed + 1);
    const reg = new CommandRegistry(PREFIX, 60_000, silentLogger);
    reg.add(...commands);
    const redacted: string[] = [];
    const send = async (sender: string, roomId: string, text: string, level: Level = "user") => {
      const replies: string[] = [];
      await reg.handle({ roomId, sender, eventId: `$${sender}-${text.length}-${redacted.length}`, body: text, level, isManagementRoom: roomId.startsWith("!dm"),
        reply: async (t) => { replies.push(t); }, redact: async (id) => { redacted.push(id); } });
      return replies;
    };
    for (let k = 0; k < runs(200); k++) {
      ran.length = 0;
      redacted.length = 0;
      expect(await send("@alice:x", "!dm-alice", "login app")).toEqual(["Send the bot token. (say `cancel` to stop)"]);
      // Bob, in his own DM or in alice's, cannot answer alice's prompt.
      const intruder = pick(next, ["!dm-bob", "!dm-alice", "!room1:x"]);
      await send("@bob:x", intruder, `xoxb-${randomString(next, 3)}`, pick(next, LEVELS));
      expect(ran).toEqual([]);
      await send("@alice:x", "!dm-alice", `xoxb-${k}`);
      await send("@alice:x", "!dm-alice", `xapp-${k}`);
      expect(ran.map((r) => r.name)).toEqual(["login app"]);
      expect(redacted).toHaveLength(2);
    }
  });
});
