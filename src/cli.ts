#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * `tandem generate-registration | start | doctor`. Parses argv, maps errors to one clear
 * line and an exit code (0 ok, 1 runtime failure, 2 bad config/usage), nothing else.
 * Each command loads only what it needs: `--help` and `generate-registration` never load the
 * bridge, so they answer at once.
 * The shebang's node flag keeps V8's young generation at 3 × 4 MB instead of 3 × 16 MB: 27 MB
 * less RSS for the embedded-database bridge with 3 portals (bench embedded phase: 210 → 183 MB),
 * no measurable CPU cost. It cannot be set once Node runs, so `npm start`, the systemd unit and
 * the Docker image pass the same flag (scripts/node-flags.mjs reads it from here).
 */
import { parseArgs } from "node:util";
import { ConfigError } from "./config/errors.js";
import type { Config } from "./config/index.js";
import { fetchFailure } from "./fetch-failure.js";
import { describeStartFailure } from "./start-failure.js";

const USAGE = `Usage: tandem <command> [options]

Commands:
  generate-registration  write the appservice registration YAML for the homeserver
  start                  run the bridge
  doctor                 check config, database, homeserver and logins
  healthcheck            exit 0 when the running bridge's /health says ok (for Docker, systemd)
  import <network>       import the whole history into Matrix through the running bridge
                         [--conversation X] [--since DATE] [--until DATE] [--dry-run] [--login ID];
                         slack-export FILE.zip or telegram-export DIR read an export (on the bridge's host)

Options:
  -c, --config FILE   config file (default bridge.yaml, env TANDEM_CONFIG)
  -o, --output FILE   registration path for generate-registration (default appservice.registration)
  --double-puppet     generate-registration: write the optional double-puppet registration instead
                      (to -o, appservice.double_puppet_registration, or next to the main one)
  --force             rotate the registration tokens
  -h, --help          show this help`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "import") {
    // Its own options (parsed in import-cli.ts, as the bot's `import` command parses them); -c stays.
    const at = argv.findIndex((a) => a === "-c" || a === "--config");
    const configPath = (at > 0 ? argv[at + 1] : undefined) ?? process.env.TANDEM_CONFIG ?? "bridge.yaml";
    const rest = at > 0 ? [...argv.slice(1, at), ...argv.slice(at + 2)] : argv.slice(1);
    const [{ runImportCli }, { loadConfig }] = await Promise.all([import("./import-cli.js"), import("./config/index.js")]);
    return runImportCli(loadConfig(configPath), rest);
  }
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      config: { type: "string", short: "c" }, output: { type: "string", short: "o" },
      force: { type: "boolean", default: false }, "double-puppet": { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const configPath = values.config ?? process.env.TANDEM_CONFIG ?? "bridge.yaml";
  switch (command) {
    case "generate-registration": {
      const { configWarnings, loadConfig, writeRegistration } = await import("./config/index.js");
      const config = loadConfig(configPath);
      for (const w of configWarnings(config)) console.error(`tandem: warning: ${w}`);
      if (values["double-puppet"]) return writeDoublePuppet(config, values.output, values.force);
      const res = writeRegistration(config, values.output ?? config.appservice.registration, { force: values.force });
      if (!res.changed) {
        console.log(`${res.path} is unchanged (it already matches the config); nothing to reload.`);
        return 0;
      }
      console.log(`${res.created ? "Wrote" : res.rotated ? "Rotated tokens in" : "Updated"} ${res.path} (mode 0600). ` +
        "Load it into your homeserver: Synapse app_service_config_files, or conduwuit `!admin appservices register`.");
      return 0;
    }
    case "start":
      return start(configPath);
    case "doctor": {
      const { runDoctor } = await import("./doctor.js");
      return runDoctor(configPath);
    }
    case "healthcheck":
      return healthcheck((await import("./config/index.js")).loadConfig(configPath));
    default:
      console.error(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

/** `generate-registration --double-puppet`: the second registration, and what to do with it. */
async function writeDoublePuppet(config: Config, output: string | undefined, force: boolean): Promise<number> {
  const { defaultDoublePuppetPath, writeDoublePuppetRegistration } = await import("./config/double-puppet.js");
  const res = writeDoublePuppetRegistration(config, output ?? defaultDoublePuppetPath(config), { force });
  console.log(res.changed ? `${res.created ? "Wrote" : res.rotated ? "Rotated tokens in" : "Updated"} ${res.path} (mode 0600).` : `${res.path} is unchanged.`);
  console.log("Add it to the homeserver next to the main registration (Synapse: app_service_config_files) and restart it; " +
    `then set appservice.double_puppet_registration: ${res.path} in the bridge config and restart the bridge.`);
  return 0;
}

/**
 * Runs the bridge. A failure during start has already closed what start opened (startBridge
 * does that); this prints one line with the cause and the fix and ends the process, so a
 * supervisor (systemd, Docker) sees the exit and restarts it.
 */
async function start(configPath: string): Promise<number> {
  // In a worker thread: the YAML parser and the config schema stay out of the bridge's heap.
  const { readStartFiles } = await import("./config/start-files.js");
  const { config, registration, warnings } = await readStartFiles(configPath);
  for (const w of warnings) console.error(`tandem: warning: ${w}`);
  const [{ startBridge }, { tuneEmbeddedWasm, tuneHeap }] = await Promise.all([import("./main.js"), import("./heap.js")]);
  tuneHeap();
  if (!config.database.uri) tuneEmbeddedWasm();
  let running;
  try {
    running = await startBridge({ config, registration });
  } catch (err) {
    // startBridge closed what it had opened; exit now rather than wait for stray handles.
    if (err instanceof ConfigError) {
      console.error(`tandem: ${err.message.split("\n").join("\ntandem: ")}`);
      process.exit(2);
    }
    console.error(`tandem: could not start: ${describeStartFailure(err, config)}`);
    process.exit(1);
  }
  const bridge = running;
  const stop = (signal: string) => {
    bridge.log.info("shutting down", { signal });
    bridge.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  return -1; // keep running
}

/**
 * Asks the running bridge's /health (on the metrics listener, as configured) and exits 0 only on
 * 200: 503 (degraded: homeserver or database down) is unhealthy. With metrics off there is no
 * /health; then a bridge that accepts connections on its appservice port counts as up.
 */
async function healthcheck(config: Config): Promise<number> {
  const local = (host: string) => (["0.0.0.0", "::", "[::]", "*", ""].includes(host) ? "127.0.0.1" : host.includes(":") && !host.startsWith("[") ? `[${host}]` : host);
  const url = config.metrics.enabled
    ? `http://${local(config.metrics.hostname)}:${config.metrics.port}/health`
    : `http://${local(config.appservice.hostname)}:${config.appservice.port}/`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
    const text = (await res.text()).slice(0, 200).replace(/\s+/g, " ");
    const ok = config.metrics.enabled ? res.status === 200 : true;
    (ok ? console.log : console.error)(`${ok ? "healthy" : "unhealthy"}: ${url} answered ${res.status}${config.metrics.enabled ? ` ${text}` : ""}`);
    return ok ? 0 : 1;
  } catch (err) {
    console.error(`unhealthy: ${url}: ${fetchFailure(err)}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`tandem: ${err.message.split("\n").join("\ntandem: ")}`);
      process.exitCode = 2;
    } else if (err instanceof Error && err.name === "TypeError" && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) {
      console.error(`tandem: ${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(`tandem: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  },
);
