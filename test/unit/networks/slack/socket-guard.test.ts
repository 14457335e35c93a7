/**
 * socket-guard.ts replaces @slack/socket-mode's "ws_message" handler with one that screens frames
 * and then calls the SDK's own (private) `onWebSocketMessage`, and acks through its `send`. The SDK
 * is pinned for that; this fails when the pinned version loses either member, before a bridge
 * would find out at its first Slack frame (test/e2e/bad-input-slack.test.ts covers the behaviour).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { SocketModeClient } from "@slack/socket-mode";
import { describe, expect, it } from "vitest";
import { unusableEnvelope } from "../../../../src/networks/slack/socket-guard.js";

describe("the @slack/socket-mode members socket-guard.ts relies on", () => {
  it("is pinned to an exact version that still has onWebSocketMessage and send", () => {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, "../../../../package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(pkg.dependencies["@slack/socket-mode"]).toMatch(/^\d+\.\d+\.\d+$/);
    const proto = SocketModeClient.prototype as unknown as Record<string, unknown>;
    expect(typeof proto.onWebSocketMessage).toBe("function");
    expect(typeof proto.send).toBe("function");
  });

  it("screens only what the SDK would choke on", () => {
    expect(unusableEnvelope(JSON.stringify({ type: "events_api", envelope_id: "E1", payload: { type: "app_rate_limited" } }))).toEqual({ envelopeId: "E1", type: "app_rate_limited" });
    expect(unusableEnvelope(JSON.stringify({ type: "events_api", envelope_id: "E2", payload: { event: { type: "message" } } }))).toBeNull();
    expect(unusableEnvelope(JSON.stringify({ type: "hello" }))).toBeNull();
    expect(unusableEnvelope("not json")).toBeNull();
    expect(unusableEnvelope("42")).toEqual({ envelopeId: undefined, type: "number" });
  });
});
