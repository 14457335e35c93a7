/**
 * The core: owns portals, ghosts, logins, the relay queue and the commands, and routes
 * events between connectors and Matrix. It imports neither src/matrix nor a network; both
 * sides are handed in as ports.
 */
import { randomUUID } from "node:crypto";
import type { CutoverChangeRow, CutoverPhase, NewQueueItem, PortalLinkRow, QueueItem } from "../store/api.js";
import { Backfill, type BackfillOptions } from "./backfill.js";
import { ChatHolds } from "./chat-holds.js";
import { BridgeInfoWriter } from "./bridge-info.js";
import { auditCommands } from "./commands/audit.js";
import { cutoverCommands } from "./commands/cutover.js";
import { peopleCommands } from "./commands/people.js";
import { generalCommands } from "./commands/general.js";
import { linkCommands } from "./commands/links.js";
import { loginCommands } from "./commands/logins.js";
import { CommandRegistry, type Command } from "./commands/registry.js";
import type { BridgeServices } from "./commands/services.js";
import type { LoginRecord, LoginResult, NetworkConnector } from "./connector.js";
import type { CoreDeps } from "./context.js";
import { Deferred, LoginTakenError, TandemError } from "./errors.js";
import { GhostManager } from "./ghosts.js";
import { HistoryImports, IMPORT_HOLDER } from "./history-import/importer.js";
import { describeImport } from "./history-import/progress.js";
import { importCommands } from "./commands/import.js";
import { RoomLinker } from "./linking.js";
import { ManagementRooms } from "./management-rooms.js";
import { LoginManager } from "./logins.js";
import type { MatrixInbound } from "./matrix-port.js";
import { MatrixOutbound } from "./matrix-outbound.js";
import { Detachment } from "./detached.js";
import { perTarget, type QueuePayload, type RelayTiming, type RemotePayload } from "./payloads.js";
export type { RelayTiming } from "./payloads.js";
import { Permissions } from "./permissions.js";
import { People } from "./people-service.js";
import { PortalDirectory } from "./portals.js";
import { RelayQueue, type RelayQueueOptions } from "./relay-queue.js";
import { RemoteInbound } from "./remote-inbound.js";
import { errorFields } from "./log.js";
import { TokenGuard } from "./token-guard.js";
import { SpaceDirectory } from "./spaces.js";
import { EmojiPacks } from "./emoji-packs.js";
import { CutoverFinisher, type FinishResult } from "./cutover-finish.js";
import { RoomUpgrades } from "./room-upgrades.js";
import { spaceCommands } from "./commands/spaces.js";

/** How long done relay-queue items are kept (their source keys dedup redeliveries meanwhile). */
const QUEUE_KEEP_MS = 7 * 24 * 3600_000;

export interface BridgeCoreOptions {
  queue?: RelayQueueOptions;
  /** Told after every relayed message part (off by default; `npm run bench` measures with it). */
  onRelayed?: (timing: RelayTiming) => void;
  /** Extra commands (linking, cutover) registered by main. */
  extraCommands?: (svc: BridgeServices) => Command[];
  /** Backfill timing (how long a live message waits for it, retry delays). */
  backfill?: BackfillOptions;
}

export class BridgeCore implements BridgeServices {
  readonly portals: PortalDirectory;
  readonly ghosts: GhostManager;
  readonly registry: CommandRegistry;
  readonly permissions: Permissions;
  readonly queue: RelayQueue;
  readonly backfill: Backfill;
  readonly spaces: SpaceDirectory;
  private readonly finisher: CutoverFinisher;
  private readonly upgrades: RoomUpgrades;
  readonly imports: HistoryImports;
  readonly people: People;
  /** Holds a chat's lane while its history is written (backfill, history import): core/chat-holds.ts. */
  readonly holds: ChatHolds;
  private readonly loginManager: LoginManager;
  private readonly remote: RemoteInbound;
  private readonly outbound: MatrixOutbound;
  private readonly linker: RoomLinker;
  private readonly detachment: Detachment;
  private readonly tokens: TokenGuard;
  /** Management room id → the user it belongs to (the DM with the bot). */
  private readonly managementRooms: ManagementRooms;
  private sweeper: NodeJS.Timeout | null = null;
  private pruner: NodeJS.Timeout | null = null;
  private markLoaded!: () => void;
  /** Resolves once start() has loaded portals and management rooms. */
  private readonly loaded = new Promise<void>((resolve) => { this.markLoaded = resolve; });

