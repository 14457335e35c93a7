import { PGlite } from "@electric-sql/pglite";
import fs from "node:fs";
const db = new PGlite("memory://");
await db.waitReady;
const blob = await db.dumpDataDir("gzip");
fs.writeFileSync("/tmp/pgdump.tgz", Buffer.from(await blob.arrayBuffer()));
console.log("dump bytes", blob.size);
await db.close();
