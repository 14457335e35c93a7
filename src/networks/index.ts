/** The networks Tandem ships, created from config. main.ts and doctor are the only callers. */
import type { Config } from "../config/index.js";
import type { NetworkConnector } from "../core/connector.js";
import type { Logger } from "../core/log.js";
import { createSlackConnector } from "./slack/index.js";
import { SLACK_TOKEN_SHAPES } from "./slack/login.js";
import { createTelegramConnector } from "./telegram/index.js";
import { TELEGRAM_TOKEN_SHAPE } from "./telegram/login.js";

/** What every shipped network's credentials look like, enabled or not: no room keeps one (core/token-guard.ts). */
export const TOKEN_SHAPES: readonly RegExp[] = [...SLACK_TOKEN_SHAPES, TELEGRAM_TOKEN_SHAPE];

export function createConnectors(config: Config, log: Logger): NetworkConnector[] {
  const out: NetworkConnector[] = [];
  if (config.slack.enabled) out.push(createSlackConnector(config, log.child({ network: "slack" })));
  if (config.telegram.enabled) out.push(createTelegramConnector(config, log.child({ network: "telegram" })));
  return out;
}