  constructor(readonly deps: CoreDeps, opts: BridgeCoreOptions = {}) {
    const { store, matrix, log, options } = deps;
    this.permissions = new Permissions(options.permissions);
    this.managementRooms = new ManagementRooms(deps, this.permissions, (roomId, text) => this.notice(roomId, text));
    this.tokens = new TokenGuard(options.tokenShapes ?? [], matrix, log.child({ component: "tokens" }));
    this.portals = new PortalDirectory(store, matrix, log.child({ component: "portals" }));
    this.ghosts = new GhostManager(store, matrix, log.child({ component: "ghosts" }));
    const enqueue = (items: NewQueueItem[]) => this.enqueue(items);
    this.loginManager = new LoginManager(deps, enqueue, (login, message) => void this.managementRooms.tell(login.ownerMxid,
      `Your ${this.connectorName(login.network)} login ${login.name} stopped working: ${message}. Log in again with new credentials.`));
    this.people = new People(deps, this.ghosts, this.portals, this.loginManager, (mxid, text) => this.managementRooms.tell(mxid, text));
    this.loginManager.onClaim = (network, user, code) => this.people.redeemRemote(network, user, code);
    this.detachment = new Detachment(deps, this.portals, (lanes) => this.queue.kick(lanes), (roomId, text) => this.notice(roomId, text));
    this.portals.bridgeInfo = new BridgeInfoWriter(deps, (id) => this.loginManager.record(id), (roomId) => this.portals.portal(roomId)?.kind === "portal");
    this.remote = new RemoteInbound(deps, this.portals, this.ghosts, this.loginManager, enqueue, opts.onRelayed);
    this.outbound = new MatrixOutbound(deps, this.portals, this.loginManager, this.permissions, {
      relayDuringStandby: () => options.standbyRelaysMatrix ?? true,
      detachedWaitMs: this.detachment.waitMs,
      enqueue,
      onRelayed: opts.onRelayed,
    });
    this.linker = new RoomLinker(deps, this.portals, this.loginManager);
    this.holds = new ChatHolds(store, async (lanes) => {
      await store.queue.wake(lanes);
      this.queue.kick(lanes);
    });
    this.backfill = new Backfill(deps, this.portals, this.loginManager, this.holds, (p, id) => this.remote.importPast(p, id), opts.backfill);
    this.holds.onWaiting = (network, chat, payload) => this.backfill.onWaiting(network, chat, payload);
    this.remote.detachedWaitMs = this.detachment.waitMs;
    this.imports = new HistoryImports(deps, this.portals, this.ghosts, this.loginManager, this.holds);
    this.remote.beforeLive = async (p, ev) => {
      this.holds.check(p.network, ev.chat, p);
      await this.backfill.beforeLive(p.network, ev);
    };
    const admins = () => this.permissions.namedAdmins(); // made admins of every room the bridge creates
    this.portals.admins = admins;
    this.spaces = new SpaceDirectory(deps, this.portals, admins);
    this.spaces.emoji = this.remote.emoji = this.outbound.emoji = new EmojiPacks(deps);
    this.spaces.members = (login) => this.people.membersOf(login.id, login.network);
    this.people.onPlaced = (loginId, mxid) => this.spaces.invite(loginId, mxid);
    this.finisher = new CutoverFinisher(deps, this.portals, this.loginManager, this.linker);
    this.upgrades = new RoomUpgrades(deps, this.portals, this.spaces);
    // A portal the import makes gets the whole history from it, not the last-N backfill.
    this.portals.onCreated = async (link) => {
      await this.spaces.onLinked(link);
      if (!this.holds.holders(link.network, link.chat).has(IMPORT_HOLDER)) await this.backfill.onPortalCreated(link);
    };
    this.linker.onLinked = async (link) => { await this.spaces.onLinked(link); await this.backfill.onLinked(link); };
    this.queue = new RelayQueue(store, (item) => this.apply(item), (item, err) => this.deadLetter(item, err), log.child({ component: "queue" }), opts.queue);
    this.queue.onStoreHealth = (error) => { deps.health.databaseError = error; };
    this.imports.lanesInFlight = () => this.queue.lanesInFlight;
    this.registry = new CommandRegistry(options.commandPrefix, options.promptTimeoutMs, log.child({ component: "commands" }), (s) => this.tokens.mask(s));
    this.registry.add(...generalCommands(this), ...loginCommands(this), ...linkCommands(this), ...cutoverCommands(this), ...auditCommands(this), ...peopleCommands(this), ...spaceCommands(this),
      ...importCommands(this.imports),
      ...(opts.extraCommands?.(this) ?? []));
  }

