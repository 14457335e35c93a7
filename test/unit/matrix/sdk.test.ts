/**
 * sdk-patches.ts changes how matrix-bot-sdk loads (lazy stand-ins for the dependencies of
 * features Tandem leaves off; its HTTP calls through sdk-request.ts). These tests fail when the
 * pinned SDK changes the members that relies on, when loading the bridge loads a stand-in's real
 * module (the memory is spent again), or when the SDK's calls stop going through our function.
 */
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAZY_BRIDGE_DEPENDENCIES, LAZY_SDK_DEPENDENCIES } from "../../../src/matrix/sdk-patches.js";
import { sdkRequest, type SdkRequestParams, type SdkResponse } from "../../../src/matrix/sdk-request.js";

const ROOT = resolve(__dirname, "../../..");
const require = createRequire(import.meta.url);
const SDK_LIB = dirname(require.resolve("@vector-im/matrix-bot-sdk"));
const BRIDGE_LIB = dirname(require.resolve("matrix-appservice-bridge"));

/** Every `.js` file of a package's lib/ with its text. */
function libFiles(lib: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".js")) out.push({ file: path.slice(lib.length + 1), text: readFileSync(path, "utf8") });
    }
  };
  walk(lib);
  return out;
}
const escape = (spec: string) => spec.replace(/[/.]/g, "\\$&");

interface Seen { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: Buffer }
let server: http.Server;
let base: string;
const seen: Seen[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      if (req.url?.startsWith("/moved")) return void res.writeHead(302, { location: "/_matrix/client/v3/account/whoami?after=redirect" }).end();
      if (req.url?.startsWith("/slow")) return; // never answers
      if (req.url?.startsWith("/missing")) return void res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ errcode: "M_NOT_FOUND", error: "no such thing" }));
      if (req.url?.startsWith("/bytes")) return void res.writeHead(200, { "content-type": "image/png" }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff]));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ user_id: "@probe:hs", got: req.url }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const call = (params: SdkRequestParams) =>
  new Promise<{ err: Error | null; res?: SdkResponse; body?: string | Buffer }>((r) => sdkRequest(params, (err, res, body) => r({ err, res, body })));

