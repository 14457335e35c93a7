/**
 * The composition root: the only module that knows every piece. Order at start:
 * config → log → store (migrations) → connectors → Matrix appservice → core → metrics.
 * Stop runs the other way. Only config, log and store are imported up front: the rest (stack.ts)
 * loads while the store opens.
 */
import { ConfigError } from "./config/errors.js";
import type { Config } from "./config/schema.js";
import type { Registration } from "./config/index.js";
import type { BridgeCore, BridgeCoreOptions } from "./core/bridge.js";
import type { NetworkConnector } from "./core/connector.js";
import type { Logger } from "./core/log.js";
import type { MatrixAppservice } from "./matrix/appservice.js";
import type { AvatarProxy } from "./matrix/avatars.js";
import type { MetricsServer } from "./observability/http.js";
import { createLogger, registerSecret } from "./observability/log.js";
import { openStore, secretsPolicyError } from "./store/index.js";
import type { Store } from "./store/api.js";
import { errorFields } from "./core/log.js";

export interface StartOptions {
  config: Config;
  registration: Registration;
  /** Connectors to use instead of the configured ones (tests add a loopback network). */
  connectors?: NetworkConnector[];
  /** Where logs go (tests capture them). */
  logStream?: NodeJS.WritableStream;
  core?: BridgeCoreOptions;
  /** Extra per-network portal counts at login (tests give the loopback network one). */
  initialChatCount?: Record<string, number>;
}

export interface RunningBridge {
  core: BridgeCore;
  store: Store;
  log: Logger;
  appservice: MatrixAppservice;
  /** Serves Matrix avatars to Slack (its cache is bounded in bytes). */
  avatars: AvatarProxy;
  /** Port the metrics server listens on (resolved when configured as 0), or null. */
  metricsPort: number | null;
  stop(): Promise<void>;
}

/**
 * Starts the bridge. When any step fails, what the earlier steps opened (database and its lock,
 * listeners, connections, timers) is closed again before the error is thrown, so the caller can
 * exit at once and a supervisor restarts a clean process.
 */
export async function startBridge(opts: StartOptions): Promise<RunningBridge> {
  const opened: Array<() => Promise<void> | void> = [];
  try {
    return await assemble(opts, (close) => { opened.push(close); });
  } catch (err) {
    for (const close of opened.reverse()) {
      try { await close(); } catch { /* the start failure is the error to report */ }
    }
    throw err;
  }
}

