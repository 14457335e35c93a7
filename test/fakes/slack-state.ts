// Fake Slack: workspace state and every state change, each producing the events real Slack sends.
import { createHash } from "node:crypto";
import {
  type Conversation, DEFAULT_APP_SCOPES, DEFAULT_BOT_SCOPES, type Json, type SlackMessage, type SlackUser,
  type StoredFile, type Team, type TeamHandle, type TokenRecord, TINY_PNG, TsClock, clone, fileTypeOf,
  imageSize, mimeFromName, nowSec, randomId, randomToken, richTextFromText, tsCompare, uuid, wireMessage,
} from "./slack-model.js";

export type Emit = (team: Team, event: Json) => Promise<void>;

export interface NewUser {
  id?: string;
  name: string;
  real_name?: string;
  display_name?: string;
  email?: string;
  /** Avatar bytes (PNG/JPEG); served publicly at the profile's image_* URLs. Default: a 1x1 PNG. */
  image?: Buffer;
  is_bot?: boolean;
  bot_id?: string;
  deleted?: boolean;
  tz?: string;
}

export interface NewChannel {
  id?: string;
  name?: string;
  is_private?: boolean;
  is_im?: boolean;
  is_mpim?: boolean;
  /** Human members (user ids). The team's bot is added when botMember is true. */
  members?: string[];
  botMember?: boolean;
  topic?: string;
  purpose?: string;
  creator?: string;
  /** For is_im: the user on the other side (defaults to members[0]). */
  user?: string;
  /** Emit channel_created (public channels) as if a user just created it. */
  announce?: boolean;
}

export interface NewFile {
  name: string;
  data: Buffer;
  mimetype?: string;
  title?: string;
}

export interface PostOptions {
  thread_ts?: string;
  broadcast?: boolean;
  files?: NewFile[];
  /** A /me message (subtype me_message). */
  me?: boolean;
  /** Blocks to send instead of the generated rich_text block. */
  blocks?: Json[];
  /** Store without emitting any event (seeding history before the bridge starts). */
  silent?: boolean;
}

export const channelType = (c: Conversation): string =>
  c.kind === "private" ? "group" : c.kind === "channel" ? "channel" : c.kind;

export class SlackStore {
  readonly teams = new Map<string, Team>();
  readonly tokens = new Map<string, TokenRecord>();
  readonly files = new Map<string, StoredFile>();
  readonly uploads = new Map<string, string>();
  readonly tickets = new Map<string, string>();
  readonly avatars = new Map<string, Buffer>();
  readonly emojiImages = new Map<string, Buffer>();
  readonly clock = new TsClock();

  constructor(
    readonly baseUrl: () => string,
    private readonly emit: Emit,
  ) {}

  // ---------------------------------------------------------------- lookups
  team(teamId: string): Team {
    const t = this.teams.get(teamId);
    if (!t) throw new Error(`FakeSlack: unknown team ${teamId}`);
    return t;
  }
  conv(teamId: string, channelId: string): Conversation {
    const c = this.team(teamId).channels.get(channelId);
    if (!c) throw new Error(`FakeSlack: unknown conversation ${channelId} in ${teamId}`);
    return c;
  }
  user(teamId: string, userId: string): SlackUser {
    const u = this.team(teamId).users.get(userId);
    if (!u) throw new Error(`FakeSlack: unknown user ${userId} in ${teamId}`);
    return u;
  }
  findMessage(c: Conversation, ts: string): SlackMessage | undefined {
    return c.messages.find((m) => m.ts === ts);
  }
  isBotMember(team: Team, c: Conversation): boolean {
    return c.members.has(team.botUserId);
  }

