/**
 * Raw Matrix client-format events → MatrixInbound. Pure: no I/O. Anything malformed or
 * unknown becomes null (ignored), never an exception, so one bad event cannot block a
 * transaction.
 */
import { plainDoc, type Doc } from "../formatting/ast.js";
import { htmlToDoc } from "../formatting/html.js";
import { PUPPET_MARK, type MatrixFileInfo, type MatrixInbound } from "../core/matrix-port.js";
import type { FileKind } from "../core/types.js";

export interface RawEvent {
  type?: unknown;
  event_id?: unknown;
  room_id?: unknown;
  sender?: unknown;
  state_key?: unknown;
  origin_server_ts?: unknown;
  redacts?: unknown;
  content?: unknown;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

const FILE_KINDS: Record<string, FileKind> = { "m.image": "image", "m.video": "video", "m.audio": "audio", "m.file": "file" };

/**
 * Strip the plain-text reply fallback ("> <@user> quoted\n\n") that clients before Matrix 1.13
 * prepend to a reply. Only for replies: in any other message leading "> " lines are a quote.
 */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(">")) i++;
  if (i > 0 && i < lines.length && lines[i] === "") return lines.slice(i + 1).join("\n");
  return body;
}

/**
 * Text of a message; `isReply`: drop the plain fallback older clients put before a reply's own
 * text. The HTML one (<mx-reply>) is never shown, so the HTML parser drops it wherever it is.
 */
function docOf(content: Obj, isReply: boolean): { doc: Doc; body: string } {
  const raw = str(content.body) ?? "";
  const body = isReply ? stripReplyFallback(raw) : raw;
  const html = content.format === "org.matrix.custom.html" ? str(content.formatted_body) : undefined;
  return { doc: html !== undefined ? htmlToDoc(html) : plainDoc(body), body };
}

function fileOf(content: Obj, kind: FileKind): MatrixFileInfo | undefined {
  const url = str(content.url);
  if (!url?.startsWith("mxc://")) return undefined;
  const info = isObj(content.info) ? content.info : {};
  return {
    mxc: url, kind,
    name: [content.filename, content.body].map(str).find((n) => n !== undefined && n.trim() !== "") ?? "file",
    mime: str(info.mimetype) ?? "application/octet-stream",
    size: num(info.size), width: num(info.w), height: num(info.h),
  };
}

export function parseMatrixEvent(ev: RawEvent): MatrixInbound | null {
  // A transaction's `events` is untrusted JSON: an entry may be null, a string or a list.
  if (!isObj(ev)) return null;
  const type = str(ev.type);
  const roomId = str(ev.room_id);
  const eventId = str(ev.event_id);
  const sender = str(ev.sender);
  const content = isObj(ev.content) ? ev.content : undefined;
  if (!type || !roomId || !eventId || !sender || !content) return null;
  const base = {
    roomId, eventId, sender, ts: num(ev.origin_server_ts) ?? Date.now(),
    ...(content[PUPPET_MARK] !== undefined ? { puppeted: true } : {}),
  };
  const rel = isObj(content["m.relates_to"]) ? content["m.relates_to"] : undefined;

  switch (type) {
    case "m.room.message":
    case "m.sticker": {
      if (rel?.rel_type === "m.replace" && str(rel.event_id)) {
        const nc = isObj(content["m.new_content"]) ? content["m.new_content"] : content;
        return { ...base, kind: "edit", target: str(rel.event_id)!, ...docOf(nc, false) }; // m.new_content never has a fallback
      }
      const replyObj = rel && isObj(rel["m.in_reply_to"]) ? rel["m.in_reply_to"] : undefined;
      const isThread = rel?.rel_type === "m.thread" && !!str(rel.event_id);
      const threadRoot = isThread ? str(rel!.event_id) : undefined;
      // In a thread, a "falling back" in_reply_to only points at the latest thread event.
      const replyTo = replyObj && !(isThread && rel!.is_falling_back === true) ? str(replyObj.event_id) : undefined;
      const msgtype = type === "m.sticker" ? "m.image" : str(content.msgtype);
      if (msgtype === "m.text" || msgtype === "m.notice" || msgtype === "m.emote") {
        return { ...base, kind: "message", msgtype: msgtype.slice(2) as "text" | "notice" | "emote", replyTo, threadRoot, ...docOf(content, replyTo !== undefined) };
      }
      let kind = msgtype && Object.hasOwn(FILE_KINDS, msgtype) ? FILE_KINDS[msgtype] : undefined; // not "constructor"
      // Element's voice messages are m.audio with the MSC3245 marker.
      if (kind === "audio" && isObj(content["org.matrix.msc3245.voice"])) kind = "voice";
      if (kind) {
        const file = fileOf(content, type === "m.sticker" ? "sticker" : kind);
        if (!file) return null;
        const caption = str(content.filename) && str(content.body) !== str(content.filename) ? (str(content.body) ?? "") : "";
        return { ...base, kind: "message", msgtype: "file", doc: caption ? plainDoc(caption) : [], body: caption, replyTo, threadRoot, file };
      }
      return null;
    }
    case "m.reaction": {
      if (rel?.rel_type !== "m.annotation" || !str(rel.event_id) || !str(rel.key)) return null;
      return { ...base, kind: "reaction", target: str(rel.event_id)!, key: str(rel.key)! };
    }
    case "m.room.redaction": {
      const target = str(ev.redacts) ?? str(content.redacts);
      return target ? { ...base, kind: "redaction", target } : null;
    }
    case "m.room.member": {
      const target = str(ev.state_key);
      const membership = str(content.membership);
      if (!target || !membership) return null;
      if (membership === "invite") return { ...base, kind: "invite", target, isDirect: content.is_direct === true };
      return { ...base, kind: "membership", target, membership };
    }
    case "m.room.tombstone": {
      // Only the state event (state_key ""), naming a room id: the room was upgraded into it.
      const replacement = str(content.replacement_room);
      if (ev.state_key !== "" || !replacement?.startsWith("!")) return null;
      return { ...base, kind: "tombstone", replacement };
    }
    default:
      return null;
  }
}
