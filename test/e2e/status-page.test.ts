/**
 * The read-only status page in headless Chromium (Debian's chromium, driven by
 * playwright-core): it loads from the metrics listener, shows the rooms and links of two
 * loopback networks (names from users shown as text, never as markup), and updates in place
 * after a message is relayed.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatusJson } from "../../src/observability/status-page.js";
import type { FakeMatrixClient } from "../fakes/homeserver.js";
import { Harness } from "../support/harness.js";
import { LoopbackConnector, LoopbackNetwork } from "../support/loopback.js";
import { requireTool } from "../support/required-tools.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = requireTool("Chromium", existsSync(CHROMIUM), "apt-get install -y chromium");
if (!hasChromium) console.warn(`status page browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

const ROOM_NAME = `Fleet <b>Ops</b> <img src=x onerror="window.__xss=1">`;
const CHAT_NAME = `<i>fleet</i> & "crew"`;

describe.skipIf(!hasChromium)("status page in headless Chromium", () => {
  const a = new LoopbackNetwork();
  const b = new LoopbackNetwork();
  a.addAccount("lb-a", "acctA", "Alpha");
  b.addAccount("lb-b", "acctB", "Beta");
  a.addChat("ops", "ops");
  b.addChat("fleet", CHAT_NAME);
  a.addUser("ivan", "Ivan Petrov");
  let h: Harness;
  let admin: FakeMatrixClient;
  let room: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const url = (path: string) => `http://127.0.0.1:${h.bridge.metricsPort}${path}`;
  const cell = (network: string, chat: string, dir: string, field: string) =>
    page.locator(`tr[data-room="${room}"][data-link="${network}:${chat}"][data-dir="${dir}"] [data-field="${field}"]`);

  beforeAll(async () => {
    h = await Harness.start({ connectors: () => [new LoopbackConnector(a, "loopback"), new LoopbackConnector(b, "loopback2")] });
    admin = h.user("admin");
    const dm = await h.dm(admin);
    expect(await h.command(admin, dm, "login loopback lb-a")).toMatch(/Logged in/);
    expect(await h.command(admin, dm, "login loopback2 lb-b")).toMatch(/Logged in/);
    room = await admin.createRoom({ name: ROOM_NAME, invite: [h.botMxid] });
    await h.waitForBot(room, /Hello/);
    const pl = await admin.getState(room, "m.room.power_levels");
    await admin.setState(room, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), [h.botMxid]: 100 } });
    expect(await h.command(admin, room, "!tandem link loopback ops")).toMatch(/Linked this room/);
    expect(await h.command(admin, room, "!tandem link loopback2 fleet")).toMatch(/Linked this room/);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage();
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    page.on("console", (msg) => { if (msg.type() === "error") pageErrors.push(msg.text()); });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("serves a self-contained page with a strict content security policy", async () => {
    const res = await fetch(url("/status"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toMatch(/default-src 'none'; script-src 'nonce-[A-Za-z0-9+/=]+'/);
    const html = await res.text();
    expect(html).toMatch(/<script nonce="[^"]+">/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/); // nothing loaded from elsewhere
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    expect(html).toContain(`nonce="${nonce}"`);
    // A second load gets a fresh nonce.
    expect((await fetch(url("/status"))).headers.get("content-security-policy")).not.toContain(nonce);
  });

  it("shows every room with its links, phase, connections and queue, names as plain text", async () => {
    await page.goto(url("/status"));
    const roomRow = page.locator(`tr.room[data-room="${room}"]`);
    await roomRow.waitFor({ timeout: 10_000 });
    expect(await roomRow.innerText()).toContain(ROOM_NAME);
    expect(await roomRow.locator('[data-field="phase"]').innerText()).toBe("parallel");
    const fleetRow = page.locator(`tr[data-room="${room}"][data-link="loopback2:fleet"][data-dir="from_matrix"]`);
    expect(await fleetRow.innerText()).toContain(`Loopback2 ${CHAT_NAME}`);
    expect(await page.locator(`tr[data-room="${room}"][data-link="loopback:ops"]`).count()).toBe(2); // both directions
    // Markup in names stayed text: no element was made from it and no script ran.
    expect(await page.locator("main img, main b, main i").count()).toBe(0);
    expect(await page.evaluate("typeof window.__xss")).toBe("undefined");
    // Connections and queue.
    for (const login of ["loopback:acctA", "loopback2:acctB"]) {
      expect(await page.locator(`tr[data-login="${login}"]`).innerText()).toMatch(/connected/);
    }
    expect(await page.locator('tr[data-lane="all"] [data-field="depth"]').innerText()).toBe("0");
    expect(await page.locator("#overall").innerText()).toBe("ok");
    expect(await cell("loopback", "ops", "to_matrix", "delivered").innerText()).toBe("0");
    expect(await cell("loopback", "ops", "to_matrix", "verdict").innerText()).toBe("no messages lost");
  });

  it("updates in place after a message is relayed (no reload)", async () => {
    // (Page-side code is passed as strings: this project's TypeScript has no DOM types.)
    await page.evaluate("window.__marker = 42");
    const before = await page.evaluate("document.body.dataset.generatedAt");
    await a.post("ops", "ivan", "status page, hello");
    await expect.poll(() => cell("loopback", "ops", "to_matrix", "delivered").innerText(), { timeout: 15_000 }).toBe("1");
    // The fan-out to the other network shows up too, with its lag.
    await expect.poll(() => cell("loopback2", "fleet", "from_matrix", "delivered").innerText(), { timeout: 15_000 }).toBe("1");
    expect(await page.evaluate("window.__marker")).toBe(42);
    expect(await page.evaluate("document.body.dataset.generatedAt")).not.toBe(before);
    expect(await cell("loopback", "ops", "to_matrix", "lag").innerText()).toMatch(/^\d+ ms$|^[\d.]+ s$/);
    expect(pageErrors).toEqual([]);
  });

  it("status.json has the same data for machines", async () => {
    const s = (await (await fetch(url("/status.json"))).json()) as StatusJson;
    const r = s.rooms.find((x) => x.roomId === room)!;
    expect(r).toMatchObject({ name: ROOM_NAME, phase: "parallel" });
    expect(r.links.map((l) => [l.network, l.name])).toEqual([["loopback", "ops"], ["loopback2", CHAT_NAME]]);
    expect(r.links[0]!.parity.to_matrix).toMatchObject({ seen: 1, delivered: 1, pending: 0, failed: 0 });
    expect(r.links[0]!.lag.to_matrix!.lagMs).toBeGreaterThanOrEqual(0);
    expect(s.connections.map((c) => c.state)).toEqual(["connected", "connected"]);
    expect(s.queue.lanes.map((l) => l.kind)).toEqual(["remote", "matrix"]);
  });
});
