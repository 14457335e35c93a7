/**
 * Who owns a room the bridge creates. From room version 12 (MSC4289) creators are permanent
 * admins above every power level, and `additional_creators` names more of them: the bridge
 * names the configured admins there, so the bot is never the room's only admin. On older room
 * versions (Synapse 1.67 defaults to 10) creators are ordinary power-100 users, so the admins get
 * power 100 at creation instead. Pure: the port feeds it the server's /capabilities answer.
 */

export interface CreationPlan {
  /** Extra creation_content (`additional_creators` on v12). */
  creationContent: Record<string, unknown>;
  /** The power_levels `users` map: creators must not be in it on v12 (their power is implicit). */
  users: Record<string, number>;
  /** Whether creators are permanent admins here. */
  creatorsAreAdmins: boolean;
}

/** Room versions where creators are privileged (MSC4289): "12" and any later plain number. */
export function creatorsPrivileged(version: string | undefined): boolean {
  return version !== undefined && /^\d+$/.test(version) && Number(version) >= 12;
}

/** The default room version from a /capabilities answer, or undefined when it does not say. */
export function defaultRoomVersion(capabilities: unknown): string | undefined {
  const caps = (capabilities as { capabilities?: { "m.room_versions"?: { default?: unknown } } } | null)?.capabilities;
  const v = caps?.["m.room_versions"]?.default;
  return typeof v === "string" ? v : undefined;
}

export function creationPlan(defaultVersion: string | undefined, botMxid: string, admins: readonly string[]): CreationPlan {
  const others = [...new Set(admins)].filter((a) => a !== botMxid);
  if (creatorsPrivileged(defaultVersion)) {
    return { creationContent: others.length ? { additional_creators: others } : {}, users: {}, creatorsAreAdmins: true };
  }
  return { creationContent: {}, users: { [botMxid]: 100, ...Object.fromEntries(others.map((a) => [a, 100])) }, creatorsAreAdmins: false };
}

/** The creators an m.room.create content names (sender is not in the content; `creator` was, before v11). */
export function creatorsOf(create: Record<string, unknown>): string[] {
  const extra = Array.isArray(create.additional_creators) ? create.additional_creators.filter((c): c is string => typeof c === "string") : [];
  return [...(typeof create.creator === "string" ? [create.creator] : []), ...extra];
}
