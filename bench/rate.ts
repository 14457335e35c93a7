/**
 * Phase "rate" (`npm run bench -- --only rate`, not in the default set): the bridge's CPU per
 * message against the offered rate, on the fakes, Slack→Matrix and Matrix→Slack. The homeserver
 * phase measures at 10 and 50 msg/s, where the messages of a chat come one at a time and each
 * pays for its own wake-ups, statements and socket writes; the saturation runs of the relay phase
 * share them between many. This shows the curve in between, in one process (the relay phase's
 * child, quiet: no sampler of the bench's own in it):
 *
 *   cold   10 msg/s right after start (only every chat once, for the ghosts' joins);
 *   warm   the same after WARM_UP messages at 200 msg/s (V8 has optimized the message path),
 *          then each rate of RATES.
 *
 * CPU from the child's process.cpuUsage() (all its threads), statements from its own counter.
 */
import path from "node:path";
import { Traffic, type Direction } from "./drive.js";
import type { BenchDatabases } from "./pg.js";
import { BridgeProcess } from "./proc.js";
import { round } from "./report.js";
import { World, worldSpec } from "./world.js";

const DIRS: Direction[] = ["slack->matrix", "matrix->slack"];
const RATES = [2, 10, 50, 200];
const WARM_UP = 3000;
const WARM_UP_RATE = 200;

export interface RateRow {
  direction: Direction;
  /** Offered messages/s. */
  rate: number;
  warm: boolean;
  messages: number;
  cpuMsPerMessage: number;
  statementsPerMessage: number;
}
export interface RateResult {
  warmUp: number;
  secondsPerRate: number;
  rows: RateRow[];
}

export async function ratePhase(dbs: BenchDatabases, o: { quick: boolean; resultsDir: string; log: (s: string) => void }): Promise<RateResult> {
  const seconds = o.quick ? 8 : 20;
  const warmUp = o.quick ? 600 : WARM_UP;
  const rows: RateRow[] = [];
  for (const direction of DIRS) {
    const db = await dbs.fresh(`rate_${direction.replace("->", "_")}`);
    const w = await World.start(db, "warn");
    let proc: BridgeProcess | null = null;
    const traffic = new Traffic(w);
    try {
      await w.seed(worldSpec({ slack: 5 }), db);
      const bridge = (await BridgeProcess.start(w, { logFile: path.join(o.resultsDir, "bridge-rate.log"), quiet: true })).proc;
      proc = bridge;
      if (!(await bridge.connected(30_000))) throw new Error("the Slack login did not connect within 30 s");
      for (let c = 0; c < w.slackChats.length; c++) traffic.send(direction, c, 0);
      if (!(await traffic.settle(60_000))) throw new Error(`${traffic.pending} messages of the first round not relayed`);
      const measure = async (rate: number, warm: boolean) => {
        const before = await bridge.stats(true);
        const from = traffic.lastId;
        await traffic.steady({ [direction]: rate }, seconds * 1000);
        if (!(await traffic.settle(60_000))) throw new Error(`${traffic.pending} messages at ${rate} msg/s not relayed`);
        const after = await bridge.stats(true);
        const messages = traffic.results(from).length;
        traffic.forget(traffic.lastId);
        const row: RateRow = {
          direction, rate, warm, messages,
          cpuMsPerMessage: round((after.cpuMs - before.cpuMs) / messages, 2),
          statementsPerMessage: round((after.statements - before.statements) / messages, 2),
        };
        o.log(`rate: ${direction} ${warm ? "warm" : "cold"} at ${rate} msg/s: ${messages} messages, ${row.cpuMsPerMessage} ms of CPU and ${row.statementsPerMessage} statements per message`);
        rows.push(row);
      };
      await measure(10, false);
      await traffic.steady({ [direction]: WARM_UP_RATE }, (warmUp / WARM_UP_RATE) * 1000);
      if (!(await traffic.settle(120_000))) throw new Error(`${traffic.pending} warm-up messages not relayed`);
      traffic.forget(traffic.lastId);
      for (const rate of RATES) await measure(rate, true);
    } finally {
      traffic.close();
      await proc?.stop();
      await w.stop();
    }
  }
  return { warmUp, secondsPerRate: seconds, rows };
}
