// A tiny Matrix client for tests, speaking real HTTP to the fake homeserver (or any homeserver).
// Every helper goes through the client-server API so tests exercise the same code paths as the bridge.
import type { ClientEvent, JsonObject } from "./homeserver-model.js";

/** A non-2xx answer from the homeserver. */
export class MatrixHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string | undefined,
    readonly body: unknown,
    readonly method: string,
    readonly path: string,
  ) {
    super(`${method} ${path} -> ${status} ${errcode ?? ""} ${typeof body === "object" && body !== null ? String((body as JsonObject)["error"] ?? "") : String(body)}`.trim());
    this.name = "MatrixHttpError";
  }
}

export interface CreateRoomOptions {
  name?: string;
  topic?: string;
  preset?: "private_chat" | "public_chat" | "trusted_private_chat";
  visibility?: "public" | "private";
  room_alias_name?: string;
  invite?: string[];
  is_direct?: boolean;
  initial_state?: Array<{ type: string; state_key?: string; content: JsonObject }>;
  power_level_content_override?: JsonObject;
  creation_content?: JsonObject;
  room_version?: string;
  [key: string]: unknown;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** Raw body (sent as is with contentType) instead of JSON. */
  raw?: Buffer;
  contentType?: string;
  /** Send without the access token. */
  noAuth?: boolean;
}

let txnCounter = 0;
const enc = encodeURIComponent;

export class FakeMatrixClient {
  constructor(
    readonly baseUrl: string,
    readonly userId: string,
    readonly accessToken: string,
    readonly deviceId?: string,
  ) {}

  /** A fresh transaction id (unique per process). */
  static txnId(): string {
    return `t${Date.now()}.${++txnCounter}`;
  }

