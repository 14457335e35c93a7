#!/usr/bin/env node
// Part of `npm run build`: make the embedded database's template (dist/pglite-template/) once per
// PGlite version, so a first start unpacks a cluster instead of running initdb in WASM
// (see src/store/pglite-template.ts). Skipped when a current template exists.
import { templatePath, writeTemplate } from "../dist/store/pglite-template.js";

if (templatePath()) {
  console.log("pglite-template: current");
} else {
  const t0 = Date.now();
  const file = await writeTemplate();
  console.log(`pglite-template: wrote ${file} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
