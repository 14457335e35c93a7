/**
 * The directory of a Slack export: users.json, channels.json (public), groups.json (private),
 * mpims.json (group DMs) and dms.json, as Slack documents them ("How to read Slack data exports").
 * Each conversation's messages sit in a folder of YYYY-MM-DD.json day files: named after the
 * channel (or group DM) name, and after the DM's id for DMs.
 *
 * The conversations get the same ChatInfo the live connector gives them (directory.ts), so an
 * import lands in the same portal under the same alias.
 */
import type { ChatInfo, ChatKind, UserInfo } from "../../core/types.js";
import { ExportFormatError } from "../export-error.js";
import type { ZipReader } from "./export-zip.js";
import { aliasLocalpart, chatRef, roomName, userRef } from "./ids.js";
import { userInfoFromSlack } from "./inbound.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** A directory list is small next to the messages; still, a users.json past this is not an export. */
const MAX_LIST_BYTES = 512 * 1024 * 1024;
const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.json$/;

export interface ExportConversation {
  /** The Slack channel id (C…, G…, D…). */
  id: string;
  kind: ChatKind;
  name: string;
  info: ChatInfo;
  /** The folder's day entries ("general/2024-01-05.json"), oldest first. */
  days: string[];
}

export interface ExportDirectory {
  team: string;
  users: Map<string, UserInfo>;
  conversations: ExportConversation[];
  /** Channel id → name, for `<#C…>` mentions. */
  channelNames: Map<string, string>;
}

export interface DirectoryOptions {
  team?: string;
  teamDomain?: string;
}

async function readList(zip: ZipReader, file: string, entry: string): Promise<Obj[]> {
  if (!zip.entries.has(entry)) return [];
  const text = (await zip.read(entry, MAX_LIST_BYTES)).toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ExportFormatError(file, entry, `not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(parsed)) throw new ExportFormatError(file, entry, "expected a JSON array");
  parsed.forEach((x, i) => {
    if (!isObj(x) || !str(x.id)) throw new ExportFormatError(file, entry, `item ${i} has no "id"`);
  });
  return parsed as Obj[];
}

/** The day entries of every folder, oldest first (an export may hold folders no list names: ignored). */
function dayEntries(zip: ZipReader): Map<string, string[]> {
  const byFolder = new Map<string, string[]>();
  for (const name of zip.entries.keys()) {
    const slash = name.lastIndexOf("/");
    if (slash <= 0 || !DAY_FILE.test(name.slice(slash + 1))) continue;
    const folder = name.slice(0, slash);
    const list = byFolder.get(folder) ?? [];
    list.push(name);
    byFolder.set(folder, list);
  }
  for (const list of byFolder.values()) list.sort();
  return byFolder;
}

/** The workspace id: the option, else what users.json says most users belong to. */
function teamOf(users: Obj[], opts: DirectoryOptions, file: string): string {
  if (opts.team) return opts.team;
  const counts = new Map<string, number>();
  for (const u of users) {
    const t = str(u.team_id);
    if (t) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  const best = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (!best || !/^[A-Z0-9]+$/.test(best)) {
    throw new ExportFormatError(file, "users.json", "no team_id to name the workspace by: give the team id (T…) as an option");
  }
  return best;
}

export async function readExportDirectory(zip: ZipReader, file: string, opts: DirectoryOptions): Promise<ExportDirectory> {
  const rawUsers = await readList(zip, file, "users.json");
  const team = teamOf(rawUsers, opts, file);
  const domain = opts.teamDomain ?? team.toLowerCase();
  const users = new Map<string, UserInfo>();
  for (const u of rawUsers) {
    const info = userInfoFromSlack(u);
    if (info) users.set(u.id as string, info);
  }
  const nameOf = (id: string) => users.get(id)?.name ?? id;
  const folders = dayEntries(zip);
  const daysOf = (...names: (string | undefined)[]) => {
    for (const n of names) if (n && folders.has(n)) return folders.get(n)!;
    return [];
  };
  const topicOf = (c: Obj) => (isObj(c.topic) ? str(c.topic.value) : undefined) ?? (isObj(c.purpose) ? str(c.purpose.value) : undefined);
  const membersOf = (c: Obj) => (Array.isArray(c.members) ? c.members.filter((m): m is string => typeof m === "string") : []);
  const conversations: ExportConversation[] = [];
  const channelNames = new Map<string, string>();

  for (const entry of ["channels.json", "groups.json"]) {
    for (const c of await readList(zip, file, entry)) {
      const id = c.id as string;
      const name = str(c.name) ?? id;
      channelNames.set(id, name);
      conversations.push({
        id, kind: "channel", name, days: daysOf(name, id),
        info: {
          name, kind: "channel", topic: topicOf(c), archived: c.is_archived === true,
          aliasLocalpart: aliasLocalpart(domain, name, id), roomName: roomName("channel", name),
          members: membersOf(c).map((m) => userRef(team, m)),
        },
      });
    }
  }
  for (const c of await readList(zip, file, "mpims.json")) {
    const id = c.id as string;
    const name = str(c.name) ?? id;
    const members = membersOf(c);
    conversations.push({
      id, kind: "group", name, days: daysOf(name, id),
      info: {
        name, kind: "group", topic: topicOf(c), archived: c.is_archived === true, members: members.map((m) => userRef(team, m)),
        aliasLocalpart: aliasLocalpart(domain, "", id), roomName: roomName("group", name, members.map(nameOf)),
      },
    });
  }
  for (const c of await readList(zip, file, "dms.json")) {
    const id = c.id as string;
    const members = membersOf(c);
    // The live connector names a DM after the other person; an export's DM is between two people.
    const name = members.map(nameOf).join(", ") || id;
    conversations.push({
      id, kind: "dm", name, days: daysOf(id, str(c.name)),
      info: {
        name, kind: "dm", members: members.map((m) => userRef(team, m)),
        aliasLocalpart: aliasLocalpart(domain, "", id), roomName: roomName("dm", name),
      },
    });
  }
  return { team, users, conversations, channelNames };
}

/** Whether `only` (a ref "T…:C…", an id, "#name" or a name) names this conversation. */
export function matchesConversation(c: ExportConversation, team: string, only: string): boolean {
  const want = only.startsWith("#") ? only.slice(1) : only;
  return want === chatRef(team, c.id) || want === c.id || want === c.name;
}
