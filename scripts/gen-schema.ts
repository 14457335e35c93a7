// Regenerates the files derived from src/config/schema.ts:
//   config/bridge.schema.json  JSON Schema of bridge.yaml, for editors
//   bridge.example.yaml        every key with its doc string as the comment
// Run after changing the schema: npx tsx scripts/gen-schema.ts
// (test/unit/config/generated.test.ts fails while either file is stale.)
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configJsonSchemaText, exampleYaml } from "../src/config/generate.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const outputs: Array<[string, string]> = [
  ["config/bridge.schema.json", configJsonSchemaText()],
  ["bridge.example.yaml", exampleYaml()],
];
for (const [file, text] of outputs) {
  writeFileSync(`${root}${file}`, text);
  console.log(`wrote ${file}`);
}
