/**
 * Start-up and health against a homeserver that behaves like Synapse 1.67 (issue 11 §3-5, issue 16 row 5):
 * - the bot user is registered at start (Synapse does not create the sender_localpart user);
 * - the appservice ping at start (Matrix 1.7), whoami where the homeserver has none;
 * - /health and tandem_homeserver_up follow the homeserver while the bridge is idle;
 * - a registration the homeserver does not know is one error line naming the file, not a log flood;
 * - /health reflects whether the database takes writes, not just whether it answers.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Harness, waitUntil } from "../support/harness.js";
import { backends, setReadOnly } from "../support/db.js";

const FAST_PROBE = { metrics: { probe_interval_seconds: 0.1 } };
const PING = "/_matrix/client/v1/appservice/tandem/ping";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function health(hh: Harness): Promise<{ status: number; body: { status: string; homeserver: { ok: boolean; error?: string }; database: { ok: boolean; error?: string }; queueDepth: number | null } }> {
  const res = await fetch(`http://127.0.0.1:${hh.bridge.metricsPort}/health`);
  return { status: res.status, body: (await res.json()) as never };
}

async function homeserverUp(hh: Harness): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${hh.bridge.metricsPort}/metrics`)).text();
  return Number(/^tandem_homeserver_up (\d)$/m.exec(text)?.[1]);
}

/** JSON log lines whose message matches. */
function logLines(hh: Harness, pattern: RegExp): Array<{ level: string; message: string }> {
  return hh.logs.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { level: string; message: string }).filter((l) => pattern.test(l.message));
}

describe("start-up on the homeserver", () => {
  it("registers the bot (m.login.application_service) before setting its profile: the homeserver does not create it", async () => {
    h = await Harness.start();
    const bot = h.botMxid;
    expect(h.hs.userExists(bot)).toBe(true);
    expect(h.hs.profile(bot)).toEqual({ displayname: "Tandem bridge" });
    const paths = h.hs.requests.map((r) => `${r.method} ${decodeURIComponent(r.path)} ${r.status}`);
    const register = paths.indexOf("POST /_matrix/client/v3/register 200");
    const setName = paths.indexOf(`PUT /_matrix/client/v3/profile/${bot}/displayname 200`);
    expect(register).toBeGreaterThanOrEqual(0);
    expect(setName).toBeGreaterThan(register);
    expect((await health(h)).status).toBe(200);
    expect(logLines(h, /Profile was not found|not ready/)).toEqual([]);

    // A restart finds the bot there (M_USER_IN_USE is fine) and stays healthy.
    await h.restart();
    expect(h.hs.requests.filter((r) => r.path === "/_matrix/client/v3/register").map((r) => r.errcode)).toEqual([undefined, "M_USER_IN_USE"]);
    expect((await health(h)).body.homeserver).toEqual({ ok: true });
  });

  it("pings the homeserver at start (Matrix 1.7); where it has no ping (Synapse 1.67), whoami instead", async () => {
    h = await Harness.start();
    // The homeserver POSTed /_matrix/app/v1/ping to the bridge and got its answer: both sides see each other.
    expect(h.hs.requests.filter((r) => r.method === "POST" && r.path === PING).map((r) => r.status)).toEqual([200]);
    expect(logLines(h, /the homeserver reaches the bridge \(appservice ping\)/)).toHaveLength(1);
    await h.stop();

    h = await Harness.start({ beforeBoot: (hh) => { hh.hs.appservicePing = false; } });
    const seen = h.hs.requests.map((r) => `${r.method} ${r.path} ${r.errcode ?? r.status}`);
    const ping = seen.indexOf(`POST ${PING} M_UNRECOGNIZED`);
    expect(ping).toBeGreaterThanOrEqual(0);
    expect(seen.indexOf("GET /_matrix/client/v3/account/whoami 200")).toBeGreaterThan(ping);
    expect((await health(h)).status).toBe(200);
    expect(logLines(h, /no appservice ping/)).toHaveLength(1);
  });
});

