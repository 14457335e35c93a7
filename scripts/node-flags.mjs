// The node flags Tandem runs with, kept in one place: the shebang of src/cli.ts (and so of
// dist/cli.js), `#!/usr/bin/env -S node <flags>`. `tandem` (npx, the bin) gets them from the
// shebang itself; `npm start`, the systemd unit and the Docker image pass the same ones, and the
// benchmark measures the bridge with them.
import { readFileSync } from "node:fs";

/** The flags on the shebang line of `file` (a `#!… node …` line); [] when it has none. */
export function cliNodeFlags(file = "dist/cli.js") {
  const first = readFileSync(file, "utf8").split("\n", 1)[0] ?? "";
  const m = /^#!.*\bnode((?:\s+--\S+)*)\s*$/.exec(first);
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
}
