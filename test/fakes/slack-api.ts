// Fake Slack: Web API methods (POST/GET /api/<method>), with Slack's error codes and scope checks.
import {
  type Conversation, type Json, type SlackMessage, type Team, type TokenRecord, clone, decodeCursor,
  encodeCursor, jsonParam, nowSec, truthy, tsCompare, wireMessage,
} from "./slack-model.js";
import { type SlackStore, channelType } from "./slack-state.js";

export class ApiError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Json = {},
  ) {
    super(error);
  }
}

export interface ApiContext {
  store: SlackStore;
  team: Team;
  token: TokenRecord;
  params: Json;
  /** Scopes this call needed (x-accepted-oauth-scopes). */
  accepted: string[];
  wsUrl: string;
  echoLeadMs: number;
}

interface MethodDef {
  /** Which token kinds may call it (default: bot only). */
  tokens?: ("bot" | "app")[];
  /** Scope checked before the handler (handlers check channel-type scopes themselves). */
  scope?: string;
  run(ctx: ApiContext): Json | Promise<Json>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function need(ctx: ApiContext, scope: string): void {
  ctx.accepted.push(scope);
  if (!ctx.token.scopes.has(scope)) {
    throw new ApiError("missing_scope", { needed: scope, provided: [...ctx.token.scopes].join(",") });
  }
}

const str = (ctx: ApiContext, name: string): string | undefined => {
  const v = ctx.params[name];
  return v === undefined || v === null || v === "" ? undefined : String(v);
};
const int = (ctx: ApiContext, name: string, dflt: number): number => {
  const v = Number(ctx.params[name]);
  return Number.isFinite(v) && ctx.params[name] !== "" && ctx.params[name] !== undefined ? Math.trunc(v) : dflt;
};

const READ_SCOPE = { channel: "channels:read", private: "groups:read", im: "im:read", mpim: "mpim:read" } as const;
const HISTORY_SCOPE = { channel: "channels:history", private: "groups:history", im: "im:history", mpim: "mpim:history" } as const;

/** A conversation the bot can see: public channels always; private/im/mpim only as a member. */
function visibleConv(ctx: ApiContext, param = "channel", allowUser = false): Conversation {
  const id = str(ctx, param);
  if (!id) throw new ApiError("channel_not_found");
  let c = ctx.team.channels.get(id);
  if (!c && allowUser && /^[UW]/.test(id) && ctx.team.users.has(id)) c = ctx.store.imWith(ctx.team, id);
  if (!c && allowUser) {
    const name = id.replace(/^#/, "");
    c = [...ctx.team.channels.values()].find((x) => x.name === name && x.kind !== "im");
  }
  if (!c) throw new ApiError("channel_not_found");
  if (c.kind !== "channel" && !ctx.store.isBotMember(ctx.team, c)) throw new ApiError("channel_not_found");
  return c;
}

function page<T>(ctx: ApiContext, items: T[], dfltLimit: number, maxLimit: number): { items: T[]; next: string } {
  const offset = decodeCursor(ctx.params.cursor);
  if (offset === undefined) throw new ApiError("invalid_cursor");
  let limit = int(ctx, "limit", dfltLimit);
  if (limit <= 0) limit = dfltLimit;
  limit = Math.min(limit, maxLimit);
  const slice = items.slice(offset, offset + limit);
  return { items: slice, next: offset + limit < items.length ? encodeCursor(offset + limit) : "" };
}

function requireMessage(c: Conversation, ts: string | undefined): SlackMessage {
  const m = ts ? c.messages.find((x) => x.ts === ts) : undefined;
  if (!m) throw new ApiError("message_not_found");
  return m;
}

function checkText(text: string | undefined): void {
  if (text !== undefined && text.length > 40_000) throw new ApiError("msg_too_long");
}

function parseBlocks(ctx: ApiContext): Json[] | undefined {
  const b = jsonParam<Json[]>(ctx.params.blocks);
  if (b === "invalid" || (b !== undefined && !Array.isArray(b))) throw new ApiError("invalid_blocks");
  return b;
}

function parseMetadata(ctx: ApiContext): SlackMessage["metadata"] | undefined {
  const md = jsonParam<Json>(ctx.params.metadata);
  if (md === undefined) return undefined;
  if (md === "invalid" || typeof md !== "object" || typeof md.event_type !== "string" || typeof md.event_payload !== "object") {
    throw new ApiError("invalid_metadata_format");
  }
  return { event_type: md.event_type, event_payload: md.event_payload as Json };
}

/** Shared checks for writing into a conversation as the bot. */
function writableConv(ctx: ApiContext, param = "channel"): Conversation {
  const c = visibleConv(ctx, param, true);
  if (c.archived) throw new ApiError("is_archived");
  if (!ctx.store.isBotMember(ctx.team, c) && !ctx.token.scopes.has("chat:write.public")) throw new ApiError("not_in_channel");
  return c;
}

function botProfile(ctx: ApiContext): Json {
  const bot = ctx.team.users.get(ctx.team.botUserId)!;
  return {
    id: ctx.team.botId, deleted: false, name: ctx.team.botName, updated: bot.updated, app_id: ctx.team.appId,
    icons: { image_36: bot.profile.image_24, image_48: bot.profile.image_48, image_72: bot.profile.image_72 },
    team_id: ctx.team.id,
  };
}

async function respondAfterEcho(ctx: ApiContext, delivered: Promise<void>, body: Json): Promise<Json> {
  await delivered;
  if (ctx.echoLeadMs > 0) await sleep(ctx.echoLeadMs);
  return body;
}

const historyOf = (c: Conversation): SlackMessage[] =>
  c.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts || m.subtype === "thread_broadcast");

function window(ctx: ApiContext, msgs: SlackMessage[]): SlackMessage[] {
  const latest = str(ctx, "latest");
  const oldest = str(ctx, "oldest") ?? "0";
  const inclusive = truthy(ctx.params.inclusive);
  return msgs.filter((m) => {
    const lo = tsCompare(m.ts, oldest);
    const hi = latest ? tsCompare(m.ts, latest) : -1;
    return (inclusive ? lo >= 0 : lo > 0) && (inclusive ? hi <= 0 : hi < 0);
  });
}

export const METHODS: Record<string, MethodDef> = {
  "api.test": { tokens: ["bot", "app"], run: (ctx) => ({ args: ctx.params }) },

  "auth.test": {
    run: (ctx) => ({
      url: `https://${ctx.team.domain}.slack.com/`, team: ctx.team.name, user: ctx.team.botName, team_id: ctx.team.id,
      user_id: ctx.team.botUserId, bot_id: ctx.team.botId, is_enterprise_install: false,
    }),
  },

  "apps.connections.open": {
    tokens: ["app"],
    scope: "connections:write",
    run: (ctx) => ({ url: `${ctx.wsUrl}/link/?ticket=${ctx.store.newTicket(ctx.team.id)}&app_id=${ctx.team.appId}` }),
  },

  "team.info": {
    scope: "team:read",
    run: (ctx) => ({
      team: {
        id: ctx.team.id, name: ctx.team.name, url: `https://${ctx.team.domain}.slack.com/`, domain: ctx.team.domain,
        email_domain: "", icon: { image_default: true, image_34: "", image_44: "", image_68: "", image_88: "", image_102: "", image_132: "", image_230: "" },
        avatar_base_url: "https://ca.slack-edge.com/", is_verified: false,
      },
    }),
  },

  "users.info": {
    scope: "users:read",
    run: (ctx) => {
      const u = ctx.team.users.get(str(ctx, "user") ?? "");
      if (!u) throw new ApiError("user_not_found");
      return { user: clone(u) };
    },
  },

  "users.list": {
    scope: "users:read",
    run: (ctx) => {
      const all = [...ctx.team.users.values()];
      const p = page(ctx, all, all.length || 1, 1000);
      return { members: p.items.map((u) => clone(u)), cache_ts: nowSec(), response_metadata: { next_cursor: p.next } };
    },
  },

  "bots.info": {
    scope: "users:read",
    run: (ctx) => {
      const id = str(ctx, "bot");
      const u = [...ctx.team.users.values()].find((x) => x.is_bot && x.profile.bot_id === id);
      if (!u) throw new ApiError("bot_not_found");
      return {
        bot: {
          id, deleted: u.deleted, name: u.name, updated: u.updated, app_id: u.profile.api_app_id ?? "", user_id: u.id,
          icons: { image_36: u.profile.image_24, image_48: u.profile.image_48, image_72: u.profile.image_72 },
        },
      };
    },
  },

  "conversations.list": {
    run: (ctx) => {
      const types = (str(ctx, "types") ?? "public_channel").split(",").map((t) => t.trim());
      const kinds = new Set<Conversation["kind"]>();
      for (const t of types) {
        const kind = ({ public_channel: "channel", private_channel: "private", im: "im", mpim: "mpim" } as const)[t as "im"];
        if (!kind) throw new ApiError("invalid_types");
        need(ctx, READ_SCOPE[kind]);
        kinds.add(kind);
      }
      const excludeArchived = truthy(ctx.params.exclude_archived);
      const list = [...ctx.team.channels.values()].filter(
        (c) => kinds.has(c.kind) && (c.kind === "channel" || ctx.store.isBotMember(ctx.team, c)) && !(excludeArchived && c.archived),
      );
      const p = page(ctx, list, 100, 1000);
      return { channels: p.items.map((c) => ctx.store.conversationJson(ctx.team, c, { numMembers: true })), response_metadata: { next_cursor: p.next } };
    },
  },

  "conversations.info": {
    run: (ctx) => {
      const c = visibleConv(ctx);
      need(ctx, READ_SCOPE[c.kind]);
      return { channel: ctx.store.conversationJson(ctx.team, c, { numMembers: truthy(ctx.params.include_num_members) }) };
    },
  },

  "conversations.members": {
    run: (ctx) => {
      const c = visibleConv(ctx);
      need(ctx, READ_SCOPE[c.kind]);
      const p = page(ctx, [...c.members], 100, 1000);
      return { members: p.items, response_metadata: { next_cursor: p.next } };
    },
  },

  "conversations.history": {
    run: (ctx) => {
      const c = visibleConv(ctx);
      need(ctx, HISTORY_SCOPE[c.kind]);
      if (!ctx.store.isBotMember(ctx.team, c)) throw new ApiError("not_in_channel");
      const msgs = window(ctx, historyOf(c)).reverse();
      const p = page(ctx, msgs, 100, 999);
      const metadata = truthy(ctx.params.include_all_metadata);
      const body: Json = { messages: p.items.map((m) => wireMessage(m, { metadata })), has_more: p.next !== "", pin_count: 0, channel_actions_ts: null, channel_actions_count: 0 };
      if (p.next) body.response_metadata = { next_cursor: p.next };
      return body;
    },
  },

  "conversations.replies": {
    run: (ctx) => {
      const c = visibleConv(ctx);
      need(ctx, HISTORY_SCOPE[c.kind]);
      if (!ctx.store.isBotMember(ctx.team, c)) throw new ApiError("not_in_channel");
      const ts = str(ctx, "ts");
      const parent = ts ? c.messages.find((m) => m.ts === ts) : undefined;
      if (!parent) throw new ApiError("thread_not_found");
      const root = parent.thread_ts && parent.thread_ts !== parent.ts ? parent.thread_ts : parent.ts;
      const thread = c.messages.filter((m) => m.ts === root || m.thread_ts === root);
      const p = page(ctx, window(ctx, thread), 1000, 1000);
      const metadata = truthy(ctx.params.include_all_metadata);
      const body: Json = { messages: p.items.map((m) => wireMessage(m, { metadata })), has_more: p.next !== "" };
      if (p.next) body.response_metadata = { next_cursor: p.next };
      return body;
    },
  },

  "conversations.join": {
    scope: "channels:join",
    run: (ctx) => {
      const c = visibleConv(ctx);
      if (c.kind !== "channel") throw new ApiError("method_not_supported_for_channel_type");
      if (c.archived) throw new ApiError("is_archived");
      if (ctx.store.isBotMember(ctx.team, c)) {
        return { channel: ctx.store.conversationJson(ctx.team, c), warning: "already_in_channel", response_metadata: { warnings: ["already_in_channel"] } };
      }
      ctx.store.join(c, ctx.team.botUserId);
      return { channel: ctx.store.conversationJson(ctx.team, c) };
    },
  },

  "conversations.open": {
    scope: "im:write",
    run: (ctx) => {
      const users = (str(ctx, "users") ?? "").split(",").filter(Boolean);
      if (users.length !== 1) throw new ApiError(users.length === 0 ? "users_list_not_supplied" : "not_implemented_in_fake");
      if (!ctx.team.users.has(users[0]!)) throw new ApiError("user_not_found");
      const c = ctx.store.imWith(ctx.team, users[0]!);
      return { channel: truthy(ctx.params.return_im) ? ctx.store.conversationJson(ctx.team, c) : { id: c.id } };
    },
  },

  "chat.postMessage": {
    scope: "chat:write",
    run: async (ctx) => {
      const text = str(ctx, "text");
      const blocks = parseBlocks(ctx);
      const attachments = jsonParam<Json[]>(ctx.params.attachments);
      if (attachments === "invalid") throw new ApiError("invalid_attachments");
      const c = writableConv(ctx);
      if (text === undefined && !blocks?.length && !attachments?.length) throw new ApiError("no_text");
      checkText(text);
      const metadata = parseMetadata(ctx);
      const m: SlackMessage = {
        user: ctx.team.botUserId, type: "message", ts: ctx.store.clock.next(), bot_id: ctx.team.botId,
        app_id: ctx.team.appId, text: text ?? "", team: ctx.team.id, bot_profile: botProfile(ctx),
      };
      if (blocks) m.blocks = blocks;
      if (attachments) m.attachments = attachments;
      const request: Json = {};
      for (const k of ["username", "icon_url", "icon_emoji", "unfurl_links", "unfurl_media", "mrkdwn", "parse", "link_names", "reply_broadcast", "as_user"]) {
        if (ctx.params[k] !== undefined) request[k] = ctx.params[k];
      }
      m._request = request;
      // Without chat:write.customize Slack silently ignores username/icon_* (no error).
      if (ctx.token.scopes.has("chat:write.customize")) {
        const username = str(ctx, "username");
        const iconUrl = str(ctx, "icon_url");
        const iconEmoji = str(ctx, "icon_emoji");
        if (username || iconUrl || iconEmoji) {
          m.subtype = "bot_message";
          if (username) m.username = username;
          if (iconUrl || iconEmoji) m.icons = iconEmoji ? { emoji: iconEmoji } : { image_48: iconUrl };
        }
      }
      const threadTs = str(ctx, "thread_ts");
      if (threadTs) {
        const target = c.messages.find((x) => x.ts === threadTs);
        m.thread_ts = target?.thread_ts && target.thread_ts !== target.ts ? target.thread_ts : threadTs;
        if (truthy(ctx.params.reply_broadcast)) m.subtype = "thread_broadcast";
      }
      if (metadata) m.metadata = metadata;
      const delivered = ctx.store.append(c, m);
      return respondAfterEcho(ctx, delivered, { channel: c.id, ts: m.ts, message: wireMessage(m, { metadata: true }) });
    },
  },

  "chat.update": {
    scope: "chat:write",
    run: (ctx) => {
      const c = visibleConv(ctx);
      if (c.archived) throw new ApiError("is_archived");
      const m = requireMessage(c, str(ctx, "ts"));
      if (m.bot_id !== ctx.team.botId) throw new ApiError("cant_update_message");
      const text = str(ctx, "text");
      const blocks = parseBlocks(ctx);
      if (text === undefined && blocks === undefined) throw new ApiError("no_text");
      checkText(text);
      const metadata = parseMetadata(ctx);
      const patch: Partial<SlackMessage> = { text: text ?? "" };
      if (blocks !== undefined) patch.blocks = blocks;
      else if (m.blocks) patch.blocks = undefined;
      if (metadata) patch.metadata = metadata;
      const { message: updated, delivered } = ctx.store.edit(c, m.ts, patch, ctx.team.botUserId);
      return respondAfterEcho(ctx, delivered, { channel: c.id, ts: m.ts, text: updated.text, message: wireMessage(updated, { metadata: true }) });
    },
  },

  "chat.delete": {
    scope: "chat:write",
    run: (ctx) => {
      const c = visibleConv(ctx);
      const m = requireMessage(c, str(ctx, "ts"));
      if (m.bot_id !== ctx.team.botId) throw new ApiError("cant_delete_message");
      return respondAfterEcho(ctx, ctx.store.remove(c, m.ts), { channel: c.id, ts: m.ts });
    },
  },

  "chat.getPermalink": {
    run: (ctx) => {
      const c = visibleConv(ctx);
      const m = requireMessage(c, str(ctx, "message_ts"));
      let permalink = `https://${ctx.team.domain}.slack.com/archives/${c.id}/p${m.ts.replace(".", "")}`;
      if (m.thread_ts && m.thread_ts !== m.ts) permalink += `?thread_ts=${m.thread_ts}&cid=${c.id}`;
      return { channel: c.id, permalink };
    },
  },

  "reactions.add": {
    scope: "reactions:write",
    run: (ctx) => react(ctx, true),
  },
  "reactions.remove": {
    scope: "reactions:write",
    run: (ctx) => react(ctx, false),
  },
  "reactions.get": {
    scope: "reactions:read",
    run: (ctx) => {
      const c = visibleConv(ctx);
      const m = requireMessage(c, str(ctx, "timestamp"));
      return { type: "message", channel: c.id, message: wireMessage(m) };
    },
  },

  "files.getUploadURLExternal": {
    scope: "files:write",
    run: (ctx) => {
      const filename = str(ctx, "filename");
      const length = int(ctx, "length", -1);
      if (!filename || length < 0) throw new ApiError("invalid_arguments");
      const f = ctx.store.createFile(ctx.team, ctx.team.botUserId, { name: filename, data: Buffer.alloc(0) }, false);
      f.uploaded = false;
      f.declaredLength = length;
      f.uploadKey = `${ctx.team.id}-${f.id}-${Math.random().toString(36).slice(2)}`;
      ctx.store.uploads.set(f.uploadKey, f.id);
      return { upload_url: `${ctx.store.baseUrl()}/upload/v1/${f.uploadKey}`, file_id: f.id };
    },
  },

  "files.completeUploadExternal": {
    scope: "files:write",
    run: async (ctx) => {
      const list = jsonParam<{ id?: string; title?: string }[]>(ctx.params.files);
      if (list === undefined || list === "invalid" || !Array.isArray(list) || list.length === 0) throw new ApiError("invalid_arguments");
      const files = list.map((entry) => {
        const f = entry.id ? ctx.store.files.get(entry.id) : undefined;
        if (!f || f.teamId !== ctx.team.id || f.user !== ctx.team.botUserId) throw new ApiError("file_not_found");
        if (!f.uploaded) throw new ApiError("file_upload_not_found");
        if (f.declaredLength !== undefined && f.declaredLength !== f.size) throw new ApiError("file_upload_size_mismatch");
        return { f, title: entry.title };
      });
      const channelId = str(ctx, "channel_id") ?? str(ctx, "channels")?.split(",")[0];
      const c = channelId ? writableConv({ ...ctx, params: { channel: channelId } }) : undefined;
      const comment = str(ctx, "initial_comment");
      checkText(comment);
      for (const { f, title } of files) {
        if (title) f.title = title;
        f.completed = true;
      }
      let delivered: Promise<void> = Promise.resolve();
      if (c) {
        const m: SlackMessage = {
          type: "message", subtype: "file_share", text: comment ?? "", files: files.map(({ f }) => ctx.store.fileJson(f)),
          upload: true, user: ctx.team.botUserId, bot_id: ctx.team.botId, app_id: ctx.team.appId, display_as_bot: false,
          ts: ctx.store.clock.next(), team: ctx.team.id, bot_profile: botProfile(ctx),
        };
        const blocks = comment ? undefined : parseBlocks(ctx);
        if (blocks) m.blocks = blocks;
        const threadTs = str(ctx, "thread_ts");
        if (threadTs) m.thread_ts = threadTs;
        const msgDelivered = ctx.store.append(c, m);
        const shared = files.map(({ f }) => ctx.store.fileSharedEvent(ctx.team, c, f, m.ts));
        delivered = Promise.all([msgDelivered, ...shared]).then(() => undefined);
      }
      // Like Slack, the response does not say where the file was shared: the message arrives as an event.
      return respondAfterEcho(ctx, delivered, { files: files.map(({ f }) => ({ ...ctx.store.fileJson(f), shares: {} })) });
    },
  },

  "files.info": {
    scope: "files:read",
    run: (ctx) => {
      const f = ctx.store.files.get(str(ctx, "file") ?? "");
      if (!f || f.teamId !== ctx.team.id || !f.completed) throw new ApiError("file_not_found");
      return { file: ctx.store.fileJson(f, true), comments: [], response_metadata: { next_cursor: "" } };
    },
  },

  "emoji.list": {
    scope: "emoji:read",
    run: (ctx) => ({ emoji: Object.fromEntries(ctx.team.emoji), cache_ts: `${nowSec()}.000000` }),
  },
};

async function react(ctx: ApiContext, on: boolean): Promise<Json> {
  const c = visibleConv(ctx);
  if (!ctx.store.isBotMember(ctx.team, c)) throw new ApiError("not_in_channel");
  if (c.archived) throw new ApiError("is_archived");
  const name = str(ctx, "name");
  if (!name || !/^[a-z0-9_+\-']+(::skin-tone-[2-6])?$/.test(name)) throw new ApiError("invalid_name");
  const { error, delivered } = ctx.store.react(c, str(ctx, "timestamp") ?? "", ctx.team.botUserId, name, on);
  if (error) throw new ApiError(error);
  return respondAfterEcho(ctx, delivered, {});
}

/** Channel-type of a conversation, for tests. */
export { channelType };
