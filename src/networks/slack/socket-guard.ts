/**
 * A guard in front of @slack/socket-mode's frame handler. The SDK reads
 * `payload.event.type` of every events_api frame before anything else, so an envelope without
 * an event (Slack's app_rate_limited notice has none, and neither has garbage) throws inside its
 * socket handler: an unhandled rejection, which ends a Node process. Such frames are acked here
 * (so Slack does not redeliver them) and logged; any other failure of the SDK's handler is
 * logged instead of thrown.
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

/** Whether a frame's text is (or starts like) a JSON object; only those can be Slack envelopes. */
const startsAsObject = (text: string) => /^\s*\{/.test(text);

export function guardSocketMode(client: SocketModeClient, log: Logger): void {
  const sdk = client as unknown as SdkInternals;
  const handle = sdk.onWebSocketMessage.bind(client);
  /** Acks and logs a frame the SDK cannot use; false if the frame is not one of those. */
  const skipped = (text: string): boolean => {
    const bad = unusableEnvelope(text);
    if (!bad) return false;
    log.warn("Slack sent an envelope without a usable event; acked and skipped", { envelope: bad.envelopeId, type: String(bad.type) });
    if (bad.envelopeId) void sdk.send(bad.envelopeId).catch(() => undefined);
    return true;
  };
  client.removeAllListeners("ws_message");
  client.on("ws_message", (data: string | ArrayBuffer, isBinary: boolean) => {
    // Every frame is parsed once, by the SDK: an envelope is screened only when the SDK failed on
    // it (it throws before emitting anything), or when it is not an object at all (the SDK would
    // pass a number or a string on as an envelope).
    const text = isBinary ? null : typeof data === "string" ? data : new TextDecoder().decode(data);
    if (text !== null && !startsAsObject(text) && skipped(text)) return;
    handle(data, isBinary).catch((err: unknown) => {
      if (text !== null && skipped(text)) return;
      log.warn("Slack Socket Mode frame not handled", { ...errorFields(err) });
    });
  });
}
