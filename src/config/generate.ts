// Files generated from the schema: bridge.example.yaml (every key, its doc string as the comment)
// and config/bridge.schema.json (for editors). `npx tsx scripts/gen-schema.ts` writes both; a unit
// test regenerates them in memory and checks the committed files are current.
import YAML, { isMap, isPair, isScalar, type Pair, type YAMLMap } from "yaml";
import { z } from "zod";
import { ConfigObjectSchema, ConfigSchema, configKeys } from "./schema.js";

/** Values the example sets beyond the defaults. */
export const EXAMPLE_OVERRIDES = {
  homeserver: { url: "http://127.0.0.1:8008", domain: "example.org" },
  bridge: {
    permissions: { "*": "relay", "$domain": "user" },
  },
} as const;

const HEADER = [
  "yaml-language-server: $schema=./config/bridge.schema.json",
  "",
  "Tandem configuration. Copy this file to bridge.yaml and set homeserver.url and homeserver.domain;",
  "every other key may be left out and then takes the default shown here.",
  "Unknown keys and wrong types are errors that name the key.",
  "",
  "Environment variables override keys: TANDEM_<SECTION>_<KEY>, e.g. TANDEM_DATABASE_URI,",
  "TANDEM_APPSERVICE_PORT, TANDEM_APPSERVICE_BOT_USERNAME; TANDEM_ENCRYPTION_KEY is short for",
  "bridge.encryption_key. Empty variables are ignored.",
  "Relative paths (database.data_dir, appservice.registration) resolve against this file's directory.",
];

const WIDTH = 100;

function wrap(text: string, indent: number): string {
  const width = WIDTH - indent - 2;
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  // yaml prefixes each comment line with "#"; a leading space gives "# text".
  return lines.map((l) => ` ${l}`).join("\n");
}

/** The example's values: every default, plus EXAMPLE_OVERRIDES. */
export function exampleValues(): Record<string, unknown> {
  const defaults = ConfigObjectSchema.parse({ homeserver: EXAMPLE_OVERRIDES.homeserver });
  return {
    ...defaults,
    homeserver: { ...EXAMPLE_OVERRIDES.homeserver },
    bridge: { permissions: { ...EXAMPLE_OVERRIDES.bridge.permissions }, ...withoutPermissions(defaults.bridge) },
  };
}

function withoutPermissions(bridge: Record<string, unknown>): Record<string, unknown> {
  const { permissions: _ignored, ...rest } = bridge;
  return rest;
}

/** bridge.example.yaml's text. */
export function exampleYaml(): string {
  const doc = new YAML.Document(exampleValues());
  const docs = new Map(configKeys().map((k) => [k.path.join("."), k.description]));
  const annotate = (map: YAMLMap, path: string[], depth: number) => {
    for (const item of map.items as Pair[]) {
      if (!isPair(item) || !isScalar(item.key)) continue;
      const keyPath = [...path, String(item.key.value)];
      const description = docs.get(keyPath.join("."));
      if (description) item.key.commentBefore = wrap(description, depth * 2);
      if (depth === 0 && map.items.indexOf(item) > 0) item.key.spaceBefore = true;
      // Record entries (bridge.permissions) have no doc of their own; they are not recursed into.
      if (description !== undefined && isMap(item.value)) annotate(item.value, keyPath, depth + 1);
    }
  };
  if (isMap(doc.contents)) annotate(doc.contents, [], 0);
  doc.commentBefore = HEADER.map((l) => (l === "" ? "" : ` ${l}`)).join("\n");
  return doc.toString({ lineWidth: 0 });
}

/** config/bridge.schema.json's content: the schema of what a config file may contain. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: "input", target: "draft-7", unrepresentable: "any" });
  // homeserver has no usable default (url and domain are required): say so to editors.
  const homeserver = (schema.properties as Record<string, Record<string, unknown>> | undefined)?.homeserver;
  if (homeserver) delete homeserver.default;
  return {
    ...schema,
    required: ["homeserver"],
    $id: "https://github.com/tandem-bridge/tandem/config/bridge.schema.json",
    title: "Tandem bridge configuration (bridge.yaml)",
  };
}

export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
