/**
 * A link whose login was logged out is "detached": it stays, and queue items for it wait for
 * a new login of the same account rather than fail. The wait is bounded (bridge.
 * detached_wait_minutes), counted from the later of the item's receipt and the logout; after
 * that the item is dead-lettered with a notice, so a login that never comes back costs its
 * chat's backlog, not the queue forever.
 */
import type { PortalLinkRow, QueueItem } from "../store/api.js";
import type { CoreDeps } from "./context.js";
import { Deferred, RemoteError, type TandemError } from "./errors.js";
import { errorFields } from "./log.js";
import { remoteLane, type QueuePayload } from "./payloads.js";
import type { PortalDirectory } from "./portals.js";

/** Re-check a waiting item at least this often (a changed config, the status view's figures). */
const RECHECK_MS = 10 * 60_000;

/** Throws: Deferred while the item may wait on, then a final RemoteError("detached"). */
export function holdForLogin(link: PortalLinkRow, receivedAt: number, waitMs: number, networkName: string, now = Date.now()): never {
  const since = Math.max(receivedAt, link.detachedAt?.getTime() ?? now);
  const left = since + waitMs - now;
  if (left > 0) throw new Deferred(Math.min(left, RECHECK_MS), `${link.network} ${link.chat} is detached (its login was logged out): waiting for a new login`);
  throw new RemoteError("detached", `${link.network} ${link.chat} stayed detached longer than ${describeWait(waitMs)}`, {
    retryable: false,
    userMessage: `the ${networkName} login for ${link.name || link.chat} was logged out and no new login came within ${describeWait(waitMs)}`,
  });
}

export function describeWait(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 1) return "no time at all (bridge.detached_wait_minutes is 0)";
  if (min < 120) return `${min} minute${min === 1 ? "" : "s"}`;
  return `${Math.round(min / 60)} hours`;
}

type Notice = (roomId: string, text: string) => Promise<void>;

/** Detaching a logged-out login's links, re-attaching them on a new login, and what rooms and `status` are told. */
export class Detachment {
  /** Detached lanes already told that their waiting items were dropped (one notice per logout). */
  private readonly toldDropped = new Set<string>();

  constructor(
    private readonly deps: CoreDeps,
    private readonly portals: PortalDirectory,
    private readonly kick: (lanes: string[]) => void,
    private readonly notice: Notice,
  ) {}

  get waitMs(): number {
    return this.deps.options.detachedWaitMs ?? 24 * 3600_000;
  }

  /** `logout`: the login's links stay but relay nothing; each room is told once. */
  async detach(loginId: string, ownerMxid: string | undefined, network = loginId.split(":")[0]!): Promise<void> {
    const links = await this.portals.setDetached(loginId, new Date());
    // The login row goes; who owned it is kept so `status` shows them their detached chats.
    if (ownerMxid && links.length > 0) await this.deps.store.kv.set(ownerKey(loginId), ownerMxid);
    const name = this.nameOf(network);
    for (const [roomId, mine] of byRoom(links)) {
      await this.notice(roomId, `${mine.map((l) => `${name} ${l.name || l.chat}`).join(", ")}: the login was logged out, so nothing is relayed with it for now. ` +
        `Matrix messages written here wait up to ${describeWait(this.waitMs)} for the same account to log in again; after that they are dropped, with a notice.`)
        .catch((err) => this.deps.log.warn("detach notice not posted", { roomId, ...errorFields(err) }));
    }
  }

  /** A login of an account whose links were detached: they relay again, and what waited goes out now. */
  async reattach(loginId: string): Promise<void> {
    const links = await this.portals.setDetached(loginId, null);
    if (links.length === 0) return;
    const lanes = links.map((l) => remoteLane(l.network, l.chat));
    await this.deps.store.queue.wake(lanes);
    this.kick(lanes);
    const name = this.nameOf(links[0]!.network);
    for (const [roomId, mine] of byRoom(links)) {
      await this.notice(roomId, `${mine.map((l) => `${name} ${l.name || l.chat}`).join(", ")}: logged in again, relaying resumes (waiting messages go out now).`)
        .catch((err) => this.deps.log.warn("reattach notice not posted", { roomId, ...errorFields(err) }));
    }
  }

  /** A detached chat's backlog runs out together: one notice for it, not one per message. */
  async dropped(item: QueueItem, roomId: string, err: TandemError): Promise<void> {
    const p = item.payload as QueuePayload;
    const [network, chat] = p.t === "matrix" ? [p.target?.network ?? "", p.target?.chat ?? ""] : [p.network, p.event.chat];
    const link = this.portals.linkForChat(network, chat);
    const key = `${item.lane}\u0000${link?.detachedAt?.getTime() ?? 0}`;
    if (this.toldDropped.has(key)) return;
    this.toldDropped.add(key);
    const what = p.t === "matrix" ? "Matrix messages that waited" : `${this.nameOf(network)} messages that waited to be bridged`;
    await this.notice(roomId, `${what} for ${this.nameOf(network)} ${link?.name || chat} are dropped: ${err.userMessage ?? err.message}.`);
  }

  /** `status` lines for detached links (of the logins `owner` had; all when absent): how many Matrix messages wait, since when. */
  async status(owner?: string): Promise<string[]> {
    let links = this.portals.allPortals().flatMap((p) => this.portals.linksOfRoom(p.roomId)).filter((l) => l.detachedAt);
    if (owner) {
      const owners = new Map<string, string | null>();
      for (const id of new Set(links.map((l) => l.loginId))) owners.set(id, await this.deps.store.kv.get(ownerKey(id)));
      links = links.filter((l) => owners.get(l.loginId) === owner);
    }
    if (links.length === 0) return [];
    const waiting = new Map((await this.deps.store.queue.pendingIn(links.map((l) => remoteLane(l.network, l.chat)))).map((w) => [w.lane, w]));
    return links.map((l) => {
      const w = waiting.get(remoteLane(l.network, l.chat));
      return `${this.nameOf(l.network)} ${l.name || l.chat}: detached since ${l.detachedAt!.toISOString()} (logged out), ` +
        `${w?.pending ?? 0} message(s) waiting${w ? ` since ${w.oldestAt.toISOString()}` : ""}; dropped after ${describeWait(this.waitMs)}`;
    });
  }

  private nameOf(network: string): string {
    return this.deps.connectors.get(network)?.displayName ?? network;
  }
}

const ownerKey = (loginId: string) => `detached-owner:${loginId}`;

function byRoom(links: PortalLinkRow[]): Map<string, PortalLinkRow[]> {
  const out = new Map<string, PortalLinkRow[]>();
  for (const l of links) out.set(l.roomId, [...(out.get(l.roomId) ?? []), l]);
  return out;
}
