// The files generated from src/config/schema.ts are current and say what the schema says.
// If this fails after a schema change, run: npx tsx scripts/gen-schema.ts
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { EXAMPLE_OVERRIDES, configJsonSchemaText, exampleYaml } from "../../../src/config/generate.js";
import { loadConfig, parseConfig } from "../../../src/config/load.js";
import { configKeys } from "../../../src/config/schema.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const read = (file: string) => readFileSync(join(root, file), "utf8");

describe("generated files", () => {
  it("config/bridge.schema.json is current", () => {
    expect(read("config/bridge.schema.json")).toBe(configJsonSchemaText());
  });

  it("bridge.example.yaml is current", () => {
    expect(read("bridge.example.yaml")).toBe(exampleYaml());
  });
});

describe("bridge.example.yaml", () => {
  it("parses to exactly the defaults plus the example's values", () => {
    const fromExample = loadConfig(join(root, "bridge.example.yaml"), {});
    const defaults = parseConfig({ homeserver: EXAMPLE_OVERRIDES.homeserver }, {}, { baseDir: root });
    expect(fromExample).toEqual({
      ...defaults,
      // "$domain": user resolves to the domain the operator sets.
      bridge: { ...defaults.bridge, permissions: { "*": "relay", "example.org": "user" } },
    });
  });

  it("has every key, in the schema's order, with its doc string as the comment", () => {
    const doc = YAML.parseDocument(read("bridge.example.yaml"));
    const seen: string[] = [];
    const visit = (node: unknown, path: string[]) => {
      if (!YAML.isMap(node)) return;
      for (const [index, pair] of node.items.entries()) {
        if (!YAML.isScalar(pair.key)) continue;
        const keyPath = [...path, String(pair.key.value)];
        const key = configKeys().find((k) => k.path.join(".") === keyPath.join("."));
        if (!key) continue; // entries of bridge.permissions
        seen.push(key.path.join("."));
        // The file's header comment is separated from the first key's own comment by a blank line.
        // The parser gives a nested map's first comment to the map rather than its first key.
        const raw = pair.key.commentBefore ?? (index === 0 ? node.commentBefore : undefined) ?? "";
        const own = raw.split(/\n\s*\n/).pop() ?? "";
        const comment = own.split("\n").map((l) => l.trim()).join(" ").trim();
        expect(comment, key.path.join(".")).toBe(key.description);
        expect(key.description.length, key.path.join(".")).toBeGreaterThan(10);
        visit(pair.value, keyPath);
      }
    };
    visit(doc.contents, []);
    expect(seen).toEqual(configKeys().map((k) => k.path.join(".")));
  });

  it("keeps design.md's order of sections", () => {
    const sections = Object.keys(YAML.parse(read("bridge.example.yaml")) as object);
    expect(sections).toEqual(["homeserver", "appservice", "database", "slack", "telegram", "bridge", "metrics", "logging"]);
  });
});

describe("config/docker.yaml", () => {
  const defaults = [join(root, "config/docker.yaml")];
  it("is the image's defaults under the first-run file: state under /data, all interfaces, JSON logs", () => {
    const config = loadConfig(join(root, "config/docker-bridge.yaml"), {}, { defaults });
    expect(config.appservice.hostname).toBe("0.0.0.0");
    expect(config.metrics.hostname).toBe("0.0.0.0");
    expect(config.database.data_dir).toBe("/data/db");
    expect(config.appservice.registration).toBe("/data/tandem-registration.yaml");
    expect(config.logging.format).toBe("json");
    expect(config.appservice.address).toBe("http://tandem:29319");
  });

  it("the operator's keys win over the image's defaults; env wins over both", () => {
    const path = join(root, "config/docker-bridge.yaml");
    const text = readFileSync(path, "utf8") + "logging:\n  format: pretty\n";
    const dir = mkdtempSync(join(tmpdir(), "tandem-docker-"));
    try {
      writeFileSync(join(dir, "bridge.yaml"), text);
      const config = loadConfig(join(dir, "bridge.yaml"), { TANDEM_METRICS_HOSTNAME: "127.0.0.1" }, { defaults });
      expect(config.logging.format).toBe("pretty");
      expect(config.metrics.hostname).toBe("127.0.0.1");
      expect(config.appservice.hostname).toBe("0.0.0.0");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
