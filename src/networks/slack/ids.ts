/**
 * The Slack connector's id grammar, in one place. The core stores these refs as opaque
 * strings; only this file makes and parses them.
 *
 *   ChatRef     "<team>:<channel>"        e.g. "T0001:C0001"
 *   UserRef     "<team>:<user>"           e.g. "T0001:U0001" (bots without a user: "T0001:B0001")
 *   MessageRef  "<team>:<channel>:<ts>"   e.g. "T0001:C0001:1732500000.000100"
 *   ghost       "slack_<team>_<user>"     lowercase, e.g. "slack_t0001_u0001"
 *   alias       "slack_<team-domain>_<channel-name>"
 *   FileRef.id  "<file id>|<url_private_download>" (the URL part may be missing)
 */
import type { ChatDescription, LoginRecord } from "../../core/connector.js";
import type { ChatRef, MessageRef, UserRef } from "../../core/types.js";

/** Slack ids (team, channel, user, bot) are upper-case letters and digits. */
const ID = "[A-Z0-9]+";
const CHAT_RE = new RegExp(`^(${ID}):(${ID})$`);
const MESSAGE_RE = new RegExp(`^(${ID}):(${ID}):(\\d+\\.\\d+)$`);
const GHOST_RE = /^slack_([a-z0-9]+)_([a-z0-9]+)$/;

export function chatRef(team: string, channel: string): ChatRef {
  return `${team}:${channel}`;
}

export function parseChatRef(ref: string): { team: string; channel: string } | null {
  const m = CHAT_RE.exec(ref);
  return m ? { team: m[1]!, channel: m[2]! } : null;
}

export function userRef(team: string, user: string): UserRef {
  return `${team}:${user}`;
}

export function parseUserRef(ref: string): { team: string; user: string } | null {
  const m = CHAT_RE.exec(ref);
  return m ? { team: m[1]!, user: m[2]! } : null;
}

export function messageRef(team: string, channel: string, ts: string): MessageRef {
  return `${team}:${channel}:${ts}`;
}

export function parseMessageRef(ref: string): { team: string; channel: string; ts: string } | null {
  const m = MESSAGE_RE.exec(ref);
  return m ? { team: m[1]!, channel: m[2]!, ts: m[3]! } : null;
}

/** "T0001:U0001" → "slack_t0001_u0001". */
export function ghostLocalpart(user: UserRef): string {
  const p = parseUserRef(user);
  if (!p) throw new Error(`not a Slack user ref: ${user}`);
  return `slack_${p.team}_${p.user}`.toLowerCase();
}

/** "slack_t0001_u0001" → "T0001:U0001"; null for anything else. */
export function userFromGhostLocalpart(localpart: string): UserRef | null {
  const m = GHOST_RE.exec(localpart);
  return m ? userRef(m[1]!.toUpperCase(), m[2]!.toUpperCase()) : null;
}

/** Lowercase and keep only what is safe in a Matrix alias localpart. */
export function aliasPart(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9._=-]+/g, "-").replace(/^-+|-+$/g, "");
}

/** "acme", "general" → "slack_acme_general"; falls back to the channel id when the name has nothing usable. */
export function aliasLocalpart(teamDomain: string, channelName: string, channelId: string): string {
  return `slack_${aliasPart(teamDomain) || "team"}_${aliasPart(channelName) || channelId.toLowerCase()}`;
}

/** Room name: "general (Slack)" for channels; a DM is named after the other person, a group DM after everyone. */
export function roomName(kind: "channel" | "group" | "dm", name: string, memberNames: string[] = []): string {
  if (kind === "dm") return name;
  if (kind === "group") return memberNames.length > 0 ? memberNames.join(", ") : name;
  return `${name} (Slack)`;
}

/** Slack "1732500000.000100" → milliseconds since epoch (0 for garbage). */
export function tsToMs(ts: string | undefined): number {
  const n = Number(ts);
  return Number.isFinite(n) && n > 0 ? Math.round(n * 1000) : 0;
}

export function fileRefId(fileId: string, url?: string): string {
  return url ? `${fileId}|${url}` : fileId;
}

export function parseFileRefId(id: string): { fileId: string; url?: string } {
  const bar = id.indexOf("|");
  return bar < 0 ? { fileId: id } : { fileId: id.slice(0, bar), url: id.slice(bar + 1) || undefined };
}

/** The workspace subdomain from auth.test's url ("https://acme.slack.com/" → "acme"). */
export function domainFromUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const host = new URL(url).hostname;
    const sub = host.split(".")[0];
    return sub && host.includes(".") ? sub : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A channel for m.bridge: the workspace is the network, links open Slack's web client (which
 * needs no workspace domain, so this works from the stored ref alone).
 */
export function describeChat(chat: ChatRef, name: string, login?: LoginRecord): ChatDescription {
  const p = parseChatRef(chat);
  if (!p) return { key: encodeURIComponent(chat), channel: { id: chat, displayname: name } };
  return {
    key: `${p.team}/${p.channel}`,
    network: { id: p.team, displayname: login?.name || p.team, external_url: `https://app.slack.com/client/${p.team}` },
    channel: { id: p.channel, displayname: name || p.channel, external_url: `https://app.slack.com/client/${p.team}/${p.channel}` },
  };
}
