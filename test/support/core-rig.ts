/**
 * The whole core (BridgeCore: queue, both relay directions, portals, ghosts) on a real store,
 * with two loopback networks as the remote side and an in-memory MatrixPort: fast, in one
 * process, and faults scripted exactly where a test needs them. Tests drive it as the world
 * does: a remote post (`a.post`), a Matrix event (`matrixMessage`), and read what reached
 * each side.
 */
import { plainDoc } from "../../src/formatting/ast.js";
import { BridgeCore } from "../../src/core/bridge.js";
import type { CoreDeps, CoreOptions } from "../../src/core/context.js";
import type { RelayTiming } from "../../src/core/payloads.js";
import { HealthBoard } from "../../src/core/health.js";
import { silentLogger } from "../../src/core/log.js";
import type { MatrixInbound } from "../../src/core/matrix-port.js";
import type { Store } from "../../src/store/api.js";
import { FakeMatrixPort } from "./fake-matrix-port.js";
import { LoopbackConnector, LoopbackNetwork } from "./loopback.js";

export const OWNER = "@alice:example.org";
export const ROOM = "!linked:example.org";

export interface CoreRig {
  core: BridgeCore;
  store: Store;
  matrix: FakeMatrixPort;
  /** Network "loopback" (chat "ops") and "loopback2" (chat "fleet"), both linked to ROOM by `linkBoth`. */
  a: LoopbackNetwork;
  b: LoopbackNetwork;
  /** What `status` reads: each login's relayed counts and lag. */
  health: HealthBoard;
  stop(): Promise<void>;
}

export interface CoreRigOptions {
  /** Portals made at login (and by `sync`) per network; none by default. */
  initialChatCount?: Record<string, number>;
  /** Core options over the rig's defaults (file size limit, message parts, avatars…). */
  options?: Partial<CoreOptions>;
  onRelayed?: (timing: RelayTiming) => void;
}

export async function coreRig(store: Store, opts: CoreRigOptions = {}): Promise<CoreRig> {
  const matrix = new FakeMatrixPort();
  const a = new LoopbackNetwork();
  const b = new LoopbackNetwork();
  a.addAccount("lb-a", "acctA", "Alpha");
  b.addAccount("lb-b", "acctB", "Beta");
  a.addChat("ops", "ops");
  b.addChat("fleet", "fleet");
  a.addUser("ivan", "Ivan Petrov");
  b.addUser("olga", "Olga K");
  const health = new HealthBoard();
  const ca = new LoopbackConnector(a, "loopback");
  const cb = new LoopbackConnector(b, "loopback2");
  const deps: CoreDeps = {
    store, matrix, log: silentLogger, health,
    connectors: new Map([["loopback", ca], ["loopback2", cb]]),
    options: { commandPrefix: "!tandem", permissions: { "example.org": "user" }, maxFileSize: 1e6, promptTimeoutMs: 1000, initialChatCount: opts.initialChatCount ?? {}, ...opts.options },
  };
  const core = new BridgeCore(deps, { queue: { pollMs: 3600_000, baseDelayMs: 10, maxDelayMs: 40 }, onRelayed: opts.onRelayed });
  await core.start();
  await core.completeLogin(OWNER, ca, { remoteId: "acctA", name: "Alpha", secrets: { token: "lb-a" }, reply: "" });
  await core.completeLogin(OWNER, cb, { remoteId: "acctB", name: "Beta", secrets: { token: "lb-b" }, reply: "" });
  return { core, store, matrix, a, b, health, stop: () => core.stop() };
}

/** Link ROOM to loopback "ops" and loopback2 "fleet" (as `link` does). */
export async function linkBoth(rig: CoreRig): Promise<void> {
  await rig.core.linkRoom(ROOM, "loopback", "ops", OWNER, true);
  await rig.core.linkRoom(ROOM, "loopback2", "fleet", OWNER, true);
}

let seq = 0;
/**
 * From now on, the statements the store runs on the relay road (the queue and the message map), to
 * count round trips per item; others (the bridge-info sync a link starts) are left out.
 */
export function relayStatements(store: Store): string[] {
  const seen: string[] = [];
  const query = store.db.query.bind(store.db);
  store.db.query = ((sql: string, params?: unknown[]) => {
    if (/relay_queue|messages/.test(sql)) seen.push(sql);
    return query(sql, params);
  }) as typeof store.db.query;
  return seen;
}

/** A Matrix user's text message in ROOM, as the appservice hands it to the core; returns the event. */
export async function matrixMessage(rig: CoreRig, text: string, eventId = `$m${++seq}`): Promise<MatrixInbound> {
  const ev: MatrixInbound = { kind: "message", roomId: ROOM, eventId, sender: OWNER, ts: Date.now(), msgtype: "text", doc: plainDoc(text), body: text };
  await rig.core.onMatrixEvents([ev]);
  return ev;
}

export async function until(pred: () => boolean | Promise<boolean>, what = "condition", ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
