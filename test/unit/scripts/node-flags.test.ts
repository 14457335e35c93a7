/**
 * The node flags Tandem runs with live on src/cli.ts's shebang (a young generation of 3 × 4 MB:
 * ~27 MB less RSS); `tandem` gets them from the shebang, `npm start` and the bench read them
 * with cliNodeFlags.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without types
import { cliNodeFlags } from "../../../scripts/node-flags.mjs";

const dir = mkdtempSync(join(tmpdir(), "tandem-flags-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLI = join(import.meta.dirname, "..", "..", "..", "src", "cli.ts");

describe("the node flags on the CLI's shebang", () => {
  it("are the small young generation", () => {
    expect(cliNodeFlags(CLI)).toEqual(["--max-semi-space-size=4"]);
  });

  it("reach node when the file is run as a program (tandem, npx)", () => {
    const script = join(dir, "probe.js");
    writeFileSync(script, `${readFileSync(CLI, "utf8").split("\n", 1)[0]}\nconsole.log(process.execArgv.join(" "));\n`);
    chmodSync(script, 0o755);
    expect(execFileSync(script, { encoding: "utf8" }).trim()).toBe("--max-semi-space-size=4");
  });

  it("are read as none from a plain node shebang, and as several when there are", () => {
    const plain = join(dir, "plain.js");
    writeFileSync(plain, "#!/usr/bin/env node\n");
    expect(cliNodeFlags(plain)).toEqual([]);
    const two = join(dir, "two.js");
    writeFileSync(two, "#!/usr/bin/env -S node --max-semi-space-size=4 --stack-size=900\n");
    expect(cliNodeFlags(two)).toEqual(["--max-semi-space-size=4", "--stack-size=900"]);
  });
});
