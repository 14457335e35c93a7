/**
 * `tandem doctor`: checks what an operator needs to know is right, in order, and prints
 * one line per check. Non-zero exit when anything failed; warnings for unsafe settings.
 */
import { configWarnings, loadConfig, readRegistration, registrationMismatches, type Config } from "./config/index.js";
import type { ConnectionStatus, NetworkConnector } from "./core/connector.js";
import type { LoginRow } from "./store/api.js";
import { fetchFailure } from "./fetch-failure.js";
import { HomeserverLink, unknownTokenMessage } from "./matrix/homeserver-link.js";
import { errcodeOf } from "./matrix/errors.js";
import { probeWrite } from "./observability/database-probe.js";
import type { Registration } from "./config/index.js";

type Line = { ok: boolean | "warn"; text: string };

/** Whether a listen address is reachable only from this host. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || h === "::ffff:127.0.0.1";
}

const ANY = new Set(["0.0.0.0", "::", "[::]", "*", ""]);
const where = (host: string) => (ANY.has(host.trim()) ? `${host || '""'} (every interface)` : host);

/**
 * Settings that work but expose more than they should; `doctor` prints each as a warning.
 * Listeners: only the appservice port needs to be reachable, by the homeserver, plus
 * /_tandem/avatar/* behind bridge.public_url; metrics, /health, /status and /audit have no
 * authentication and belong on localhost.
 */
export function unsafeSettings(config: Config): string[] {
  const out: string[] = [];
  const perms = config.bridge.permissions ?? {};
  if (perms["*"] === "admin") out.push('bridge.permissions gives "*" admin: anyone on any server can administer the bridge');
  if (perms["*"] === "user") out.push('bridge.permissions gives "*" user: anyone on any server can log in');
  for (const [who, level] of Object.entries(perms)) {
    if (who !== "*" && !who.startsWith("@") && level === "admin") out.push(`bridge.permissions gives every user of ${who} admin: name the admins by their full MXID instead`);
  }
  const as = config.appservice.hostname;
  if (!isLoopback(as)) {
    const webhook = config.telegram.enabled && config.telegram.mode === "webhook" ? ` (and the Telegram webhook port ${config.telegram.webhook_port})` : "";
    out.push(`appservice.hostname is ${where(as)}: the appservice port${webhook} is reachable from other hosts; make sure only the homeserver (or a reverse proxy passing just /_matrix/app/ and /_tandem/avatar/) can reach it`);
  }
  const m = config.metrics.hostname;
  if (config.metrics.enabled && !isLoopback(m)) {
    out.push(`metrics.hostname is ${where(m)}: /metrics, /health, /status and /audit have no authentication and are reachable from other hosts; keep them on 127.0.0.1 or behind an authenticating proxy`);
  }
  if (config.bridge.public_url.startsWith("http://")) out.push("bridge.public_url is plain http://: avatar URLs travel unencrypted; use https://");
  if (!config.bridge.encryption_key) out.push("bridge.encryption_key is empty: login secrets are stored unencrypted");
  return out;
}

/** Whether anyone at all may log in (user or admin somewhere), and whether anyone is admin. */
export function whoCanLogIn(config: Config): { anyone: boolean; admin: boolean } {
  const levels = Object.values(config.bridge.permissions ?? {});
  return { anyone: levels.some((l) => l === "user" || l === "admin"), admin: levels.includes("admin") };
}