  // ---------------------------------------------------------------- setup
  createTeam(opts: { id?: string; name?: string; domain?: string; botName?: string; botScopes?: string[] }): TeamHandle {
    const id = opts.id ?? randomId("T", 10);
    if (this.teams.has(id)) throw new Error(`FakeSlack: team ${id} exists`);
    const team: Team = {
      id,
      name: opts.name ?? id,
      domain: opts.domain ?? id.toLowerCase(),
      botToken: randomToken("xoxb"),
      appToken: `xapp-1-${randomId("A", 10)}-${Date.now()}-${randomToken("x").slice(2)}`,
      botUserId: randomId("U", 10),
      botId: randomId("B", 10),
      appId: randomId("A", 10),
      botName: opts.botName ?? "tandem",
      verificationToken: randomId("", 24).toLowerCase(),
      users: new Map(),
      channels: new Map(),
      emoji: new Map(),
    };
    this.teams.set(id, team);
    this.tokens.set(team.botToken, { token: team.botToken, teamId: id, kind: "bot", scopes: new Set(opts.botScopes ?? DEFAULT_BOT_SCOPES), state: "active" });
    this.tokens.set(team.appToken, { token: team.appToken, teamId: id, kind: "app", scopes: new Set(DEFAULT_APP_SCOPES), state: "active" });
    this.addUser(id, { id: team.botUserId, name: team.botName, real_name: team.botName, is_bot: true, bot_id: team.botId });
    this.addUser(id, { id: "USLACKBOT", name: "slackbot", real_name: "Slackbot", display_name: "Slackbot" });
    return this.handle(team);
  }

  handle(team: Team): TeamHandle {
    return {
      id: team.id, name: team.name, domain: team.domain, url: `https://${team.domain}.slack.com/`,
      botToken: team.botToken, appToken: team.appToken, botUserId: team.botUserId, botId: team.botId,
      appId: team.appId, botName: team.botName,
    };
  }

  addUser(teamId: string, u: NewUser): SlackUser {
    const team = this.team(teamId);
    const id = u.id ?? randomId("U", 10);
    const realName = u.real_name ?? u.name;
    const user: SlackUser = {
      id, team_id: teamId, name: u.name, deleted: u.deleted ?? false, color: "9f69e7", real_name: realName,
      tz: u.tz ?? "Europe/London", tz_label: "Greenwich Mean Time", tz_offset: 0,
      profile: {
        title: "", phone: "", skype: "", real_name: realName, real_name_normalized: realName,
        display_name: u.display_name ?? "", display_name_normalized: u.display_name ?? "",
        fields: null, status_text: "", status_emoji: "", status_emoji_display_info: [], status_expiration: 0,
        avatar_hash: "", first_name: realName.split(" ")[0] ?? "", last_name: realName.split(" ").slice(1).join(" "),
        image_72: "", image_192: "", image_512: "", team: teamId,
        ...(u.email ? { email: u.email } : {}),
      },
      is_admin: false, is_owner: false, is_primary_owner: false, is_restricted: false, is_ultra_restricted: false,
      is_bot: u.is_bot ?? false, is_app_user: false, updated: nowSec(), is_email_confirmed: true,
      who_can_share_contact_card: "EVERYONE",
    };
    if (user.is_bot) {
      const botId = u.bot_id ?? randomId("B", 10);
      user.profile.bot_id = botId;
      user.profile.api_app_id = botId === team.botId ? team.appId : "";
      user.profile.always_active = true;
    }
    this.setAvatar(user, u.image ?? TINY_PNG);
    team.users.set(id, user);
    return clone(user);
  }

  private setAvatar(user: SlackUser, image: Buffer): void {
    const hash = createHash("sha1").update(image).update(user.id).digest("hex").slice(0, 12);
    this.avatars.set(`${user.team_id}/${user.id}/${hash}`, image);
    const base = `${this.baseUrl()}/avatars/${user.team_id}/${user.id}/${hash}`;
    Object.assign(user.profile, {
      avatar_hash: hash, image_original: `${base}_original.png`, is_custom_image: true,
      image_24: `${base}_24.png`, image_32: `${base}_32.png`, image_48: `${base}_48.png`,
      image_72: `${base}_72.png`, image_192: `${base}_192.png`, image_512: `${base}_512.png`,
      image_1024: `${base}_1024.png`,
    });
  }

  /** Change a user and emit user_change (display_name, real_name, name, image, deleted, is_bot, ...). */
  updateUser(teamId: string, userId: string, patch: Partial<NewUser>): SlackUser {
    const team = this.team(teamId);
    const user = this.user(teamId, userId);
    if (patch.name !== undefined) user.name = patch.name;
    if (patch.real_name !== undefined) {
      user.real_name = patch.real_name;
      Object.assign(user.profile, { real_name: patch.real_name, real_name_normalized: patch.real_name });
    }
    if (patch.display_name !== undefined) {
      Object.assign(user.profile, { display_name: patch.display_name, display_name_normalized: patch.display_name });
    }
    if (patch.email !== undefined) user.profile.email = patch.email;
    if (patch.deleted !== undefined) user.deleted = patch.deleted;
    if (patch.image !== undefined) this.setAvatar(user, patch.image);
    user.updated = nowSec();
    void this.emit(team, { type: "user_change", user: clone(user), cache_ts: nowSec(), event_ts: this.clock.next() });
    return clone(user);
  }

