// One line for a failed start: what went wrong and what to do about it. Store errors already
// name their database without secrets; listener errors get the config key of the port.
import type { Config } from "./config/index.js";

interface Coded { code?: unknown; port?: unknown; address?: unknown; message?: unknown; cause?: unknown }

/** Which config key a listen port comes from, for the fix. */
function portKey(config: Config, port: unknown): string | undefined {
  if (port === config.appservice.port) return "appservice.port (and the port in appservice.address)";
  if (config.metrics.enabled && port === config.metrics.port) return "metrics.port";
  if (config.telegram.enabled && port === config.telegram.webhook_port) return "telegram.webhook_port";
  return undefined;
}

/** The message and the chain of causes, "a: b: c", without repeating a cause already quoted. */
function chain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as Coded).cause, depth++) {
    const text = e instanceof Error ? e.message : typeof e === "string" ? e : "";
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
  }
  return parts.join(": ") || String(err);
}

export function describeStartFailure(err: unknown, config: Config): string {
  const e = (err ?? {}) as Coded;
  if (e.code === "EADDRINUSE" || e.code === "EACCES" || e.code === "EADDRNOTAVAIL") {
    const key = portKey(config, e.port);
    const where = `${typeof e.address === "string" ? e.address : "?"}:${typeof e.port === "number" ? e.port : "?"}`;
    const what = e.code === "EADDRINUSE" ? `${where} is already in use by another process`
      : e.code === "EACCES" ? `not allowed to listen on ${where} (ports below 1024 need privileges)`
      : `${where} is not an address of this host`;
    return `${what}. Fix: stop the other process or choose another port${key ? ` in ${key}` : ""}.`;
  }
  switch (e.code) {
    case "store.locked":
      return `${chain(err)}. Fix: stop the other Tandem process, or give this one its own database.data_dir.`;
    case "store.connect":
      return `${chain(err)}. Fix: start the database or correct database.uri (TANDEM_DATABASE_URI).`;
    case "store.migrate":
      return `${chain(err)}. Fix: restore the database from the backup taken before the upgrade, or run the Tandem version that wrote it (see README, Upgrading).`;
    default:
      return chain(err);
  }
}
