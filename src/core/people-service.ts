/**
 * The people commands' work: claims (a one-time code sent to one side, entered on the other),
 * admin mappings one by one, by e-mail and from a CSV file, and what a mapping changes in Matrix
 * (the ghost's name without double puppeting; with it, the person's own account takes the
 * ghost's place in the portals). Network-neutral: connectors offer `sendDirect`, `listUsers`,
 * `resolveUser` and the sink's `claim`, or do not.
 */
import { readFile } from "node:fs/promises";
import type { MappingMethod, MappingRow } from "../store/api.js";
import { ClaimCodes } from "./claim-codes.js";
import type { Connection, NetworkConnector } from "./connector.js";
import type { CoreDeps } from "./context.js";
import { CommandError } from "./errors.js";
import type { GhostManager } from "./ghosts.js";
import { errorFields } from "./log.js";
import type { LoginManager } from "./logins.js";
import type { MatrixInbound } from "./matrix-port.js";
import { parseMappingCsv, PeopleDirectory, type PlannedMapping } from "./people.js";
import type { PortalDirectory } from "./portals.js";

const TTL_MINUTES = 10;

export class People {
  readonly directory: PeopleDirectory;
  readonly codes = new ClaimCodes();
  /** A person was mapped to a user of this login's rooms: the login's space invites them (core/spaces.ts). */
  onPlaced?: (loginId: string, mxid: string) => Promise<void>;

  constructor(
    private readonly deps: CoreDeps,
    private readonly ghosts: GhostManager,
    private readonly portals: PortalDirectory,
    private readonly logins: LoginManager,
    /** Say something to a Matrix user in their DM with the bot (if they have one). */
    private readonly tell: (mxid: string, text: string) => Promise<void>,
  ) {
    this.directory = new PeopleDirectory(deps.store, deps.matrix);
    this.directory.onChange = (row, mapped) => this.changed(row, mapped);
    ghosts.people = this.directory;
  }

  load(): Promise<void> {
    return this.deps.store.mappings ? this.directory.load() : Promise.resolve();
  }

  /** An event a person's own account sent for the bridge (double puppeting): it came from the remote side. */
  isEcho(ev: MatrixInbound): boolean {
    return ev.puppeted === true && this.directory.isPerson(ev.sender);
  }

  // ---- claims ---------------------------------------------------------------------------

  /** `claim <network> [remote user]`: send (or show) a one-time code; returns the reply. */
  async startClaim(mxid: string, connector: NetworkConnector, input: string | undefined): Promise<string> {
    if (this.directory.refusal(mxid)) throw new CommandError(`Only users of ${this.deps.matrix.domain} can claim a ${connector.displayName} account.`);
    const logins = this.logins.all().filter((l) => l.network === connector.network);
    if (logins.length === 0) throw new CommandError(`The bridge has no ${connector.displayName} login to check a claim with.`);
    const senders = logins.map((l) => ({ login: l, conn: this.logins.connection(l.id) })).filter((x) => x.conn?.sendDirect);
    if (senders.length === 0) {
      // The remote user brings the code: a bot may not message first (Telegram).
      const claim = this.issue(mxid, connector.network);
      return `Send \`/start ${claim.code}\` to the bridge's ${connector.displayName} bot (${logins.map((l) => l.name).join(", ")}) from your ${connector.displayName} account within ${TTL_MINUTES} minutes. The code works once.`;
    }
    if (!input) throw new CommandError(`Usage: claim ${connector.network} <your ${connector.displayName} user id>`);
    for (const { conn } of senders) {
      const user = await this.resolveOn(conn!, input);
      if (!user) continue;
      const mapped = this.directory.mxidOf(connector.network, user);
      if (mapped) throw new CommandError(mapped === mxid ? "That account is already mapped to you." : "That account is already mapped to someone else; ask an admin.");
      const claim = this.issue(mxid, connector.network, user);
      await conn!.sendDirect!(user, `Someone on Matrix (${mxid}) says this ${connector.displayName} account is theirs. If that is you, say \`claim ${claim.code}\` to the bridge bot on Matrix within ${TTL_MINUTES} minutes. If not, ignore this message.`);
      return `I sent a code to that ${connector.displayName} account in a direct message. Say \`claim <code>\` here within ${TTL_MINUTES} minutes.`;
    }
    throw new CommandError(`No ${connector.displayName} user ${input} is known to the bridge's logins.`);
  }