  get connectors(): ReadonlyMap<string, NetworkConnector> {
    return this.deps.connectors;
  }

  get health() {
    return this.deps.health;
  }

  async start(): Promise<void> {
    await this.portals.load();
    await this.spaces.load();
    await this.spaces.emoji!.load();
    await this.people.load();
    await this.holds.load(); // before the queue: a held chat's items must wait from the first claim
    await this.backfill.load();
    await this.managementRooms.load();
    this.markLoaded();
    this.queue.start();
    await this.loginManager.startAll();
    // After the logins (their names are in it); in the background: readiness does not wait on it.
    void this.syncBridgeInfo();
    void (async () => { for (const l of this.loginManager.all()) await this.spaces.refresh(l, this.loginManager.connection(l.id)); })();
    this.backfill.start();
    void this.imports.resume();
    this.sweeper = setInterval(() => this.registry.sweep(), 30_000);
    // Done queue items are kept a week for dedup (a redelivered event is a no-op), then dropped.
    this.pruner = setInterval(() => void this.deps.store.queue.prune(new Date(Date.now() - QUEUE_KEEP_MS))
      .catch((err) => this.deps.log.warn("queue prune failed", { ...errorFields(err) })), 3600_000);
    this.pruner.unref();
  }

  /** Bring every room's m.bridge state up to what its links say, where it is not already. */
  private async syncBridgeInfo(): Promise<void> {
    await new Promise((r) => setImmediate(r)); // start() returns first
    const links = this.portals.allPortals().flatMap((p) => this.portals.linksOfRoom(p.roomId));
    try {
      const r = await this.portals.bridgeInfo!.syncAll(links);
      if (r.failed > 0) this.deps.log.warn("bridge info (m.bridge) not written in some rooms; tried again at the next start", r);
      else this.deps.log.info("bridge info (m.bridge) up to date", r);
    } catch (err) {
      this.deps.log.warn("bridge info (m.bridge) not checked", { ...errorFields(err) });
    }
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.pruner) clearInterval(this.pruner);
    await this.backfill.stop();
    await this.imports.shutdown();
    await this.loginManager.stopAll();
    await this.queue.stop();
  }

  // ---- intake -------------------------------------------------------------------------

  async enqueue(items: NewQueueItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.queue.enqueue(items);
  }

  /**
   * Matrix events from one appservice transaction. Resolves once relayable events are
   * durably queued (the transaction is answered 200 only then). Commands and invites are
   * handled right after, outside the transaction.
   */
  async onMatrixEvents(events: MatrixInbound[]): Promise<void> {
    // The appservice listens before start() has loaded the portals: a transaction that arrives in
    // between (a homeserver retrying after a restart) waits, instead of its events being taken for
    // events of unbridged rooms and dropped.
    await this.loaded;
    const relay: NewQueueItem[] = [];
    const later: Array<() => Promise<void>> = [];
    const receivedAt = Date.now();
    for (const ev of events) {
      if (ev.kind === "invite") { later.push(() => this.managementRooms.onInvite(ev)); continue; }
      if (ev.kind === "membership") { later.push(() => this.managementRooms.onMembership(ev)); continue; }
      if (ev.kind === "tombstone") { later.push(() => this.upgrades.onTombstone(ev)); continue; }
      if (this.deps.matrix.isBridgeUser(ev.sender) || this.people.isEcho(ev)) continue; // our own echo (a ghost's, or a person's own account's)
      const token = this.tokens.carriesToken(ev);
      if (ev.kind === "message" && ev.msgtype !== "file") {
        const isMgmt = this.managementRooms.isOwnedBy(ev.roomId, ev.sender);
        // In the DM with the bot everything is a command; elsewhere only prefixed text (or an open prompt).
        if (isMgmt || this.registry.isCommand(ev.body, false, ev.roomId, ev.sender)) {
          later.push(() => this.runCommand(ev, isMgmt, token));
          continue;
        }
      }
      // A token is never relayed, whoever sent it and wherever; the bot removes it from the room.
      if (token) { later.push(() => this.tokens.scrub(ev)); continue; }
      if (!this.portals.portal(ev.roomId)) continue;
      // One item per linked chat: each is delivered, retried and dead-lettered on its own.
      relay.push(...perTarget(this.portals.linksOfRoom(ev.roomId), `m:${ev.eventId}`, { t: "matrix", receivedAt, event: ev }));
    }
    await this.enqueue(relay);
    for (const fn of later) void fn().catch((err) => this.deps.log.error("matrix event handling failed", { ...errorFields(err) }));
  }

  /** `token`: the message carries a token; one the command did not take (and redact) as a secret is scrubbed after. */
  private async runCommand(ev: Extract<MatrixInbound, { kind: "message" }>, isMgmt: boolean, token: boolean): Promise<void> {
    const { matrix } = this.deps;
    let redacted = false;
    await this.registry.handle({
      roomId: ev.roomId, sender: ev.sender, eventId: ev.eventId, body: ev.body, isManagementRoom: isMgmt,
      level: this.permissions.levelOf(ev.sender),
      reply: (text, html) => this.notice(ev.roomId, text, html),
      redact: async (eventId) => {
        await matrix.redact(ev.roomId, matrix.botMxid, eventId, `tandem-redact-${randomUUID()}`, "Contained a secret");
        if (eventId === ev.eventId) redacted = true;
      },
    });
    if (token && !redacted) await this.tokens.scrub(ev);
  }

  // ---- queue items --------------------------------------------------------------------

  private async apply(item: QueueItem): Promise<void> {
    const p = item.payload as QueuePayload;
    try {
      // A chat held for its history: every item of its lane waits (in order) until the history is in.
      const chat = p.t === "remote" ? { network: p.network, chat: p.event.chat } : p.target;
      if (chat) this.holds.check(chat.network, chat.chat, p);
      if (p.t === "remote") await this.remote.apply(item, p);
      else await this.outbound.apply(item, p);
    } catch (err) {
      if (p.t === "remote" && !(err instanceof Deferred)) this.deps.health.error(p.loginId); // waiting is not an error
      throw err;
    }
  }

  private async deadLetter(item: QueueItem, err: unknown): Promise<void> {
    const p = item.payload as QueuePayload;
    const roomId = p.t === "matrix" ? p.event.roomId : this.portals.linkForChat(p.network, p.event.chat)?.roomId;
    if (!roomId) return;
    if (err instanceof TandemError && err.code === "detached") return this.detachment.dropped(item, roomId, err);
    const why = err instanceof TandemError && err.userMessage ? err.userMessage : err instanceof Error ? err.message : String(err);
    // Reactions a network cannot show (an emoji it has no name for) come in clusters: one notice per
    // message says so, the rest are only logged (the queue logged this one already).
    if (p.t === "matrix" && p.event.kind === "reaction") {
      const key = `reaction-failed:${p.event.target}`;
      if (await this.deps.store.kv.get(key)) return;
      await this.deps.store.kv.set(key, "1");
      return this.notice(roomId, `A reaction could not be delivered: ${why}. Further reactions to this message that cannot be delivered are not announced.`);
    }
    const what = p.t === "matrix" ? "A Matrix message could not be delivered" : `A ${this.connectorName(p.network)} message could not be bridged`;
    await this.notice(roomId, `${what}: ${why}`);
  }

  // ---- services for commands ----------------------------------------------------------

  queueDepth(): Promise<number> {
    return this.deps.store.queue.depth();
  }

  logins(): LoginRecord[] {
    return this.loginManager.all();
  }

  async completeLogin(ownerMxid: string, connector: NetworkConnector, result: LoginResult): Promise<LoginRecord> {
    const id = `${connector.network}:${result.remoteId}`;
    const existing = await this.deps.store.logins.get(id);
    if (existing && existing.ownerMxid !== ownerMxid) {
      throw new LoginTakenError(`That ${connector.displayName} account is already logged in by another user.`);
    }
    const row = { id, network: connector.network, ownerMxid, remoteId: result.remoteId, name: result.name, secrets: result.secrets };
    await this.deps.store.logins.put(row);
    await this.loginManager.start(row);
    await this.detachment.reattach(id);
    // The space first, so the first portals join it as they are made; a space that fails does not fail the login.
    await this.spaces.refresh(row, this.loginManager.connection(id));
    void this.sync(id).catch((err) => this.deps.log.warn("initial sync failed", { login: id, ...errorFields(err) }));
    return row;
  }

  /** Stop the login and forget its credentials; its links stay, detached (core/detached.ts). */
  async logout(loginId: string): Promise<void> {
    const login = this.loginManager.record(loginId);
    await this.loginManager.remove(loginId);
    await this.detachment.detach(loginId, login?.ownerMxid, login?.network);
    await this.deps.store.logins.delete(loginId);
  }

  detachedStatus(owner?: string): Promise<string[]> {
    return this.detachment.status(owner);
  }

  async sync(loginId: string): Promise<number> {
    const login = this.loginManager.record(loginId);
    const conn = this.loginManager.connection(loginId);
    const connector = login && this.deps.connectors.get(login.network);
    if (!login || !conn || !connector) return 0;
    const chats = await conn.listChats(this.deps.options.initialChatCount[login.network] ?? 0);
    let created = 0;
    for (const chat of chats) {
      // A room made meanwhile by someone else (a live message, `link`) counts as existing: invite to it.
      const { link, created: made } = await this.portals.ensurePortal(connector, conn, login.id, login.ownerMxid, chat);
      if (made) created++;
      else await this.deps.matrix.invite(link.roomId, login.ownerMxid).catch(() => undefined);
    }
    return created;
  }

  powerLevel(roomId: string, mxid: string): Promise<number> {
    return this.deps.matrix.powerLevel(roomId, mxid);
  }

  linkRoom(roomId: string, network: string, input: string, by: string, isAdmin: boolean): Promise<PortalLinkRow> {
    return this.linker.link(roomId, network, input, by, isAdmin);
  }

  /**
   * Post one past message into its chat's linked room, never fanned out; `id` makes its txnIds
   * (derive it from the source message, so a rerun cannot double it). For history writers,
   * between `holds.hold` and `holds.release` of the chat (core/chat-holds.ts).
   */
  importPast(p: RemotePayload, id: string): Promise<void> {
    return this.remote.importPast(p, id);
  }

  backfillNote(roomId: string, network: string): string | undefined {
    return this.backfill.takeNote(roomId, network);
  }

  importStatus(): string | undefined {
    const s = this.imports.snapshot();
    return s ? describeImport(s) : undefined;
  }

  backfillStatus(loginIds?: ReadonlySet<string>): string[] {
    return this.backfill.status(loginIds);
  }

  changePhase(roomId: string, phase: CutoverPhase, by: string, rollback: boolean): Promise<boolean> {
    return this.linker.changePhase(roomId, phase, by, rollback);
  }

  finishCutover(roomId: string, by: string, admins?: string[]): Promise<FinishResult | null> { return this.finisher.finish(roomId, by, admins); }
  resumeCutover(roomId: string, by: string): Promise<boolean> { return this.finisher.resume(roomId, by); }

  phaseHistory(roomId: string): Promise<CutoverChangeRow[]> {
    return this.deps.store.portals.history(roomId);
  }

  // ---- helpers ------------------------------------------------------------------------

  async notice(roomId: string, text: string, html?: string): Promise<void> {
    const { matrix } = this.deps;
    // Whatever a notice quotes back (a command, a chat name, an error), it never quotes a token.
    const content: Record<string, unknown> = { msgtype: "m.notice", body: this.tokens.mask(text) };
    if (html) Object.assign(content, { format: "org.matrix.custom.html", formatted_body: this.tokens.mask(html) });
    await matrix.sendEvent(roomId, matrix.botMxid, "m.room.message", content, `tandem-notice-${randomUUID()}`);
  }

  private connectorName(network: string): string {
    return this.deps.connectors.get(network)?.displayName ?? network;
  }
}