async function assemble(opts: StartOptions, onFailure: (close: () => Promise<void> | void) => void): Promise<RunningBridge> {
  const { config, registration } = opts;
  const { log } = createLogger({ level: config.logging.level, format: config.logging.format, stream: opts.logStream });
  registerSecret(registration.as_token);
  registerSecret(registration.hs_token);
  // Double puppeting is on when the config names its registration (the homeserver must load it too).
  // Its reader (and the YAML parser) loads only then: most bridges run without it.
  const puppetPath = config.appservice.double_puppet_registration;
  const puppetToken = puppetPath ? (await import("./config/double-puppet.js")).readDoublePuppetRegistration(puppetPath).as_token : undefined;
  if (puppetToken) registerSecret(puppetToken);
  if (config.bridge.encryption_key) registerSecret(config.bridge.encryption_key);

  const storeOpts = {
    uri: config.database.uri, dataDir: config.database.data_dir, encryptionKey: config.bridge.encryption_key,
    progress: (message: string) => log.info(message),
  };
  const policy = secretsPolicyError(storeOpts);
  if (policy) throw new ConfigError(policy, "config_invalid", "bridge.encryption_key");
  if (!config.bridge.encryption_key) log.warn("bridge.encryption_key is empty: login secrets are stored unencrypted (acceptable only for the embedded dev database)");
  log.info(config.database.uri ? "opening the database" : `opening the embedded database in ${config.database.data_dir}`);
  const opening = openStore(storeOpts);
  opening.catch(() => undefined); // awaited below, once the rest of the bridge's code is loaded
  let stack: typeof import("./stack.js");
  try {
    stack = await import("./stack.js");
  } catch (err) {
    await opening.then((s) => s.close(), () => undefined);
    throw err;
  }
  const store = await opening;
  onFailure(() => store.close());
  const {
    AppservicePort, AvatarProxy, BridgeCore, DatabaseWriteProbe, HealthBoard, HomeserverLink, HomeserverWatch, MatrixAppservice,
    MetricsServer, TOKEN_SHAPES, auditRoute, createConnectors, createMetrics, healthRoute, routeSdkLogs, statusRoutes,
    importRoute, EXPORT_KINDS, isExportKind, openExportSource, CommandError,
  } = stack;
  routeSdkLogs(log);

  const connectors = new Map<string, NetworkConnector>();
  for (const c of opts.connectors ?? createConnectors(config, log)) connectors.set(c.network, c);

  const health = new HealthBoard();
  const appservice = new MatrixAppservice({
    homeserverUrl: config.homeserver.url, domain: config.homeserver.domain, registration: registration as unknown as Record<string, unknown>,
    hostname: config.appservice.hostname, port: config.appservice.port, log: log.child({ component: "appservice" }),
  });
  const matrix = new AppservicePort(appservice.bridge, config.homeserver.domain, config.appservice.bot.username,
    appservice.userNamespaces(), log.child({ component: "matrix" }), health,
    { homeserverUrl: config.homeserver.url, asToken: registration.as_token }, puppetToken);
  appservice.onMember = (roomId, userId) => matrix.forgetMember(roomId, userId);

  // Slack shows a Matrix sender's avatar from icon_url, which it fetches from the internet.
  const avatars = new AvatarProxy(registration.as_token, config.bridge.public_url, matrix, log.child({ component: "avatars" }),
    config.bridge.avatar_cache_bytes);
  avatars.mount(appservice.expressApp);

  const initialChatCount: Record<string, number> = { slack: config.slack.conversation_count, telegram: 0, ...opts.initialChatCount };
  const core = new BridgeCore({
    store, matrix, log, health, connectors,
    options: {
      commandPrefix: config.bridge.command_prefix,
      permissions: config.bridge.permissions ?? {},
      maxFileSize: config.bridge.max_file_size,
      maxMessageParts: config.bridge.max_message_parts,
      promptTimeoutMs: config.bridge.login_timeout_seconds * 1000,
      initialChatCount,
      // Telegram bots cannot read history; other networks (tests) have none unless a connector offers it.
      backfillCount: { slack: config.slack.enabled ? config.slack.backfill_count : 0 },
      standbyRelaysMatrix: config.bridge.standby_relays_matrix,
      detachedWaitMs: config.bridge.detached_wait_minutes * 60_000,
      importConversationsAtOnce: config.bridge.import_conversations_at_once,
      publicAvatarUrl: config.bridge.public_url ? (mxc) => avatars.urlFor(mxc) : undefined,
      tokenShapes: TOKEN_SHAPES,
    },
  }, opts.core);
  // `import slack-export FILE` / `import telegram-export DIR`: the core reads exports through this (it imports no network).
  core.imports.openExport = async (kind, path, live) => {
    if (!isExportKind(kind)) throw new CommandError(`Unknown export kind ${kind}: ${EXPORT_KINDS.join(" or ")}`);
    return openExportSource(kind, path, { live });
  };

  // Before anything is relayed: the counters count where events happen, from here on.
  const metricsRoute = config.metrics.enabled ? createMetrics(health, () => store.queue.depth(), core.queue,
    { audit: store.audit, onError: (err) => log.warn("metrics: store query failed", { ...errorFields(err) }), droppedMatrixEvents: () => appservice.droppedEvents(), importProgress: () => core.imports.snapshot() }).route : null;
  onFailure(() => matrix.close());
  onFailure(() => appservice.stop());
  await appservice.start((events) => core.onMatrixEvents(events));
  // The bot registered and its profile set (retried in the background while the homeserver is not
  // ready), then an idle probe each interval; the database's writes are probed at the same pace.
  const probeMs = config.metrics.probe_interval_seconds * 1000;
  const homeserverWatch = new HomeserverWatch({
    link: new HomeserverLink(config.homeserver.url, registration.as_token, config.appservice.bot.username, config.homeserver.domain, registration.id),
    health, log: log.child({ component: "homeserver" }), registrationPath: config.appservice.registration,
    bridgeAddress: config.appservice.address, bot: config.appservice.bot, intervalMs: probeMs,
  });
  onFailure(() => homeserverWatch.stop());
  await homeserverWatch.start();
  const writeProbe = new DatabaseWriteProbe(store.kv, health, log.child({ component: "database" }), probeMs);
  onFailure(() => writeProbe.stop());
  await writeProbe.start();
  onFailure(() => core.stop());
  await core.start();

  let metricsServer: MetricsServer | null = null;
  let metricsPort: number | null = null;
  if (config.metrics.enabled) {
    metricsServer = new MetricsServer();
    metricsServer.route(healthRoute(health, () => store.queue.depth()));
    metricsServer.route(metricsRoute!);
    // Operator views: the parity audit as JSON and the read-only status page (same listener, localhost by default).
    const operator = { store, portals: core.portals, connectors, health, queueDepth: () => store.queue.depth(), roomName: (roomId: string) => roomNameOf(core, roomId) };
    metricsServer.route(auditRoute(operator));
    metricsServer.route(statusRoutes(operator));
    metricsServer.route(importRoute(core.imports));
    const server = metricsServer;
    onFailure(() => server.close());
    metricsPort = await metricsServer.listen(config.metrics.port, config.metrics.hostname);
  }
  log.info("Tandem is running", {
    homeserver: config.homeserver.url, listening: `${config.appservice.hostname}:${config.appservice.port}`,
    networks: [...connectors.keys()], metrics: metricsPort,
  });

  let stopped = false;
  return {
    core, store, log, appservice, avatars, metricsPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      homeserverWatch.stop();
      writeProbe.stop();
      await core.stop();
      await metricsServer?.close();
      await appservice.stop();
      matrix.close();
      await store.close();
    },
  };
}

/** The Matrix room's name for the status page (null when it has none or it cannot be read). */
async function roomNameOf(core: BridgeCore, roomId: string): Promise<string | null> {
  const ev = await core.deps.matrix.getState(roomId, "m.room.name", "");
  return typeof ev?.name === "string" && ev.name ? ev.name : null;
}
