/**
 * The homeserver phase's figures (bench/homeserver.ts): the runs as measured, and what the report
 * and the budget make of them — per rate and direction the null bridge's and Tandem's range over
 * the repeats, and Tandem/null as the range of the ratios of each repeat's pair.
 */

export type HsDirection = "slack->matrix" | "matrix->slack";
export const HS_DIRECTIONS: HsDirection[] = ["slack->matrix", "matrix->slack"];
export type HsBridge = "null" | "tandem";

/** One bridge, one direction, one offered rate, one repeat. */
export interface HsRun {
  bridge: HsBridge;
  repeat: number;
  direction: HsDirection;
  /** Offered messages/s. */
  rate: number;
  messages: number;
  delivered: number;
  /** First message offered → last one delivered, s. */
  seconds: number;
  deliveredPerSecond: number;
  /** The bridge process's user + system CPU over the run, s per 1,000 messages delivered (= ms per message). */
  cpuSecondsPer1000: number;
  /** Synapse's CPU over the run, s per 1,000 messages delivered. */
  homeserverCpuSecondsPer1000: number;
  /** Database transactions committed or rolled back in the bridge's database per message (Tandem only). */
  transactionsPerMessage: number | null;
}

export interface HomeserverResult {
  homeserver: string;
  messagesPerRun: number;
  /** Messages each way at 50 msg/s before the rest minute, beyond every chat once (`--warm-up`). */
  warmUpMessages?: number;
  repeats: number;
  load1: { start: number; end: number };
  /** RSS 5 s after the warm-up (logged in, every portal warm), MB, per repeat. */
  idleRssMB: Record<HsBridge, number[]>;
  /** RSS at rest: a minute after the warm-up with nothing relayed (V8's memory reducer has run), MB, per repeat. */
  restRssMB?: Record<HsBridge, number[]>;
  runs: HsRun[];
}

/** "a" when every value rounds the same, else "min-max". */
export function range(values: number[], digits = 2): string {
  if (!values.length) return "-";
  const f = (x: number) => String(Number(x.toFixed(digits)));
  const lo = f(Math.min(...values));
  const hi = f(Math.max(...values));
  return lo === hi ? lo : `${lo}-${hi}`;
}

const pick = (r: HomeserverResult, bridge: HsBridge, direction: HsDirection, rate: number) =>
  r.runs.filter((x) => x.bridge === bridge && x.direction === direction && x.rate === rate).sort((a, b) => a.repeat - b.repeat);

/**
 * Tandem/null CPU per message for each repeat that measured both (the pair run side by side), in
 * repeat order; a null run that cost nothing gives no ratio.
 */
export function cpuRatios(r: HomeserverResult, direction: HsDirection, rate: number): number[] {
  const nulls = new Map(pick(r, "null", direction, rate).map((x) => [x.repeat, x]));
  return pick(r, "tandem", direction, rate).flatMap((t) => {
    const n = nulls.get(t.repeat);
    return n && n.cpuSecondsPer1000 > 0 ? [t.cpuSecondsPer1000 / n.cpuSecondsPer1000] : [];
  });
}

export function rates(r: HomeserverResult): number[] {
  return [...new Set(r.runs.map((x) => x.rate))].sort((a, b) => a - b);
}

/** The table of issue 17: one row per figure, columns null bridge / Tandem / Tandem÷null. */
export function homeserverRows(r: HomeserverResult): string[][] {
  const rows: string[][] = [];
  const both = (f: (x: HsRun) => number | null, rate: number, digits = 2) => (b: HsBridge) =>
    HS_DIRECTIONS.map((d) => range(pick(r, b, d, rate).map(f).filter((v): v is number => v !== null), digits)).join(" / ");
  for (const rate of rates(r)) {
    const cpu = both((x) => x.cpuSecondsPer1000, rate);
    rows.push([`bridge CPU s per 1,000 msgs at ${rate} msg/s, Slack→Matrix / Matrix→Slack`, cpu("null"), cpu("tandem"),
      HS_DIRECTIONS.map((d) => range(cpuRatios(r, d, rate))).join(" / ")]);
  }
  for (const rate of rates(r)) {
    const got = both((x) => x.deliveredPerSecond, rate, 1);
    rows.push([`delivered/s at ${rate} msg/s offered, Slack→Matrix / Matrix→Slack`, got("null"), got("tandem"), ""]);
  }
  const tx = r.runs.filter((x) => x.bridge === "tandem" && x.transactionsPerMessage !== null).map((x) => x.transactionsPerMessage!);
  rows.push(["database transactions per message", "-", range(tx), ""]);
  const rssRow = (label: string, by: Record<HsBridge, number[]>) => rows.push([label, range(by.null, 0), range(by.tandem, 0),
    range([Math.min(...by.tandem) / Math.max(...by.null), Math.max(...by.tandem) / Math.min(...by.null)].filter(Number.isFinite))]);
  rssRow("RSS 5 s after the warm-up, MB", r.idleRssMB);
  if (r.restRssMB) rssRow("RSS idle after login: a minute at rest after the warm-up, MB", r.restRssMB);
  for (const rate of rates(r)) {
    const hs = both((x) => x.homeserverCpuSecondsPer1000, rate);
    rows.push([`Synapse CPU s per 1,000 msgs at ${rate} msg/s (for scale)`, hs("null"), hs("tandem"), ""]);
  }
  return rows;
}

/** The worst (highest) Tandem/null CPU ratio at a rate over both directions and every repeat; null when none was measured. */
export function worstRatio(r: HomeserverResult | undefined, rate: number): number | null {
  if (!r) return null;
  const all = HS_DIRECTIONS.flatMap((d) => cpuRatios(r, d, rate));
  return all.length ? Math.max(...all) : null;
}