describe("health that notices", () => {
  it("/health and tandem_homeserver_up follow a homeserver that goes down and comes back while the bridge is idle; one warning, not one per probe", async () => {
    h = await Harness.start({ config: FAST_PROBE });
    const hs = h.hs;
    expect((await health(h)).status).toBe(200);
    expect(await homeserverUp(h)).toBe(1);

    hs.down = true; // a gateway answering 502 for a stopped homeserver
    const probesWhileDown = () => hs.requests.filter((r) => r.path === "/_matrix/client/v3/account/whoami" && r.status === 502).length;
    await waitUntil(async () => (await health(h!)).status === 503, 10_000, "/health 503");
    const down = await health(h);
    expect(down.body).toMatchObject({ status: "degraded", homeserver: { ok: false, error: expect.stringMatching(/homeserver unreachable/) } });
    expect(await homeserverUp(h)).toBe(0);
    await waitUntil(() => probesWhileDown() >= 10, 10_000, "ten failed probes");
    expect(logLines(h, /homeserver unreachable/)).toHaveLength(1);

    const pingsBefore = hs.requests.filter((r) => r.path === PING).length;
    hs.down = false;
    await waitUntil(async () => (await health(h!)).status === 200, 10_000, "/health 200");
    expect(await homeserverUp(h)).toBe(1);
    // Back: the bridge pings again, so a homeserver that marked it down retries its transactions now.
    await waitUntil(() => hs.requests.filter((r) => r.path === PING).length > pingsBefore, 10_000, "a ping after the outage");
    expect(logLines(h, /the homeserver answers again/)).toHaveLength(1);
  });

  it("refused connections (homeserver process stopped) show too", async () => {
    h = await Harness.start({ config: FAST_PROBE });
    h.hs.down = "refuse";
    await waitUntil(async () => (await health(h!)).status === 503, 10_000, "/health 503");
    expect((await health(h)).body.homeserver.error).toMatch(/homeserver unreachable \(.*ECONNRESET|socket hang up/);
    h.hs.down = false;
    await waitUntil(async () => (await health(h!)).status === 200, 10_000, "/health 200");
  });
});

describe("a registration the homeserver does not know", () => {
  it("is one error line naming the registration file, /health says so, and the bridge recovers once it is loaded", async () => {
    h = await Harness.start({
      config: FAST_PROBE,
      // The homeserver still has an older registration (say, before generate-registration --force).
      beforeBoot: (hh) => hh.hs.setRegistration({ ...hh.registration, as_token: "an-older-as-token-0123456789" } as never),
    });
    const hs = h.hs;
    const refused = () => hs.requests.filter((r) => r.errcode === "M_UNKNOWN_TOKEN").length;
    await waitUntil(() => refused() >= 6, 15_000, "six refused attempts");
    const lines = logLines(h, /as_token/);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error" });
    expect(lines[0]!.message).toMatch(/^homeserver did not accept the registration \(M_UNKNOWN_TOKEN: it does not know the bridge's as_token\): load .*registration\.yaml into the homeserver again/);
    expect(logLines(h, /not ready|will keep trying/)).toEqual([]);
    const bad = await health(h);
    expect(bad.status).toBe(503);
    expect(bad.body.homeserver.error).toBe(lines[0]!.message);
    expect(await homeserverUp(h)).toBe(0);
    expect(hs.userExists(h.botMxid)).toBe(false);

    hs.setRegistration(h.registration as never); // the operator loads the file and restarts the homeserver
    await waitUntil(async () => (await health(h!)).status === 200, 15_000, "/health 200");
    expect(hs.userExists(h.botMxid)).toBe(true);
    expect(hs.profile(h.botMxid)).toEqual({ displayname: "Tandem bridge" });
  });
});

describe.each(backends.map((b) => [b.name] as const))("%s: a database that answers but refuses writes", (db) => {
  it("/health is 503 naming it while reads still answer, and 200 once writes work again", async () => {
    h = await Harness.start({ config: FAST_PROBE, db });
    expect((await health(h)).status).toBe(200);
    await setReadOnly(h.bridge.store, h.dbUri, true);
    try {
      await waitUntil(async () => (await health(h!)).body.database.error?.includes("read-only") === true, 15_000, "/health naming the read-only database");
      const bad = await health(h);
      expect(bad.status).toBe(503);
      expect(bad.body.database.error).toMatch(/does not take writes .*read-only transaction/);
      expect(bad.body.queueDepth).toBe(0); // reads still answer
    } finally {
      await setReadOnly(h.bridge.store, h.dbUri, false);
    }
    await waitUntil(async () => (await health(h!)).status === 200, 15_000, "/health 200");
    expect(logLines(h, /does not take writes/)).toHaveLength(1);
    expect(logLines(h, /takes writes again/)).toHaveLength(1);
  });
});
