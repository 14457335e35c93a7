/**
 * Traffic: puts numbered messages ("bx<id> …") into the fakes in each direction and records when
 * each arrives where the bridge sends it (the fake homeserver creating the event, fake Slack
 * receiving chat.postMessage, fake Telegram receiving sendMessage), with the high-resolution clock.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import type { ApiCall } from "../test/fakes/slack.js";
import type { RecordedRequest } from "../test/fakes/telegram.js";
import type { Chat, World } from "./world.js";

export type Direction = "slack->matrix" | "matrix->slack" | "telegram->matrix" | "matrix->telegram" | "linked";
export const DIRECTIONS: Direction[] = ["slack->matrix", "matrix->slack", "telegram->matrix", "matrix->telegram", "linked"];
type Dest = "matrix" | "slack" | "telegram";

const DESTS: Record<Direction, Dest[]> = {
  "slack->matrix": ["matrix"], "matrix->slack": ["slack"], "telegram->matrix": ["matrix"], "matrix->telegram": ["telegram"],
  linked: ["matrix", "telegram"],
};

const now = () => performance.timeOrigin + performance.now();
const ID_RE = /\bbx(\d+)\b/;

interface Sent {
  dir: Direction;
  at: number;
  arrived: Partial<Record<Dest, number>>;
  left: number;
}

export class Traffic {
  private seq = 0;
  private readonly sent = new Map<number, Sent>();
  private readonly rr = new Map<Direction, number>();
  private slackSeen: Array<{ call: ApiCall; initial: unknown; at: number }> = [];
  private slackScan: NodeJS.Timeout | null = null;
  private outstanding = 0;
  private waiters: Array<() => void> = [];
  /** Matrix sends in flight (HTTP to the fake homeserver). */
  private inFlight = 0;
  failures = 0;
  private txn = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(private readonly w: World) {
    // Arrival hooks. The homeserver: a standing waitForEvent predicate that never matches.
    void w.hs.waitForEvent((ev) => {
      if (ev.type === "m.room.message" && /^@(slack|telegram)_/.test(ev.sender)) {
        const m = ID_RE.exec(String((ev.content as { body?: unknown }).body ?? ""));
        if (m) this.arrive(Number(m[1]), "matrix", now());
      }
      return false;
    }, { timeoutMs: 2 ** 31 - 1 }).catch(() => undefined);
    // Slack and Telegram log every request in an array: note the time each is pushed.
    const calls = w.slack.calls;
    const pushCall = calls.push.bind(calls);
    calls.push = (...items: ApiCall[]) => {
      const at = now();
      for (const call of items) if (call.method === "chat.postMessage") this.slackSeen.push({ call, initial: call.params, at });
      this.slackScan ??= setTimeout(() => this.scanSlack(), 0);
      return pushCall(...items);
    };
    const reqs = w.tg.requests;
    const pushReq = reqs.push.bind(reqs);
    reqs.push = (...items: RecordedRequest[]) => {
      const at = now();
      for (const r of items) {
        if (r.method !== "sendMessage") continue;
        const m = ID_RE.exec(String(r.params.text ?? ""));
        if (m) this.arrive(Number(m[1]), "telegram", at);
      }
      return pushReq(...items);
    };
  }

  /** Slack's call params are filled in after the body is parsed: look at them once they are. */
  private scanSlack(): void {
    this.slackScan = null;
    const keep: typeof this.slackSeen = [];
    for (const e of this.slackSeen) {
      if (e.call.params === e.initial) {
        if (now() - e.at < 5000) keep.push(e);
        continue;
      }
      const m = ID_RE.exec(String(e.call.params.text ?? ""));
      if (m) this.arrive(Number(m[1]), "slack", e.at);
    }
    this.slackSeen = keep;
    if (keep.length > 0) this.slackScan = setTimeout(() => this.scanSlack(), 1);
  }

  private arrive(id: number, dest: Dest, at: number): void {
    const s = this.sent.get(id);
    if (!s || s.arrived[dest] !== undefined || !DESTS[s.dir].includes(dest)) return;
    s.arrived[dest] = at;
    if (--s.left === 0 && --this.outstanding === 0) for (const w of this.waiters.splice(0)) w();
  }

  private chats(dir: Direction): Chat[] {
    if (dir === "slack->matrix" || dir === "matrix->slack") return this.w.slackChats;
    if (dir === "telegram->matrix" || dir === "matrix->telegram") return this.w.telegramChats;
    return this.w.linkedChats;
  }

  /** One message in a direction, round-robin over its chats and their users. Returns its id. */
  send(dir: Direction, chatIndex?: number, userIndex?: number): number {
    const chats = this.chats(dir);
    const n = this.rr.get(dir) ?? 0;
    this.rr.set(dir, n + 1);
    const chat = chats[chatIndex ?? n % chats.length]!;
    const user = chat.users[userIndex ?? Math.floor(n / chats.length) % chat.users.length]!;
    const id = ++this.seq;
    const text = `bx${id} the quick brown fox jumps over the lazy dog`;
    this.sent.set(id, { dir, at: now(), arrived: {}, left: DESTS[dir].length });
    this.outstanding++;
    try {
      switch (dir) {
        case "slack->matrix":
        case "linked":
          this.w.slack.userPosts(this.w.team, chat.slack!, user, text);
          break;
        case "telegram->matrix":
          this.w.tg.userSends(chat.telegram!, Number(user), { text });
          break;
        case "matrix->slack":
        case "matrix->telegram":
          this.inFlight++;
          void this.matrixSend(chat.roomId, text).catch(() => { this.failures++; }).finally(() => { this.inFlight--; });
          break;
      }
    } catch (err) {
      this.failures++;
      throw err;
    }
    return id;
  }

  /** Alice sends m.text (plain node:http with keep-alive: the generator should cost little next to the bridge). */
  private matrixSend(roomId: string, body: string): Promise<void> {
    const url = new URL(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/bench${++this.txn}`, this.w.hs.url);
    const payload = Buffer.from(JSON.stringify({ msgtype: "m.text", body }));
    return new Promise((resolve, reject) => {
      const req = http.request(url, {
        method: "PUT", agent: this.agent,
        headers: { authorization: `Bearer ${this.w.alice.accessToken}`, "content-type": "application/json", "content-length": payload.length },
      }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Resolves when every message sent so far has arrived everywhere (false on timeout). */
  async settle(timeoutMs: number): Promise<boolean> {
    if (this.outstanding === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      new Promise<boolean>((r) => this.waiters.push(() => r(true))),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(false), timeoutMs); }),
    ]);
    clearTimeout(timer);
    return ok;
  }

  get pending(): number {
    return this.outstanding;
  }

  /** Open loop: `rates` messages/s per direction for durationMs. */
  async steady(rates: Partial<Record<Direction, number>>, durationMs: number): Promise<void> {
    const start = now();
    const count = new Map<Direction, number>();
    while (now() - start < durationMs) {
      const elapsed = now() - start;
      for (const [dir, rate] of Object.entries(rates) as Array<[Direction, number]>) {
        const due = Math.floor((elapsed * rate) / 1000) - (count.get(dir) ?? 0);
        for (let i = 0; i < due; i++) this.send(dir);
        count.set(dir, (count.get(dir) ?? 0) + Math.max(0, due));
      }
      await sleep(2);
    }
  }

  /** As fast as the fakes take them: n messages per direction (Matrix sends with bounded concurrency). */
  async burst(dirs: Direction[], n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      for (const dir of dirs) {
        if (dir.startsWith("matrix->")) while (this.inFlight >= 64) await sleep(1);
        this.send(dir);
      }
      if (i % 50 === 49) await sleep(0);
    }
  }

  /** Ids sent since `fromId` (exclusive), with their direction and end-to-end latencies per destination. */
  results(fromId: number, toId = this.seq): Array<{ dir: Direction; at: number; e2e: Partial<Record<Dest, number>> }> {
    const out = [];
    for (let id = fromId + 1; id <= toId; id++) {
      const s = this.sent.get(id);
      if (!s) continue;
      const e2e: Partial<Record<Dest, number>> = {};
      for (const [d, t] of Object.entries(s.arrived) as Array<[Dest, number]>) e2e[d] = t - s.at;
      out.push({ dir: s.dir, at: s.at, e2e });
    }
    return out;
  }

  /** Requests the fakes have served so far (and AS transactions pushed), to count calls per message. */
  calls(): { homeserver: number; slack: number; telegram: number; transactions: number; paths: Map<string, number> } {
    const paths = new Map<string, number>();
    for (const r of this.w.hs.requests) {
      const k = `hs ${r.method} ${r.path.replace(/![^/]+|%21[^/]+/g, "!room").replace(/@[^/]+|%40[^/]+/g, "@user").replace(/\/send\/([^/]+)\/[^/]+$/, "/send/$1/txn")}`;
      paths.set(k, (paths.get(k) ?? 0) + 1);
    }
    for (const c of this.w.slack.calls) paths.set(`slack ${c.method}`, (paths.get(`slack ${c.method}`) ?? 0) + 1);
    for (const r of this.w.tg.requests) paths.set(`telegram ${r.method}`, (paths.get(`telegram ${r.method}`) ?? 0) + 1);
    return { homeserver: this.w.hs.requests.length, slack: this.w.slack.calls.length, telegram: this.w.tg.requests.length, transactions: this.w.hs.transactionsDelivered, paths };
  }

  get lastId(): number {
    return this.seq;
  }

  close(): void {
    this.agent.destroy();
  }

  /** Forget finished messages (memory of long runs). */
  forget(beforeId: number): void {
    for (const id of this.sent.keys()) if (id <= beforeId && this.sent.get(id)!.left === 0) this.sent.delete(id);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
