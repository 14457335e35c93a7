/** The command processor: parsing, levels, prompts (cancel, timeout, patterns), secret redaction. */
import { describe, expect, it } from "vitest";
import { CommandRegistry, type Command, type IncomingCommand } from "../../../src/core/commands/registry.js";
import { PassThrough } from "node:stream";
import { CommandError, TandemError } from "../../../src/core/errors.js";
import { createLogger } from "../../../src/observability/log.js";
import { silentLogger } from "../../../src/core/log.js";
import type { Level } from "../../../src/core/permissions.js";

function harness(promptTimeoutMs = 60_000, mask?: (s: string) => string, log = silentLogger) {
  const reg = new CommandRegistry("!tandem", promptTimeoutMs, log, mask);
  const replies: string[] = [];
  const redacted: string[] = [];
  let n = 0;
  const send = async (body: string, opts: { level?: Level; mgmt?: boolean } = {}) => {
    const msg: IncomingCommand = {
      roomId: "!r:x", sender: "@u:x", eventId: `$e${++n}`, body, level: opts.level ?? "user", isManagementRoom: opts.mgmt ?? true,
      reply: async (t) => { replies.push(t); }, redact: async (id) => { redacted.push(id); },
    };
    await reg.handle(msg);
    return replies.at(-1);
  };
  return { reg, replies, redacted, send };
}

const echo: Command = { name: "echo", level: "relay", help: "Echo", run: (ctx) => ctx.reply(ctx.args.join(" ")) };
const admin: Command = { name: "nuke", level: "admin", help: "Admin only", run: (ctx) => ctx.reply("boom") };
const fails: Command = { name: "fail", level: "relay", help: "Fails", run: () => { throw new CommandError("You did it wrong."); } };
const crashes: Command = { name: "crash", level: "relay", help: "Crashes", run: () => { throw new Error("internal detail"); } };
const login: Command = {
  name: "login demo", level: "user", help: "Two-step login", dmOnly: true,
  run: (ctx) => ctx.ask([
    { key: "a", prompt: "Send A.", secret: false },
    { key: "b", prompt: "Send B.", secret: true, pattern: /^b-/, patternHint: "B starts with b-." },
  ], ctx.args[0] ? { a: ctx.args[0] } : {}, async (v) => { await ctx.reply(`done ${v.a} ${v.b}`); }),
};

