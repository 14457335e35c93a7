/**
 * Tokens typed into a Matrix room. People paste a bot token into the wrong room, after a
 * login prompt timed out, or into a command they may not use; left there, everyone in the
 * room (and on the bridged networks, once relayed) can read it. So any message or edit that
 * carries something shaped like a token is never relayed, is redacted by the bot wherever it
 * can, and its sender gets a notice saying why. The shapes come from the networks (handed in
 * by main); the bot never quotes a token back (`mask` runs over everything it says).
 */
import type { Logger } from "./log.js";
import type { MatrixInbound, MatrixPort } from "./matrix-port.js";

type Textual = Extract<MatrixInbound, { kind: "message" | "edit" }>;

const MASK = "<token removed>";

export class TokenGuard {
  private readonly shapes: RegExp[];

  constructor(shapes: readonly RegExp[], private readonly matrix: MatrixPort, private readonly log: Logger) {
    // Global copies for replace(); test() on them is reset by lastIndex = 0 below.
    this.shapes = shapes.map((re) => new RegExp(re.source, re.flags.includes("g") ? re.flags : `${re.flags}g`));
  }

  /** Whether a message or edit carries a token, in its body or anywhere in its formatted text (links too). */
  carriesToken(ev: MatrixInbound): ev is Textual {
    if (ev.kind !== "message" && ev.kind !== "edit") return false;
    return this.found(ev.body) || this.found(JSON.stringify(ev.doc));
  }

  found(text: string): boolean {
    return this.shapes.some((re) => { re.lastIndex = 0; return re.test(text); });
  }

  /** The text with every token-shaped run replaced. */
  mask(text: string): string {
    let out = text;
    for (const re of this.shapes) out = out.replace(re, MASK);
    return out;
  }

  /**
   * Redact the event as the bot and tell the sender why, in the room (one notice per event:
   * the txnIds make a repeat the same events). A bot without the power to redact says so.
   */
  async scrub(ev: Textual): Promise<void> {
    const { matrix } = this;
    this.log.warn("a Matrix message looks like it carries a token: not relayed, removing it", { roomId: ev.roomId, eventId: ev.eventId, sender: ev.sender });
    const removed = await matrix.redact(ev.roomId, matrix.botMxid, ev.eventId, `tandem-scrub-${ev.eventId}`, "Contained what looks like a token")
      .then(() => true, (err: unknown) => {
        this.log.warn("could not redact a message carrying a token", { roomId: ev.roomId, eventId: ev.eventId, error: err instanceof Error ? err.stack : String(err) });
        return false;
      });
    const name = await matrix.displayName(ev.roomId, ev.sender).catch(() => ev.sender);
    const what = ev.kind === "edit" ? "edit" : "message";
    const body = removed
      ? `${name}: I removed your ${what} because it contained what looks like an access token (tokens are secrets: never relayed, never shown). If anyone else may have seen it, revoke it and make a new one.`
      : `${name}: your ${what} contains what looks like an access token and I may not remove it here: please delete it yourself, and revoke the token if anyone else may have seen it. It was not relayed.`;
    await matrix.sendEvent(ev.roomId, matrix.botMxid, "m.room.message",
      { msgtype: "m.notice", body, "m.mentions": { user_ids: [ev.sender] } }, `tandem-scrub-notice-${ev.eventId}`);
  }
}
