/**
 * `login telegram`: one secret step, the bot token from @BotFather, checked with getMe. The
 * login's remote id is the bot's user id, so several bots can be logged in side by side and
 * logging in again with a new token for the same bot replaces the old one.
 */
import type { Api } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { grammy } from "./grammy.js";
import type { LoginFlow, LoginResult } from "../../core/connector.js";
import { LoginError } from "../../core/errors.js";
import { isGrammyError, networkReason } from "./errors.js";

/** "123456789:AA…" as BotFather hands them out. */
export const TOKEN_PATTERN = /^\d+:[A-Za-z0-9_-]{30,}$/;
/**
 * The same inside any text, for scrubbing rooms. Not after a digit: a long run of digits
 * without a colon is then tried once, not from each of its positions (quadratic).
 */
export const TELEGRAM_TOKEN_SHAPE = /(?<!\d)\d+:[A-Za-z0-9_-]{30,}/;

export const PRIVACY_WARNING =
  "Privacy mode is on for this bot: in groups it only sees commands, replies to its own messages and messages " +
  "that mention it, so most messages will not be bridged. To fix it, send /setprivacy to @BotFather, pick the bot " +
  "and choose Disable (then remove the bot from existing groups and add it again), or make the bot an admin of each group.";

export const GROUPS_WARNING =
  "This bot cannot be added to groups: send /setjoingroups to @BotFather and choose Enable.";

export function telegramLoginFlow(apiRoot: string, timeoutSeconds = 30): LoginFlow {
  return {
    id: "telegram",
    help: "Connect a Telegram bot (its token from @BotFather)",
    steps: [{
      key: "token",
      prompt: "Send me the bot's token from @BotFather (/newbot, or /token for an existing bot). It looks like 123456789:AAH…; I will delete your message after reading it.",
      secret: true,
      pattern: TOKEN_PATTERN,
      patternHint: "That does not look like a bot token: it is digits, a colon and a long code, like 123456789:AAH… (BotFather /token).",
    }],
    async complete(values): Promise<LoginResult> {
      const token = (values.token ?? "").trim();
      if (!TOKEN_PATTERN.test(token)) throw new LoginError("That does not look like a bot token (BotFather /token).");
      const me = await getMe(new (grammy().Api)(token, { apiRoot, timeoutSeconds }), apiRoot);
      const warnings: string[] = [];
      if (!me.can_read_all_group_messages) warnings.push(PRIVACY_WARNING);
      if (!me.can_join_groups) warnings.push(GROUPS_WARNING);
      return {
        remoteId: String(me.id),
        name: `@${me.username}`,
        secrets: { token },
        reply: `Logged in as @${me.username}. Add the bot to a Telegram group (or message it) and the chat appears here as a room.`,
        ...(warnings.length ? { warnings } : {}),
      };
    },
  };
}

async function getMe(api: Api, apiRoot: string): Promise<UserFromGetMe> {
  try {
    return await api.getMe();
  } catch (err) {
    if (isGrammyError(err, 401) || isGrammyError(err, 404)) {
      throw new LoginError("That token is not valid (BotFather /token shows the current one).", { cause: err });
    }
    if (isGrammyError(err)) throw new LoginError(`Telegram refused the login: ${err.description}`, { cause: err });
    const where = new URL(apiRoot).host;
    throw new LoginError(`Could not reach Telegram (${where}): ${networkReason((err as { error?: unknown }).error ?? err)}. Try again later.`);
  }
}