  addChannel(teamId: string, ch: NewChannel): Conversation {
    const team = this.team(teamId);
    const kind: Conversation["kind"] = ch.is_im ? "im" : ch.is_mpim ? "mpim" : ch.is_private ? "private" : "channel";
    const id = ch.id ?? randomId(kind === "im" ? "D" : "C", 10);
    if (team.channels.has(id)) throw new Error(`FakeSlack: conversation ${id} exists`);
    const members = new Set(ch.members ?? []);
    if (ch.botMember || kind === "im") members.add(team.botUserId);
    for (const m of members) this.user(teamId, m);
    const others = [...members].filter((m) => m !== team.botUserId);
    const imUser = kind === "im" ? (ch.user ?? others[0]) : undefined;
    if (kind === "im" && !imUser) throw new Error("FakeSlack: an im needs a user");
    if (imUser) members.add(imUser);
    const name = ch.name ?? (kind === "mpim" ? `mpdm-${[...members].map((m) => team.users.get(m)?.name).join("--")}-1` : kind === "im" ? "" : id.toLowerCase());
    const conv: Conversation = {
      id, teamId, name, kind, created: nowSec(), creator: ch.creator ?? others[0] ?? team.botUserId, archived: false,
      members, topic: ch.topic ?? "", purpose: ch.purpose ?? "", imUser, messages: [],
    };
    team.channels.set(id, conv);
    if (ch.announce && kind === "channel") {
      void this.emit(team, { type: "channel_created", channel: { id, name, is_channel: true, created: conv.created, creator: conv.creator, is_shared: false, is_org_shared: false, context_team_id: teamId }, event_ts: this.clock.next() });
    }
    return conv;
  }

  /** Find or create the bot's im with a user (chat.postMessage channel=U…, conversations.open). */
  imWith(team: Team, userId: string): Conversation {
    for (const c of team.channels.values()) if (c.kind === "im" && c.imUser === userId) return c;
    return this.addChannel(team.id, { is_im: true, user: userId, members: [userId] });
  }

  // ---------------------------------------------------------------- messages
  private emitInConv(team: Team, c: Conversation, event: Json): Promise<void> {
    return this.isBotMember(team, c) ? this.emit(team, event) : Promise.resolve();
  }

  messageEvent(c: Conversation, m: SlackMessage): Json {
    return { ...wireMessage(m, { metadata: true }), channel: c.id, event_ts: m.ts, channel_type: channelType(c) };
  }

  /** Append a message (thread bookkeeping included) and emit its `message` event. */
  append(c: Conversation, m: SlackMessage, silent = false): Promise<void> {
    const team = this.team(c.teamId);
    if (m.thread_ts && m.thread_ts !== m.ts) {
      const parent = this.findMessage(c, m.thread_ts);
      if (parent) {
        parent.thread_ts = parent.ts;
        parent.reply_count = ((parent.reply_count as number | undefined) ?? 0) + 1;
        const users = new Set((parent.reply_users as string[] | undefined) ?? []);
        if (m.user) users.add(m.user);
        parent.reply_users = [...users];
        parent.reply_users_count = users.size;
        parent.latest_reply = m.ts;
        parent.is_locked = false;
        parent.subscribed = false;
        if (parent.user) m.parent_user_id = parent.user;
        if (m.subtype === "thread_broadcast") m.root = wireMessage(parent);
      }
    }
    c.messages.push(m);
    c.messages.sort((a, b) => tsCompare(a.ts, b.ts));
    if (m.files) for (const f of m.files) this.files.get(f.id as string)?.shares.push({ channel: c.id, ts: m.ts, isPrivate: c.kind !== "channel" });
    return silent ? Promise.resolve() : this.emitInConv(team, c, this.messageEvent(c, m));
  }