describe("command registry", () => {
  it("dispatches plain in the management room and only with the prefix elsewhere", async () => {
    const { reg, send } = harness();
    reg.add(echo);
    expect(await send("echo hi there")).toBe("hi there");
    expect(await send("!tandem echo prefixed", { mgmt: false })).toBe("prefixed");
    expect(reg.isCommand("echo hi", false, "!r:x", "@u:x")).toBe(false);
    expect(reg.isCommand("!tandem echo", false, "!r:x", "@u:x")).toBe(true);
  });

  it("answers unknown commands and commands above the sender's level with help", async () => {
    const { reg, send } = harness();
    reg.add(echo, admin);
    expect(await send("frob")).toMatch(/Unknown command `frob`.*`help`/);
    expect(await send("nuke", { level: "user" })).toMatch(/Unknown command `nuke`/);
    expect(await send("nuke", { level: "admin" })).toBe("boom");
    expect(reg.visibleTo("user").map((c) => c.name)).toEqual(["echo"]);
  });

  it("turns CommandError into its message and hides internal errors", async () => {
    const { reg, send } = harness();
    reg.add(fails, crashes);
    expect(await send("fail")).toBe("You did it wrong.");
    const r = await send("crash");
    expect(r).toMatch(/Something went wrong/);
    expect(r).not.toMatch(/internal detail/);
  });

  it("logs every failed command with its code, stack and causes, also ours without a user message", async () => {
    const out = new PassThrough();
    let logged = "";
    out.on("data", (d: Buffer) => { logged += d.toString(); });
    const { log } = createLogger({ level: "info", format: "json", stream: out });
    const { reg, send } = harness(60_000, undefined, log);
    // A TandemError with no user message (as the store's "already linked" conflict) is a fault too.
    class Conflict extends TandemError { readonly code = "store.conflict"; }
    const linkRace: Command = { name: "link", level: "relay", help: "Races", run: () => { throw new Conflict("slack chat C1 is already linked to room !a:x"); } };
    const typo: Command = { name: "typo", level: "relay", help: "Bug", run: () => { throw new TypeError("x is not a function", { cause: new Error("root cause here") }); } };
    reg.add(linkRace, typo, fails);
    expect(await send("link slack #general")).toMatch(/Something went wrong/);
    expect(await send("typo")).toMatch(/Something went wrong/);
    expect(await send("fail")).toBe("You did it wrong.");
    await new Promise((r) => setImmediate(r));
    const lines = logged.trim().split("\n").map((l) => JSON.parse(l) as { level: string; message: string; command: string; error: { code?: string; message: string; stack?: string; causes?: Array<{ message: string; stack?: string }> } });
    const race = lines.find((l) => l.command === "link")!;
    expect(race).toMatchObject({ level: "error", message: "command failed", error: { code: "store.conflict", message: "slack chat C1 is already linked to room !a:x" } });
    expect(race.error.stack).toMatch(/at .*commands\.test\.ts/);
    const bug = lines.find((l) => l.command === "typo")!;
    expect(bug).toMatchObject({ level: "error", error: { name: "TypeError", message: "x is not a function", causes: [{ message: "root cause here" }] } });
    expect(bug.error.causes![0]!.stack).toMatch(/root cause here\n\s+at /);
    // A refusal meant for the user is logged too, as routine.
    expect(lines.find((l) => l.command === "fail")).toMatchObject({ level: "info", message: "command refused", error: { code: "command" } });
    expect(logged).not.toMatch(/#general/); // the command's words are not logged (a prompt answer may be a secret)
  });

  it("runs a multi-step prompt, checks patterns and redacts secret answers", async () => {
    const { reg, send, redacted } = harness();
    reg.add(login);
    expect(await send("login demo")).toMatch(/Send A/);
    expect(await send("alpha")).toMatch(/Send B/);
    expect(await send("wrong")).toBe("B starts with b-.");
    expect(await send("b-secret")).toBe("done alpha b-secret");
    expect(redacted).toEqual(["$e3", "$e4"]); // both answers to the secret step
  });

  it("takes values inline and only asks for the rest", async () => {
    const { reg, send } = harness();
    reg.add(login);
    expect(await send("login demo alpha")).toMatch(/Send B/);
    expect(await send("b-1")).toBe("done alpha b-1");
  });

  it("cancel stops a prompt", async () => {
    const { reg, send } = harness();
    reg.add(login, echo);
    await send("login demo");
    expect(await send("cancel")).toBe("Cancelled.");
    expect(await send("echo free again")).toBe("free again");
  });

  it("a prompt times out", async () => {
    const { reg, send } = harness(30);
    reg.add(login, echo);
    await send("login demo");
    await new Promise((r) => setTimeout(r, 60));
    expect(await send("echo late")).toBe("late");
    expect((await send("zzz")) ?? "").toMatch(/Unknown command/);
  });

  it("an answer to a secret step after the timeout is still removed, and not read (or echoed) as a command", async () => {
    const { reg, send, replies, redacted } = harness(30);
    reg.add(login, echo);
    await send("login demo a1"); // $e1: asks for B, a secret
    await new Promise((r) => setTimeout(r, 60));
    expect(await send("b-late-secret")).toMatch(/That prompt timed out/);
    expect(redacted).toEqual(["$e2"]);
    expect(replies.join("\n")).not.toContain("b-late");
    expect(await send("echo after")).toBe("after"); // sentinel: the prompt is gone, commands run
    expect(redacted).toEqual(["$e2"]);
  });

  it("quotes input back only through the mask, applied before clipping (a clipped token would not be recognised)", async () => {
    const { reg, send } = harness(60_000, (s) => s.replace(/tok-[a-z0-9]{30,}/g, "<token removed>"));
    reg.add(echo);
    const reply = await send(`oops tok-${"a1".repeat(30)}`);
    expect(reply).toMatch(/Unknown command `oops <token removed>`/);
    expect(reply).not.toContain("a1a1");
  });

  it("refuses DM-only commands outside the DM", async () => {
    const { reg, send } = harness();
    reg.add(login);
    expect(await send("!tandem login demo", { mgmt: false })).toMatch(/only works in your private chat/);
  });
});
