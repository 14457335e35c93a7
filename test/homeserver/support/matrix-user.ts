/**
 * A person on the real homeserver, as Element sees them: the test client's client-server calls
 * (test/fakes/homeserver-client.ts speaks plain HTTP to any homeserver) plus a /sync loop that
 * keeps every timeline event and invite this user receives, so tests wait on what the person
 * would see, with a deadline, never a fixed sleep.
 *
 *   alice.startSync();
 *   const ev = await alice.waitForEvent((e) => e.room_id === room && e.sender === bot, { what: "the bot's answer" });
 *   const since = alice.eventCount; ...; await alice.waitForEvent(pred, { since });
 */
import type { ClientEvent, JsonObject } from "../../fakes/homeserver-model.js";
import { FakeMatrixClient } from "../../fakes/homeserver-client.js";

export type { ClientEvent, JsonObject };

interface SyncRoom {
  timeline?: { events?: Array<Omit<ClientEvent, "room_id">> };
  state?: { events?: Array<Omit<ClientEvent, "room_id">> };
}
interface SyncResponse {
  next_batch: string;
  rooms?: { join?: Record<string, SyncRoom>; invite?: Record<string, unknown>; leave?: Record<string, SyncRoom> };
}

interface Waiter {
  pred: (e: ClientEvent) => boolean;
  since: number;
  resolve: (e: ClientEvent) => void;
}

// A timeline as long as a test could produce between two syncs, so none is ever "limited".
const FILTER = JSON.stringify({ room: { timeline: { limit: 1000 }, state: { lazy_load_members: false } }, presence: { types: [] }, account_data: { types: [] } });

export class MatrixUser extends FakeMatrixClient {
  /** Every timeline event seen by /sync, in arrival order (room_id filled in). */
  readonly events: ClientEvent[] = [];
  /** Rooms this user was invited to. */
  readonly invites = new Set<string>();
  private readonly waiters = new Set<Waiter>();
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private readonly seen = new Set<string>();

  get eventCount(): number {
    return this.events.length;
  }

  /** Starts the /sync loop (idempotent); resolves after the first sync answered. */
  async startSync(): Promise<void> {
    if (this.loop) return;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    let first!: () => void;
    const firstDone = new Promise<void>((r) => { first = r; });
    this.loop = (async () => {
      let since: string | undefined;
      while (!signal.aborted) {
        try {
          const url = new URL("/_matrix/client/v3/sync", this.baseUrl);
          url.searchParams.set("filter", FILTER);
          url.searchParams.set("timeout", since ? "5000" : "0");
          if (since) url.searchParams.set("since", since);
          const reply = await fetch(url, { headers: { Authorization: `Bearer ${this.accessToken}` }, signal });
          if (!reply.ok) throw new Error(`sync answered ${reply.status}`);
          const res = (await reply.json()) as SyncResponse;
          since = res.next_batch;
          this.take(res);
          first();
        } catch {
          // The server restarting (a test does that) or the loop being stopped: try again shortly.
          if (!signal.aborted) await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();
    await firstDone;
  }

  async stopSync(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = null;
  }

  private take(res: SyncResponse): void {
    for (const roomId of Object.keys(res.rooms?.invite ?? {})) this.invites.add(roomId);
    for (const group of [res.rooms?.join, res.rooms?.leave]) {
      for (const [roomId, room] of Object.entries(group ?? {})) {
        for (const raw of room.timeline?.events ?? []) {
          if (this.seen.has(raw.event_id)) continue;
          this.seen.add(raw.event_id);
          const ev = { ...raw, room_id: roomId } as ClientEvent;
          this.events.push(ev);
          const index = this.events.length - 1;
          for (const w of [...this.waiters]) {
            if (index >= w.since && w.pred(ev)) {
              this.waiters.delete(w);
              w.resolve(ev);
            }
          }
        }
      }
    }
  }

  /** The first event (from index `since`, default 0) matching pred, waiting up to timeoutMs for it. */
  waitForEvent(pred: (e: ClientEvent) => boolean, opts: { since?: number; timeoutMs?: number; what?: string } = {}): Promise<ClientEvent> {
    const since = opts.since ?? 0;
    const found = this.events.slice(since).find(pred);
    if (found) return Promise.resolve(found);
    if (!this.loop) return Promise.reject(new Error(`${this.userId}: waitForEvent before startSync`));
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.userId}: no event within ${timeoutMs} ms: ${opts.what ?? pred.toString()}`));
      }, timeoutMs);
      const waiter: Waiter = { pred, since, resolve: (e) => { clearTimeout(timer); resolve(e); } };
      this.waiters.add(waiter);
    });
  }

  /** Events of one room seen so far, oldest first (optionally only one type). */
  timeline(roomId: string, type?: string): ClientEvent[] {
    return this.events.filter((e) => e.room_id === roomId && (!type || e.type === type));
  }

  /** The room an alias points to, or null. */
  async resolveAlias(alias: string): Promise<string | null> {
    try {
      return (await this.request<{ room_id: string }>("GET", `/_matrix/client/v3/directory/room/${encodeURIComponent(alias)}`)).room_id;
    } catch {
      return null;
    }
  }

  async profile(userId: string): Promise<{ displayname?: string; avatar_url?: string }> {
    return this.request("GET", `/_matrix/client/v3/profile/${encodeURIComponent(userId)}`);
  }

  /** Current state of a room: every event, or one type. */
  async roomState(roomId: string): Promise<ClientEvent[]> {
    return this.request("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`);
  }

  /** The room's membership as this user can see it: user id → membership. */
  async members(roomId: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const e of await this.roomState(roomId)) if (e.type === "m.room.member") out[e.state_key!] = String(e.content.membership);
    return out;
  }
}
