/**
 * Bot commands as values, and the processor that parses, checks levels, dispatches and
 * runs multi-step prompts (the bot asks for the next value; `cancel` aborts; a timeout
 * ends them; messages that carry a secret are redacted once read).
 */
import type { LoginStep } from "../connector.js";
import { CommandError, TandemError } from "../errors.js";
import { errorFields, type Logger } from "../log.js";
import { levelAtLeast, type Level } from "../permissions.js";

export interface CommandContext {
  roomId: string;
  sender: string;
  eventId: string;
  level: Level;
  /** Words after the command name (and sub-command, for grouped commands). */
  args: string[];
  isManagementRoom: boolean;
  reply(text: string, html?: string): Promise<void>;
  /** Remove the message that ran the command (it carried a secret). */
  redactSource(): Promise<void>;
  /** Ask for values one by one; `done` gets them all. */
  ask(steps: LoginStep[], known: Record<string, string>, done: (values: Record<string, string>) => Promise<void>): Promise<void>;
}

export interface Command {
  /** One word, or two for grouped commands ("login app", "cutover status"). */
  name: string;
  level: Exclude<Level, "none">;
  help: string;
  args?: string;
  /** Only in the DM with the bot (where secrets may be typed). */
  dmOnly?: boolean;
  run(ctx: CommandContext): Promise<void>;
}

/** No command or argument comes near this; longer input is refused before it is parsed or echoed. */
const MAX_COMMAND = 4096;

interface Prompt {
  steps: LoginStep[];
  values: Record<string, string>;
  index: number;
  expires: number;
  done: (values: Record<string, string>) => Promise<void>;
}

export interface IncomingCommand {
  roomId: string;
  sender: string;
  eventId: string;
  body: string;
  level: Level;
  isManagementRoom: boolean;
  reply(text: string, html?: string): Promise<void>;
  redact(eventId: string): Promise<void>;
}

export class CommandRegistry {
  private readonly commands = new Map<string, Command>();
  private readonly prompts = new Map<string, Prompt>();

  constructor(
    private readonly prefix: string,
    private readonly promptTimeoutMs: number,
    private readonly log: Logger,
    /** Hides secrets in what is quoted back; applied before clipping, which would cut a token beyond recognition. */
    private readonly mask: (s: string) => string = (s) => s,
  ) {}

  add(...cmds: Command[]): void {
    for (const c of cmds) {
      if (this.commands.has(c.name)) throw new Error(`command ${c.name} registered twice`);
      this.commands.set(c.name, c);
    }
  }