describe("the pinned matrix-bot-sdk still has what sdk-patches.ts relies on", () => {
  it("each lazy dependency is still required by the SDK, as `const x = require(...)` at the top of a file", () => {
    const files = libFiles(SDK_LIB);
    for (const spec of LAZY_SDK_DEPENDENCIES) {
      const sites = files.filter((f) => f.text.includes(`require("${spec}")`));
      expect(sites.map((s) => s.file), spec).not.toEqual([]);
      for (const site of sites) expect(site.text, `${site.file}: ${spec}`).toMatch(new RegExp(`^const \\w+ = require\\("${escape(spec)}"\\);$`, "m"));
    }
  });

  it("each of matrix-appservice-bridge's lazy dependencies is still `__importDefault(require(...))` at the top of a file, a plain function or class", () => {
    const files = libFiles(BRIDGE_LIB);
    const bridgeRequire = createRequire(require.resolve("matrix-appservice-bridge"));
    for (const spec of LAZY_BRIDGE_DEPENDENCIES) {
      const sites = files.filter((f) => f.text.includes(`require("${spec}")`));
      expect(sites.map((s) => s.file), spec).not.toEqual([]);
      for (const site of sites) expect(site.text, `${site.file}: ${spec}`).toMatch(new RegExp(`^const \\w+ = __importDefault\\(require\\("${escape(spec)}"\\)\\);$`, "m"));
      // __importDefault wraps a stand-in as { default: standIn }: right only for a module that is not an ES module's transpilation.
      const real = bridgeRequire(spec) as { __esModule?: boolean };
      expect(typeof real, spec).toBe("function");
      expect(real.__esModule, spec).toBeUndefined();
    }
  });

  it("its HTTP goes through one replaceable function, called with the parameters sdk-request.ts reads", () => {
    const httpJs = readFileSync(join(SDK_LIB, "http.js"), "utf8");
    expect(httpJs).toContain("(0, request_1.getRequestFn)()(params, (err, res, rBody)");
    for (const field of ["uri: url", "qs: qs", "encoding: noEncoding === false ? undefined : null", "useQuerystring: true", "timeout: timeout", "headers: headers"]) expect(httpJs).toContain(field);
    const requestJs = readFileSync(join(SDK_LIB, "request.js"), "utf8");
    expect(requestJs).toMatch(/function setRequestFn\(fn\) \{\s*requestFn = fn;/);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    // Pinned: a new version must be read again before it is let in.
    expect(pkg.dependencies["@vector-im/matrix-bot-sdk"]).toMatch(/^\d+\.\d+\.\d+[-\w.]*$/);
    expect(pkg.dependencies["matrix-appservice-bridge"]).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("loading the bridge", () => {
  it("reaches the SDK only through src/matrix/sdk.ts (which installs the patches first)", () => {
    const importers: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.ts$/.test(entry.name) && /^\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+"(?:matrix-appservice-bridge|@vector-im\/matrix-bot-sdk)"/m.test(readFileSync(path, "utf8"))) importers.push(path.slice(ROOT.length + 1));
      }
    };
    walk(join(ROOT, "src"));
    expect(importers).toEqual(["src/matrix/sdk.ts"]);
    expect(readFileSync(join(ROOT, "src/matrix/sdk.ts"), "utf8")).toMatch(/^import "\.\/sdk-patches\.js";\n\nexport \{[^}]*\} from "matrix-appservice-bridge";/m);
  });

  it("leaves every lazy dependency unloaded, and the SDK's calls go through sdk-request.ts", async () => {
    seen.length = 0;
    // Asynchronously: the probe calls this process's server.
    const stdout = await new Promise<string>((done, fail) => execFile(process.execPath, ["--import", "tsx", "test/support/sdk-load-probe.ts", base], { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
      (err, out, errOut) => (err ? fail(new Error(`probe failed: ${errOut}`, { cause: err })) : done(out))));
    const out = JSON.parse(stdout.trim().split("\n").pop()!) as { answer: { user_id: string }; loaded: string[]; filesInCache: Record<string, number>; grammyFiles: number };
    expect(out.answer.user_id).toBe("@probe:hs");
    expect(seen.map((s) => s.url)).toEqual(["/_matrix/client/v3/account/whoami?probe=a&probe=b"]);
    expect(seen[0]!.headers.authorization).toBe("Bearer probe-token");
    expect(out.loaded).toEqual([]);
    // A stand-in is one cache entry; the real module brings its own files (lowdb has two stand-ins).
    const standIns = (spec: string) => LAZY_SDK_DEPENDENCIES.filter((s) => s.split("/")[0] === spec.split("/")[0]).length;
    for (const spec of LAZY_SDK_DEPENDENCIES) expect(out.filesInCache[spec], spec).toBe(standIns(spec));
    for (const spec of LAZY_BRIDGE_DEPENDENCIES) expect(out.filesInCache[spec], spec).toBe(1);
    // Nor grammY, before a Telegram login (src/networks/telegram/grammy.ts).
    expect(out.grammyFiles).toBe(0);
  }, 90_000);
});

describe("sdkRequest: the request-compatible function", () => {
  it("sends the method, query (arrays as repeated keys), headers and a JSON body; answers a string", async () => {
    seen.length = 0;
    const { err, res, body } = await call({ uri: `${base}/_matrix/client/v3/rooms/!r/send`, method: "PUT", qs: { user_id: "@g:hs", ids: ["1", "2"] }, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ body: "hé" }) });
    expect(err).toBeNull();
    expect(res!.statusCode).toBe(200);
    expect(typeof body).toBe("string");
    expect(res!.body).toBe(body);
    expect(seen[0]!.method).toBe("PUT");
    expect(seen[0]!.url).toBe("/_matrix/client/v3/rooms/!r/send?user_id=%40g%3Ahs&ids=1&ids=2");
    expect(seen[0]!.headers["content-length"]).toBe(String(Buffer.byteLength(JSON.stringify({ body: "hé" }))));
    expect(JSON.parse(seen[0]!.body.toString("utf8"))).toEqual({ body: "hé" });
  });

  it("sends a Buffer body as it is and answers a Buffer when encoding is null", async () => {
    seen.length = 0;
    const bytes = Buffer.from([0, 1, 2, 250, 251]);
    const { err, body, res } = await call({ uri: `${base}/bytes`, method: "POST", headers: { "Content-Type": "image/png" }, body: bytes, encoding: null });
    expect(err).toBeNull();
    expect(Buffer.isBuffer(body)).toBe(true);
    expect([...(body as Buffer)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0xff]);
    expect(res!.headers["content-type"]).toBe("image/png");
    expect(seen[0]!.body.equals(bytes)).toBe(true);
  });

  it("answers an error status as a response (the SDK decides), and follows a GET's redirect", async () => {
    const missing = await call({ uri: `${base}/missing`, method: "GET" });
    expect(missing.err).toBeNull();
    expect(missing.res!.statusCode).toBe(404);
    expect(JSON.parse(missing.body as string)).toEqual({ errcode: "M_NOT_FOUND", error: "no such thing" });
    const moved = await call({ uri: `${base}/moved`, method: "GET" });
    expect(moved.res!.statusCode).toBe(200);
    expect(JSON.parse(moved.body as string)).toMatchObject({ got: "/_matrix/client/v3/account/whoami?after=redirect" });
  });

  it("fails with a timeout when no answer comes in time, and with the socket's error when nothing listens", async () => {
    const slow = await call({ uri: `${base}/slow`, method: "GET", timeout: 200 });
    expect(slow.err).toMatchObject({ code: "ESOCKETTIMEDOUT" });
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await call({ uri: `http://127.0.0.1:${port}/x`, method: "GET" });
    expect(refused.err).toMatchObject({ code: "ECONNREFUSED" });
  });
});
