/** Slack mrkdwn / rich_text ↔ Doc, and Slack emoji names. */
export { mrkdwnToDoc, type SlackParseOptions } from "./slack-mrkdwn.js";
export { richTextToDoc, slackMessageToDoc, hasRichText } from "./slack-rich-text.js";
export { docToMrkdwn, escapeMrkdwn, type SlackResolve } from "./slack-render.js";
export { slackEmojiToUnicode, unicodeToSlackEmoji } from "./slack-emoji.js";
export { decodeSlackEntities } from "./slack-inline.js";
