/**
 * The embedded database's first start without initdb, and its memory settings.
 *
 * PGlite creates a new cluster by running initdb inside WASM: 12-34 s and ~0.8 GB of RSS that the
 * process never gives back (WASM memory only grows). The build makes that cluster once
 * (`npm run build` → scripts/pglite-template.mjs → dist/pglite-template/), and a new data
 * directory is unpacked from it instead: ~1-3 s and no initdb heap. Without the template
 * (tests run from src/ before a build, or a deleted dist/) PGlite's own initdb still works.
 *
 * Postgres's defaults size shared_buffers for a server (128 MB); in one bridge process the
 * embedded database serves a handful of connections' worth of queries, so the buffers are
 * cut to what a 10,000-portal bridge's working set needs.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { PGlite } from "@electric-sql/pglite";
import { extractUstar } from "./ustar.js";

/** dist/pglite-template/ at the project root, from src/store or dist/store alike. */
export const TEMPLATE_DIR = fileURLToPath(new URL("../../dist/pglite-template/", import.meta.url));
const TEMPLATE_FILE = "cluster.tar.gz";
const TEMPLATE_META = "template.json";

/** Start parameters: PGlite's own, plus buffers sized for one embedded bridge (see above). */
export function embeddedStartParams(): string[] {
  return [
    ...PGlite.defaultStartParams,
    "-c", "shared_buffers=16MB",
    "-c", "temp_buffers=2MB",
    "-c", "work_mem=2MB",
    "-c", "maintenance_work_mem=16MB",
    "-c", "wal_buffers=1MB",
  ];
}

/** The installed PGlite's version: a template made by another version is not used. */
export function pgliteVersion(): string {
  const require = createRequire(import.meta.url);
  let dir = path.dirname(require.resolve("@electric-sql/pglite"));
  while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
  return (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/** The template's path when it exists and was made by this PGlite, else null. */
export function templatePath(dir: string = TEMPLATE_DIR): string | null {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, TEMPLATE_META), "utf8")) as { pglite?: string };
    const file = path.join(dir, TEMPLATE_FILE);
    return meta.pglite === pgliteVersion() && fs.existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

/** Makes the template: a fresh cluster, dumped. Run by the build; takes as long as one initdb. */
export async function writeTemplate(dir: string = TEMPLATE_DIR): Promise<string> {
  const pg = new PGlite("memory://", { startParams: embeddedStartParams() });
  await pg.waitReady;
  const blob = await pg.dumpDataDir("gzip");
  await pg.close();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, TEMPLATE_FILE);
  fs.writeFileSync(`${file}.tmp`, Buffer.from(await blob.arrayBuffer()));
  fs.renameSync(`${file}.tmp`, file);
  fs.writeFileSync(path.join(dir, TEMPLATE_META), `${JSON.stringify({ pglite: pgliteVersion() })}\n`);
  return file;
}

/** Whether `dataDir` already holds a cluster (PGlite writes PG_VERSION first). */
export function hasCluster(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, "PG_VERSION"));
}

/**
 * Unpacks the template into an empty `dataDir` (4.5 MB gzipped, 39 MB unpacked: read whole).
 * Returns false when there is no usable template (the caller lets PGlite run initdb).
 */
export async function unpackTemplate(dataDir: string, dir: string = TEMPLATE_DIR): Promise<boolean> {
  const file = templatePath(dir);
  if (!file) return false;
  // The dump's member names are absolute ("/base/1/…"); both unpackers put them under dataDir.
  if (extractUstar(zlib.gunzipSync(fs.readFileSync(file)), dataDir)) return true;
  // An entry kind the fast unpacker does not know (another PGlite's dump): the full tar reader,
  // loaded only then (it costs every start ~60 ms of CPU to load).
  const { extract } = await import("tar");
  fs.mkdirSync(dataDir, { recursive: true });
  await extract({ file, cwd: dataDir, onwarn: () => undefined });
  return true;
}

/** The template as a Blob, for in-memory databases (tests): PGlite loads it instead of running initdb. */
export function templateBlob(dir: string = TEMPLATE_DIR): Blob | undefined {
  const file = templatePath(dir);
  return file ? new Blob([fs.readFileSync(file)]) : undefined;
}