  /** `claim <code>` in Matrix (a code sent to the remote side). */
  async redeemInMatrix(mxid: string, code: string): Promise<string> {
    const r = this.codes.redeem(code, { mxid });
    if (!r.ok) throw new CommandError(failure(r.reason));
    const row = await this.directory.map(r.claim.network, r.claim.userRef!, mxid, "claim", mxid);
    return `Done: ${this.describe(row)} is now mapped to you.`;
  }

  /** A code brought from the remote side (`/start CODE` on Telegram); the answer goes back there. */
  async redeemRemote(network: string, userRef: string, code: string): Promise<string> {
    const r = this.codes.redeem(code, { network, userRef });
    if (!r.ok) return failure(r.reason);
    try {
      const row = await this.directory.map(network, userRef, r.claim.mxid, "claim", r.claim.mxid);
      await this.tell(r.claim.mxid, `Done: ${this.describe(row)} is now mapped to you.`).catch(() => undefined);
      return `Done: this account is now mapped to ${r.claim.mxid} on Matrix.`;
    } catch (err) {
      if (err instanceof CommandError) return err.userMessage ?? err.message;
      throw err;
    }
  }

  private issue(mxid: string, network: string, userRef?: string) {
    const claim = this.codes.issue(mxid, network, userRef);
    if (!claim) throw new CommandError("You asked for too many codes; try again in a few minutes.");
    return claim;
  }

  // ---- admin mappings -------------------------------------------------------------------

  /** A remote user as an admin names them (`U123`, a numeric id, or the full ref). */
  async resolveRemote(connector: NetworkConnector, input: string): Promise<string> {
    const conns = this.logins.all().filter((l) => l.network === connector.network).map((l) => this.logins.connection(l.id)).filter((c) => c !== undefined);
    if (conns.length > 0 && conns.every((c) => c.resolveUser)) {
      for (const c of conns) {
        const user = await this.resolveOn(c, input);
        if (user) return user;
      }
      throw new CommandError(`No ${connector.displayName} user ${input} is known to the bridge's logins.`);
    }
    if (!/^[\w:.-]{1,64}$/.test(input)) throw new CommandError(`${input} does not look like a ${connector.displayName} user id.`);
    return input;
  }

  map(network: string, userRef: string, mxid: string, method: MappingMethod, by: string): Promise<MappingRow> {
    return this.directory.map(network, userRef, mxid, method, by);
  }

  /** `map <network> --by-email [--dry-run]`: the plan, applied unless dry. */
  async byEmail(connector: NetworkConnector, by: string, dryRun: boolean): Promise<string> {
    const conns = this.logins.all().filter((l) => l.network === connector.network).map((l) => this.logins.connection(l.id)).filter((c) => c?.listUsers);
    if (conns.length === 0) throw new CommandError(`No ${connector.displayName} login can list its users with their e-mails.`);
    if (!this.deps.matrix.usersWithEmails) throw new CommandError("This homeserver connection cannot list users by e-mail; use a CSV file.");
    const remote = (await Promise.all(conns.map((c) => c!.listUsers!()))).flat();
    const plan = this.directory.planByEmail(connector.network, remote, await this.deps.matrix.usersWithEmails());
    if (!dryRun) for (const m of plan.map) await this.directory.map(m.network, m.userRef, m.mxid, "email", by);
    const withEmail = remote.filter((r) => r.email).length;
    return [
      `${dryRun ? "Dry run: would map" : "Mapped"} ${plan.map.length} of ${remote.length} ${connector.displayName} users by e-mail (${withEmail} have an e-mail the bridge can see).`,
      ...plan.map.map((m) => `• ${describePlanned(m)} → ${m.mxid}`),
      ...(plan.skipped.length ? ["Not mapped (never guessed):", ...plan.skipped.map((s) => `• ${s.name} (${s.userRef}): ${s.why}`)] : []),
    ].join("\n");
  }

