/** Secrets never reach the log output, whatever shape they arrive in. */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactSecrets, registerSecret } from "../../../src/observability/log.js";

describe("log redaction", () => {
  it("redacts token shapes in strings", () => {
    const s = redactSecrets("bot xoxb-1234-5678-abcdefghij app xapp-1-A01-123-abcdef tg 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0 " +
      "Authorization: Bearer syt_abc.def access_token=secret123&x=1 postgres://tandem:hunter2@db:5432/x");
    for (const secret of ["xoxb-1234", "xapp-1-A01", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", "syt_abc.def", "secret123", "hunter2"]) {
      expect(s).not.toContain(secret);
    }
    expect(s).toContain("Bearer <redacted>");
    expect(s).toContain("postgres://tandem:<redacted>@db");
  });

  it("redacts metadata values, keys that name secrets, errors and registered secrets", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => { text += d.toString(); });
    registerSecret("my-homeserver-token-value");
    const { log } = createLogger({ level: "debug", format: "json", stream: out });
    log.info("login with xoxb-9999-abc", { token: "plain-secret-value", nested: { url: "x?access_token=zzz" }, hs: "my-homeserver-token-value" });
    log.error("failed", { error: new Error("xapp-1-leak in a stack") });
    await new Promise((r) => setTimeout(r, 20));
    for (const secret of ["xoxb-9999", "plain-secret-value", "zzz", "my-homeserver-token-value", "xapp-1-leak"]) expect(text).not.toContain(secret);
    expect(text).toContain("login with <redacted>");
  });
});
