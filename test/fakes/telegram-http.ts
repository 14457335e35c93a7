// HTTP plumbing for the fake Telegram Bot API: request bodies (query string, JSON,
// x-www-form-urlencoded, multipart/form-data as grammY writes it), typed parameter access with the
// Bot API's coercions, and the error type every method throws.
import type { IncomingMessage } from "node:http";
import type { ResponseParameters } from "grammy/types";

/** An error the Bot API answers with: {ok:false, error_code, description, parameters?}. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: ResponseParameters,
  ) {
    super(description);
  }
}

export const badRequest = (what: string, parameters?: ResponseParameters): ApiError =>
  new ApiError(400, `Bad Request: ${what}`, parameters);
export const forbidden = (what: string): ApiError => new ApiError(403, `Forbidden: ${what}`);

export interface UploadedFile {
  filename: string;
  contentType: string;
  data: Buffer;
}

/** A file parameter: a fresh upload, an existing file_id, or an HTTP URL. */
export type FileParam =
  | { kind: "upload"; file: UploadedFile }
  | { kind: "id"; fileId: string }
  | { kind: "url"; url: string };

/** Request parameters with the Bot API's lenient typing (strings from forms, JSON-in-strings). */
export class Params {
  constructor(
    private readonly values: Map<string, unknown>,
    private readonly files: Map<string, UploadedFile>,
  ) {}

  has(name: string): boolean {
    const v = this.values.get(name);
    return v !== undefined && v !== null && v !== "";
  }

  raw(name: string): unknown {
    return this.values.get(name);
  }

  names(): string[] {
    return [...this.values.keys()];
  }

  str(name: string): string | undefined {
    const v = this.values.get(name);
    if (v === undefined || v === null) return undefined;
    return typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  int(name: string): number | undefined {
    const v = this.values.get(name);
    if (v === undefined || v === null || v === "") return undefined;
    const num = typeof v === "number" ? v : Number(String(v).trim());
    if (!Number.isFinite(num)) throw badRequest(`invalid ${name} specified`);
    return Math.trunc(num);
  }

  bool(name: string): boolean | undefined {
    const v = this.values.get(name);
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v === "boolean") return v;
    return v === "true" || v === "1" || v === 1;
  }

  json<T>(name: string): T | undefined {
    const v = this.values.get(name);
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") return v as T;
    try {
      return JSON.parse(v) as T;
    } catch {
      throw badRequest(`can't parse ${name} JSON object`);
    }
  }

  /** chat_id: an integer or "@channelusername". */
  chatId(name = "chat_id"): number | string {
    const v = this.values.get(name);
    if (v === undefined || v === null || v === "") throw badRequest(`${name} is empty`);
    if (typeof v === "number") return v;
    const s = String(v).trim();
    if (/^-?\d+$/.test(s)) return Number(s);
    if (s.startsWith("@")) return s;
    throw badRequest("chat not found");
  }

  file(name: string): FileParam | undefined {
    const v = this.values.get(name);
    if (typeof v === "string" && v.startsWith("attach://")) {
      const f = this.files.get(v.slice("attach://".length));
      if (!f) throw badRequest(`file ${name} not found in the request`);
      return { kind: "upload", file: f };
    }
    const direct = this.files.get(name);
    if (direct) return { kind: "upload", file: direct };
    if (typeof v !== "string" || v === "") return undefined;
    if (/^https?:\/\//i.test(v)) return { kind: "url", url: v };
    return { kind: "id", fileId: v };
  }
}

/** Reads a request body, discarding (but still consuming) everything past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<{ data: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      tooLarge = true;
      chunks.length = 0;
    }
    if (!tooLarge) chunks.push(chunk);
  }
  return { data: Buffer.concat(chunks), tooLarge };
}

function headerParams(value: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /;\s*([\w*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\r\n]*)/g;
  for (const m of value.matchAll(re)) {
    let v = m[2]!.trim();
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
    out.set(m[1]!.toLowerCase(), v);
  }
  return out;
}

/**
 * multipart/form-data, tolerant of grammY's style (`content-disposition:form-data;name="x"` with
 * no space after the colon, and an unquoted `filename=`).
 */
export function parseMultipart(body: Buffer, boundary: string): { fields: Map<string, string>; files: Map<string, UploadedFile> } {
  const fields = new Map<string, string>();
  const files = new Map<string, UploadedFile>();
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  while (pos !== -1) {
    pos += delim.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break;
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), pos);
    if (next === -1) break;
    const part = body.subarray(pos, next);
    pos = next + 2;
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd === -1) continue;
    const headers = new Map<string, string>();
    for (const line of part.subarray(0, headerEnd).toString("utf8").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headerParams(`;${(headers.get("content-disposition") ?? "").replace(/^[^;]*/, "")}`);
    const name = disposition.get("name");
    if (name === undefined) continue;
    const data = Buffer.from(part.subarray(headerEnd + 4));
    const filename = disposition.get("filename");
    if (filename !== undefined) {
      files.set(name, { filename, contentType: headers.get("content-type") ?? "application/octet-stream", data });
    } else fields.set(name, data.toString("utf8"));
  }
  return { fields, files };
}

/** Builds Params from the query string and the body, by content type. */
export function parseParams(url: URL, contentType: string | undefined, body: Buffer): Params {
  const values = new Map<string, unknown>();
  let files = new Map<string, UploadedFile>();
  for (const [k, v] of url.searchParams) values.set(k, v);
  const type = (contentType ?? "").toLowerCase();
  if (body.length > 0) {
    if (type.startsWith("application/json")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch {
        throw badRequest("can't parse JSON encoded request");
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw badRequest("request body must be a JSON object");
      }
      for (const [k, v] of Object.entries(parsed)) values.set(k, v);
    } else if (type.startsWith("application/x-www-form-urlencoded")) {
      for (const [k, v] of new URLSearchParams(body.toString("utf8"))) values.set(k, v);
    } else if (type.startsWith("multipart/form-data")) {
      const boundary = headerParams(`;${contentType!.replace(/^[^;]*/, "")}`).get("boundary");
      if (!boundary) throw badRequest("multipart boundary is missing");
      const parsed = parseMultipart(body, boundary);
      for (const [k, v] of parsed.fields) values.set(k, v);
      files = parsed.files;
    }
  }
  return new Params(values, files);
}
