// `npm start`: the newcomer's path. Builds when the sources are newer than dist/ (so a `git pull`
// never runs old code), creates bridge.yaml from the example on the very first run (asking for
// the first admin when a person is at the terminal), writes the registration, then starts the
// bridge on the embedded database.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createInterface } from "node:readline/promises";
import { needsBuild } from "./build-state.mjs";
import { cliNodeFlags } from "./node-flags.mjs";

// With the node flags of dist/cli.js's shebang, as `tandem` runs (scripts/node-flags.mjs).
const run = (args) => spawnSync(process.execPath, [...cliNodeFlags("dist/cli.js"), "dist/cli.js", ...args], { stdio: "inherit" });

if (needsBuild()) {
  console.log("Building (the sources are newer than dist/)…");
  const b = spawnSync("npm", ["run", "build"], { stdio: "inherit", shell: process.platform === "win32" });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
if (!existsSync("bridge.yaml")) {
  copyFileSync("bridge.example.yaml", "bridge.yaml");
  console.log("Created bridge.yaml from bridge.example.yaml. Edit homeserver.url and homeserver.domain for your homeserver.");
  if (process.stdin.isTTY && !process.env.TANDEM_ADMIN) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const mxid = (await rl.question("Your Matrix ID, to be the bridge's first admin (e.g. @you:example.org; empty to skip): ")).trim();
    rl.close();
    if (/^@[^:\s]+:\S+$/.test(mxid)) {
      // Add the admin under permissions, keeping the file's comments (one line after "$domain: user").
      const text = readFileSync("bridge.yaml", "utf8").replace(/^(\s+)\$domain: user$/m, `$&\n$1"${mxid}": admin`);
      writeFileSync("bridge.yaml", text);
      console.log(`${mxid} is admin in bridge.yaml (bridge.permissions).`);
    } else if (mxid) {
      console.log(`"${mxid}" is not a Matrix ID; no admin set. Set TANDEM_ADMIN=@you:your.domain or edit bridge.permissions.`);
    }
  }
}
const gen = run(["generate-registration", "-c", "bridge.yaml"]);
if (gen.status !== 0) process.exit(gen.status ?? 1);
console.log("Next: load the registration into your homeserver, then DM the bridge bot `help` from Element. Checking health: `npx tandem doctor`.");
const start = run(["start", "-c", "bridge.yaml"]);
process.exit(start.status ?? 1);