  /** A human posts (test API). */
  userPosts(teamId: string, channelId: string, userId: string, text: string, opts: PostOptions = {}): string {
    const team = this.team(teamId);
    const c = this.conv(teamId, channelId);
    this.user(teamId, userId);
    if (c.archived) throw new Error(`FakeSlack: ${channelId} is archived`);
    const ts = this.clock.next();
    const m: SlackMessage = { type: "message", text, user: userId, ts, team: teamId };
    if (opts.me) m.subtype = "me_message";
    else {
      m.client_msg_id = uuid();
      if (opts.blocks) m.blocks = clone(opts.blocks);
      else if (text !== "") m.blocks = richTextFromText(text);
    }
    if (opts.files?.length) {
      m.subtype = "file_share";
      m.files = opts.files.map((f) => this.fileJson(this.createFile(team, userId, f, true)));
      m.upload = false;
      m.display_as_bot = false;
    }
    if (opts.thread_ts) {
      m.thread_ts = opts.thread_ts;
      if (opts.broadcast) m.subtype = "thread_broadcast";
    }
    void this.append(c, m, opts.silent);
    return ts;
  }

  /** Replace text/blocks of a message and emit message_changed. */
  edit(c: Conversation, ts: string, patch: Partial<SlackMessage>, editor: string): { message: SlackMessage; delivered: Promise<void> } {
    const m = this.findMessage(c, ts);
    if (!m) throw new Error(`FakeSlack: no message ${ts} in ${c.id}`);
    const previous = wireMessage(m, { metadata: true });
    const eventTs = this.clock.next();
    Object.assign(m, patch);
    // Slack renders a person's edited text into new blocks, for a message with files (file_share) too.
    const personal = m.subtype === undefined || m.subtype === "file_share" || m.subtype === "thread_broadcast";
    if (patch.blocks === undefined && m.user && !m.bot_id && personal) m.blocks = richTextFromText(m.text);
    for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
    m.edited = { user: editor, ts: eventTs };
    const delivered = this.emitInConv(this.team(c.teamId), c, {
      type: "message", subtype: "message_changed", message: wireMessage(m, { metadata: true }), previous_message: previous,
      channel: c.id, hidden: true, ts: eventTs, event_ts: eventTs, channel_type: channelType(c),
    });
    return { message: m, delivered };
  }

  /** Delete (or tombstone a thread parent that has replies) and emit the event. */
  remove(c: Conversation, ts: string): Promise<void> {
    const idx = c.messages.findIndex((m) => m.ts === ts);
    if (idx < 0) throw new Error(`FakeSlack: no message ${ts} in ${c.id}`);
    const m = c.messages[idx]!;
    const team = this.team(c.teamId);
    const eventTs = this.clock.next();
    const previous = wireMessage(m, { metadata: true });
    const hasReplies = ((m.reply_count as number | undefined) ?? 0) > 0 && m.thread_ts === m.ts;
    if (hasReplies) {
      for (const k of Object.keys(m)) if (!["type", "ts", "thread_ts", "reply_count", "reply_users", "reply_users_count", "latest_reply", "is_locked", "subscribed"].includes(k)) delete m[k];
      Object.assign(m, { subtype: "tombstone", text: "This message was deleted.", user: "USLACKBOT", hidden: true });
      return this.emitInConv(team, c, {
        type: "message", subtype: "message_changed", message: wireMessage(m), previous_message: previous,
        channel: c.id, hidden: true, ts: eventTs, event_ts: eventTs, channel_type: channelType(c),
      });
    }
    c.messages.splice(idx, 1);
    if (m.thread_ts && m.thread_ts !== m.ts) {
      const parent = this.findMessage(c, m.thread_ts);
      if (parent) {
        parent.reply_count = Math.max(0, ((parent.reply_count as number | undefined) ?? 1) - 1);
        const replies = c.messages.filter((r) => r.thread_ts === parent.ts && r.ts !== parent.ts);
        parent.reply_users = [...new Set(replies.map((r) => r.user).filter((u): u is string => !!u))];
        parent.reply_users_count = (parent.reply_users as string[]).length;
        parent.latest_reply = replies.at(-1)?.ts ?? parent.ts;
      }
    }
    return this.emitInConv(team, c, {
      type: "message", subtype: "message_deleted", hidden: true, deleted_ts: ts, channel: c.id,
      previous_message: previous, ts: eventTs, event_ts: eventTs, channel_type: channelType(c),
    });
  }

