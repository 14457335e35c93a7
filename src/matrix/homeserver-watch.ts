/**
 * Start-up on the homeserver and the idle probe, so /health, `tandem_homeserver_up` and the log say
 * what is true even when nothing is relayed:
 * - at start: register the bot, set its profile, then the appservice ping (or whoami where the
 *   homeserver has no ping); retried with growing delays until it works;
 * - then every `intervalMs`: whoami (one cheap request), which notices a stopped homeserver or a
 *   registration that was unloaded; after an outage the ping is sent again, so the homeserver
 *   retries its transactions at once.
 * Failures are logged through RepeatLog: on change, then at growing gaps, not on every retry.
 */
import type { HealthBoard } from "../core/health.js";
import { errorFields } from "../core/log.js";
import type { Logger } from "../core/log.js";
import { RepeatLog } from "../core/repeat-log.js";
import { type HomeserverLink, troubleOf, unknownTokenMessage } from "./homeserver-link.js";

export interface HomeserverWatchOptions {
  link: HomeserverLink;
  health: HealthBoard;
  log: Logger;
  /** The registration file, named when the homeserver refuses its token. */
  registrationPath: string;
  /** How the homeserver reaches the bridge (the registration's url), named when the ping fails. */
  bridgeAddress: string;
  bot: { displayname: string; avatar: string };
  /** Between two idle probes, and the longest set-up retry is three of these. */
  intervalMs: number;
}

/** The first set-up retry comes after this (or the probe interval, if shorter), doubling. */
const FIRST_RETRY_MS = 5000;

export class HomeserverWatch {
  private setUp = false;
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly trouble: RepeatLog;
  private readonly pingTrouble: RepeatLog;

  constructor(private readonly opts: HomeserverWatchOptions) {
    this.trouble = new RepeatLog(opts.log);
    this.pingTrouble = new RepeatLog(opts.log);
  }

  /** Whether the bot is registered and its profile set. */
  get ready(): boolean {
    return this.setUp;
  }

  /** Makes the first attempt (awaited: the bridge starts either way) and schedules the rest. */
  async start(): Promise<void> {
    await this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.opts.link.close();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    try {
      if (this.setUp) await this.probe();
      else await this.setUpBot();
      this.failures = 0;
      this.schedule(this.opts.intervalMs);
    } catch (err) {
      if (this.stopped) return; // a call cut short by stop() is no news
      this.failures++;
      this.onTrouble(err);
      const interval = this.opts.intervalMs;
      const retry = this.setUp ? interval : Math.min(Math.min(FIRST_RETRY_MS, interval) * 2 ** (this.failures - 1), interval * 3);
      this.schedule(retry);
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref(); // never what keeps the process alive
  }

  private async setUpBot(): Promise<void> {
    const { link, bot, health, log } = this.opts;
    const outcome = await link.registerBot();
    if (bot.displayname || bot.avatar) await link.ensureBotProfile(bot.displayname, bot.avatar);
    this.setUp = true;
    health.homeserverSetupError = null;
    health.homeserverError = null;
    const done = outcome === "registered" ? `registered the bot ${link.botMxid} on the homeserver` : `the bot ${link.botMxid} is set up`;
    if (!this.trouble.clear(done)) log.info(done);
    await this.ping();
  }

  private async probe(): Promise<void> {
    const { link, health } = this.opts;
    await link.whoami();
    const wasDown = health.homeserverError !== null || health.homeserverSetupError !== null || this.trouble.active;
    health.homeserverError = null;
    health.homeserverSetupError = null;
    if (!wasDown) return;
    this.trouble.clear("the homeserver answers again");
    await this.ping(); // it may have marked the bridge down meanwhile: it retries its transactions now
  }

  /** The appservice ping, or whoami where the homeserver has none. A failed ping is told, not fatal. */
  private async ping(): Promise<void> {
    const { link, log, bridgeAddress } = this.opts;
    const res = await link.ping();
    if (res.kind === "ok") {
      this.pingTrouble.clear("the homeserver reaches the bridge again (appservice ping)");
      log.info("the homeserver reaches the bridge (appservice ping)", { durationMs: res.durationMs });
    } else if (res.kind === "absent") {
      await link.whoami();
      log.info("the homeserver answers (whoami); it has no appservice ping (Matrix 1.7), so whether it reaches the bridge shows when its first transaction arrives");
    } else {
      const answered = res.status !== undefined ? `, the bridge answered it HTTP ${res.status}` : "";
      this.pingTrouble.report("warn", `the appservice ping failed (${res.errcode}: ${res.message}${answered}): check that the homeserver reaches the bridge at ${bridgeAddress}`);
    }
  }

  private onTrouble(err: unknown): void {
    const { health, link, registrationPath } = this.opts;
    const t = troubleOf(err);
    let message: string;
    if (t.kind === "token") message = unknownTokenMessage(registrationPath);
    else if (t.kind === "unreachable") message = `homeserver unreachable (${t.detail})${this.setUp ? "" : `; the bot ${link.botMxid} is set up once it answers`}`;
    else message = this.setUp ? `the homeserver refused the health probe: ${t.detail}` : `setting up the bot ${link.botMxid} failed: ${t.detail}`;
    // Before the bot is set up, or with the token refused, calls as ghosts are no proof that all is
    // well: the problem stays until this watch sees it fixed.
    if (t.kind === "token" || !this.setUp) health.homeserverSetupError = message;
    else health.homeserverError = message;
    this.trouble.report(t.kind === "unreachable" ? "warn" : "error", message, { ...errorFields(err) });
  }
}
