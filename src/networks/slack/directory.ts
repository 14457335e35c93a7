/**
 * Who and what is in the workspace: the bot's own identity, users (people and bots), and
 * conversations, with small caches so mention names and ghost profiles do not cost a call each.
 */
import { RemoteError } from "../../core/errors.js";
import type { ChatInfo, ChatRef, UserInfo, UserRef } from "../../core/types.js";
import type { Obj, SlackApi } from "./api.js";
import { aliasLocalpart, chatRef, domainFromUrl, parseChatRef, parseUserRef, roomName, tsToMs, userRef } from "./ids.js";
import { userInfoFromSlack } from "./inbound.js";

export interface Identity {
  teamId: string;
  teamName: string;
  domain: string;
  botUserId: string;
  botId: string;
}

const USER_TTL_MS = 3600_000;
const CONVERSATION_TYPES = "public_channel,private_channel,mpim,im";

interface SlackConversation extends Obj {
  id?: string;
  name?: string;
  is_im?: boolean;
  is_mpim?: boolean;
  is_member?: boolean;
  is_archived?: boolean;
  is_user_deleted?: boolean;
  user?: string;
  updated?: number;
  created?: number;
  topic?: { value?: string };
  purpose?: { value?: string };
}

export class SlackDirectory {
  private identityP: Promise<Identity> | null = null;
  private readonly users = new Map<string, { info: UserInfo; at: number }>();
  private readonly channelNames = new Map<string, string>();

  constructor(private readonly api: SlackApi, private readonly team: string) {}

  /** auth.test, once (or again with `refresh`; retried on the next call after a failure). */
  identity(refresh = false): Promise<Identity> {
    if (refresh) this.identityP = null;
    if (this.identityP) return this.identityP;
    const p = this.api.read("auth.test").then((r): Identity => {
      const teamId = String(r.team_id ?? this.team);
      return {
        teamId, teamName: String(r.team ?? teamId), domain: domainFromUrl(r.url as string | undefined) ?? teamId.toLowerCase(),
        botUserId: String(r.user_id ?? ""), botId: String(r.bot_id ?? ""),
      };
    });
    this.identityP = p;
    p.catch(() => { if (this.identityP === p) this.identityP = null; });
    return p;
  }

  // ---- users ------------------------------------------------------------------------------

  async userInfo(user: UserRef): Promise<UserInfo> {
    const p = parseUserRef(user);
    if (!p) throw new RemoteError("bad_ref", `not a Slack user: ${user}`, { retryable: false });
    const cached = this.users.get(p.user);
    if (cached && Date.now() - cached.at < USER_TTL_MS) return cached.info;
    let info: UserInfo | null;
    if (p.user.startsWith("B")) {
      // A bot without a user (legacy integrations, webhooks): bots.info.
      const r = await this.api.read<{ bot?: { name?: string; icons?: Record<string, string> } }>("bots.info", { bot: p.user });
      const icons = r.bot?.icons ?? {};
      info = { name: r.bot?.name || p.user, avatar: icons.image_72 ?? icons.image_48 ?? icons.image_36, isBot: true };
    } else {
      const r = await this.api.read("users.info", { user: p.user });
      info = userInfoFromSlack(r.user);
    }
    if (!info) throw new RemoteError("user_not_found", `no profile for ${user}`, { retryable: false });
    this.noteUser(p.user, info);
    return info;
  }

  noteUser(userId: string, info: UserInfo): void {
    this.users.set(userId, { info, at: Date.now() });
  }

  userName(userId: string): string | undefined {
    return this.users.get(userId)?.info.name;
  }

  channelName(channelId: string): string | undefined {
    return this.channelNames.get(channelId);
  }

