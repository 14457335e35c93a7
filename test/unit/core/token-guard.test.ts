/** What counts as a token in a Matrix message (the shipped networks' shapes), and masking. */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/log.js";
import type { MatrixInbound, MatrixPort } from "../../../src/core/matrix-port.js";
import { TokenGuard } from "../../../src/core/token-guard.js";
import { plainDoc } from "../../../src/formatting/ast.js";
import { TOKEN_SHAPES } from "../../../src/networks/index.js";

const guard = new TokenGuard(TOKEN_SHAPES, {} as MatrixPort, silentLogger);
const SLACK = "xoxb-1234567890123-1234567890123-0123456789abcdef01234567";
const APP = "xapp-1-A0123456789-1700000000000-0123456789abcdef";
const TG = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const message = (body: string, doc = plainDoc(body)): MatrixInbound =>
  ({ kind: "message", msgtype: "text", roomId: "!r:x", eventId: "$e", sender: "@u:x", ts: 0, body, doc });

describe("token guard", () => {
  it("finds Slack and Telegram tokens anywhere in a message, its formatted text (links too) or an edit", () => {
    for (const t of [SLACK, APP, TG, "xoxp-12345-abcdef", "xoxe-1-abcdefgh"]) {
      expect(guard.carriesToken(message(`please use ${t}, thanks`)), t).toBe(true);
    }
    const linkDoc = { blocks: [{ type: "paragraph", children: [{ type: "link", href: `https://x.example/?t=${SLACK}`, children: [{ type: "text", text: "link" }] }] }] };
    expect(guard.carriesToken(message("link", linkDoc as never))).toBe(true);
    expect(guard.carriesToken({ kind: "edit", roomId: "!r:x", eventId: "$e", sender: "@u:x", ts: 0, target: "$t", body: TG, doc: plainDoc(TG) })).toBe(true);
  });

  it("leaves ordinary talk about tokens, times and ids alone", () => {
    for (const s of ["the bot token starts with xoxb-…", "send xoxb- then xapp-", "meet at 10:30", "see 12:00 and 1234567890", "xoxb-short",
      "C0123456789:general", "a".repeat(5000), "1".repeat(60_000)]) {
      expect(guard.carriesToken(message(s)), s.slice(0, 40)).toBe(false);
    }
    expect(guard.carriesToken({ kind: "reaction", roomId: "!r:x", eventId: "$e", sender: "@u:x", ts: 0, target: "$t", key: TG })).toBe(false);
  });

  it("masks every token in a text, whole", () => {
    expect(guard.mask(`a ${SLACK} b ${TG} c ${APP}`)).toBe("a <token removed> b <token removed> c <token removed>");
    expect(guard.mask("nothing here")).toBe("nothing here");
  });
});
