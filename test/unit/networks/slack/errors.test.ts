/** Web API failures → RemoteError: the codes come from Slack's answer, so they are untrusted keys. */
import { WebAPIPlatformError } from "@slack/web-api";
import { describe, expect, it } from "vitest";
import { toRemoteError } from "../../../../src/networks/slack/api.js";

const refused = (error: string) => new WebAPIPlatformError({ ok: false, error });

describe("Slack error mapping", () => {
  it("a known refusal gets its sentence, an unknown one names the code", () => {
    expect(toRemoteError(refused("is_archived"), "chat.postMessage")).toMatchObject({ retryable: false, userMessage: "the Slack channel is archived" });
    expect(toRemoteError(refused("brand_new_error"), "chat.postMessage")).toMatchObject({ retryable: false, userMessage: "Slack refused it (brand_new_error)" });
  });

  it("codes named like Object's own properties are unknown codes, not functions", () => {
    for (const code of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
      const e = toRemoteError(refused(code), "chat.postMessage");
      expect(e.userMessage).toBe(`Slack refused it (${code})`);
      expect(e.retryable).toBe(false);
    }
  });
});
