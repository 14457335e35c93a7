/**
 * Writes a Slack export zip as Slack documents the format ("How to read Slack data exports"):
 * users.json, channels.json, groups.json, mpims.json, dms.json at the top, and one folder per
 * conversation (the channel's name; the DM's id) of YYYY-MM-DD.json day files, each a JSON array
 * of message objects. Written with fflate's streaming Zip, day by day, so a large export is never
 * held in memory whole (pass `dayStream`).
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { Zip, ZipDeflate, strToU8 } from "fflate";

export type SlackJson = Record<string, unknown>;

export interface SlackExportDay {
  /** The conversation's folder: channel or group-DM name, or the DM's id. */
  folder: string;
  /** "2024-01-05". */
  day: string;
  messages: unknown[];
}

export interface SlackExportSpec {
  users?: SlackJson[];
  channels?: SlackJson[];
  groups?: SlackJson[];
  mpims?: SlackJson[];
  dms?: SlackJson[];
  /** Day files, e.g. from `byDay("general", messages)`. */
  days?: SlackExportDay[];
  /** More day files, made as they are written (a large export). */
  dayStream?: Iterable<SlackExportDay>;
  /** Entries written exactly as given (for malformed exports), after everything else. */
  raw?: Record<string, string | Uint8Array>;
}

/** A Slack ts for a time in ms: "1704448800.000100" (seq tells apart messages in one second). */
export function slackTs(ms: number, seq = 0): string {
  return `${Math.floor(ms / 1000)}.${String(seq).padStart(6, "0")}`;
}

/** The UTC day of a Slack ts, as the export names day files. */
export function dayOfTs(ts: string): string {
  return new Date(Number(ts.split(".")[0]) * 1000).toISOString().slice(0, 10);
}

/** Messages of one conversation, grouped into day files by their ts. */
export function byDay(folder: string, messages: SlackJson[]): SlackExportDay[] {
  const days = new Map<string, SlackJson[]>();
  for (const m of messages) {
    const day = dayOfTs(m.ts as string);
    days.set(day, [...(days.get(day) ?? []), m]);
  }
  return [...days].map(([day, list]) => ({ folder, day, messages: list }));
}

/** A users.json entry. */
export function slackUser(team: string, id: string, name: string, extra: SlackJson = {}): SlackJson {
  return { id, team_id: team, name: name.toLowerCase(), real_name: name, deleted: false, is_bot: false, profile: { real_name: name, display_name: name, image_72: `https://avatars.slack-edge.com/${id}_72.png` }, ...extra };
}

/** A channels.json / groups.json entry. */
export function slackChannel(id: string, name: string, members: string[], extra: SlackJson = {}): SlackJson {
  return {
    id, name, created: 1700000000, creator: members[0], is_archived: false, is_general: false, members,
    topic: { value: "", creator: "", last_set: 0 }, purpose: { value: "", creator: "", last_set: 0 }, ...extra,
  };
}

/** A plain message as the export writes it. */
export function slackMessage(user: string, ts: string, text: string, extra: SlackJson = {}): SlackJson {
  return { type: "message", user, text, ts, ...extra };
}

export async function writeSlackExport(file: string, spec: SlackExportSpec): Promise<void> {
  const fd = openSync(file, "w");
  try {
    await new Promise<void>((resolve, reject) => {
      const zip = new Zip((err, data, final) => {
        if (err) return reject(err);
        writeSync(fd, data);
        if (final) resolve();
      });
      const add = (name: string, content: string | Uint8Array) => {
        const entry = new ZipDeflate(name, { level: 1 });
        zip.add(entry);
        entry.push(typeof content === "string" ? strToU8(content) : content, true);
      };
      for (const list of ["users", "channels", "groups", "mpims", "dms"] as const) {
        if (spec[list]) add(`${list}.json`, JSON.stringify(spec[list]));
      }
      for (const days of [spec.days ?? [], spec.dayStream ?? []]) {
        for (const d of days) add(`${d.folder}/${d.day}.json`, JSON.stringify(d.messages, null, 4));
      }
      for (const [name, content] of Object.entries(spec.raw ?? {})) add(name, content);
      zip.end();
    });
  } finally {
    closeSync(fd);
  }
}
