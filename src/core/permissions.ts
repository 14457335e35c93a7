/**
 * Bridge permission levels from `bridge.permissions`: a full MXID beats a server name,
 * which beats "*". Anyone not matched has no access at all.
 */
export type Level = "none" | "relay" | "user" | "admin";

const RANK: Record<Level, number> = { none: 0, relay: 1, user: 2, admin: 3 };

export function levelAtLeast(have: Level, need: Level): boolean {
  return RANK[have] >= RANK[need];
}

export class Permissions {
  constructor(private readonly table: Record<string, Exclude<Level, "none">>) {}

  levelOf(mxid: string): Level {
    const exact = this.table[mxid];
    if (exact) return exact;
    const server = mxid.slice(mxid.indexOf(":") + 1);
    const byServer = this.table[server];
    if (byServer) return byServer;
    return this.table["*"] ?? "none";
  }

  /** The admins named by full Matrix ID (not by server or "*"): the people who can own rooms. */
  namedAdmins(): string[] {
    return Object.entries(this.table).filter(([who, level]) => who.startsWith("@") && level === "admin").map(([who]) => who);
  }

  allows(mxid: string, need: Level): boolean {
    return levelAtLeast(this.levelOf(mxid), need);
  }
}
