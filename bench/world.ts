/**
 * The world the bridge runs against: the test fakes (homeserver, Slack, Telegram) made to answer
 * at once, a config and registration for them, and a store pre-seeded through the store API with
 * logins, portals, links and ghosts (as an existing deployment has them), plus the Matrix rooms
 * and ghost users those portals need on the homeserver.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildRegistration, parseConfig, type Registration } from "../src/config/index.js";
import { openStore } from "../src/store/store.js";
import type { Store } from "../src/store/api.js";
import { FakeHomeserver, type FakeMatrixClient } from "../test/fakes/homeserver.js";
import { FakeSlack, type TeamHandle } from "../test/fakes/slack.js";
import { FakeTelegram } from "../test/fakes/telegram.js";
import type { DbTarget } from "./pg.js";
import { freePort } from "../test/support/ports.js";

export const DOMAIN = "example.org";
export const ENCRYPTION_KEY = "bench-encryption-key-0123456789";
const TEAM = "T0BENCH";
const BOT_ID = 9001;

export interface WorldSpec {
  /** Portals with a Matrix room, per kind: Slack channel, Telegram group, linked room (Slack + Telegram). */
  slack: number;
  telegram: number;
  linked: number;
  /** Remote users posting in each chat (each is a ghost). */
  usersPerChat: number;
  /** Users are shared by all chats (few ghosts) or distinct per chat (many ghosts). */
  distinctUsers: boolean;
  /** Extra portals only in the store (no room, no traffic), for start-up and memory at scale. */
  coldPortals: number;
  /** Extra ghosts only in the store (and registered on the homeserver when registerColdGhosts). */
  coldGhosts: number;
  /**
   * Logins besides the bench's one Slack workspace and one Telegram bot, half more workspaces and
   * half more bots (each its own Socket Mode connection or long poll), with no chats: the rest
   * phase's 10 logins.
   */
  extraLogins?: number;
}

/** A WorldSpec with nothing in it but what `over` names. */
export const worldSpec = (over: Partial<WorldSpec>): WorldSpec => ({ slack: 0, telegram: 0, linked: 0, usersPerChat: 1, distinctUsers: false, coldPortals: 0, coldGhosts: 0, ...over });

export interface Chat {
  roomId: string;
  slack?: string;      // channel id
  telegram?: number;   // chat id
  users: string[];     // Slack user ids or Telegram user ids (as strings)
}

