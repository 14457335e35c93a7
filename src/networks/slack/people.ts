/**
 * What the people commands need from Slack: a DM from the app to one user (claim codes), the
 * workspace's users with their e-mails (bulk mapping; needs the scope users:read.email, without it
 * Slack leaves `profile.email` out and nobody matches), and an admin's `U123` checked against the workspace.
 */
import type { DirectoryUser } from "../../core/connector.js";
import { RemoteError } from "../../core/errors.js";
import type { UserRef } from "../../core/types.js";
import type { SlackApi } from "./api.js";
import { parseUserRef, userRef } from "./ids.js";

interface SlackMember {
  id?: string;
  name?: string;
  deleted?: boolean;
  is_bot?: boolean;
  real_name?: string;
  profile?: { email?: string; display_name?: string; real_name?: string };
}

/** users.list pages; a workspace of 100,000 people is 500 pages at 200: bounded so a bad cursor cannot loop. */
const MAX_PAGES = 1000;

export async function sendDirect(api: SlackApi, team: string, user: UserRef, text: string): Promise<void> {
  const p = parseUserRef(user);
  if (!p || p.team !== team) throw new RemoteError("bad_ref", `not a user of workspace ${team}: ${user}`, { retryable: false });
  const opened = await api.call<{ channel?: { id?: string } }>("conversations.open", { users: p.user });
  const channel = opened.channel?.id;
  if (!channel) throw new RemoteError("no_dm", "Slack did not open a DM with that user", { retryable: false, userMessage: "Slack did not open a DM with that user" });
  await api.call("chat.postMessage", { channel, text });
}

/** People of the workspace (no bots, no deactivated accounts), with the e-mail Slack shows the bridge. */
export async function listUsers(api: SlackApi, team: string): Promise<DirectoryUser[]> {
  const out: DirectoryUser[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await api.read<{ members?: SlackMember[]; response_metadata?: { next_cursor?: string } }>("users.list", { limit: 200, ...(cursor ? { cursor } : {}) });
    for (const m of r.members ?? []) {
      if (!m.id || m.deleted || m.is_bot || m.id === "USLACKBOT") continue;
      const name = m.profile?.display_name || m.profile?.real_name || m.real_name || m.name || m.id;
      out.push({ user: userRef(team, m.id), name, ...(m.profile?.email ? { email: m.profile.email } : {}) });
    }
    cursor = r.response_metadata?.next_cursor || undefined;
    if (!cursor) break;
  }
  return out;
}

/** "U123" or "T1:U123" of this workspace, when Slack knows the user; null otherwise. */
export async function resolveUser(api: SlackApi, team: string, input: string): Promise<UserRef | null> {
  const parsed = parseUserRef(input);
  const id = parsed ? (parsed.team === team ? parsed.user : null) : /^[UW][A-Z0-9]+$/.test(input) ? input : null;
  if (!id) return null;
  try {
    await api.read("users.info", { user: id });
  } catch (err) {
    if (err instanceof RemoteError && err.code === "user_not_found") return null;
    throw err;
  }
  return userRef(team, id);
}
