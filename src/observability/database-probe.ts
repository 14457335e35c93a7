/**
 * A database that answers reads but refuses writes (a read-only replica after a failover,
 * default_transaction_read_only, revoked rights) passes /health's read probe while every message
 * fails to queue. So every interval this upserts one row (kv `health.write_probe`); /health and
 * `tandem_*` report a refusal until a write works again. One statement per interval: nothing at rest.
 */
import type { HealthBoard } from "../core/health.js";
import type { Logger } from "../core/log.js";
import { RepeatLog } from "../core/repeat-log.js";
import type { Store } from "../store/api.js";

export const WRITE_PROBE_KEY = "health.write_probe";

/** One probe write; throws what the database said (`tandem doctor` uses it too). */
export async function probeWrite(kv: Store["kv"]): Promise<void> {
  await kv.set(WRITE_PROBE_KEY, new Date().toISOString());
}

export class DatabaseWriteProbe {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly trouble: RepeatLog;

  constructor(private readonly kv: Store["kv"], private readonly health: HealthBoard, log: Logger, private readonly intervalMs: number) {
    this.trouble = new RepeatLog(log);
  }

  /** Probes once (awaited) and then every interval. */
  async start(): Promise<void> {
    await this.probeOnce();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  async probeOnce(): Promise<void> {
    try {
      await probeWrite(this.kv).catch(async (err: unknown) => {
        // A pooled connection the server closed (a restart, sessions cut by an admin) fails the
        // one statement that meets it; the pool reconnects for the next. Ask again at once, so the
        // report names what the database says now, not that blip.
        if ((err as { code?: unknown }).code !== "store.connect") throw err;
        await probeWrite(this.kv);
      });
      this.health.databaseWriteError = null;
      this.trouble.clear("the database takes writes again");
    } catch (err) {
      const message = `the database does not take writes (probe write failed): ${err instanceof Error ? err.message : String(err)}`;
      this.health.databaseWriteError = message;
      this.trouble.report("error", message);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.probeOnce().finally(() => this.schedule()), this.intervalMs);
    this.timer.unref();
  }
}
