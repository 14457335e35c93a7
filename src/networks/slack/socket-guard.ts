/**
 * A guard in front of @slack/socket-mode's frame handler. The SDK reads
 * `payload.event.type` of every events_api frame before anything else, so an envelope without
 * an event (Slack's app_rate_limited notice has none, and neither has garbage) throws inside its
 * socket handler: an unhandled rejection, which ends a Node process. Such frames are acked here
 * (so Slack does not redeliver them) and logged, and never reach the SDK; every other frame goes
 * to the SDK as before, with any failure logged instead of thrown.
 */
import type { SocketModeClient } from "@slack/socket-mode";
import type { Logger } from "../../core/log.js";
import { errorFields } from "../../core/log.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

interface SdkInternals {
  onWebSocketMessage(data: string | ArrayBuffer, isBinary: boolean): Promise<void>;
  send(id: string, body?: unknown): Promise<void>;
}

/** The frame's envelope id when it is an events_api frame the SDK would choke on, else null. */
export function unusableEnvelope(text: string): { envelopeId: string | undefined; type: unknown } | null {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return null; // the SDK ignores what is not JSON
  }
  if (!isObj(frame) || frame.type !== "events_api") return isObj(frame) ? null : { envelopeId: undefined, type: typeof frame };
  const payload = frame.payload;
  if (isObj(payload) && isObj(payload.event) && typeof payload.event.type === "string") return null;
  return { envelopeId: typeof frame.envelope_id === "string" ? frame.envelope_id : undefined, type: isObj(payload) ? payload.type : typeof payload };
}

export function guardSocketMode(client: SocketModeClient, log: Logger): void {
  const sdk = client as unknown as SdkInternals;
  const handle = sdk.onWebSocketMessage.bind(client);
  client.removeAllListeners("ws_message");
  client.on("ws_message", (data: string | ArrayBuffer, isBinary: boolean) => {
    if (!isBinary) {
      const text = typeof data === "string" ? data : new TextDecoder().decode(data);
      const bad = unusableEnvelope(text);
      if (bad) {
        log.warn("Slack sent an envelope without a usable event; acked and skipped", { envelope: bad.envelopeId, type: String(bad.type) });
        if (bad.envelopeId) void sdk.send(bad.envelopeId).catch(() => undefined);
        return;
      }
    }
    handle(data, isBinary).catch((err: unknown) => log.warn("Slack Socket Mode frame not handled", { ...errorFields(err) }));
  });
}
