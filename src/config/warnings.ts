// Settings that are valid but probably not what the operator meant; `generate-registration`
// and `doctor` print them (they are not errors: a reverse proxy can make each one right).
import type { Config } from "./schema.js";

/** The port a URL's origin uses (its explicit port, else the scheme's default). */
function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

export function configWarnings(config: Config): string[] {
  const out: string[] = [];
  const address = new URL(config.appservice.address);
  // The homeserver knocks where address points; the bridge listens on appservice.port. A different
  // port means nobody answers, unless a proxy forwards one to the other.
  if (portOf(address) !== config.appservice.port) {
    out.push(`appservice.address ${config.appservice.address} uses port ${portOf(address)} but the bridge listens on appservice.port ${config.appservice.port}: the homeserver will reach nothing there unless a proxy forwards it`);
  }
  return out;
}
