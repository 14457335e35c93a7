/**
 * The Telegram connector: `login telegram` with a BotFather token, one TelegramConnection per
 * logged-in bot (grammY, long polling or webhook), ghosts @telegram_<userid>. See docs/telegram.md.
 */
import type { Config } from "../../config/index.js";
import type { ChatDescription, Connection, EventSink, LoginFlow, LoginRecord, NetworkConnector } from "../../core/connector.js";
import type { Logger } from "../../core/log.js";
import type { ChatRef, UserRef } from "../../core/types.js";
import { Pacer } from "../pacing.js";
import { TelegramConnection, type TelegramSettings } from "./connection.js";
import { describeChat, ghostLocalpart, userFromGhostLocalpart } from "./ids.js";
import { telegramLoginFlow } from "./login.js";
import { WebhookHub } from "./webhook.js";

/** Shown by `help telegram`; the same text is in docs/telegram.md. */
export const TELEGRAM_LIMITATIONS = [
  "Telegram is bridged through a bot, and a bot sees less than a person:",
  "• No history from before the bot joined a chat: Telegram gives bots only new messages.",
  "• No deletions: Telegram never tells bots that a message was deleted, so a message deleted on Telegram stays in Matrix.",
  "• No other bots: bots never see messages from other bots, so posts by other bots (agents) are not bridged.",
  "• Reactions only where the bot is an admin. A bot sets at most one reaction per message, from Telegram's fixed emoji list: of several Matrix reactions the most recent one is shown, removing it shows the newest one still there (or none), and other emoji are not shown.",
  "• Privacy mode: unless it is disabled (BotFather /setprivacy) or the bot is an admin, the bot sees only commands, replies to it and mentions of it in groups.",
  "• Channels: the bot must be an admin to read and post; posts appear from a ghost for the channel.",
  "• Description changes are not announced to bots: the room topic is set when the room is made.",
  "• Deleting from Matrix works only within 48 hours of the bot's message (unless the bot is an admin allowed to delete).",
  "• Files: bots download at most 20 MB and upload at most 50 MB through api.telegram.org; larger files become a notice. A self-hosted Bot API server allows up to 2 GB (telegram.api_root, telegram.max_download_size, telegram.max_upload_size).",
  "• Forum topics become Matrix threads rooted at the topic's first message.",
  "• Editing a Matrix message that went out as several Telegram messages (over 4,096 characters) changes only the first.",
  "• Do not put two bridge bots into one basic group (supergroups are fine): basic groups number messages per bot.",
].join("\n");

/** Port of the webhook server when telegram.mode is webhook (until a config key exists). */
export const DEFAULT_WEBHOOK_PORT = 29320;

export interface TelegramConnectorOptions extends Partial<TelegramSettings> {
  /** Where the webhook server listens (webhook mode). Default appservice.hostname:29320. */
  webhookListen?: { host: string; port: number };
}

export class TelegramConnector implements NetworkConnector {
  readonly network = "telegram";
  readonly displayName = "Telegram";
  readonly externalUrl = "https://telegram.org";
  readonly limitations = TELEGRAM_LIMITATIONS;
  readonly maxUploadSize: number;
  readonly maxDownloadSize: number;
  private readonly hub: WebhookHub | null;
  /** Shared by all bots: buckets are keyed by bot and chat (none when pacing is off). */
  private readonly pacer: Pacer | undefined;

  constructor(private readonly settings: TelegramSettings, private readonly log: Logger, webhookListen?: { host: string; port: number }) {
    this.maxUploadSize = settings.maxUploadSize;
    this.maxDownloadSize = settings.maxDownloadSize;
    this.pacer = settings.pacing === false ? undefined : new Pacer();
    this.hub = settings.mode === "webhook"
      ? new WebhookHub(webhookListen?.host ?? "127.0.0.1", webhookListen?.port ?? DEFAULT_WEBHOOK_PORT, log.child({ component: "telegram-webhook" }))
      : null;
  }

  loginFlows(): LoginFlow[] {
    return [telegramLoginFlow(this.settings.apiRoot)];
  }

  async connect(login: LoginRecord, sink: EventSink): Promise<Connection> {
    const conn = new TelegramConnection(login, sink, this.settings, this.log.child({ login: login.id }), this.hub, this.pacer);
    conn.start();
    return conn;
  }

  ghostLocalpart(user: UserRef): string {
    return ghostLocalpart(user);
  }

  userFromGhostLocalpart(localpart: string): UserRef | null {
    return userFromGhostLocalpart(localpart);
  }

  describeChat(chat: ChatRef, name: string, login?: LoginRecord): ChatDescription {
    return describeChat(chat, name, login);
  }
}

/** Settings from the config; `overrides` are for tests (faster backoff, shorter polls). */
export function telegramSettings(config: Config, overrides: Partial<TelegramSettings> = {}): TelegramSettings {
  const t = config.telegram;
  return {
    apiRoot: t.api_root,
    mode: t.mode,
    webhookUrl: t.webhook_url,
    webhookSecret: t.webhook_secret,
    maxDownloadSize: t.max_download_size,
    maxUploadSize: t.max_upload_size,
    maxMessageParts: config.bridge.max_message_parts,
    // Each long poll held 50 s (grammY's default is 30 s): an idle bot costs about one request
    // a minute, not two (issue 17: an idle bridge wakes as little as it can).
    pollTimeoutSeconds: 50,
    backoff: { initialMs: 1000, maxMs: 60_000 },
    requestTimeoutSeconds: 300,
    pacing: t.outbound_pacing,
    ...overrides,
  };
}

export function createTelegramConnector(config: Config, log: Logger, options: TelegramConnectorOptions = {}): NetworkConnector {
  const { webhookListen, ...overrides } = options;
  const port = config.telegram.webhook_port ?? DEFAULT_WEBHOOK_PORT;
  return new TelegramConnector(telegramSettings(config, overrides), log, webhookListen ?? { host: config.appservice.hostname, port });
}
