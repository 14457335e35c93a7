/**
 * The crash test as a report: runs the real bridge as a child process against the fakes, sends
 * numbered messages in four directions, kill -9s it mid-traffic, restarts it and prints lost /
 * duplicated / reordered per chat and direction (issue 5, item 4).
 *
 *   npx tsx bench/crash-report.ts [--messages 1000] [--chats 2] [--kills 1] [--db pg|pglite]
 *
 * Exits 1 when a message was lost or reordered, or duplicated in a direction that must be
 * exactly-once (every one but Matrix→Telegram, where at most one duplicate per chat per kill is allowed).
 */
import { parseArgs } from "node:util";
import { runCrashScenario, summaryLine, table } from "../test/support/crash-scenario.js";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "1000" },
    chats: { type: "string", default: "2" },
    kills: { type: "string", default: "1" },
    db: { type: "string" },
    quiet: { type: "boolean", default: false },
    "node-arg": { type: "string", multiple: true },
  },
});
const db = values.db === "pg" || values.db === "pglite" ? values.db : undefined;
const kills = Number(values.kills);
const result = await runCrashScenario({
  perDirection: Number(values.messages), chats: Number(values.chats), kills, db, nodeArgs: values["node-arg"],
  log: values.quiet ? undefined : (line) => console.error(`[crash] ${line}`),
});
console.log(table(result));
console.log();
for (const d of result.directions) console.log(summaryLine(d));
console.log(`kills: ${result.kills.map((k) => `at ${k.atMs} ms (${k.arrived} arrived, down ${k.downMs} ms)`).join("; ")}`);
console.log(`Slack look-ups of possibly sent messages after the crash: ${result.slackLookups}`);
console.log(`traffic settled in ${result.trafficMs} ms; whole run ${result.totalMs} ms`);
const bad = result.directions.some((d) => d.lost > 0 || d.reordered > 0 ||
  d.chats.some((c) => c.duplicated > (d.direction === "matrix→telegram" ? kills : 0)));
process.exit(bad ? 1 : 0);