export async function runDoctor(configPath: string, print: (s: string) => void = console.log): Promise<number> {
  const lines: Line[] = [];
  const say = (l: Line) => { lines.push(l); print(`${l.ok === true ? "ok  " : l.ok === "warn" ? "warn" : "FAIL"}  ${l.text}`); };
  let config: Config;
  try {
    config = loadConfig(configPath);
    say({ ok: true, text: `config ${configPath} is valid` });
  } catch (err) {
    say({ ok: false, text: String(err instanceof Error ? err.message : err) });
    return 1;
  }
  for (const w of [...unsafeSettings(config), ...configWarnings(config)]) say({ ok: "warn", text: w });
  const who = whoCanLogIn(config);
  if (!who.anyone) say({ ok: false, text: 'nobody can log in: bridge.permissions gives no one "user" or "admin" (add "$domain": user, or set TANDEM_ADMIN=@you:your.domain)' });
  else if (!who.admin) say({ ok: "warn", text: "no admin: nobody can link rooms or cut over (set TANDEM_ADMIN=@you:your.domain or add one to bridge.permissions)" });

  let registration: Registration | null = null;
  try {
    const reg = readRegistration(config.appservice.registration);
    registration = reg;
    const mism = registrationMismatches(config, reg);
    say(mism.length ? { ok: false, text: mism.join("; ") } : { ok: true, text: `registration ${config.appservice.registration} matches the config` });
  } catch (err) {
    say({ ok: false, text: String(err instanceof Error ? err.message : err) });
  }

  // The store and the network SDKs load only now: the checks above answer at once.
  const { openStore, secretsPolicyError } = await import("./store/index.js");
  const storeOpts = { uri: config.database.uri, dataDir: config.database.data_dir, encryptionKey: config.bridge.encryption_key };
  const policy = secretsPolicyError(storeOpts);
  if (policy) say({ ok: false, text: policy });
  let logins: LoginRow[] | null = [];
  try {
    const store = await openStore(storeOpts);
    const which = `database ${config.database.uri ? "(postgres)" : `(embedded, ${config.database.data_dir})`}`;
    try {
      logins = await store.logins.list();
      // A read-only database (a replica after a failover, default_transaction_read_only) answers reads.
      const refused = await probeWrite(store.kv).then(() => null, (err: unknown) => (err instanceof Error ? err.message : String(err)));
      say(refused ? { ok: false, text: `${which} answers but does not take writes: ${refused}` } : { ok: true, text: `${which} is reachable, migrated and takes writes; ${logins.length} login(s)` });
    } finally {
      await store.close();
    }
  } catch (err) {
    // The embedded database is locked while the daemon runs: ask the running bridge instead.
    if ((err as { code?: string }).code === "store.locked") logins = null;
    // SQLSTATE 25006: a read-only database (a replica after a failover) refuses even the migration's first statement.
    else if ((err as { sqlState?: string }).sqlState === "25006") say({ ok: false, text: `database answers but does not take writes (read-only): ${(err as Error).message}` });
    else say({ ok: false, text: `database: ${err instanceof Error ? err.message : String(err)}` });
  }

  let reachable = false;
  try {
    const res = await fetch(`${config.homeserver.url}/_matrix/client/versions`, { signal: AbortSignal.timeout(15_000) });
    reachable = res.ok;
    say(res.ok ? { ok: true, text: `homeserver ${config.homeserver.url} answers` } : { ok: false, text: `homeserver ${config.homeserver.url} answered HTTP ${res.status}` });
  } catch (err) {
    say({ ok: false, text: `homeserver ${config.homeserver.url} unreachable: ${fetchFailure(err)}` });
  }
  if (reachable && registration) {
    const link = new HomeserverLink(config.homeserver.url, registration.as_token, config.appservice.bot.username, config.homeserver.domain, registration.id);
    try {
      for (const line of await homeserverChecks(link, config)) say(line);
    } finally {
      link.close();
    }
  }

  if (logins === null) {
    for (const l of await loginsFromRunningBridge(config)) say(l);
    return lines.some((l) => l.ok === false) ? 1 : 0;
  }
  const { createConnectors } = await import("./networks/index.js");
  const { silentLogger } = await import("./core/log.js");
  let connectors = new Map<string, NetworkConnector>();
  try {
    connectors = new Map(createConnectors(config, silentLogger).map((c) => [c.network, c]));
  } catch (err) {
    say({ ok: false, text: `networks: ${err instanceof Error ? err.message : String(err)}` });
  }
  for (const login of logins) {
    const connector = connectors.get(login.network);
    if (!connector) { say({ ok: "warn", text: `login ${login.id}: network ${login.network} is disabled` }); continue; }
    const status = await probeLogin(connector, login);
    say(status.state === "connected" ? { ok: true, text: `login ${login.id} (${login.name}) connects` } : { ok: false, text: `login ${login.id} (${login.name}): ${status.state}${status.message ? ` (${status.message})` : ""}` });
  }
  return lines.some((l) => l.ok === false) ? 1 : 0;
}

/**
 * What the bridge needs from the homeserver, checked the way the bridge does it (homeserver-link.ts):
 * the registration loaded (whoami with the as_token), the bot user registered, and the homeserver
 * reaching the bridge (appservice ping, Matrix 1.7+). Stops at the first check the others depend on.
 */
