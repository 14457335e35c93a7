/** Raw Matrix events → MatrixInbound: every kind, relations, and malformed input. */
import { describe, expect, it } from "vitest";
import { parseMatrixEvent, stripReplyFallback } from "../../../src/matrix/events.js";
import { plainText } from "../../../src/formatting/ast.js";

const base = { room_id: "!r:x", event_id: "$e", sender: "@a:x", origin_server_ts: 1000 };

describe("parseMatrixEvent", () => {
  it("parses text with HTML into a doc and keeps a plain body", () => {
    const ev = parseMatrixEvent({ ...base, type: "m.room.message", content: { msgtype: "m.text", body: "hi *you*", format: "org.matrix.custom.html", formatted_body: "hi <b>you</b>" } });
    expect(ev).toMatchObject({ kind: "message", msgtype: "text", body: "hi *you*" });
    expect(JSON.stringify(ev && "doc" in ev ? ev.doc : null)).toContain('"bold"');
  });

  it("reads an m.room.tombstone state event as the room's upgrade; anything else of that type is ignored", () => {
    expect(parseMatrixEvent({ ...base, type: "m.room.tombstone", state_key: "", content: { body: "upgraded", replacement_room: "!new:x" } }))
      .toEqual({ roomId: "!r:x", eventId: "$e", sender: "@a:x", ts: 1000, kind: "tombstone", replacement: "!new:x" });
    expect(parseMatrixEvent({ ...base, type: "m.room.tombstone", state_key: "x", content: { replacement_room: "!new:x" } })).toBeNull();
    expect(parseMatrixEvent({ ...base, type: "m.room.tombstone", content: { replacement_room: "!new:x" } })).toBeNull(); // not state
    expect(parseMatrixEvent({ ...base, type: "m.room.tombstone", state_key: "", content: { replacement_room: "#alias:x" } })).toBeNull();
  });

  it("maps notice and emote", () => {
    expect(parseMatrixEvent({ ...base, type: "m.room.message", content: { msgtype: "m.notice", body: "n" } })).toMatchObject({ msgtype: "notice" });
    expect(parseMatrixEvent({ ...base, type: "m.room.message", content: { msgtype: "m.emote", body: "waves" } })).toMatchObject({ msgtype: "emote" });
  });

  it("reads replies and strips the reply fallback", () => {
    const ev = parseMatrixEvent({ ...base, type: "m.room.message", content: {
      msgtype: "m.text", body: "> <@b:x> original\n\nmy answer", format: "org.matrix.custom.html",
      formatted_body: "<mx-reply><blockquote>original</blockquote></mx-reply>my answer",
      "m.relates_to": { "m.in_reply_to": { event_id: "$orig" } },
    } });
    expect(ev).toMatchObject({ kind: "message", replyTo: "$orig", body: "my answer" });
    expect(ev?.kind === "message" ? plainText(ev.doc) : null).toBe("my answer");
  });

  it("keeps a leading quote in a message that is not a reply (only replies carry a fallback)", () => {
    const plain = parseMatrixEvent({ ...base, type: "m.room.message", content: { msgtype: "m.text", body: "> what she said\n\nI agree" } });
    expect(plain).toMatchObject({ kind: "message", body: "> what she said\n\nI agree" });
    expect(plain?.kind === "message" ? plainText(plain.doc) : null).toContain("what she said");
    // A thread's falling-back in_reply_to is not a reply either.
    const inThread = parseMatrixEvent({ ...base, type: "m.room.message", content: {
      msgtype: "m.text", body: "> quoted\n\nin thread",
      "m.relates_to": { rel_type: "m.thread", event_id: "$root", is_falling_back: true, "m.in_reply_to": { event_id: "$latest" } },
    } });
    expect(inThread).toMatchObject({ body: "> quoted\n\nin thread" });
  });

  it("strips a plain-text reply fallback (no formatted_body) from a reply, in a thread too", () => {
    const ev = parseMatrixEvent({ ...base, type: "m.room.message", content: {
      msgtype: "m.text", body: "> <@b:x> original\n> second line\n\nmy answer",
      "m.relates_to": { rel_type: "m.thread", event_id: "$root", is_falling_back: false, "m.in_reply_to": { event_id: "$orig" } },
    } });
    expect(ev).toMatchObject({ kind: "message", replyTo: "$orig", threadRoot: "$root", body: "my answer" });
    expect(ev?.kind === "message" ? plainText(ev.doc) : null).toBe("my answer");
  });

  it("reads threads and ignores the falling-back reply", () => {
    const ev = parseMatrixEvent({ ...base, type: "m.room.message", content: {
      msgtype: "m.text", body: "in thread",
      "m.relates_to": { rel_type: "m.thread", event_id: "$root", is_falling_back: true, "m.in_reply_to": { event_id: "$latest" } },
    } });
    expect(ev).toMatchObject({ threadRoot: "$root" });
    expect((ev as { replyTo?: string }).replyTo).toBeUndefined();
  });

  it("turns m.replace into an edit with the new content", () => {
    const ev = parseMatrixEvent({ ...base, type: "m.room.message", content: {
      msgtype: "m.text", body: "* fixed", "m.new_content": { msgtype: "m.text", body: "fixed" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$old" },
    } });
    expect(ev).toMatchObject({ kind: "edit", target: "$old", body: "fixed" });
  });

  it("parses files with their info", () => {
    const ev = parseMatrixEvent({ ...base, type: "m.room.message", content: {
      msgtype: "m.image", body: "cat.png", url: "mxc://x/abc", info: { mimetype: "image/png", size: 10, w: 4, h: 3 },
    } });
    expect(ev).toMatchObject({ kind: "message", msgtype: "file", file: { mxc: "mxc://x/abc", name: "cat.png", mime: "image/png", size: 10, width: 4, height: 3, kind: "image" } });
  });

  it("marks Element voice messages (m.audio with MSC3245) as voice", () => {
    const ev = parseMatrixEvent({ ...base, type: "m.room.message", content: {
      msgtype: "m.audio", body: "Voice message", url: "mxc://x/v", info: { mimetype: "audio/ogg" }, "org.matrix.msc3245.voice": {},
    } });
    expect(ev).toMatchObject({ file: { kind: "voice" } });
    const plain = parseMatrixEvent({ ...base, type: "m.room.message", content: { msgtype: "m.audio", body: "song.mp3", url: "mxc://x/s" } });
    expect(plain).toMatchObject({ file: { kind: "audio" } });
  });

  it("parses reactions, redactions (both forms) and invites", () => {
    expect(parseMatrixEvent({ ...base, type: "m.reaction", content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$t", key: "👍" } } }))
      .toMatchObject({ kind: "reaction", target: "$t", key: "👍" });
    expect(parseMatrixEvent({ ...base, type: "m.room.redaction", redacts: "$t", content: {} })).toMatchObject({ kind: "redaction", target: "$t" });
    expect(parseMatrixEvent({ ...base, type: "m.room.redaction", content: { redacts: "$t2" } })).toMatchObject({ kind: "redaction", target: "$t2" });
    expect(parseMatrixEvent({ ...base, type: "m.room.member", state_key: "@bot:x", content: { membership: "invite", is_direct: true } }))
      .toMatchObject({ kind: "invite", target: "@bot:x", isDirect: true });
  });

  it("returns null for malformed and unknown events instead of throwing", () => {
    const bad: unknown[] = [
      {}, { type: "m.room.message" }, { ...base, type: "m.room.message", content: "nope" },
      { ...base, type: "m.room.message", content: { msgtype: "m.image", body: "x", url: "http://not-mxc" } },
      { ...base, type: "m.reaction", content: { "m.relates_to": { rel_type: "m.annotation" } } },
      { ...base, type: "m.room.redaction", content: {} }, { ...base, type: "com.example.custom", content: {} },
      { ...base, type: "m.room.message", content: { msgtype: "m.location", body: "geo" } },
    ];
    for (const b of bad) expect(parseMatrixEvent(b as never)).toBeNull();
  });

  it("stripReplyFallback only strips a quoted block followed by a blank line", () => {
    expect(stripReplyFallback("> quote\n\nanswer")).toBe("answer");
    expect(stripReplyFallback("> just a quote")).toBe("> just a quote");
    expect(stripReplyFallback("plain")).toBe("plain");
  });
});
