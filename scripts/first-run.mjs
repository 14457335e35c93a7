// `npm start`: the newcomer's path. On the very first run it creates bridge.yaml from the
// example and the registration, builds if needed, then starts the bridge on the embedded
// database and says what to do next.
import { copyFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

const run = (args) => spawnSync(process.execPath, ["dist/cli.js", ...args], { stdio: "inherit" });

if (!existsSync("dist/cli.js")) {
  const b = spawnSync("npm", ["run", "build"], { stdio: "inherit", shell: process.platform === "win32" });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
if (!existsSync("bridge.yaml")) {
  copyFileSync("bridge.example.yaml", "bridge.yaml");
  console.log("Created bridge.yaml from bridge.example.yaml. Edit homeserver.url and homeserver.domain for your homeserver.");
}
const gen = run(["generate-registration", "-c", "bridge.yaml"]);
if (gen.status !== 0) process.exit(gen.status ?? 1);
console.log("Next: load the registration into your homeserver, then DM the bridge bot `help` from Element. Checking health: `node dist/cli.js doctor`.");
const start = run(["start", "-c", "bridge.yaml"]);
process.exit(start.status ?? 1);
