/**
 * Holding a chat's lane while its history is written (issue 12: one road per room; issue 14's
 * history import uses the same).
 *
 * Matrix can only append, so a chat's past must be in its room before the chat's live traffic.
 * A history writer (the backfill, an import) **holds** the chat: from then on every item of the
 * chat's lane `r:<network>:<chat>` (its events on their way to Matrix, and Matrix events going
 * out to it) waits in the durable relay queue, in order: the lane's head is put back without
 * counting an attempt, and nothing behind it moves. The writer posts the history into the room,
 * oldest first (`RemoteInbound.importPast`), then **releases** the chat: its lane is woken and
 * the waiting items follow, in the order they came. No timer decides the order.
 *
 * Holds are stored in kv (`lanehold:<network>:<chat>`, the holders' names), so they survive a
 * restart: the waiting items stay queued and the writer, resumed, releases later. A chat may
 * have several holders; it moves once the last one lets go.
 *
 * For a history writer (one in-process `ChatHolds`, `BridgeCore.holds`):
 *
 *     await holds.hold(network, chat, "import");    // before the first history write
 *     ...   importPast(...) oldest first             // live events queue up meanwhile
 *     await holds.release(network, chat, "import"); // they follow, in order
 *
 * `onWaiting` tells the holders that an item of a held chat is waiting (the backfill bounds that
 * wait; see backfill.ts).
 */
import type { Store } from "../store/api.js";
import { Deferred } from "./errors.js";
import { remoteLane, type QueuePayload } from "./payloads.js";

const PREFIX = "lanehold:";
/**
 * How long a waiting head is put back for before it looks again. `release` wakes the lane at
 * once; this only bounds the wait if a release and a put-back cross (and between processes).
 */
export const HOLD_RECHECK_MS = 2000;

export class ChatHolds {
  /** Lane → its holders. */
  private readonly held = new Map<string, Set<string>>();
  /** Told of every item that waits for a held chat. */
  onWaiting: (network: string, chat: string, payload: QueuePayload) => void = () => undefined;

  constructor(
    private readonly store: Store,
    /** Wakes lanes whose heads were put back (the queue's `wake` and `kick`). */
    private readonly wake: (lanes: string[]) => Promise<void>,
  ) {}

  /** Read the stored holds; call before the relay queue starts. */
  async load(): Promise<void> {
    const rows = await this.store.db.query<{ key: string; value: string }>(`SELECT key, value FROM kv WHERE key LIKE '${PREFIX}%'`);
    for (const r of rows) {
      const holders = parseHolders(r.value);
      if (holders.length > 0) this.held.set(r.key.slice(PREFIX.length), new Set(holders));
    }
  }

  isHeld(network: string, chat: string): boolean {
    return this.held.has(remoteLane(network, chat));
  }

  holders(network: string, chat: string): ReadonlySet<string> {
    return this.held.get(remoteLane(network, chat)) ?? new Set();
  }

  /** Hold the chat for `holder`; stored before it returns. Holding twice is a no-op. */
  async hold(network: string, chat: string, holder: string): Promise<void> {
    const lane = remoteLane(network, chat);
    const holders = this.held.get(lane) ?? new Set<string>();
    if (holders.has(holder)) return;
    holders.add(holder);
    this.held.set(lane, holders);
    await this.save(lane, holders);
  }

  /** Let go of the chat for `holder`; when no holder is left, its waiting items follow. */
  async release(network: string, chat: string, holder: string): Promise<void> {
    const lane = remoteLane(network, chat);
    const holders = this.held.get(lane);
    if (!holders?.delete(holder)) return;
    if (holders.size === 0) this.held.delete(lane);
    await this.save(lane, holders);
    if (holders.size === 0) await this.wake([lane]);
  }

  /** In the lane worker, before an item of this chat is applied: throws Deferred while the chat is held. */
  check(network: string, chat: string, payload: QueuePayload): void {
    const lane = remoteLane(network, chat);
    const holders = this.held.get(lane);
    if (!holders) return;
    this.onWaiting(network, chat, payload);
    throw new Deferred(HOLD_RECHECK_MS, `${lane} is held for its history (${[...holders].join(", ")})`);
  }

  private async save(lane: string, holders: ReadonlySet<string>): Promise<void> {
    await this.store.kv.set(`${PREFIX}${lane}`, JSON.stringify([...holders]));
  }
}

function parseHolders(value: string): string[] {
  try {
    const v = JSON.parse(value) as unknown;
    return Array.isArray(v) ? v.filter((h): h is string => typeof h === "string") : [];
  } catch {
    return []; // an unreadable row holds nothing
  }
}
