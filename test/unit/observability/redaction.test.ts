/**
 * Secret redaction in the places tokens really turn up: Bot API URLs (/bot<token>/method, where
 * no word boundary precedes the token), tokens ending in "-" or "_", every Slack token prefix,
 * JSON-encoded metadata, error causes and stacks. Nothing of the secret may survive, not even
 * its last character.
 */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactSecrets, registerSecret } from "../../../src/observability/log.js";

const TG = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-";
const SLACK = ["xoxb", "xoxp", "xoxa", "xoxr", "xoxs", "xoxe", "xoxc", "xoxe.xoxp", "xapp"].map((p, i) => `${p}-1-${i}0-Sec${i}retTail`);

describe("secret redaction", () => {
  it("Telegram tokens inside Bot API and file URLs, and with a trailing - or _", () => {
    for (const s of [
      `https://api.telegram.org/bot${TG}/getUpdates?offset=5`,
      `http://127.0.0.1:8081/file/bot${TG}/photos/file_1.jpg`,
      `token=${TG}`, `"${TG}"`, `${TG}`, `bot ${TG.replace(/-$/, "_")}.`,
    ]) {
      const out = redactSecrets(s);
      expect(out, s).not.toContain("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
      expect(out).not.toMatch(/<redacted>[-_]/);
    }
    expect(redactSecrets("chat -1001234567890 message 42:7 at 12:30")).toBe("chat -1001234567890 message 42:7 at 12:30");
  });

  it("every Slack token prefix", () => {
    for (const t of SLACK) expect(redactSecrets(`token ${t} used`), t).not.toMatch(/Sec\dretTail/);
  });

  it("in metadata, nested JSON strings, errors with causes, and registered secrets of any shape", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => { text += d.toString(); });
    registerSecret("opaque-login-secret-0042");
    const { log } = createLogger({ level: "debug", format: "json", stream: out });
    const cause = new Error(`request to https://api.telegram.org/bot${TG}/getMe failed`);
    log.error("send failed", {
      error: new Error("outer", { cause }), url: `https://api.telegram.org/bot${TG}/sendMessage`,
      body: JSON.stringify({ token: SLACK[0], nested: { app: SLACK[8] } }), list: [SLACK[1], { deep: "opaque-login-secret-0042" }],
      authorization: "Bearer syt_abc_123", botToken: "anything at all",
    });
    log.warn(`plain message with ${SLACK[6]} and opaque-login-secret-0042`);
    await new Promise((r) => setTimeout(r, 20));
    expect(text).not.toContain("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
    expect(text).not.toMatch(/Sec\dretTail/);
    expect(text).not.toContain("opaque-login-secret-0042");
    expect(text).not.toContain("syt_abc_123");
    expect(text).not.toContain("anything at all");
  });
});