  /** `map <network> --csv FILE [--dry-run]`: all lines valid, or nothing mapped. */
  async fromCsv(connector: NetworkConnector, path: string, by: string, dryRun: boolean): Promise<string> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new CommandError(`Cannot read ${path} on the bridge's host: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}.`);
    }
    const rows = parseMappingCsv(text);
    const planned: PlannedMapping[] = [];
    const bad: string[] = [];
    for (const r of rows) {
      const why = this.directory.refusal(r.mxid);
      const user = why ? null : await this.resolveRemote(connector, r.remote).catch((err: unknown) => { bad.push(`line ${r.line}: ${err instanceof CommandError ? err.userMessage : String(err)}`); return null; });
      if (why) bad.push(`line ${r.line}: ${why}`);
      const mapped = user ? this.directory.mxidOf(connector.network, user) : undefined;
      if (user && mapped && mapped !== r.mxid) bad.push(`line ${r.line}: ${r.remote} is already mapped to ${mapped}`);
      else if (user && !mapped) planned.push({ network: connector.network, userRef: user, name: r.remote, mxid: r.mxid });
    }
    if (bad.length) throw new CommandError(`The CSV has ${bad.length} problem${bad.length === 1 ? "" : "s"}; nothing was mapped:\n${bad.slice(0, 20).join("\n")}`);
    if (!dryRun) for (const m of planned) await this.directory.map(m.network, m.userRef, m.mxid, "csv", by);
    return [`${dryRun ? "Dry run: would map" : "Mapped"} ${planned.length} ${connector.displayName} users from ${path}.`, ...planned.map((m) => `• ${describePlanned(m)} → ${m.mxid}`)].join("\n");
  }

  describe(row: { network: string; userRef: string }): string {
    return `${this.deps.connectors.get(row.network)?.displayName ?? row.network} user ${row.userRef}`;
  }

  // ---- what a mapping changes ---------------------------------------------------------------

  private async changed(row: MappingRow, mapped: boolean): Promise<void> {
    const connector = this.deps.connectors.get(row.network);
    if (!connector) return;
    const ghost = this.deps.matrix.ghostMxid(connector.ghostLocalpart(row.userRef));
    this.ghosts.restyle(ghost);
    if (!mapped) return;
    // In the background: the command answers at once.
    void this.placeIn(row, ghost).catch((err) => this.deps.log.warn("person not placed in their rooms and spaces", { ...errorFields(err) }));
  }

  /**
   * A mapped person belongs where their ghost is: the spaces of the logins whose rooms the ghost
   * is in are told (invite), and with double puppeting the person takes the ghost's place in
   * those rooms. Which workspace a remote user is in is read from where their ghost is, never guessed.
   */
  private async placeIn(row: MappingRow, ghost: string): Promise<void> {
    const rooms = await this.roomsOf(row.network, ghost);
    const logins = new Set(rooms.flatMap((r) => r.loginIds));
    for (const loginId of logins) {
      await this.onPlaced?.(loginId, row.mxid).catch((err) => this.deps.log.warn("mapped person not invited to the space", { loginId, ...errorFields(err) }));
    }
    if (!this.deps.matrix.canPuppet?.(row.mxid)) return;
    for (const { roomId } of rooms) await this.ghosts.enter(roomId, { mxid: row.mxid, ghost, puppet: true });
  }

  /** The mapped people of one login: those whose ghost is in one of the login's rooms (for its space's invites). */
  async membersOf(loginId: string, network: string): Promise<string[]> {
    const out: string[] = [];
    for (const row of this.directory.list().filter((r) => r.network === network)) {
      const connector = this.deps.connectors.get(network);
      if (!connector) continue;
      // The ghost, or the person in its place (double puppeting).
      const rooms = await this.roomsOf(network, this.deps.matrix.ghostMxid(connector.ghostLocalpart(row.userRef)), row.mxid);
      if (rooms.some((r) => r.loginIds.includes(loginId))) out.push(row.mxid);
    }
    return out;
  }

  /** Portal rooms of this network that one of `who` has joined, with the logins each is linked through. */
  private async roomsOf(network: string, ...who: string[]): Promise<Array<{ roomId: string; loginIds: string[] }>> {
    const out: Array<{ roomId: string; loginIds: string[] }> = [];
    const rooms = new Set(this.portals.allPortals().map((p) => p.roomId));
    for (const roomId of rooms) {
      const loginIds = this.portals.linksOfRoom(roomId).filter((l) => l.network === network).map((l) => l.loginId);
      if (loginIds.length === 0) continue;
      const members = await this.deps.matrix.joinedMembers(roomId).catch(() => [] as string[]);
      if (who.some((m) => members.includes(m))) out.push({ roomId, loginIds });
    }
    return out;
  }

  private async resolveOn(conn: Connection, input: string): Promise<string | null> {
    return conn.resolveUser ? conn.resolveUser(input) : input;
  }
}

function failure(reason: "limited" | "invalid" | "expired"): string {
  switch (reason) {
    case "limited": return "Too many wrong codes; wait ten minutes and ask for a new one.";
    case "expired": return "That code has expired; ask for a new one with `claim <network>`.";
    default: return "That code is not valid. Codes work once, for the account that asked for them.";
  }
}

function describePlanned(m: PlannedMapping): string {
  return m.name === m.userRef ? m.userRef : `${m.name} (${m.userRef})`;
}
