/** Telegram text + entities → Doc, and Doc → Telegram HTML (whole or split into messages). */
export { entitiesToDoc, type TelegramParseOptions } from "./telegram-entities.js";
export { docToTelegramHtml, type TelegramResolve } from "./telegram-html.js";
export { splitTelegramHtml, TELEGRAM_MAX_TEXT } from "./telegram-split.js";
