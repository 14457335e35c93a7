/**
 * The Matrix content of a remote file, one shape for the live relay (remote-inbound.ts) and the
 * history import (history-import/writer.ts), so an imported file looks like a relayed one.
 */
import type { FileRef } from "./types.js";

const MSGTYPE_FOR_FILE: Record<FileRef["kind"], string> = {
  image: "m.image", sticker: "m.image", video: "m.video", audio: "m.audio", voice: "m.audio", file: "m.file",
};

/** An uploaded file's event: `body` is its caption when it has one (a Telegram file has no text part), else its name. */
export function uploadedFileContent(file: FileRef, upload: { url: string; mime: string; size: number }, body?: string): Record<string, unknown> {
  const info: Record<string, unknown> = { mimetype: upload.mime, size: upload.size };
  if (file.width) info.w = file.width;
  if (file.height) info.h = file.height;
  if (file.durationMs) info.duration = file.durationMs;
  const content: Record<string, unknown> = { msgtype: MSGTYPE_FOR_FILE[file.kind], body: body ?? file.name, filename: file.name, url: upload.url, info };
  if (file.kind === "voice") {
    content["org.matrix.msc3245.voice"] = {};
    content["org.matrix.msc1767.audio"] = { duration: file.durationMs ?? 0 };
  }
  return content;
}

/** The notice for a file over the size limit: its name, size when known, and link. */
export function tooLargeNotice(file: FileRef, size = file.size): Record<string, unknown> {
  return { msgtype: "m.notice", body: `File ${file.name}${size ? ` (${(size / 1048576).toFixed(1)} MB)` : ""} is too large to bridge${file.link ? `: ${file.link}` : ""}` };
}