  /** Add/remove a reaction; returns the Slack error code or undefined. Emits reaction_added/removed. */
  react(c: Conversation, ts: string, userId: string, name: string, on: boolean): { error?: string; delivered: Promise<void> } {
    const fail = (error: string) => ({ error, delivered: Promise.resolve() });
    const m = this.findMessage(c, ts);
    if (!m) return fail("message_not_found");
    const list = (m.reactions ??= []);
    const r = list.find((x) => x.name === name);
    if (on) {
      if (r?.users.includes(userId)) return fail("already_reacted");
      if (r) {
        r.users.push(userId);
        r.count += 1;
      } else list.push({ name, users: [userId], count: 1 });
    } else {
      if (!r || !r.users.includes(userId)) return fail("no_reaction");
      r.users = r.users.filter((u) => u !== userId);
      r.count -= 1;
      if (r.count === 0) list.splice(list.indexOf(r), 1);
      if (list.length === 0) delete m.reactions;
    }
    const event: Json = {
      type: on ? "reaction_added" : "reaction_removed", user: userId, reaction: name,
      item: { type: "message", channel: c.id, ts }, event_ts: this.clock.next(),
    };
    if (m.user) event.item_user = m.user;
    return { delivered: this.emitInConv(this.team(c.teamId), c, event) };
  }

  private systemMessage(c: Conversation, subtype: string, user: string, text: string, extra: Json = {}): void {
    void this.append(c, { type: "message", subtype, ts: this.clock.next(), user, text, ...extra });
  }

  rename(c: Conversation, name: string, userId: string): void {
    const team = this.team(c.teamId);
    const old = c.name;
    c.name = name;
    const channel = { id: c.id, name, name_normalized: name, created: c.created, is_channel: c.kind === "channel", is_mpim: false };
    const eventTs = this.clock.next();
    if (c.kind === "channel") void this.emit(team, { type: "channel_rename", channel, event_ts: eventTs });
    else void this.emitInConv(team, c, { type: "group_rename", channel, event_ts: eventTs });
    this.systemMessage(c, "channel_name", userId, `<@${userId}> renamed the channel from “${old}” to “${name}”`, { old_name: old, name });
  }

  setArchived(c: Conversation, archived: boolean, userId: string): void {
    const team = this.team(c.teamId);
    if (archived) this.systemMessage(c, "channel_archive", userId, `<@${userId}> archived the channel`);
    c.archived = archived;
    const prefix = c.kind === "channel" ? "channel" : "group";
    const event: Json = { type: `${prefix}_${archived ? "archive" : "unarchive"}`, channel: c.id, user: userId, event_ts: this.clock.next() };
    if (archived) event.is_moved = 0;
    if (c.kind === "channel") void this.emit(team, event);
    else void this.emitInConv(team, c, event);
    if (!archived) this.systemMessage(c, "channel_unarchive", userId, `<@${userId}> un-archived the channel`);
  }

  join(c: Conversation, userId: string, inviter?: string): void {
    const team = this.team(c.teamId);
    this.user(c.teamId, userId);
    if (c.members.has(userId)) return;
    c.members.add(userId);
    const event: Json = { type: "member_joined_channel", user: userId, channel: c.id, channel_type: c.kind === "channel" ? "C" : "G", team: c.teamId, event_ts: this.clock.next() };
    if (inviter) event.inviter = inviter;
    void this.emitInConv(team, c, event);
    this.systemMessage(c, "channel_join", userId, `<@${userId}> has joined the channel`, inviter ? { inviter } : {});
  }

  leave(c: Conversation, userId: string): void {
    const team = this.team(c.teamId);
    if (!c.members.has(userId)) return;
    void this.emitInConv(team, c, { type: "member_left_channel", user: userId, channel: c.id, channel_type: c.kind === "channel" ? "C" : "G", team: c.teamId, event_ts: this.clock.next() });
    c.members.delete(userId);
    this.systemMessage(c, "channel_leave", userId, `<@${userId}> has left the channel`);
  }

  // ---------------------------------------------------------------- files
  createFile(team: Team, userId: string, f: NewFile, complete: boolean): StoredFile {
    const mimetype = f.mimetype ?? mimeFromName(f.name);
    const [filetype] = fileTypeOf(mimetype);
    const size = imageSize(f.data);
    const file: StoredFile = {
      id: randomId("F", 10), teamId: team.id, name: f.name, title: f.title ?? f.name, mimetype, filetype,
      size: f.data.length, data: f.data, user: userId, created: nowSec(), uploaded: true, completed: complete,
      width: size?.width, height: size?.height, shares: [],
    };
    this.files.set(file.id, file);
    return file;
  }

  fileUrls(f: StoredFile): { url_private: string; url_private_download: string } {
    const base = `${this.baseUrl()}/files-pri/${f.teamId}-${f.id}`;
    const name = encodeURIComponent(f.name);
    return { url_private: `${base}/${name}`, url_private_download: `${base}/download/${name}` };
  }

