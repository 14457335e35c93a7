/**
 * Wake-ups from other processes: an enqueue by the CLI or a second process (on Postgres, with
 * StoreOptions.notifyEnqueues) sends NOTIFY, which starts the lanes it wrote to at once instead of
 * leaving them for the relay queue's 5-minute safety sweep. The listening connection sits idle
 * between notifications: nothing runs at rest.
 */
import type { Store } from "../store/api.js";
import type { Logger } from "./log.js";
import { errorFields } from "./log.js";

/**
 * Listens where the store can (Postgres; not the embedded PGlite, which no other process can open),
 * then runs `scan`, and resolves to the function that stops listening, or null. `scan` runs again
 * whenever a lost connection is back: it finds what was enqueued while nobody listened.
 */
export function listenToOthers(queue: Store["queue"], log: Logger, wake: (lanes: string[]) => void, scan: () => void): Promise<(() => Promise<void>) | null> {
  if (!queue.listen) {
    scan();
    return Promise.resolve(null);
  }
  return queue.listen(wake, () => {
    log.info("relay queue: listening for other processes' enqueues again");
    scan();
  }).then((stop) => {
    scan();
    return stop;
  }, (err: unknown) => {
    log.warn("relay queue: cannot listen for other processes' enqueues; they wait for the sweep", { ...errorFields(err) });
    scan();
    return null;
  });
}
