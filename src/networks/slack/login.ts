/**
 * `login app`: the bot token (xoxb-…) and the app-level token (xapp-…) of a Slack app made
 * from config/slack-app-manifest.yaml. Both are checked against Slack before anything is
 * stored: auth.test (the bot token, its workspace and granted scopes) and
 * apps.connections.open (the app token can open Socket Mode). Every failure says what to fix.
 */
import type { LoginFlow, LoginResult } from "../../core/connector.js";
import { LoginError, RemoteError } from "../../core/errors.js";
import { SlackApi, type ApiOptions, type Obj } from "./api.js";

/** Scopes the bridge cannot work without (the manifest grants them all). */
export const REQUIRED_SCOPES = [
  "channels:history", "channels:read", "chat:write", "chat:write.customize", "files:read", "files:write",
  "groups:history", "groups:read", "im:history", "im:read", "mpim:history", "mpim:read",
  "reactions:read", "reactions:write", "users:read",
];
/** Scopes the manifest asks for that only some features use. */
export const OPTIONAL_SCOPES = ["channels:join", "emoji:read", "im:write", "pins:write", "team:read", "users.profile:read", "users:read.email"];

const MANIFEST = "config/slack-app-manifest.yaml";
const TOKEN_RE = /^x(?:oxb|app)-\S+$/;
/** Slack tokens as they may appear inside any text (bot, user, refresh… `xox?-`, app-level `xapp-`), for scrubbing rooms. */
export const SLACK_TOKEN_SHAPES: readonly RegExp[] = [/xox[a-z]-[A-Za-z0-9-]{6,}/, /xapp-[A-Za-z0-9-]{6,}/];

function loginErrorFor(err: RemoteError, which: "bot" | "app", apiUrl: string): LoginError {
  const where = which === "bot"
    ? "OAuth & Permissions → Bot User OAuth Token (xoxb-…)"
    : "Basic Information → App-Level Tokens (xapp-…, with the connections:write scope)";
  const token = which === "bot" ? "bot token" : "app-level token";
  switch (err.code) {
    case "invalid_auth": case "not_authed":
      return new LoginError(`Slack does not accept the ${token} (invalid_auth). Copy it again from ${where}.`);
    case "token_revoked":
      return new LoginError(`The ${token} was revoked (token_revoked). Get a new one from ${where}${which === "bot" ? " (reinstall the app if it was removed)" : ""}.`);
    case "account_inactive":
      return new LoginError(`The ${token} belongs to a deleted app or a deactivated workspace (account_inactive).`);
    case "not_allowed_token_type":
      return new LoginError(which === "bot"
        ? `That is not a bot token. The first token must be the bot token from ${where}.`
        : `That is not an app-level token. The second token must come from ${where}.`);
    case "missing_scope":
      return new LoginError(which === "app"
        ? "The app-level token lacks the connections:write scope. Generate a new one under Basic Information → App-Level Tokens with that scope."
        : `The bot token lacks a scope Slack needs for this check. Create the app from ${MANIFEST} and reinstall it.`);
    case "network": case "unknown":
      return new LoginError(`Could not reach Slack at ${apiUrl}: ${err.message}. Try again in a moment.`);
    default:
      if (err.retryable) return new LoginError(`Slack had trouble answering (${err.code}). Try again in a moment.`);
      return new LoginError(`Slack refused the ${token} (${err.code}).`);
  }
}

export function appLoginFlow(opts: ApiOptions): LoginFlow {
  return {
    id: "app",
    help: "Log in to a Slack workspace with your Slack app's bot token (xoxb-…) and app-level token (xapp-…)",
    steps: [
      {
        key: "botToken", secret: true, pattern: TOKEN_RE,
        prompt: "Send the bot token (xoxb-…) of your Slack app: OAuth & Permissions → Bot User OAuth Token.",
        patternHint: "That is not a Slack app token. The bot token starts with xoxb- (OAuth & Permissions → Bot User OAuth Token); the app-level token starts with xapp-.",
      },
      {
        key: "appToken", secret: true, pattern: TOKEN_RE,
        prompt: "Now send the app-level token (xapp-…): Basic Information → App-Level Tokens, with the connections:write scope.",
        patternHint: "That is not a Slack app token. The app-level token starts with xapp- (Basic Information → App-Level Tokens).",
      },
    ],
    complete: (values) => completeAppLogin(values, opts),
  };
}

