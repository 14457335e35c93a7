/**
 * Who is who: remote users mapped to their own Matrix accounts on the homeserver. A mapping is
 * made only on proof (a claim code), an admin's word (`map`, a CSV file) or an exact, unique
 * e-mail match; never guessed. Every change is stored with who made it and how, and appended to
 * the mapping log. The core asks `mxidOf` on every remote event, so mappings are kept in memory.
 */
import type { MappingLogRow, MappingMethod, MappingRow, Store } from "../store/api.js";
import type { DirectoryUser } from "./connector.js";
import { CommandError } from "./errors.js";
import type { MatrixPort } from "./matrix-port.js";

export interface PlannedMapping {
  network: string;
  userRef: string;
  /** The remote user's name, for the listing. */
  name: string;
  mxid: string;
}

export interface EmailPlan {
  map: PlannedMapping[];
  /** Remote users with an e-mail that maps to nobody, or to more than one account (either side): never guessed. */
  skipped: Array<{ userRef: string; name: string; why: string }>;
}

export class PeopleDirectory {
  private readonly byRemote = new Map<string, MappingRow>();
  /** Told after a mapping is made or removed (the ghost's profile, double puppeting's room moves). */
  onChange?: (row: MappingRow, mapped: boolean) => Promise<void>;

  constructor(private readonly store: Store, private readonly matrix: MatrixPort) {}

  async load(): Promise<void> {
    this.byRemote.clear();
    for (const row of await this.repo().list()) this.byRemote.set(key(row.network, row.userRef), row);
  }

  /** The Matrix account a remote user is mapped to, if any. */
  mxidOf(network: string, userRef: string): string | undefined {
    return this.byRemote.get(key(network, userRef))?.mxid;
  }

  /** Whether `mxid` is some remote user's account. */
  isPerson(mxid: string): boolean {
    for (const row of this.byRemote.values()) if (row.mxid === mxid) return true;
    return false;
  }

  list(): MappingRow[] {
    return [...this.byRemote.values()].sort((a, b) => a.network.localeCompare(b.network) || a.userRef.localeCompare(b.userRef));
  }

  history(limit: number): Promise<MappingLogRow[]> {
    return this.repo().history(limit);
  }

  /**
   * Why `mxid` cannot be a person's account, or null when it can: it must be a user of this
   * homeserver (double puppeting can only act for those) and not one of the bridge's own.
   */
  refusal(mxid: string): string | null {
    if (!/^@[^:\s]+:\S+$/.test(mxid)) return `${mxid} is not a Matrix user id (like @alice:${this.matrix.domain}).`;
    if (mxid.slice(mxid.indexOf(":") + 1) !== this.matrix.domain) return `${mxid} is not a user of this homeserver (${this.matrix.domain}).`;
    if (this.matrix.isBridgeUser(mxid)) return `${mxid} is one of the bridge's own users.`;
    return null;
  }

  /** Store a mapping. A remote user already mapped to someone else is refused: unmap first. */
  async map(network: string, userRef: string, mxid: string, method: MappingMethod, by: string): Promise<MappingRow> {
    const why = this.refusal(mxid);
    if (why) throw new CommandError(why);
    const existing = this.byRemote.get(key(network, userRef));
    if (existing?.mxid === mxid) return existing;
    if (existing) throw new CommandError(`${network} user ${userRef} is already mapped to ${existing.mxid}; \`unmap ${network} ${userRef}\` first.`);
    const row: MappingRow = { network, userRef, mxid, method, byMxid: by, createdAt: new Date() };
    await this.repo().put(row);
    this.byRemote.set(key(network, userRef), row);
    await this.onChange?.(row, true);
    return row;
  }

  async unmap(network: string, userRef: string, by: string): Promise<MappingRow | null> {
    const gone = await this.repo().remove(network, userRef, by);
    this.byRemote.delete(key(network, userRef));
    if (gone) await this.onChange?.(gone, false);
    return gone;
  }

  /**
   * Pair remote users with homeserver accounts by e-mail: only where the address (compared
   * case-insensitively) belongs to exactly one remote user and exactly one Matrix account.
   * Writes nothing; `map` each planned row to apply it.
   */
  planByEmail(network: string, remote: DirectoryUser[], accounts: Array<{ mxid: string; emails: string[] }>): EmailPlan {
    const norm = (e: string) => e.trim().toLowerCase();
    const owners = new Map<string, string[]>();
    for (const a of accounts) {
      if (this.refusal(a.mxid)) continue;
      for (const e of new Set(a.emails.map(norm))) owners.set(e, [...(owners.get(e) ?? []), a.mxid]);
    }
    const remoteCount = new Map<string, number>();
    for (const r of remote) if (r.email) remoteCount.set(norm(r.email), (remoteCount.get(norm(r.email)) ?? 0) + 1);
    const plan: EmailPlan = { map: [], skipped: [] };
    for (const r of remote) {
      if (!r.email) continue;
      const email = norm(r.email);
      const skip = (why: string) => plan.skipped.push({ userRef: r.user, name: r.name, why });
      const mapped = this.mxidOf(network, r.user);
      const found = owners.get(email) ?? [];
      if (mapped) skip(`already mapped to ${mapped}`);
      else if ((remoteCount.get(email) ?? 0) > 1) skip(`${email} is shared by ${remoteCount.get(email)} ${network} users`);
      else if (found.length === 0) continue; // nobody on the homeserver has it: not worth a line
      else if (found.length > 1) skip(`${email} belongs to ${found.length} Matrix accounts`);
      else plan.map.push({ network, userRef: r.user, name: r.name, mxid: found[0]! });
    }
    return plan;
  }

  private repo(): NonNullable<Store["mappings"]> {
    if (!this.store.mappings) throw new CommandError("This bridge's store keeps no person mappings.");
    return this.store.mappings;
  }
}

function key(network: string, userRef: string): string {
  return `${network}\u0000${userRef}`;
}

/**
 * A CSV of `remote user,matrix user` lines (a header line, blank lines and `#` comments are
 * skipped). Returns the pairs, or throws CommandError naming every bad line, so that a file
 * with a mistake maps nobody.
 */
export function parseMappingCsv(text: string): Array<{ line: number; remote: string; mxid: string }> {
  const out: Array<{ line: number; remote: string; mxid: string }> = [];
  const bad: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const cells = line.split(",").map((c) => c.trim().replace(/^"(.*)"$/, "$1").trim());
    if (out.length === 0 && bad.length === 0 && !cells.some((c) => c.startsWith("@"))) return; // a header
    if (cells.length !== 2 || !cells[0] || !cells[1]) bad.push(`line ${i + 1}: expected two columns, remote user and Matrix user`);
    else if (!cells[1].startsWith("@")) bad.push(`line ${i + 1}: the second column must be a Matrix user id (@name:server)`);
    else out.push({ line: i + 1, remote: cells[0], mxid: cells[1] });
  });
  if (bad.length) throw new CommandError(`The CSV has ${bad.length} bad line${bad.length === 1 ? "" : "s"}; nothing was mapped:\n${bad.slice(0, 20).join("\n")}`);
  return out;
}
