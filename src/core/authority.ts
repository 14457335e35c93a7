/**
 * Who may change a bridged message on the remote side. A homeserver hands the bridge an
 * `m.replace` from anyone (clients merely hide edits by someone else), and a redaction of
 * someone else's event that the room's power levels do not allow (room v3+ accepts it into
 * the room; servers only decline to apply it). Relayed as is, either would put words in, or
 * take them out of, another person's mouth on Slack or Telegram. So: an edit goes out only
 * from the message's original sender; a redaction from the original sender or a member at
 * the room's `redact` power level. A refusal gets one notice, the way mautrix bridges answer
 * an event they do not bridge: a notice by the bot in the same room, replying to the message
 * concerned and mentioning the sender.
 */
import type { Store } from "../store/api.js";
import type { Logger } from "./log.js";
import type { MatrixInbound, MatrixPort } from "./matrix-port.js";

/** Matrix's default `redact` power level, when the room's power levels do not say. */
const DEFAULT_REDACT_LEVEL = 50;

type Change = Extract<MatrixInbound, { kind: "edit" | "redaction" }>;

export interface Refusal {
  /** The Matrix event the refused change is about (the edited or redacted message). */
  about: string;
  /** Why, for the sender. */
  why: string;
}

export class ChangeAuthority {
  constructor(private readonly store: Store, private readonly matrix: MatrixPort, private readonly log: Logger) {}

  /**
   * Null when the change may be relayed (or there is nothing bridged it could change);
   * otherwise why not. Fan-out items (changes made on a remote network) are not asked.
   */
  async refusal(ev: Change): Promise<Refusal | null> {
    const author = await this.authorOf(ev.target);
    if (!author || author.mxid === ev.sender) return null;
    if (ev.kind === "edit") {
      return { about: author.message, why: "only the person who sent a message can edit it" };
    }
    const { have, need } = await this.redactPower(ev.roomId, ev.sender);
    if (have >= need) return null;
    return { about: author.message, why: `only its sender or a room moderator (power level ${need}) can remove someone else's ${author.what}` };
  }

  /** Tell the sender, once per refused event (the txnId makes a retried notice the same event). */
  async notify(ev: Change, refusal: Refusal): Promise<void> {
    this.log.info("refused to relay a change by someone other than the author", { roomId: ev.roomId, eventId: ev.eventId, sender: ev.sender, kind: ev.kind });
    const what = ev.kind === "edit" ? "Your edit" : "Your deletion";
    const name = await this.matrix.displayName(ev.roomId, ev.sender).catch(() => ev.sender);
    await this.matrix.sendEvent(ev.roomId, this.matrix.botMxid, "m.room.message", {
      msgtype: "m.notice",
      body: `${name}: ⚠️ ${what} was not bridged: ${refusal.why}.`,
      "m.mentions": { user_ids: [ev.sender] },
      "m.relates_to": { "m.in_reply_to": { event_id: refusal.about } },
    }, `tandem-refused-change-${ev.eventId}`);
  }

  /** The Matrix sender of a bridged message or reaction, from the message map. */
  private async authorOf(eventId: string): Promise<{ mxid: string; message: string; what: string } | null> {
    const reaction = await this.store.reactions.byEvent(eventId);
    if (reaction) return { mxid: reaction.senderMxid, message: reaction.targetEventId, what: "reaction" };
    const rows = await this.store.messages.byEvent(eventId);
    return rows[0] ? { mxid: rows[0].senderMxid, message: eventId, what: "message" } : null;
  }

  private async redactPower(roomId: string, mxid: string): Promise<{ have: number; need: number }> {
    const pl = (await this.matrix.getState(roomId, "m.room.power_levels", "")) ?? {};
    const users = (typeof pl.users === "object" && pl.users ? pl.users : {}) as Record<string, unknown>;
    const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) ? v : d);
    return { have: num(users[mxid], num(pl.users_default, 0)), need: num(pl.redact, DEFAULT_REDACT_LEVEL) };
  }
}
