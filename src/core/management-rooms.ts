/**
 * The bot's DMs ("management rooms"): a user's direct chat with the bridge bot, where everything
 * they say is a command. Made when the user invites the bot with `is_direct` (as Element does),
 * forgotten when the owner leaves; kept in kv under "mgmt:<roomId>" (they are few).
 */
import type { CoreDeps } from "./context.js";
import { errorFields } from "./log.js";
import type { MatrixInbound } from "./matrix-port.js";
import type { Permissions } from "./permissions.js";

const KEY = "mgmt:";

export class ManagementRooms {
  private readonly owners = new Map<string, string>();

  constructor(
    private readonly deps: CoreDeps,
    private readonly permissions: Permissions,
    private readonly notice: (roomId: string, text: string) => Promise<void>,
  ) {}

  async load(): Promise<void> {
    for (const { key, value } of await this.deps.store.kv.list(KEY)) if (value) this.owners.set(key.slice(KEY.length), value);
  }

  /** Whether this room is `sender`'s own DM with the bot. */
  isOwnedBy(roomId: string, sender: string): boolean {
    return this.owners.get(roomId) === sender;
  }

  /** Say something to a user in their DM with the bot, if they have one; never throws. */
  async tell(owner: string, text: string): Promise<void> {
    for (const [roomId, who] of this.owners) {
      if (who === owner) return this.notice(roomId, text).catch((err) => this.deps.log.warn("could not DM owner", { ...errorFields(err) }));
    }
  }

  async onInvite(ev: Extract<MatrixInbound, { kind: "invite" }>): Promise<void> {
    const { matrix, log } = this.deps;
    if (ev.target !== matrix.botMxid) return;
    if (!this.permissions.allows(ev.sender, "relay")) {
      log.info("ignoring invite from a user without permission", { sender: ev.sender, roomId: ev.roomId });
      await matrix.leave(ev.roomId, matrix.botMxid).catch(() => undefined);
      return;
    }
    await matrix.join(ev.roomId, matrix.botMxid);
    // A DM (is_direct invite, as Element sends) becomes the user's management room; any other
    // room is one the bot was invited to for linking.
    if (ev.isDirect) {
      this.owners.set(ev.roomId, ev.sender);
      await this.deps.store.kv.set(`${KEY}${ev.roomId}`, ev.sender);
      await this.notice(ev.roomId, this.permissions.allows(ev.sender, "user")
        ? "Hello! I am the Tandem bridge bot. Say `help` to see what I can do; `login app` connects Slack, `login telegram` a Telegram bot."
        // Relay level: messages are bridged, but no logins; do not offer what will be refused.
        : "Hello! I am the Tandem bridge bot. Your messages in bridged rooms are relayed; connecting an account of your own needs the `user` permission level from the bridge's admin. Say `help` to see what you can do here.");
    } else {
      await this.notice(ev.roomId, `Hello! Say \`${this.deps.options.commandPrefix} help\` for commands, e.g. \`${this.deps.options.commandPrefix} link slack #channel\`.`);
    }
  }

  async onMembership(ev: Extract<MatrixInbound, { kind: "membership" }>): Promise<void> {
    // The owner left their management room: forget it so it stops being treated as a DM.
    if (ev.membership === "leave" && this.owners.get(ev.roomId) === ev.target) {
      this.owners.delete(ev.roomId);
      await this.deps.store.kv.set(`${KEY}${ev.roomId}`, "");
    }
  }
}
