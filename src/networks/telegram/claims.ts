/**
 * `/start CODE` in a private chat with the bot: a person proving that this Telegram account is
 * theirs (the code came from `claim telegram` in Matrix). A bot may not message anyone first, so
 * the person writes to it, through the t.me/<bot>?start=CODE link or by typing. The update is
 * answered here and never bridged: the code is not a message for any room.
 */
import type { Api } from "grammy";
import type { Update } from "grammy/types";
import type { EventSink } from "../../core/connector.js";
import { errorFields, type Logger } from "../../core/log.js";
import { userRef } from "./ids.js";

export interface StartClaim {
  chatId: number;
  user: string;
  code: string;
}

const START_RE = /^\/start(?:@\w+)?\s+(\S{1,64})\s*$/;

/** The claim a private `/start CODE` carries; null for any other update (a bare /start included). */
export function startClaim(update: Update | undefined): StartClaim | null {
  const msg = update?.message;
  // Updates are untrusted JSON: a malformed one is not a claim (convertUpdate then names its fault).
  if (!msg || msg.chat?.type !== "private" || typeof msg.from?.id !== "number" || typeof msg.text !== "string") return null;
  const m = START_RE.exec(msg.text);
  return m ? { chatId: msg.chat.id, user: userRef(msg.from.id), code: m[1]! } : null;
}

/** Hand the code to the core and tell the person the outcome. Never throws: the update is then done. */
export async function answerClaim(api: Api, sink: EventSink, claim: StartClaim, log: Logger): Promise<void> {
  let text: string;
  try {
    text = sink.claim ? await sink.claim(claim.user, claim.code) : "This bridge does not map Telegram accounts.";
  } catch (err) {
    log.error("claim code could not be checked", { ...errorFields(err) });
    text = "The bridge could not check that code just now; send it again in a minute.";
  }
  await api.sendMessage(claim.chatId, text).catch((err) => log.warn("claim answer not sent", { ...errorFields(err) }));
}