async function homeserverChecks(link: HomeserverLink, config: Config): Promise<Line[]> {
  const out: Line[] = [];
  const why = (err: unknown) => errcodeOf(err) ?? (err instanceof Error ? err.message : String(err));
  try {
    out.push({ ok: true, text: `homeserver accepted the registration (whoami: ${await link.whoami()})` });
  } catch (err) {
    const code = errcodeOf(err);
    out.push({ ok: false, text: code === "M_UNKNOWN_TOKEN" || code === "M_MISSING_TOKEN"
      ? unknownTokenMessage(config.appservice.registration)
      : `homeserver did not accept the registration (${why(err)}): load ${config.appservice.registration} into it and restart it` });
    return out;
  }
  try {
    out.push(await link.botProfile()
      ? { ok: true, text: `the bot user ${link.botMxid} exists` }
      : { ok: false, text: `the bot user ${link.botMxid} does not exist on the homeserver: tandem start registers it (the homeserver does not create it); start the bridge and check its log` });
  } catch (err) {
    out.push({ ok: false, text: `the bot user ${link.botMxid} could not be looked up: ${why(err)}` });
  }
  const address = config.appservice.address;
  try {
    const ping = await link.ping();
    if (ping.kind === "ok") out.push({ ok: true, text: `the homeserver reaches the bridge at ${address} (appservice ping, ${ping.durationMs} ms)` });
    else if (ping.kind === "absent") out.push({ ok: true, text: `the homeserver has no appservice ping (before Matrix 1.7): that it reaches the bridge at ${address} is not checked` });
    // M_BAD_STATUS: it reached something there, which answered the ping with an error.
    else if (ping.errcode === "M_BAD_STATUS") out.push({ ok: "warn", text: `the homeserver reached ${address} but the ping was answered${ping.status !== undefined ? ` HTTP ${ping.status}` : " with an error"} (${ping.message})` });
    else out.push({ ok: false, text: `the homeserver cannot reach the bridge at ${address} (appservice ping: ${ping.errcode} ${ping.message}): is tandem start running, and does appservice.address reach it from the homeserver?` });
  } catch (err) {
    out.push({ ok: false, text: `appservice ping failed: ${why(err)}` });
  }
  return out;
}

/**
 * While the bridge runs on the embedded database, the database is its alone: the logins'
 * states come from the running bridge's /status.json (the metrics listener) instead.
 */
async function loginsFromRunningBridge(config: Config): Promise<Line[]> {
  const note = "the embedded database is in use by the running bridge";
  if (!config.metrics.enabled) return [{ ok: "warn", text: `logins not checked: ${note}, and metrics.enabled is false (its /status.json would tell)` }];
  const host = ANY.has(config.metrics.hostname.trim()) ? "127.0.0.1" : config.metrics.hostname;
  const url = `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${config.metrics.port}/status.json`;
  let status: { connections?: Array<{ login: string; name: string; state: string; message: string | null }> };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return [{ ok: false, text: `logins: ${note}, and ${url} answered HTTP ${res.status}` }];
    status = (await res.json()) as typeof status;
  } catch (err) {
    return [{ ok: false, text: `logins: ${note}, but ${url} cannot be read: ${fetchFailure(err)}` }];
  }
  const out: Line[] = [{ ok: true, text: `database (embedded) is in use by the running bridge; ${status.connections?.length ?? 0} login(s), as it reports them` }];
  for (const c of status.connections ?? []) {
    out.push(c.state === "connected" ? { ok: true, text: `login ${c.login} (${c.name}) is connected` } : { ok: false, text: `login ${c.login} (${c.name}): ${c.state}${c.message ? ` (${c.message})` : ""}` });
  }
  return out;
}

async function probeLogin(connector: NetworkConnector, login: LoginRow): Promise<ConnectionStatus> {
  let last: ConnectionStatus = { state: "connecting" };
  let settle: () => void = () => undefined;
  const settled = new Promise<void>((r) => { settle = r; });
  // Events are not queued during a probe: nothing is acked, so the network will redeliver.
  const conn = await connector.connect(login, {
    push: () => new Promise<void>(() => undefined),
    status: (s) => { last = s; if (s.state !== "connecting") settle(); },
  });
  await Promise.race([settled, new Promise((r) => setTimeout(r, 10_000))]);
  await conn.stop();
  return last;
}