  async fetchRaw(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {};
    if (!opts.noAuth) headers["Authorization"] = `Bearer ${this.accessToken}`;
    let payload: string | Uint8Array | undefined;
    if (opts.raw) {
      payload = opts.raw;
      headers["Content-Type"] = opts.contentType ?? "application/octet-stream";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    return fetch(url, { method, headers, body: payload });
  }

  /** Calls any endpoint; returns the parsed JSON body or throws MatrixHttpError. */
  async request<T = JsonObject>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const res = await this.fetchRaw(method, path, body, opts);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      // keep text
    }
    if (!res.ok) {
      const errcode = typeof parsed === "object" && parsed !== null ? ((parsed as JsonObject)["errcode"] as string | undefined) : undefined;
      throw new MatrixHttpError(res.status, errcode, parsed, method, path);
    }
    return parsed as T;
  }

  whoami(): Promise<{ user_id: string; device_id?: string }> {
    return this.request("GET", "/_matrix/client/v3/account/whoami");
  }

  async createRoom(opts: CreateRoomOptions = {}): Promise<string> {
    return (await this.request<{ room_id: string }>("POST", "/_matrix/client/v3/createRoom", opts)).room_id;
  }

  async join(roomIdOrAlias: string): Promise<string> {
    return (await this.request<{ room_id: string }>("POST", `/_matrix/client/v3/join/${enc(roomIdOrAlias)}`, {})).room_id;
  }

  async invite(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: userId, ...(reason ? { reason } : {}) });
  }

  async leave(roomId: string, reason?: string): Promise<void> {
    await this.request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, reason ? { reason } : {});
  }

  async kick(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { user_id: userId, ...(reason ? { reason } : {}) });
  }

  async ban(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/ban`, { user_id: userId, ...(reason ? { reason } : {}) });
  }

  async sendEvent(roomId: string, type: string, content: JsonObject, txnId = FakeMatrixClient.txnId()): Promise<string> {
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`;
    return (await this.request<{ event_id: string }>("PUT", path, content)).event_id;
  }

  /** Sends an m.room.message; a string becomes `{msgtype: "m.text", body}`. */
  sendMessage(roomId: string, content: JsonObject | string): Promise<string> {
    return this.sendEvent(roomId, "m.room.message", typeof content === "string" ? { msgtype: "m.text", body: content } : content);
  }

  sendText(roomId: string, body: string): Promise<string> {
    return this.sendMessage(roomId, body);
  }

  sendHtml(roomId: string, body: string, html: string): Promise<string> {
    return this.sendMessage(roomId, { msgtype: "m.text", body, format: "org.matrix.custom.html", formatted_body: html });
  }

  async redact(roomId: string, eventId: string, reason?: string): Promise<string> {
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(FakeMatrixClient.txnId())}`;
    return (await this.request<{ event_id: string }>("PUT", path, reason ? { reason } : {})).event_id;
  }

  react(roomId: string, eventId: string, key: string): Promise<string> {
    return this.sendEvent(roomId, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key } });
  }

  /** An m.replace edit with the `* ` fallback body and m.new_content. */
  edit(roomId: string, eventId: string, newBody: string, newHtml?: string): Promise<string> {
    const html = newHtml !== undefined ? { format: "org.matrix.custom.html", formatted_body: newHtml } : {};
    const fallbackHtml = newHtml !== undefined ? { format: "org.matrix.custom.html", formatted_body: `* ${newHtml}` } : {};
    return this.sendEvent(roomId, "m.room.message", {
      msgtype: "m.text",
      body: `* ${newBody}`,
      ...fallbackHtml,
      "m.new_content": { msgtype: "m.text", body: newBody, ...html },
      "m.relates_to": { rel_type: "m.replace", event_id: eventId },
    });
  }

  /** A rich reply (m.in_reply_to), without the deprecated fallback quote. */
  reply(roomId: string, eventId: string, body: string, html?: string): Promise<string> {
    return this.sendEvent(roomId, "m.room.message", {
      msgtype: "m.text",
      body,
      ...(html !== undefined ? { format: "org.matrix.custom.html", formatted_body: html } : {}),
      "m.relates_to": { "m.in_reply_to": { event_id: eventId } },
    });
  }

  async setState(roomId: string, type: string, stateKey: string, content: JsonObject): Promise<string> {
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`;
    return (await this.request<{ event_id: string }>("PUT", path, content)).event_id;
  }

  getState(roomId: string, type: string, stateKey = ""): Promise<JsonObject> {
    return this.request("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`);
  }

  getEvent(roomId: string, eventId: string): Promise<ClientEvent> {
    return this.request("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
  }

  async joinedRooms(): Promise<string[]> {
    return (await this.request<{ joined_rooms: string[] }>("GET", "/_matrix/client/v3/joined_rooms")).joined_rooms;
  }

  async setDisplayName(displayname: string): Promise<void> {
    await this.request("PUT", `/_matrix/client/v3/profile/${enc(this.userId)}/displayname`, { displayname });
  }

  async setAvatarUrl(avatar_url: string): Promise<void> {
    await this.request("PUT", `/_matrix/client/v3/profile/${enc(this.userId)}/avatar_url`, { avatar_url });
  }

  async upload(data: Buffer | string, contentType = "application/octet-stream", filename?: string): Promise<string> {
    const raw = typeof data === "string" ? Buffer.from(data) : data;
    const res = await this.request<{ content_uri: string }>("POST", "/_matrix/media/v3/upload", undefined, {
      raw,
      contentType,
      query: { filename },
    });
    return res.content_uri;
  }

  /** Downloads through the authenticated v1 endpoint (or the legacy unauthenticated one). */
  async download(mxc: string, opts: { legacy?: boolean } = {}): Promise<{ data: Buffer; contentType: string | null }> {
    const m = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
    if (!m) throw new Error(`not an mxc URI: ${mxc}`);
    const path = opts.legacy
      ? `/_matrix/media/v3/download/${enc(m[1]!)}/${enc(m[2]!)}`
      : `/_matrix/client/v1/media/download/${enc(m[1]!)}/${enc(m[2]!)}`;
    const res = await this.fetchRaw("GET", path, undefined, { noAuth: opts.legacy === true });
    const data = Buffer.from(await res.arrayBuffer());
    if (!res.ok) {
      let body: unknown = data.toString("utf8");
      try {
        body = JSON.parse(body as string);
      } catch {
        // keep text
      }
      throw new MatrixHttpError(res.status, (body as JsonObject | undefined)?.["errcode"] as string | undefined, body, "GET", path);
    }
    return { data, contentType: res.headers.get("content-type") };
  }

  async sendTyping(roomId: string, typing: boolean, timeout = 30_000): Promise<void> {
    await this.request("PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(this.userId)}`, { typing, ...(typing ? { timeout } : {}) });
  }

  async sendReceipt(roomId: string, eventId: string, receiptType = "m.read"): Promise<void> {
    await this.request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${enc(receiptType)}/${enc(eventId)}`, {});
  }
}