export async function completeAppLogin(values: Record<string, string>, opts: ApiOptions): Promise<LoginResult> {
  let bot = (values.botToken ?? "").trim();
  let app = (values.appToken ?? "").trim();
  const warnings: string[] = [];
  if (bot.startsWith("xapp-") && app.startsWith("xoxb-")) {
    [bot, app] = [app, bot];
    warnings.push("Note: the tokens came in the other order (the xapp- app token first); I used them the right way round.");
  } else if (bot.startsWith("xapp-")) {
    throw new LoginError("Both tokens are app-level tokens (xapp-…). The first must be the bot token (xoxb-…) from OAuth & Permissions → Bot User OAuth Token.");
  } else if (app.startsWith("xoxb-")) {
    throw new LoginError("Both tokens are bot tokens (xoxb-…). The second must be an app-level token (xapp-…) from Basic Information → App-Level Tokens, with the connections:write scope.");
  }
  if (!bot.startsWith("xoxb-") || !app.startsWith("xapp-")) {
    throw new LoginError("`login app` needs the bot token (xoxb-…) and then the app-level token (xapp-…) of your Slack app.");
  }

  const botApi = new SlackApi(bot, opts);
  let auth: Obj;
  try {
    auth = await botApi.read("auth.test");
  } catch (err) {
    throw loginErrorFor(err as RemoteError, "bot", opts.apiUrl);
  }
  const teamId = typeof auth.team_id === "string" ? auth.team_id : "";
  const teamName = typeof auth.team === "string" && auth.team ? auth.team : teamId;
  if (!teamId || typeof auth.bot_id !== "string") {
    throw new LoginError("That token is not a bot token. The first token must be the Bot User OAuth Token (xoxb-…) from OAuth & Permissions.");
  }
  const meta = (auth.response_metadata ?? {}) as { scopes?: string[] };
  if (Array.isArray(meta.scopes)) {
    const granted = new Set(meta.scopes);
    const missing = REQUIRED_SCOPES.filter((s) => !granted.has(s));
    if (missing.length > 0) {
      throw new LoginError(
        `The Slack app is missing the bot scope${missing.length > 1 ? "s" : ""} ${missing.join(", ")}. ` +
        `Add ${missing.length > 1 ? "them" : "it"} under OAuth & Permissions → Bot Token Scopes (${MANIFEST} lists every scope the bridge needs), ` +
        "reinstall the app to the workspace and log in again with the new bot token.",
      );
    }
    const optional = OPTIONAL_SCOPES.filter((s) => !granted.has(s));
    if (optional.length > 0) warnings.push(`Optional scopes not granted: ${optional.join(", ")} (see ${MANIFEST}); some features stay off.`);
  }

  const appApi = new SlackApi(app, opts, undefined, "app-level token");
  let open: Obj;
  try {
    open = await appApi.read("apps.connections.open");
  } catch (err) {
    throw loginErrorFor(err as RemoteError, "app", opts.apiUrl);
  }
  // Both tokens must belong to the same app, or events would reach a different app than the one posting.
  const socketAppId = appIdOfSocketUrl(open.url);
  if (socketAppId) {
    const info = await botApi.read<{ bot?: { app_id?: string } }>("bots.info", { bot: auth.bot_id }).catch(() => undefined);
    const botAppId = info?.bot?.app_id;
    if (botAppId && botAppId !== socketAppId) {
      throw new LoginError("The two tokens belong to different Slack apps. Take both from the same app (the one made from the manifest).");
    }
  }
  return {
    remoteId: teamId,
    name: teamName,
    secrets: { botToken: bot, appToken: app },
    reply: `Logged in to Slack workspace ${teamName}`,
    warnings,
  };
}

function appIdOfSocketUrl(url: unknown): string | undefined {
  if (typeof url !== "string") return undefined;
  try {
    return new URL(url).searchParams.get("app_id") ?? undefined;
  } catch {
    return undefined;
  }
}
