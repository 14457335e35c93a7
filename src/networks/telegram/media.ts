/**
 * Telegram media (photo, document, video, audio, voice, video note, sticker, animation) → FileRef,
 * and the non-file content we show as text (location, venue, contact, poll, dice). Pure.
 */
import type { Message, PhotoSize } from "grammy/types";
import type { Block, Doc, Inline } from "../../formatting/ast.js";
import { plainDoc } from "../../formatting/ast.js";
import type { FileRef } from "../../core/types.js";
import { messageLink } from "./ids.js";

/** The largest PhotoSize: most pixels, then biggest file. */
export function largestPhoto(sizes: readonly PhotoSize[]): PhotoSize | undefined {
  let best: PhotoSize | undefined;
  for (const s of sizes) {
    if (!best) { best = s; continue; }
    const a = (s.width ?? 0) * (s.height ?? 0);
    const b = (best.width ?? 0) * (best.height ?? 0);
    if (a > b || (a === b && (s.file_size ?? 0) > (best.file_size ?? 0))) best = s;
  }
  return best;
}

const seconds = (d: unknown): number | undefined => (typeof d === "number" && d > 0 ? d * 1000 : undefined);
const positive = (n: unknown): number | undefined => (typeof n === "number" && n > 0 ? n : undefined);

/** Only the fields that are set, so FileRefs compare cleanly in tests and JSON. */
function fileRef(f: FileRef): FileRef {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) if (v !== undefined) out[k] = v;
  return out as unknown as FileRef;
}

/**
 * The files a message carries (Telegram sends at most one per message; an album is several
 * messages). `caption` is attached to the file. The link lets a "too large" notice point at the
 * message where Telegram has one.
 */
export function filesOf(msg: Message, caption: Doc | undefined): FileRef[] {
  const chat = msg.chat;
  const link = messageLink(chat.id, msg.message_id, "username" in chat ? chat.username : undefined);
  const common = { caption: caption && caption.length > 0 ? caption : undefined, link };
  if (msg.photo && msg.photo.length > 0) {
    const p = largestPhoto(msg.photo)!;
    return [fileRef({
      ...common, id: p.file_id, name: `photo_${p.file_unique_id}.jpg`, mime: "image/jpeg", kind: "image",
      size: p.file_size, width: positive(p.width), height: positive(p.height),
    })];
  }
  if (msg.animation) {
    const a = msg.animation; // Telegram also sets `document` for animations: this one wins
    return [fileRef({
      ...common, id: a.file_id, name: a.file_name || "animation.mp4", mime: a.mime_type || "video/mp4", kind: "video",
      size: a.file_size, width: positive(a.width), height: positive(a.height), durationMs: seconds(a.duration),
    })];
  }
  if (msg.video) {
    const v = msg.video;
    return [fileRef({
      ...common, id: v.file_id, name: v.file_name || "video.mp4", mime: v.mime_type || "video/mp4", kind: "video",
      size: v.file_size, width: positive(v.width), height: positive(v.height), durationMs: seconds(v.duration),
    })];
  }
  if (msg.video_note) {
    const v = msg.video_note;
    return [fileRef({
      ...common, id: v.file_id, name: "video_note.mp4", mime: "video/mp4", kind: "video",
      size: v.file_size, width: positive(v.length), height: positive(v.length), durationMs: seconds(v.duration),
    })];
  }
  if (msg.voice) {
    const v = msg.voice;
    return [fileRef({
      ...common, id: v.file_id, name: "voice.ogg", mime: v.mime_type || "audio/ogg", kind: "voice",
      size: v.file_size, durationMs: seconds(v.duration),
    })];
  }
  if (msg.audio) {
    const a = msg.audio;
    const titled = [a.performer, a.title].filter(Boolean).join(" - ");
    return [fileRef({
      ...common, id: a.file_id, name: a.file_name || (titled ? `${titled}.mp3` : "audio.mp3"), mime: a.mime_type || "audio/mpeg",
      kind: "audio", size: a.file_size, durationMs: seconds(a.duration),
    })];
  }
  if (msg.sticker) {
    const s = msg.sticker;
    // The sticker's emoji is its text, for clients that do not show images.
    const emoji = s.emoji ? plainDoc(s.emoji) : undefined;
    const base = { ...common, caption: common.caption ?? emoji, id: s.file_id, size: s.file_size };
    if (s.is_animated) return [fileRef({ ...base, name: "sticker.tgs", mime: "application/x-tgsticker", kind: "file" })];
    if (s.is_video) {
      return [fileRef({ ...base, name: "sticker.webm", mime: "video/webm", kind: "video", width: positive(s.width), height: positive(s.height) })];
    }
    return [fileRef({ ...base, name: "sticker.webp", mime: "image/webp", kind: "sticker", width: positive(s.width), height: positive(s.height) })];
  }
  if (msg.document) {
    const d = msg.document;
    return [fileRef({ ...common, id: d.file_id, name: d.file_name || "file", mime: d.mime_type || "application/octet-stream", kind: "file", size: d.file_size })];
  }
  return [];
}

const para = (...children: Inline[]): Block => ({ type: "paragraph", children });
const txt = (text: string): Inline => ({ type: "text", text });
const link = (url: string, text: string): Inline => ({ type: "link", url, children: [txt(text)] });

function mapLink(lat: number, lon: number): string {
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
}

/** Content without a Matrix equivalent, as text. Null when the message has none of it. */
export function textContentOf(msg: Message): Doc | null {
  if (msg.venue) {
    const v = msg.venue;
    const { latitude: lat, longitude: lon } = v.location;
    return [para(txt(`📍 ${v.title}${v.address ? `, ${v.address}` : ""} (`), link(mapLink(lat, lon), `${lat}, ${lon}`), txt(")"))];
  }
  if (msg.location) {
    const { latitude: lat, longitude: lon } = msg.location;
    return [para(txt("📍 Location: "), link(mapLink(lat, lon), `${lat}, ${lon}`))];
  }
  if (msg.contact) {
    const c = msg.contact;
    const name = [c.first_name, c.last_name].filter(Boolean).join(" ");
    return [para(txt(`👤 Contact: ${name}${c.phone_number ? `, ${c.phone_number}` : ""}`))];
  }
  if (msg.poll) {
    const p = msg.poll;
    return [
      para(txt(`📊 Poll: ${p.question}`)),
      { type: "list", ordered: false, items: p.options.map((o) => [para(txt(o.text))]) },
    ];
  }
  if (msg.dice) return [para(txt(`${msg.dice.emoji} rolled ${msg.dice.value}`))];
  return null;
}
