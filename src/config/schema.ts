// The one configuration schema: TypeScript types, defaults, doc strings and validation.
// Key names and defaults follow design.md's config block. Every `.describe()` text is the
// comment above the key in bridge.example.yaml (that file is generated from this one by
// `npx tsx scripts/gen-schema.ts`, and a test checks it is current).
// Messages are phrases without the key ("must be …"); load.ts puts the key path in front.
import { z } from "zod";

const PORT_MESSAGE = "must be a number between 1 and 65535";
const SERVER_NAME = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?`;
const SERVER_NAME_RE = new RegExp(`^${SERVER_NAME}$`);
/** Keys of bridge.permissions: "*", a server name, or a full MXID. */
export const PERMISSION_KEY_RE = new RegExp(String.raw`^(?:\*|@[^:\s]+:${SERVER_NAME}|${SERVER_NAME})$`);
const LOCALPART_RE = /^[a-z0-9._=\-/+]+$/;

function isUrl(value: string, schemes: readonly string[]): boolean {
  try {
    const url = new URL(value);
    return schemes.includes(url.protocol) && url.host !== "";
  } catch {
    return false;
  }
}

const stripTrailingSlash = (s: string): string => s.replace(/\/+$/, "");

/** An http(s) URL; `empty` allows "" (feature off). */
function httpUrl(opts: { empty?: boolean; https?: boolean } = {}) {
  const schemes = opts.https ? ["https:"] : ["http:", "https:"];
  const what = opts.https ? "an https:// URL" : "an http:// or https:// URL";
  return z
    .string()
    .refine((s) => (opts.empty && s === "") || isUrl(s, schemes), {
      error: opts.empty ? `must be ${what} or ""` : `must be ${what}`,
    });
}

const port = (fallback: number) =>
  z.number({ error: PORT_MESSAGE }).int({ error: PORT_MESSAGE }).min(1, { error: PORT_MESSAGE })
    .max(65535, { error: PORT_MESSAGE }).default(fallback);

const count = (min: number) => z.number().int().min(min);

const nonEmpty = () => z.string().min(1, { error: "must not be empty" });

export const PERMISSION_LEVELS = ["relay", "user", "admin"] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

const homeserver = z.object({
  url: httpUrl().overwrite(stripTrailingSlash)
    .describe("Client-server API of the homeserver as the bridge reaches it (required). Use the internal address if the bridge runs next to the homeserver."),
  domain: z.string().min(1, { error: "is required", abort: true })
    .regex(SERVER_NAME_RE, { error: "must be a server name like example.org (no https://, no path)" })
    .describe("The homeserver's server_name, the part after the colon in @alice:example.org (required). It can never change once users exist."),
  // prefault: a missing section still reports "homeserver.url is required" and "homeserver.domain is required".
}).strict().prefault({} as { url: string; domain: string }).describe("The Matrix homeserver the bridge belongs to.");

const bot = z.object({
  username: nonEmpty()
    .regex(LOCALPART_RE, { error: "must be a lowercase Matrix localpart (a-z, 0-9, . _ = - / +)" })
    .refine((s) => !/^(slack|telegram)_/.test(s), { error: "must not start with slack_ or telegram_ (those names belong to ghosts)" })
    .default("tandembot")
    .describe("Localpart of the bridge bot, @tandembot:<domain>; also the registration's sender_localpart. Default tandembot. Regenerate the registration after changing it."),
  displayname: z.string().default("Tandem bridge")
    .describe("Display name of the bot in Matrix. Default \"Tandem bridge\"."),
  avatar: z.string()
    .refine((s) => s === "" || /^mxc:\/\/[^/]+\/[^/]+$/.test(s) || isUrl(s, ["http:", "https:"]), {
      error: 'must be an mxc:// URI, an http(s) URL or ""',
    })
    .default("")
    .describe("Avatar of the bot: an mxc:// URI, or an http(s) URL the bridge uploads once. Default \"\" (no avatar)."),
}).strict().prefault({}).describe("The bridge bot people DM to log in and run commands.");

const appservice = z.object({
  id: nonEmpty().default("tandem")
    .describe("Registration id; unique on the homeserver. Default tandem. Do not change it once registered."),
  address: httpUrl().overwrite(stripTrailingSlash).default("http://127.0.0.1:29319")
    .describe("How the homeserver reaches the bridge (the registration's url). Default http://127.0.0.1:29319; change it when the homeserver runs on another host or container."),
  hostname: nonEmpty().default("127.0.0.1")
    .describe("Address the bridge listens on for homeserver transactions. Default 127.0.0.1; 0.0.0.0 in Docker."),
  port: port(29319)
    .describe("Port the bridge listens on. Default 29319; must match the port in address."),
  registration: nonEmpty().default("registration/tandem-registration.yaml")
    .describe("Path of the registration file that generate-registration writes and start reads, relative to this file. Default registration/tandem-registration.yaml."),
  double_puppet_registration: z.string().default("")
    .describe("Path of the optional double-puppet registration (generate-registration --double-puppet writes it; load it into the homeserver too), relative to this file. Set: mapped people's Slack and Telegram messages come from their own Matrix accounts. Default \"\": off, mapped people keep ghosts."),
  bot,
}).strict().prefault({}).describe("The application service: how the homeserver and the bridge reach each other.");

const database = z.object({
  uri: z.string()
    .refine((s) => s === "" || isUrl(s, ["postgres:", "postgresql:"]), { error: 'must be a postgres:// URI or ""' })
    .default("")
    .describe("PostgreSQL connection URI (postgres://user:password@host/db). Default \"\": embedded Postgres (PGlite) in data_dir, fine for small installs. Env TANDEM_DATABASE_URI."),
  data_dir: nonEmpty().default("data")
    .describe("Directory for the embedded database and other state, relative to this file. Default data; /data/db in Docker."),
}).strict().prefault({}).describe("Where the bridge keeps logins, portals, ghosts, the message map and the relay queue.");

const slack = z.object({
  enabled: z.boolean().default(true)
    .describe("Bridge Slack. Default true. When false, no Slack namespaces are registered."),
  api_url: httpUrl().overwrite((s) => (s.endsWith("/") ? s : `${s}/`)).default("https://slack.com/api/")
    .describe("Slack Web API base URL. Default https://slack.com/api/; change only for Slack-compatible test servers."),
  conversation_count: count(0).default(10)
    .describe("How many recent conversations become portal rooms at login. Default 10; 0 creates portals only when messages arrive."),
  backfill_count: count(0).default(50)
    .describe("How many past messages to copy into a new portal room. Default 50; 0 turns backfill off."),
  history_page_size: count(1).max(999).default(15)
    .describe("Messages per Slack history request during backfill. Default 15, the most Slack gives apps distributed outside its Marketplace; an internal app (made for your own workspace) or a Marketplace app may ask for up to 999."),
  history_interval_seconds: z.number().min(0).default(60)
    .describe("Least seconds between two Slack history requests (per workspace and method) during backfill. Default 60: Slack allows apps outside its Marketplace 1 request a minute; internal and Marketplace apps (Tier 3, 50+ a minute) may use 1.5."),
  outbound_pacing: z.boolean().default(true)
    .describe("Queue messages to stay under Slack's posting limit (about 1 message a second per channel, bursts of 4) instead of collecting 429s. Default true; turn off only against a test server."),
}).strict().prefault({}).describe("Slack: logins use a Slack app (bot token xoxb-… and app token xapp-… for Socket Mode).");

const telegram = z.object({
  enabled: z.boolean().default(true)
    .describe("Bridge Telegram. Default true. When false, no Telegram namespaces are registered."),
  api_root: httpUrl().overwrite(stripTrailingSlash).default("https://api.telegram.org")
    .describe("Telegram Bot API root. Default https://api.telegram.org; change for a local Bot API server or a test server."),
  mode: z.enum(["polling", "webhook"]).default("polling")
    .describe("How updates arrive: polling (long polling, works behind NAT) or webhook (needs webhook_url). Default polling."),
  webhook_url: httpUrl({ empty: true, https: true }).default("")
    .describe("Public https URL Telegram posts updates to, when mode is webhook. Default \"\"."),
  webhook_secret: z.string()
    .regex(/^[A-Za-z0-9_-]{0,256}$/, { error: "must be up to 256 characters of A-Z, a-z, 0-9, _ and -" })
    .default("")
    .describe("Secret Telegram sends with each webhook call (secret_token), when mode is webhook. Default \"\"."),
  webhook_port: port(29320)
    .describe("Port the webhook receiver listens on (on appservice.hostname), when mode is webhook; put your https reverse proxy for webhook_url in front of it. Default 29320."),
  max_download_size: count(1).default(20_971_520)
    .describe("Largest file, in bytes, fetched from Telegram. Default 20971520 (20 MB, the Bot API limit); raise it only with a local Bot API server."),
  max_upload_size: count(1).default(52_428_800)
    .describe("Largest file, in bytes, sent to Telegram. Default 52428800 (50 MB, the Bot API limit)."),
  outbound_pacing: z.boolean().default(true)
    .describe("Queue messages to stay under Telegram's limits (about 30 messages a second per bot, 20 a minute per group) instead of collecting 429s. Default true; turn off only against a test server."),
}).strict().prefault({}).describe("Telegram: logins use a bot token from @BotFather.");

const permissions = z
  .record(
    z.string().regex(PERMISSION_KEY_RE, {
      error: 'must be "*", a server name (example.org) or a full MXID (@user:example.org)',
    }),
    z.enum(PERMISSION_LEVELS),
  )
  .optional()
  .describe("Who may do what: '*', a server name or a full MXID mapped to relay (messages are relayed by the bot), user (may log in) or admin (may also link rooms and cut over). The most specific entry wins. $domain stands for homeserver.domain ('@ops:$domain': admin). Admins can also be named with env TANDEM_ADMIN=@you:your.domain (comma-separated). Default: '*': relay and the homeserver's domain: user.");

const bridge = z.object({
  permissions,
  command_prefix: nonEmpty().default("!tandem")
    .describe("Prefix for bot commands in rooms other than the DM with the bot. Default \"!tandem\"."),
  max_file_size: count(1).default(52_428_800)
    .describe("Largest file, in bytes, bridged in either direction; larger files become a notice. Default 52428800 (50 MB)."),
  download_allowed_origins: z.string()
    .refine((s) => s.split(/[\s,]+/).filter(Boolean).every((o) => isUrl(o, ["http:", "https:"]) && new URL(o).pathname === "/"), {
      error: 'must be origins like "https://files.example.org http://127.0.0.1:8080" (scheme, host, port; no path), or ""',
    })
    .default("")
    .describe("Extra origins files and avatars may be downloaded from, separated by spaces, for Slack-compatible test servers and mirrors (a Telegram Bot API server is telegram.api_root, allowed already). Default \"\": Slack downloads come only over https from Slack's own file hosts (slack.com, slack-gov.com, slack-files.com, slack-edge.com, and gravatar.com for avatars) at public addresses; origins listed here are trusted at any address, loopback included."),
  import_conversations_at_once: count(1).max(16).default(3)
    .describe("How many conversations a history import writes at the same time, each into its own room in order. The homeserver's sends set the pace: one conversation at a time waits for each send in turn, several keep the homeserver busy. Default 3."),
  avatar_cache_bytes: count(0).default(33_554_432)
    .describe("Most bytes of Matrix avatars the bridge keeps in memory to serve to Slack (bridge.public_url). Default 33554432 (32 MB); the least recently served go first."),
  max_message_parts: count(1).default(10)
    .describe("Most messages one long message is split into on the way out (and events on the way into Matrix); the rest of the text is sent as a text file. Default 10."),
  encryption_key: z.string().default("")
    .describe("Key that encrypts login secrets at rest; keep it out of the file with env TANDEM_ENCRYPTION_KEY. Default \"\": secrets are stored in plain text. Changing it makes stored logins unreadable."),
  public_url: httpUrl({ empty: true }).overwrite(stripTrailingSlash).default("")
    .describe("Public https base URL that reaches the APPSERVICE listener (appservice.hostname:port; not the metrics port): Slack fetches Matrix users' avatars from its /_tandem/avatar/* path, so publish just that path through your reverse proxy. Default \"\": Matrix avatars are not shown on Slack."),
  standby_relays_matrix: z.boolean().default(true)
    .describe("In the cutover phase standby, whether messages written in Matrix still go out to the remote chat. Default true (remote readers keep seeing Matrix); false makes the remote side silent."),
  login_timeout_seconds: count(1).default(300)
    .describe("How long a multi-step command (such as login app) waits for the next answer. Default 300."),
  detached_wait_minutes: count(0).default(1440)
    .describe("After logout, how long Matrix messages for that login's chats wait for the same account to log in again before they are dropped with a notice (the links stay). Default 1440 (a day); 0 drops them at once."),
}).strict().prefault({}).describe("Bridge behaviour: permissions, commands, files, secrets.");

const metrics = z.object({
  enabled: z.boolean().default(true)
    .describe("Serve Prometheus /metrics and /health. Default true."),
  hostname: nonEmpty().default("127.0.0.1")
    .describe("Address the metrics server listens on. Default 127.0.0.1; 0.0.0.0 in Docker."),
  port: port(9119)
    .describe("Port of the metrics server. Default 9119."),
  probe_interval_seconds: z.number().min(0.05).max(3600).default(20)
    .describe("While nothing is relayed, how often the bridge checks that the homeserver answers (one whoami) and that the database takes writes (one row), so /health and tandem_homeserver_up stay true. Default 20."),
}).strict().prefault({}).describe("Metrics and health endpoint.");

const logging = z.object({
  level: z.enum(["error", "warn", "info", "debug"]).default("info")
    .describe("Least severe level logged: error, warn, info or debug. Default info."),
  format: z.enum(["pretty", "json"]).default("pretty")
    .describe("pretty for people, json for log collectors. Default pretty; json in Docker."),
}).strict().prefault({}).describe("Logging to stdout. Tokens are redacted.");

/** The config file's shape before cross-key checks and derived defaults. */
export const ConfigObjectSchema = z.object({
  homeserver,
  appservice,
  database,
  slack,
  telegram,
  bridge,
  metrics,
  logging,
}).strict();

type ConfigInput = z.output<typeof ConfigObjectSchema>;

function crossChecks(c: ConfigInput, ctx: z.RefinementCtx): void {
  if (c.telegram.mode === "webhook" && c.telegram.webhook_url === "") {
    ctx.addIssue({ code: "custom", path: ["telegram", "webhook_url"], message: "is required when telegram.mode is webhook" });
  }
  if (c.metrics.enabled && c.metrics.port === c.appservice.port) {
    ctx.addIssue({ code: "custom", path: ["metrics", "port"], message: "must differ from appservice.port" });
  }
}

function withDerivedDefaults(c: ConfigInput) {
  const { permissions: given, ...rest } = c.bridge;
  const permissions: Record<string, PermissionLevel> = given ?? { "*": "relay", [c.homeserver.domain]: "user" };
  return { ...c, bridge: { permissions, ...rest } };
}

/** The full schema: parse with it (load.ts does) to get a `Config`. */
export const ConfigSchema = ConfigObjectSchema.superRefine(crossChecks).transform(withDerivedDefaults);

/** A validated config. load.ts also makes database.data_dir and appservice.registration absolute. */
export type Config = z.output<typeof ConfigSchema>;
/** What a config file may contain (everything optional except homeserver.url and homeserver.domain). */
export type ConfigFile = z.input<typeof ConfigSchema>;

// ---- schema introspection, shared by load.ts (env overrides, key suggestions) and the generators

export type LeafKind = "string" | "number" | "boolean" | "enum" | "record";

export interface KeyInfo {
  path: string[];
  /** Set for leaves; sections (objects) have none. */
  kind?: LeafKind;
  description: string;
}

type AnySchema = z.core.$ZodType;

/** Strips default/prefault/optional/pipe wrappers down to the schema that checks the value. */
export function unwrapSchema(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    const def = s._zod.def as unknown as { type: string; innerType?: AnySchema; in?: AnySchema };
    if ((def.type === "default" || def.type === "prefault" || def.type === "optional" || def.type === "nullable") && def.innerType) {
      s = def.innerType;
    } else if (def.type === "pipe" && def.in) {
      s = def.in;
    } else {
      return s;
    }
  }
}

function descriptionOf(schema: AnySchema): string {
  return z.globalRegistry.get(schema)?.description ?? "";
}

function walk(schema: AnySchema, path: string[], out: KeyInfo[]): void {
  const inner = unwrapSchema(schema);
  const type = (inner._zod.def as { type: string }).type;
  if (path.length > 0) {
    const kind = type === "object" ? undefined : (type as LeafKind);
    out.push({ path, ...(kind ? { kind } : {}), description: descriptionOf(schema) });
  }
  if (type === "object") {
    const shape = (inner._zod.def as unknown as { shape: Record<string, AnySchema> }).shape;
    for (const [key, child] of Object.entries(shape)) walk(child, [...path, key], out);
  }
}

let keysCache: KeyInfo[] | undefined;
/** Every key of the config, sections first then their keys, in file order. */
export function configKeys(): readonly KeyInfo[] {
  if (!keysCache) {
    keysCache = [];
    walk(ConfigObjectSchema, [], keysCache);
  }
  return keysCache;
}