  /** Look up names for mentions before converting a message; best effort, bounded in time. */
  async prefetchNames(ids: { users: string[]; channels: string[] }, timeoutMs: number): Promise<void> {
    const jobs = [
      ...ids.users.filter((u) => !this.users.has(u)).slice(0, 20).map((u) => this.userInfo(userRef(this.team, u))),
      ...ids.channels.filter((c) => !this.channelNames.has(c)).slice(0, 10).map((c) => this.conversation(c)),
    ].map((p) => p.catch(() => undefined));
    if (jobs.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(jobs), new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); })]);
    clearTimeout(timer);
  }

  // ---- conversations ----------------------------------------------------------------------

  private async conversation(channel: string): Promise<SlackConversation> {
    const r = await this.api.read<{ channel?: SlackConversation }>("conversations.info", { channel });
    const c = r.channel;
    if (!c?.id) throw new RemoteError("channel_not_found", `no conversation ${channel}`, { retryable: false, userMessage: "the Slack conversation no longer exists" });
    if (c.name) this.channelNames.set(c.id, c.name);
    return c;
  }

  async chatInfo(chat: ChatRef): Promise<ChatInfo> {
    const p = parseChatRef(chat);
    if (!p) throw new RemoteError("bad_ref", `not a Slack chat: ${chat}`, { retryable: false });
    const [c, me] = await Promise.all([this.conversation(p.channel), this.identity()]);
    if (c.is_im && c.user) {
      const other = userRef(this.team, c.user);
      const info = await this.userInfo(other).catch(() => ({ name: c.user! }) as UserInfo);
      return {
        name: info.name, kind: "dm", avatar: info.avatar, members: [other],
        aliasLocalpart: aliasLocalpart(me.domain, "", p.channel), roomName: roomName("dm", info.name),
      };
    }
    const topic = c.topic?.value || c.purpose?.value || undefined;
    const name = c.name ?? p.channel;
    if (c.is_mpim) {
      const members = await this.members(p.channel, me.botUserId);
      const names = await Promise.all(members.map((m) => this.userInfo(m).then((i) => i.name, () => parseUserRef(m)?.user ?? m)));
      return {
        name, kind: "group", topic, members, archived: c.is_archived === true,
        aliasLocalpart: aliasLocalpart(me.domain, "", p.channel), roomName: roomName("group", name, names),
      };
    }
    return {
      name, kind: "channel", topic, archived: c.is_archived === true,
      aliasLocalpart: aliasLocalpart(me.domain, name, p.channel), roomName: roomName("channel", name),
    };
  }

  private async members(channel: string, botUserId: string): Promise<UserRef[]> {
    const r = await this.api.read<{ members?: string[] }>("conversations.members", { channel, limit: 100 }).catch(() => ({ members: [] as string[] }));
    return (r.members ?? []).filter((m) => m !== botUserId).map((m) => userRef(this.team, m));
  }

  /** Every conversation the bot is in (DMs with deleted users and Slackbot left out). */
  private async allConversations(types: string, maxPages = 10): Promise<SlackConversation[]> {
    const out: SlackConversation[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const r = await this.api.read<{ channels?: SlackConversation[]; response_metadata?: { next_cursor?: string } }>(
        "conversations.list", { types, exclude_archived: true, limit: 200, ...(cursor ? { cursor } : {}) });
      for (const c of r.channels ?? []) {
        if (!c.id) continue;
        if (c.name) this.channelNames.set(c.id, c.name);
        out.push(c);
      }
      cursor = r.response_metadata?.next_cursor || undefined;
      if (!cursor) break;
    }
    return out;
  }

  /** The `limit` most recently active conversations the bot is in, newest first. */
  async listChats(limit: number): Promise<ChatRef[]> {
    if (limit <= 0) return [];
    const mine = (await this.allConversations(CONVERSATION_TYPES)).filter((c) =>
      c.is_im ? c.user !== "USLACKBOT" && c.is_user_deleted !== true : c.is_member === true);
    const updated = (c: SlackConversation) => (typeof c.updated === "number" ? c.updated : (c.created ?? 0) * 1000);
    mine.sort((a, b) => updated(b) - updated(a));
    // `updated` is when the conversation object changed, not its last message: ask for the
    // latest message of the front runners and sort by that where Slack answers.
    const candidates = mine.slice(0, Math.max(limit * 3, 30));
    const latest = new Map<string, number>();
    for (let i = 0; i < candidates.length; i += 5) {
      await Promise.all(candidates.slice(i, i + 5).map(async (c) => {
        const h = await this.api.read<{ messages?: Array<{ ts?: string }> }>("conversations.history", { channel: c.id, limit: 1 }).catch(() => undefined);
        const ts = h?.messages?.[0]?.ts;
        if (ts) latest.set(c.id!, tsToMs(ts));
      }));
    }
    const activity = (c: SlackConversation) => Math.max(latest.get(c.id!) ?? 0, updated(c));
    candidates.sort((a, b) => activity(b) - activity(a));
    return candidates.slice(0, limit).map((c) => chatRef(this.team, c.id!));
  }

  /** `#general`, `general`, `C0123…`, `<#C0123|general>` → the chat, if the bot can see it. */
  async resolveChat(input: string): Promise<ChatRef | null> {
    const s = input.trim();
    const link = /^<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(s);
    const id = link?.[1] ?? (/^[CGD][A-Z0-9]*\d[A-Z0-9]*$/.test(s) ? s : undefined);
    if (id) {
      try {
        await this.conversation(id);
        return chatRef(this.team, id);
      } catch (err) {
        if (!(err instanceof RemoteError) || err.retryable) throw err;
        if (link) return null; // an explicit <#C…> that does not exist; a bare word may still be a name
      }
    }
    const name = s.replace(/^#/, "").toLowerCase();
    if (!name) return null;
    const found = (await this.allConversations("public_channel,private_channel", 50)).find((c) => c.name?.toLowerCase() === name);
    return found?.id ? chatRef(this.team, found.id) : null;
  }
}