  /** The commands a level may use, for `help`. */
  visibleTo(level: Level): Command[] {
    return [...this.commands.values()].filter((c) => levelAtLeast(level, c.level)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Whether a message is meant for the bot (so it is not relayed). */
  isCommand(body: string, isManagementRoom: boolean, roomId: string, sender: string): boolean {
    if (this.prompts.has(`${roomId}|${sender}`)) return true;
    return isManagementRoom || this.stripPrefix(body) !== null;
  }

  private stripPrefix(body: string): string | null {
    const t = body.trim();
    if (t === this.prefix) return "";
    if (t.startsWith(this.prefix + " ")) return t.slice(this.prefix.length + 1).trim();
    return null;
  }

  /**
   * Handle a message addressed to the bot. Never throws: errors become replies. Someone with
   * no permission level at all gets no answer (the bridge does not talk to strangers).
   */
  async handle(msg: IncomingCommand): Promise<void> {
    if (msg.level === "none") return;
    // Named in the log by the command, never by the text: a prompt's answer may be a secret.
    let command = this.prompts.has(`${msg.roomId}|${msg.sender}`) ? "(answer to a prompt)" : "(unknown)";
    try {
      if (await this.continuePrompt(msg)) return;
      const text = msg.isManagementRoom ? (this.stripPrefix(msg.body) ?? msg.body.trim()) : this.stripPrefix(msg.body);
      if (text === null || text === "") {
        if (text === "") await msg.reply(`Say \`${this.prefix} help\` for the commands.`);
        return;
      }
      if (text.length > MAX_COMMAND) {
        await msg.reply(`That is too long for a command (${text.length} characters). Say \`${msg.isManagementRoom ? "help" : `${this.prefix} help`}\` to see what you can use.`);
        return;
      }
      const words = text.split(/\s+/);
      const two = words.length > 1 ? this.commands.get(`${words[0]!.toLowerCase()} ${words[1]!.toLowerCase()}`) : undefined;
      const cmd = two ?? this.commands.get(words[0]!.toLowerCase());
      const args = words.slice(two ? 2 : 1);
      if (cmd) command = cmd.name;
      if (!cmd || !levelAtLeast(msg.level, cmd.level)) {
        const hint = msg.isManagementRoom ? "help" : `${this.prefix} help`;
        await msg.reply(`Unknown command \`${clip(this.mask(words.slice(0, 2).join(" ")))}\`. Say \`${hint}\` to see what you can use.`);
        return;
      }
      if (cmd.dmOnly && !msg.isManagementRoom) {
        await msg.reply(`\`${cmd.name}\` only works in your private chat with the bridge bot.`);
        return;
      }
      await cmd.run(this.context(msg, args));
    } catch (err) {
      const userMessage = err instanceof TandemError && err.userMessage ? err.userMessage : "Something went wrong running that command; the bridge log has the details.";
      // Every failure is in the log with its stack: the reply may only say "see the log". A refusal
      // meant for the user (wrong usage, no permission) is routine; anything else is a fault.
      const meta = { command, roomId: msg.roomId, sender: msg.sender, ...errorFields(err) };
      if (err instanceof TandemError && err.userMessage) this.log.info("command refused", meta);
      else this.log.error("command failed", meta);
      await msg.reply(userMessage).catch(() => undefined);
    }
  }

  private context(msg: IncomingCommand, args: string[]): CommandContext {
    return {
      roomId: msg.roomId, sender: msg.sender, eventId: msg.eventId, level: msg.level, args,
      isManagementRoom: msg.isManagementRoom,
      reply: msg.reply,
      redactSource: () => msg.redact(msg.eventId),
      ask: async (steps, known, done) => {
        const prompt: Prompt = { steps, values: { ...known }, index: 0, expires: Date.now() + this.promptTimeoutMs, done };
        await this.advance(`${msg.roomId}|${msg.sender}`, prompt, msg);
      },
    };
  }

  /** Ask the next missing value, or finish. */
  private async advance(key: string, prompt: Prompt, msg: IncomingCommand): Promise<void> {
    while (prompt.index < prompt.steps.length && prompt.values[prompt.steps[prompt.index]!.key] !== undefined) prompt.index++;
    if (prompt.index >= prompt.steps.length) {
      this.prompts.delete(key);
      await prompt.done(prompt.values);
      return;
    }
    this.prompts.set(key, prompt);
    await msg.reply(`${prompt.steps[prompt.index]!.prompt} (say \`cancel\` to stop)`);
  }

  private async continuePrompt(msg: IncomingCommand): Promise<boolean> {
    const key = `${msg.roomId}|${msg.sender}`;
    const prompt = this.prompts.get(key);
    if (!prompt) return false;
    const value = msg.body.trim();
    const step = prompt.steps[prompt.index]!;
    if (Date.now() > prompt.expires) {
      this.prompts.delete(key);
      // A secret that comes too late is still a secret: removed, and never read as a command (which would echo it).
      const lateSecret = step.secret && (!step.pattern || step.pattern.test(value));
      if (lateSecret) await msg.redact(msg.eventId).catch(() => msg.reply("I could not remove your message; please delete it yourself, it contains a secret."));
      await msg.reply("That prompt timed out; start the command again.");
      return lateSecret || value.toLowerCase() === "cancel";
    }
    if (step.secret) await msg.redact(msg.eventId).catch(() => msg.reply("I could not remove your message; please delete it yourself, it contains a secret."));
    if (value.toLowerCase() === "cancel") {
      this.prompts.delete(key);
      await msg.reply("Cancelled.");
      return true;
    }
    if (step.pattern && !step.pattern.test(value)) {
      prompt.expires = Date.now() + this.promptTimeoutMs;
      await msg.reply(step.patternHint ?? `That does not look right. ${step.prompt}`);
      return true;
    }
    prompt.values[step.key] = value;
    prompt.index++;
    prompt.expires = Date.now() + this.promptTimeoutMs;
    try {
      await this.advance(key, prompt, msg);
    } catch (err) {
      this.prompts.delete(key);
      throw err;
    }
    return true;
  }

  /** Drop expired prompts (called periodically). */
  sweep(): void {
    const now = Date.now();
    for (const [k, p] of this.prompts) if (now > p.expires) this.prompts.delete(k);
  }
}

/** What of a user's input is echoed back: enough to recognise, never a 100 kB notice. */
function clip(s: string, max = 40): string {
  const chars = [...s];
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : s;
}

export { CommandError };
