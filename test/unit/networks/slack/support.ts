// Shared set-up for the Slack connector tests: a config pointing at the fake, a recording sink.
import { tmpdir } from "node:os";
import { parseConfig, type Config } from "../../../../src/config/index.js";
import type { Connection, ConnectionStatus, EventSink, LoginRecord } from "../../../../src/core/connector.js";
import { silentLogger } from "../../../../src/core/log.js";
import type { RemoteEvent } from "../../../../src/core/types.js";
import { createSlackConnector } from "../../../../src/networks/slack/index.js";
import type { FakeSlack, TeamHandle } from "../../../fakes/slack.js";

export function configFor(slack: FakeSlack, extra: Record<string, Record<string, unknown>> = {}): Config {
  return parseConfig({
    homeserver: { url: "http://127.0.0.1:9", domain: "example.org" },
    slack: { api_url: slack.apiUrl },
    ...extra,
    // The fake serves files and avatars on loopback: allowed only because the test says so.
    bridge: { download_allowed_origins: new URL(slack.apiUrl).origin, ...extra.bridge },
  }, {}, { baseDir: tmpdir() });
}

/** Records what the connection pushes; can hold pushes back or make them fail. */
export class RecordingSink implements EventSink {
  readonly events: RemoteEvent[] = [];
  readonly statuses: ConnectionStatus[] = [];
  pushes = 0;
  failNext = 0;
  private gate: Promise<void> | null = null;
  private release: (() => void) | null = null;

  async push(events: RemoteEvent[]): Promise<void> {
    this.pushes++;
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("database unavailable");
    }
    this.events.push(...events);
  }

  status(s: ConnectionStatus): void {
    this.statuses.push(s);
  }

  get state(): string | undefined {
    return this.statuses.at(-1)?.state;
  }

  hold(): void {
    this.gate = new Promise((r) => { this.release = r; });
  }

  letGo(): void {
    this.release?.();
    this.gate = null;
  }
}

export function loginFor(team: TeamHandle): LoginRecord {
  return {
    id: `slack:${team.id}`, network: "slack", ownerMxid: "@alice:example.org", remoteId: team.id, name: team.name,
    secrets: { botToken: team.botToken, appToken: team.appToken },
  };
}

/** Pacing is off unless asked for: these tests send straight to the connection, without the relay queue that defers. */
export async function connect(
  slack: FakeSlack, team: TeamHandle, sink = new RecordingSink(), opts: { pacing?: boolean; config?: Record<string, Record<string, unknown>> } = {},
): Promise<{ conn: Connection; sink: RecordingSink }> {
  const connector = createSlackConnector(configFor(slack, opts.config), silentLogger, {
    pacing: opts.pacing ?? false, webRetries: 0, socket: { reconnectBaseMs: 50, reconnectMaxMs: 200, startTimeoutMs: 3000 }, shareTimeoutMs: 2000,
  });
  const conn = await connector.connect(loginFor(team), sink);
  await slack.waitFor(() => sink.state === "connected", 5000, "connected");
  return { conn, sink };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 16x8 PNG header and some bytes. */
export const PNG = Buffer.concat([
  Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"),
  Buffer.from([0, 0, 0, 16, 0, 0, 0, 8]),
  Buffer.from("0806000000", "hex"),
  Buffer.alloc(64, 7),
]);
