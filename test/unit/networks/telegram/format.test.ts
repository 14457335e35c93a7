// OutboundMessage → Telegram HTML: sender prefix, mentions, splitting, captions, method choice.
import { describe, expect, it } from "vitest";
import type { OutboundMessage } from "../../../../src/core/connector.js";
import { methodFor, planMessage, renderText, withSender } from "../../../../src/networks/telegram/format.js";
import { b, code, mention, mx, p, pre, quote, slackUser, tgUser } from "../../formatting/helpers.js";

const alice = { name: "alice" };
const out = (fields: Partial<OutboundMessage>): OutboundMessage => ({ doc: [], sender: alice, sourceId: "$e", ...fields });
const file = (kind: "image" | "video" | "audio" | "voice" | "file" | "sticker", mime: string, size = 10) =>
  ({ name: "f", mime, kind, data: Buffer.alloc(size) });

describe("telegram outbound formatting", () => {
  it.each<[string, Partial<OutboundMessage>, string[]]>([
    ["plain text", { doc: [p("hello")] }, ["<b>alice</b>: hello"]],
    ["escapes HTML in text and name", { doc: [p("1 < 2 & 3")], sender: { name: "a<b>" } }, ["<b>a&lt;b&gt;</b>: 1 &lt; 2 &amp; 3"]],
    ["relayed from Slack", { doc: [p("hi")], sender: { name: "Bob", via: "Slack" } }, ["<b>Bob</b> (Slack): hi"]],
    ["emote", { doc: [p("waves")], emote: true }, ["* alice waves"]],
    ["formatting kept", { doc: [p("run ", code("ls"), " ", b("now"))] }, ["<b>alice</b>: run <code>ls</code> <b>now</b>"]],
    ["code block first: the name on its own line", { doc: [pre("x = 1", "py")] }, ['<b>alice</b>:\n<pre><code class="language-py">x = 1</code></pre>']],
    ["quote first", { doc: [quote(p("q")), p("a")] }, ["<b>alice</b>:\n<blockquote>q</blockquote>\na"]],
    ["Telegram ghost pill → tg://user link", { doc: [p("hi ", mention(tgUser("42"), "Ivan"))] }, ['<b>alice</b>: hi <a href="tg://user?id=42">Ivan</a>']],
    ["Matrix user / other network → plain name", { doc: [p(mention(mx("@bob:example.org"), "Bob"), " and ", mention(slackUser("U1"), "Sam"))] }, ["<b>alice</b>: Bob and Sam"]],
    ["empty doc sends nothing", { doc: [] }, []],
  ])("%s", (_name, fields, html) => {
    expect(renderText(out(fields))).toEqual(html);
  });

  it("splits past 4096 visible characters, prefix only on the first part, every part balanced", () => {
    const long = Array.from({ length: 900 }, (_, n) => `word${n}`).join(" ");
    const parts = renderText(out({ doc: [p(b(long))] }));
    expect(parts.length).toBe(2);
    expect(parts[0]!.startsWith("<b>alice</b>: <b>word0")).toBe(true);
    expect(parts[1]!.startsWith("<b>")).toBe(true);
    expect(parts[1]).not.toContain("alice");
    for (const part of parts) {
      expect(part.split("<b>").length).toBe(part.split("</b>").length);
      expect(part.replace(/<[^>]+>/g, "").length).toBeLessThanOrEqual(4096);
    }
    expect(parts.join("").replace(/<[^>]+>/g, "").replace(/\s+/g, " ")).toBe(`alice: ${long}`);
  });

  it("withSender puts the name in front of the first paragraph", () => {
    expect(withSender([p("x")], alice)).toEqual([p(b("alice"), ": x")]);
    expect(withSender([], alice)).toEqual([p(b("alice"))]);
  });

  it("files: the text is the first file's caption when it fits, else text first and name-only captions", () => {
    expect(planMessage(out({ doc: [p("see this")], files: [file("image", "image/png"), file("file", "application/pdf")] })))
      .toEqual({ texts: [], captions: ["<b>alice</b>: see this", "<b>alice</b>"] });
    expect(planMessage(out({ files: [file("image", "image/png")] }))).toEqual({ texts: [], captions: ["<b>alice</b>"] });
    const long = planMessage(out({ doc: [p("y".repeat(1500))], files: [file("image", "image/png")] }));
    expect(long.texts).toHaveLength(1);
    expect(long.captions).toEqual(["<b>alice</b>"]);
  });

  it.each<[Parameters<typeof file>, string]>([
    [["image", "image/jpeg"], "sendPhoto"],
    [["image", "image/png"], "sendPhoto"],
    [["image", "image/gif"], "sendAnimation"],
    [["image", "image/svg+xml"], "sendDocument"],
    [["image", "image/jpeg", 11 * 1024 * 1024], "sendDocument"],
    [["sticker", "image/webp"], "sendPhoto"],
    [["video", "video/mp4"], "sendVideo"],
    [["video", "video/quicktime"], "sendDocument"],
    [["voice", "audio/ogg"], "sendVoice"],
    [["audio", "audio/ogg; codecs=opus"], "sendVoice"],
    [["audio", "audio/mpeg"], "sendAudio"],
    [["audio", "audio/flac"], "sendDocument"],
    [["file", "application/pdf"], "sendDocument"],
  ])("%j goes out with %s", (args, method) => {
    expect(methodFor(file(...args))).toBe(method);
  });
});