  fileJson(f: StoredFile, withShares = false): Json {
    const team = this.team(f.teamId);
    const [filetype, pretty] = fileTypeOf(f.mimetype);
    const urls = this.fileUrls(f);
    const out: Json = {
      id: f.id, created: f.created, timestamp: f.created, name: f.name, title: f.title, mimetype: f.mimetype,
      filetype, pretty_type: pretty, user: f.user, user_team: f.teamId, editable: false, size: f.size, mode: "hosted",
      is_external: false, external_type: "", is_public: f.shares.some((s) => !s.isPrivate), public_url_shared: false,
      display_as_bot: false, username: "", ...urls,
      permalink: `https://${team.domain}.slack.com/files/${f.user}/${f.id}/${encodeURIComponent(f.name)}`,
      permalink_public: `https://slack-files.com/${f.teamId}-${f.id}-${f.id.toLowerCase()}`,
      has_rich_preview: false, file_access: "visible",
    };
    if (f.width !== undefined && f.height !== undefined && f.mimetype.startsWith("image/")) {
      Object.assign(out, { original_w: f.width, original_h: f.height, thumb_64: urls.url_private, thumb_360: urls.url_private, thumb_360_w: f.width, thumb_360_h: f.height, thumb_tiny: "" });
    }
    if (withShares) {
      const pub: Record<string, Json[]> = {};
      const priv: Record<string, Json[]> = {};
      for (const s of f.shares) {
        const c = team.channels.get(s.channel);
        (s.isPrivate ? priv : pub)[s.channel] ??= [];
        (s.isPrivate ? priv : pub)[s.channel]!.push({ reply_users: [], reply_users_count: 0, reply_count: 0, ts: s.ts, channel_name: c?.name ?? "", team_id: f.teamId, share_user_id: f.user });
      }
      out.shares = { ...(Object.keys(pub).length ? { public: pub } : {}), ...(Object.keys(priv).length ? { private: priv } : {}) };
      out.channels = f.shares.filter((s) => !s.isPrivate).map((s) => s.channel);
      out.groups = f.shares.filter((s) => s.isPrivate).map((s) => s.channel);
      out.ims = [];
    }
    return out;
  }

  fileSharedEvent(team: Team, c: Conversation, f: StoredFile, ts: string): Promise<void> {
    return this.emitInConv(team, c, { type: "file_shared", channel_id: c.id, file_id: f.id, user_id: f.user, file: { id: f.id }, event_ts: ts });
  }

  // ---------------------------------------------------------------- JSON views
  conversationJson(team: Team, c: Conversation, opts: { numMembers?: boolean } = {}): Json {
    if (c.kind === "im") {
      return { id: c.id, created: c.created, is_archived: false, is_im: true, is_org_shared: false, context_team_id: team.id, updated: c.created * 1000, user: c.imUser, is_user_deleted: team.users.get(c.imUser ?? "")?.deleted ?? false, priority: 0 };
    }
    const legacyGroup = c.kind === "mpim" || (c.kind === "private" && c.id.startsWith("G"));
    const out: Json = {
      id: c.id, name: c.name, is_channel: c.kind === "channel" || (c.kind === "private" && !legacyGroup),
      is_group: legacyGroup, is_im: false, is_mpim: c.kind === "mpim", is_private: c.kind !== "channel",
      created: c.created, is_archived: c.archived, is_general: c.name === "general", unlinked: 0,
      name_normalized: c.name, is_shared: false, is_org_shared: false, is_pending_ext_shared: false,
      pending_shared: [], context_team_id: team.id, updated: c.created * 1000, parent_conversation: null,
      creator: c.creator, is_ext_shared: false, shared_team_ids: [team.id], pending_connected_team_ids: [],
      is_member: c.members.has(team.botUserId),
      topic: { value: c.topic, creator: c.topic ? c.creator : "", last_set: c.topic ? c.created : 0 },
      purpose: { value: c.purpose, creator: c.purpose ? c.creator : "", last_set: c.purpose ? c.created : 0 },
      previous_names: [],
    };
    if (opts.numMembers) out.num_members = c.members.size;
    return out;
  }

  messagesOf(c: Conversation): SlackMessage[] {
    return c.messages.map((m) => clone(m));
  }

  newTicket(teamId: string): string {
    const t = uuid();
    this.tickets.set(t, teamId);
    return t;
  }
}
