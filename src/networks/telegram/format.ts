/**
 * OutboundMessage → Telegram HTML (pure). A Matrix user's message is posted by the bot as
 * "<b>Name</b>: text" ("<b>Name</b> (Slack): text" when relayed from another network, "* Name
 * text" for an emote), split into parts of at most 4,096 visible characters; files carry the
 * sender's name in their caption (at most 1,024 characters).
 *
 * Mentions: a pill of a Telegram ghost arrives as a remote mention with our UserRef and becomes
 * <a href="tg://user?id=N">Name</a>; anyone else (real Matrix users, other networks' ghosts) is
 * written as their plain display name.
 */
import type { Doc, Inline } from "../../formatting/ast.js";
import { mapInlines, normalizeDoc } from "../../formatting/ast.js";
import { splitTelegramHtml, TELEGRAM_MAX_TEXT, type TelegramResolve } from "../../formatting/telegram.js";
import type { OutboundFile, OutboundMessage, OutboundSender } from "../../core/connector.js";

export const CAPTION_LIMIT = 1024;

const resolve: TelegramResolve = {
  mention(target) {
    if (target.kind === "remote" && target.network === "telegram" && /^\d+$/.test(target.id)) return `tg://user?id=${target.id}`;
    return null;
  },
};

/** Mentions Telegram cannot link become the person's name as plain text. */
export function plainMentions(doc: Doc): Doc {
  return mapInlines(doc, (n) => {
    if (n.type !== "mention") return undefined;
    if (n.target.kind === "remote" && n.target.network === "telegram" && /^\d+$/.test(n.target.id)) return undefined;
    return { type: "text", text: n.text.replace(/^@/, "") };
  });
}

function senderLabel(sender: OutboundSender): string {
  return sender.via ? `${sender.name} (${sender.via})` : sender.name;
}

/**
 * The doc with the sender in front: "<b>Name</b>: " inside the first paragraph, or a paragraph of
 * its own before a code block, quote or list. An empty doc gives just the name (for captions).
 */
export function withSender(doc: Doc, sender: OutboundSender, emote = false): Doc {
  return normalizeDoc(prefixed(doc, sender, emote));
}

function prefixed(doc: Doc, sender: OutboundSender, emote: boolean): Doc {
  const head: Inline[] = emote
    ? [{ type: "text", text: `* ${sender.name}${sender.via ? ` (${sender.via})` : ""} ` }]
    : [{ type: "bold", children: [{ type: "text", text: sender.name }] }, ...(sender.via ? [{ type: "text" as const, text: ` (${sender.via})` }] : [])];
  if (doc.length === 0) {
    return [{ type: "paragraph", children: emote ? [{ type: "text", text: `* ${senderLabel(sender)}` }] : head }];
  }
  const [first, ...rest] = doc;
  if (first!.type === "paragraph") {
    const sep: Inline[] = emote ? [] : [{ type: "text", text: ": " }];
    return [{ type: "paragraph", children: [...head, ...sep, ...first!.children] }, ...rest];
  }
  const colon: Inline[] = emote ? [] : [{ type: "text", text: ":" }];
  return [{ type: "paragraph", children: [...head, ...colon] }, ...doc];
}

/** The message as HTML parts, each within Telegram's limit, in order. Empty when there is no text. */
export function renderText(msg: Pick<OutboundMessage, "doc" | "sender" | "emote">, limit = TELEGRAM_MAX_TEXT): string[] {
  if (msg.doc.length === 0) return [];
  return splitTelegramHtml(withSender(plainMentions(msg.doc), msg.sender, msg.emote), limit, resolve);
}

/**
 * How a message with files goes out: the text as a caption of the first file when it fits,
 * else as text message(s) first and the files captioned with the sender's name only.
 */
export function planMessage(msg: OutboundMessage): { texts: string[]; captions: string[] } {
  const files = msg.files ?? [];
  const nameOnly = () => splitTelegramHtml(withSender([], msg.sender, msg.emote), CAPTION_LIMIT, resolve)[0] ?? "";
  if (files.length === 0) return { texts: renderText(msg), captions: [] };
  const asCaption = msg.doc.length > 0 ? renderText(msg, CAPTION_LIMIT) : [nameOnly()];
  if (asCaption.length <= 1) {
    return { texts: [], captions: files.map((_, i) => (i === 0 ? asCaption[0] ?? nameOnly() : nameOnly())) };
  }
  return { texts: renderText(msg), captions: files.map(() => nameOnly()) };
}

export type SendMethod = "sendPhoto" | "sendAnimation" | "sendVideo" | "sendAudio" | "sendVoice" | "sendDocument";

const PHOTO_MIMES = new Set(["image/jpeg", "image/png", "image/webp"]);
const PHOTO_MAX = 10 * 1024 * 1024;

/**
 * The Bot API method for a file: photos (JPEG/PNG/WebP up to 10 MB) with sendPhoto, GIFs with
 * sendAnimation, MP4 with sendVideo, Ogg/Opus and voice messages with sendVoice, MP3/M4A with
 * sendAudio; anything else as a document, which Telegram accepts in any format.
 */
export function methodFor(file: Pick<OutboundFile, "kind" | "mime" | "data">): SendMethod {
  const mime = file.mime.toLowerCase().split(";")[0]!.trim();
  switch (file.kind) {
    case "image": case "sticker":
      if (mime === "image/gif") return "sendAnimation";
      return PHOTO_MIMES.has(mime) && file.data.length <= PHOTO_MAX ? "sendPhoto" : "sendDocument";
    case "video":
      return mime === "video/mp4" ? "sendVideo" : "sendDocument";
    case "voice":
      return "sendVoice";
    case "audio":
      if (mime === "audio/ogg" || mime === "audio/opus") return "sendVoice";
      return mime === "audio/mpeg" || mime === "audio/mp3" || mime === "audio/mp4" || mime === "audio/x-m4a" ? "sendAudio" : "sendDocument";
    default:
      return "sendDocument";
  }
}

/** The field the file goes in for a method ("photo" for sendPhoto, …). */
export function fieldFor(method: SendMethod): "photo" | "animation" | "video" | "audio" | "voice" | "document" {
  return ({ sendPhoto: "photo", sendAnimation: "animation", sendVideo: "video", sendAudio: "audio", sendVoice: "voice", sendDocument: "document" } as const)[method];
}
