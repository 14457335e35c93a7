/**
 * Route matrix-bot-sdk's own logging (it prints straight to the console by default, stack
 * traces and all) through our logger, so it gets the same format, level and secret
 * redaction. The SDK's "info" chatter is debug for us; its errors are warnings, because
 * every failure it reports also reaches our code, which decides what is an error.
 */
import { LogService } from "../matrix/sdk.js";
import type { Logger } from "../core/log.js";

const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : JSON.stringify(a))).join(" ");

export function routeSdkLogs(log: Logger): void {
  const sdk = log.child({ component: "matrix-sdk" });
  LogService.setLogger({
    trace: () => undefined,
    debug: (module: string, ...args: unknown[]) => sdk.debug(text(args), { module }),
    info: (module: string, ...args: unknown[]) => sdk.debug(text(args), { module }),
    warn: (module: string, ...args: unknown[]) => sdk.warn(text(args), { module }),
    error: (module: string, ...args: unknown[]) => sdk.warn(text(args), { module }),
  });
}