export class World {
  hs!: FakeHomeserver;
  slack!: FakeSlack;
  tg!: FakeTelegram;
  team!: TeamHandle;
  alice!: FakeMatrixClient;
  registration!: Registration;
  raw!: Record<string, Record<string, unknown>>;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "tandem-bench-"));
  readonly slackChats: Chat[] = [];
  readonly telegramChats: Chat[] = [];
  readonly linkedChats: Chat[] = [];
  botToken = "";

  static async start(db: DbTarget, logLevel: string): Promise<World> {
    const w = new World();
    w.hs = await FakeHomeserver.start({ domain: DOMAIN, retry: { initialMs: 20, maxMs: 200 } });
    w.slack = await FakeSlack.start({ echoLeadMs: 0, ackTimeoutMs: 30_000, pingIntervalMs: 0 });
    w.tg = await FakeTelegram.start();
    const port = await freePort();
    w.raw = {
      homeserver: { url: w.hs.url, domain: DOMAIN },
      appservice: { address: `http://127.0.0.1:${port}`, hostname: "127.0.0.1", port, registration: "registration.yaml" },
      database: { uri: db.uri, data_dir: db.dataDir || "db" },
      slack: { api_url: w.slack.apiUrl, conversation_count: 0 },
      telegram: { api_root: w.tg.apiRoot },
      bridge: { permissions: { "*": "relay", [DOMAIN]: "user" }, encryption_key: ENCRYPTION_KEY, download_allowed_origins: new URL(w.slack.apiUrl).origin },
      // On, as by default: what the bridge costs includes its metrics (their sampler runs at rest too).
      metrics: { enabled: true, hostname: "127.0.0.1", port: await freePort() },
      logging: { level: logLevel, format: "json" },
    };
    const config = parseConfig(w.raw, {}, { baseDir: w.dir });
    w.registration = buildRegistration(config);
    w.hs.setRegistration(w.registration as never);
    w.team = w.slack.createTeam({ id: TEAM, name: "Bench", domain: "bench" });
    const bot = w.tg.createBot({ id: BOT_ID, username: "bench_bot", first_name: "Bench", canReadAllGroupMessages: true });
    w.botToken = bot.token;
    w.alice = w.hs.createUser("alice", { displayname: "Alice" });
    return w;
  }

  get botMxid(): string {
    return `@${this.registration.sender_localpart}:${DOMAIN}`;
  }

  /** Creates the remote chats, Matrix rooms and store rows for a spec. Returns seconds spent. */
  async seed(spec: WorldSpec, uri: DbTarget): Promise<number> {
    const t0 = Date.now();
    const store = await openStore({ uri: uri.uri, dataDir: uri.dataDir, encryptionKey: ENCRYPTION_KEY });
    try {
      await store.logins.put({ id: `slack:${TEAM}`, network: "slack", ownerMxid: this.alice.userId, remoteId: TEAM, name: "Bench", secrets: { botToken: this.team.botToken, appToken: this.team.appToken } });
      await store.logins.put({ id: `telegram:${BOT_ID}`, network: "telegram", ownerMxid: this.alice.userId, remoteId: String(BOT_ID), name: "@bench_bot", secrets: { token: this.botToken } });
      for (let i = 1; i <= (spec.extraLogins ?? 0); i++) {
        if (i % 2 === 1) {
          const team = this.slack.createTeam({ id: `${TEAM}${i}`, name: `Bench ${i}`, domain: `bench${i}` });
          await store.logins.put({ id: `slack:${team.id}`, network: "slack", ownerMxid: this.alice.userId, remoteId: team.id, name: `Bench ${i}`, secrets: { botToken: team.botToken, appToken: team.appToken } });
        } else {
          const id = BOT_ID + i;
          const bot = this.tg.createBot({ id, username: `bench${i}_bot`, first_name: `Bench ${i}` });
          await store.logins.put({ id: `telegram:${id}`, network: "telegram", ownerMxid: this.alice.userId, remoteId: String(id), name: `@bench${i}_bot`, secrets: { token: bot.token } });
        }
      }
      // The bridge registers its bot at start, retrying in the background: a world seeded after a
      // short first start (the embedded phase) may not have it yet.
      if (!this.hs.userExists(this.botMxid)) await this.registerGhost(this.botMxid);
      const bot = this.hs.clientFor(this.botMxid);
      let userSeq = 0;
      const usersFor = (): number[] => {
        const out: number[] = [];
        for (let i = 0; i < spec.usersPerChat; i++) out.push(spec.distinctUsers ? ++userSeq : i + 1);
        return out;
      };
      const ghosts = new Map<string, { network: string; userRef: string; name: string }>();
      const slackUser = (n: number) => {
        const id = `U${String(n).padStart(6, "0")}`;
        if (!ghosts.has(`s${n}`)) {
          this.slack.addUser(this.team, { id, name: `user${n}`, real_name: `Slack User ${n}` });
          ghosts.set(`s${n}`, { network: "slack", userRef: `${TEAM}:${id}`, name: `Slack User ${n}` });
        }
        return id;
      };
      const tgUser = (n: number) => {
        const id = 100_000 + n;
        if (!ghosts.has(`t${n}`)) {
          this.tg.addUser({ id, first_name: "Telegram", last_name: `User ${n}` });
          ghosts.set(`t${n}`, { network: "telegram", userRef: String(id), name: `Telegram User ${n}` });
        }
        return id;
      };
      const total = spec.slack + spec.telegram + spec.linked;
      const rooms = await pool(total, 16, async (i) => {
        const roomId = await bot.createRoom({ preset: "private_chat", name: `bench ${i}`, invite: [this.alice.userId] });
        await this.alice.join(roomId);
        return roomId;
      });
      await store.tx!(async (s) => {
        for (let i = 0; i < total; i++) {
          const roomId = rooms[i]!;
          const kind = i < spec.slack ? "slack" : i < spec.slack + spec.telegram ? "telegram" : "linked";
          const chat: Chat = { roomId, users: [] };
          const nums = usersFor();
          if (kind !== "telegram") {
            const users = nums.map(slackUser);
            chat.slack = `C${String(i).padStart(7, "0")}`;
            this.slack.addChannel(this.team, { id: chat.slack, name: `bench-${i}`, members: users, botMember: true });
            chat.users = users;
          }
          if (kind !== "slack") {
            const users = nums.map(tgUser);
            chat.telegram = -1_000_000_000 - i;
            this.tg.addChat({ id: chat.telegram, type: "supergroup", title: `Bench ${i}`, members: [...users, BOT_ID] });
            if (kind === "telegram") chat.users = users.map(String);
          }
          await s.portals.create({ roomId, kind: kind === "linked" ? "linked" : "portal", ownerMxid: kind === "linked" ? null : this.alice.userId });
          if (chat.slack) await s.links.add({ roomId, network: "slack", chat: `${TEAM}:${chat.slack}`, loginId: `slack:${TEAM}`, name: `bench-${i}`, alias: null });
          if (chat.telegram) await s.links.add({ roomId, network: "telegram", chat: String(chat.telegram), loginId: `telegram:${BOT_ID}`, name: `Bench ${i}`, alias: null });
          (kind === "slack" ? this.slackChats : kind === "telegram" ? this.telegramChats : this.linkedChats).push(chat);
        }
      });
      await seedCold(store, spec);
      await store.tx!(async (s) => {
        for (const g of ghosts.values()) {
          await s.ghosts.put({ mxid: ghostMxid(g.network, g.userRef), network: g.network, userRef: g.userRef, displayName: g.name, avatarSource: null, avatarMxc: null });
        }
      });
      const mxids = [...ghosts.values()].map((g) => ghostMxid(g.network, g.userRef));
      for (let i = 0; i < spec.coldGhosts; i++) mxids.push(`@slack_${TEAM.toLowerCase()}_c${i}:${DOMAIN}`);
      await pool(mxids.length, 16, (i) => this.registerGhost(mxids[i]!));
    } finally {
      await store.close();
    }
    return (Date.now() - t0) / 1000;
  }

  /** Registers a user through the appservice API; a connection dropped on a loaded machine is retried. */
  private async registerGhost(mxid: string, attempt = 1): Promise<void> {
    const res = await fetch(`${this.hs.url}/_matrix/client/v3/register`, {
      method: "POST", headers: { authorization: `Bearer ${this.registration.as_token}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "m.login.application_service", username: mxid.slice(1, mxid.indexOf(":")), inhibit_login: true }),
    }).catch((err: unknown) => {
      if (attempt >= 3) throw new Error(`register ${mxid}: ${String((err as Error).cause ?? err)}`, { cause: err });
      return null;
    });
    if (res === null) return this.registerGhost(mxid, attempt + 1);
    if (!res.ok && res.status !== 400) throw new Error(`register ${mxid}: HTTP ${res.status}`);
    await res.arrayBuffer();
  }

  async stop(): Promise<void> {
    await this.hs?.stop().catch(() => undefined);
    await this.slack?.stop().catch(() => undefined);
    await this.tg?.stop().catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Portals, links and ghosts only in the store (start-up and memory at scale). */
async function seedCold(store: Store, spec: WorldSpec): Promise<void> {
  const CHUNK = 500;
  for (let start = 0; start < spec.coldPortals; start += CHUNK) {
    await store.tx!(async (s) => {
      for (let i = start; i < Math.min(spec.coldPortals, start + CHUNK); i++) {
        const roomId = `!cold${i}:${DOMAIN}`;
        await s.portals.create({ roomId, kind: "portal", ownerMxid: `@alice:${DOMAIN}` });
        if (i % 2 === 0) await s.links.add({ roomId, network: "slack", chat: `${TEAM}:K${i}`, loginId: `slack:${TEAM}`, name: `cold-${i}`, alias: `#slack_bench_cold-${i}:${DOMAIN}` });
        else await s.links.add({ roomId, network: "telegram", chat: String(-2_000_000_000 - i), loginId: `telegram:${BOT_ID}`, name: `Cold ${i}`, alias: null });
      }
    });
  }
  for (let start = 0; start < spec.coldGhosts; start += CHUNK) {
    await store.tx!(async (s) => {
      for (let i = start; i < Math.min(spec.coldGhosts, start + CHUNK); i++) {
        await s.ghosts.put({ mxid: `@slack_${TEAM.toLowerCase()}_c${i}:${DOMAIN}`, network: "slack", userRef: `${TEAM}:C${i}`, displayName: `Cold ${i}`, avatarSource: null, avatarMxc: null });
      }
    });
  }
}

export function ghostMxid(network: string, userRef: string): string {
  if (network === "slack") return `@slack_${userRef.replace(":", "_").toLowerCase()}:${DOMAIN}`;
  return `@telegram_${userRef}:${DOMAIN}`;
}

/** Runs fn(0..n-1) with at most `width` at a time; results in order. */
export async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, n) }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

