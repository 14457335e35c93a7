// `login app` against the fake Slack, and the shipped manifest matching what the login checks.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { LoginError } from "../../../../src/core/errors.js";
import { silentLogger } from "../../../../src/core/log.js";
import { OPTIONAL_SCOPES, REQUIRED_SCOPES, appLoginFlow, completeAppLogin } from "../../../../src/networks/slack/login.js";
import { FakeSlack, type TeamHandle } from "../../../fakes/slack.js";

let slack: FakeSlack;
let team: TeamHandle;
const opts = () => ({ apiUrl: slack.apiUrl, log: silentLogger, retries: 0, timeoutMs: 5000 });
const login = (botToken: string, appToken: string) => completeAppLogin({ botToken, appToken }, opts());
const failure = async (p: Promise<unknown>): Promise<string> => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(LoginError);
  return (err as LoginError).userMessage!;
};

beforeAll(async () => {
  slack = await FakeSlack.start();
  team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme", botScopes: [...REQUIRED_SCOPES, ...OPTIONAL_SCOPES] });
});
afterAll(async () => {
  await slack?.stop();
});

describe("login app", () => {
  it("asks for the bot token then the app token, both secret, and accepts only Slack app token shapes", () => {
    const flow = appLoginFlow(opts());
    expect(flow.id).toBe("app");
    expect(flow.steps.map((s) => [s.key, s.secret])).toEqual([["botToken", true], ["appToken", true]]);
    expect(flow.steps[0]!.prompt).toMatch(/xoxb-/);
    expect(flow.steps[1]!.prompt).toMatch(/xapp-/);
    for (const s of flow.steps) {
      expect(s.pattern!.test("xoxb-1-abc")).toBe(true);
      expect(s.pattern!.test("xapp-1-A1-abc")).toBe(true);
      expect(s.pattern!.test("xoxp-1-user")).toBe(false);
      expect(s.pattern!.test("hello")).toBe(false);
    }
  });

  it("succeeds with the workspace as the login", async () => {
    const r = await login(team.botToken, team.appToken);
    expect(r).toEqual({
      remoteId: "T0001", name: "Acme", secrets: { botToken: team.botToken, appToken: team.appToken },
      reply: "Logged in to Slack workspace Acme", warnings: [],
    });
    expect(slack.calls.filter((c) => c.method === "auth.test" || c.method === "apps.connections.open").map((c) => c.tokenKind)).toEqual(["bot", "app"]);
  });

  it("takes swapped tokens and says so; refuses two of a kind", async () => {
    const r = await login(team.appToken, team.botToken);
    expect(r.secrets).toEqual({ botToken: team.botToken, appToken: team.appToken });
    expect(r.warnings!.join(" ")).toMatch(/other order/);
    expect(await failure(login(team.botToken, team.botToken))).toMatch(/Both tokens are bot tokens.*xapp-.*App-Level Tokens/);
    expect(await failure(login(team.appToken, team.appToken))).toMatch(/Both tokens are app-level tokens.*xoxb-/);
  });

  it("explains wrong, revoked and inactive bot tokens", async () => {
    expect(await failure(login("xoxb-nope", team.appToken))).toMatch(/does not accept the bot token \(invalid_auth\).*Bot User OAuth Token/);
    const revoked = slack.createTeam({ id: "T0002" });
    slack.revokeToken(revoked.botToken);
    expect(await failure(login(revoked.botToken, revoked.appToken))).toMatch(/bot token was revoked \(token_revoked\)/);
    const inactive = slack.createTeam({ id: "T0003" });
    slack.deactivateToken(inactive.botToken);
    expect(await failure(login(inactive.botToken, inactive.appToken))).toMatch(/account_inactive/);
  });

  it("names every missing required scope and points to the manifest; optional ones are a warning", async () => {
    const narrow = slack.createTeam({ id: "T0004", botScopes: REQUIRED_SCOPES.filter((s) => s !== "chat:write.customize" && s !== "files:write") });
    const msg = await failure(login(narrow.botToken, narrow.appToken));
    expect(msg).toMatch(/missing the bot scopes chat:write\.customize, files:write/);
    expect(msg).toContain("config/slack-app-manifest.yaml");
    expect(msg).toMatch(/reinstall/);
    const noOptional = slack.createTeam({ id: "T0005", name: "Plain", botScopes: REQUIRED_SCOPES });
    const r = await login(noOptional.botToken, noOptional.appToken);
    expect(r.reply).toBe("Logged in to Slack workspace Plain");
    expect(r.warnings!.join(" ")).toMatch(/Optional scopes not granted: channels:join/);
  });

  it("explains a bad app-level token, one without connections:write, and tokens of two different apps", async () => {
    expect(await failure(login(team.botToken, "xapp-1-nope"))).toMatch(/does not accept the app-level token \(invalid_auth\)/);
    const t6 = slack.createTeam({ id: "T0006" });
    slack.revokeToken(t6.appToken);
    expect(await failure(login(t6.botToken, t6.appToken))).toMatch(/app-level token was revoked/);
    const t7 = slack.createTeam({ id: "T0007" });
    slack.setScopes(t7.appToken, []);
    expect(await failure(login(t7.botToken, t7.appToken))).toMatch(/connections:write/);
    const t8 = slack.createTeam({ id: "T0008" });
    expect(await failure(login(team.botToken, t8.appToken))).toMatch(/different Slack apps/);
  });

  it("says when Slack cannot be reached", async () => {
    const dead = { ...opts(), apiUrl: "http://127.0.0.1:9/api/" };
    expect(await failure(completeAppLogin({ botToken: team.botToken, appToken: team.appToken }, dead))).toMatch(/Could not reach Slack/);
  });
});

describe("config/slack-app-manifest.yaml", () => {
  const manifest = parse(readFileSync(new URL("../../../../config/slack-app-manifest.yaml", import.meta.url), "utf8")) as {
    oauth_config: { scopes: { bot: string[] } };
    settings: { socket_mode_enabled: boolean; event_subscriptions: { bot_events: string[] } };
  };

  it("grants every scope the login checks, and uses Socket Mode", () => {
    expect(manifest.oauth_config.scopes.bot.sort()).toEqual([...REQUIRED_SCOPES, ...OPTIONAL_SCOPES].sort());
    expect(manifest.settings.socket_mode_enabled).toBe(true);
  });

  it("subscribes to every event the connector handles", () => {
    const events = manifest.settings.event_subscriptions.bot_events;
    for (const e of ["message.channels", "message.groups", "message.im", "message.mpim", "reaction_added", "reaction_removed",
      "channel_rename", "group_rename", "channel_archive", "channel_unarchive", "group_archive", "group_unarchive",
      "member_joined_channel", "member_left_channel", "user_change", "app_uninstalled", "tokens_revoked"]) {
      expect(events).toContain(e);
    }
  });
});
