/**
 * Runtime checks of the Bot API fields inbound.ts and media.ts read. grammY's types say what
 * Telegram documents, but the JSON that arrives is unchecked: an update with a field of the
 * wrong type is refused here with the field named (the connection logs it and skips the
 * update), instead of becoming an event with a NaN time, an "undefined" sender or a file
 * without an id. Fields we do not read are not checked, and unknown fields are fine, so
 * Telegram adding to its shapes never breaks this.
 */

/** Returns null when the value is fine, else the path of the first field that is not. */
type Check = (v: unknown, at: string) => string | null;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const leaf = (ok: (v: unknown) => boolean): Check => (v, at) => (ok(v) ? null : at);

const INT = leaf(Number.isSafeInteger);
const NUM = leaf((v) => typeof v === "number" && Number.isFinite(v));
/** Times, sizes and dimensions: finite and not negative. */
const NAT = leaf((v) => typeof v === "number" && Number.isFinite(v) && v >= 0);
const STR = leaf((v) => typeof v === "string");
const ID = leaf((v) => typeof v === "string" && v !== "");
const BOOL = leaf((v) => typeof v === "boolean");

function listOf(item: Check): Check {
  return (v, at) => {
    if (!Array.isArray(v)) return at;
    for (let i = 0; i < v.length; i++) {
      const bad = item(v[i], `${at}[${i}]`);
      if (bad) return bad;
    }
    return null;
  };
}

/** An object with `required` fields and, when present, `optional` ones of the right types. */
function obj(required: Record<string, Check>, optional: Record<string, Check> = {}): Check {
  return (v, at) => {
    if (!isObj(v)) return at;
    for (const [k, check] of Object.entries(required)) {
      const bad = check(v[k], `${at}.${k}`);
      if (bad) return bad;
    }
    for (const [k, check] of Object.entries(optional)) {
      if (v[k] === undefined) continue;
      const bad = check(v[k], `${at}.${k}`);
      if (bad) return bad;
    }
    return null;
  };
}

const user = obj({ id: INT }, { first_name: STR, last_name: STR, username: STR, is_bot: BOOL });
const chat = obj({ id: INT, type: STR }, { title: STR, username: STR, first_name: STR, last_name: STR, is_forum: BOOL });
const entity = obj({ type: STR, offset: INT, length: INT }, { url: STR, language: STR, user, custom_emoji_id: STR });
const dims = { file_size: NAT, width: NAT, height: NAT, length: NAT, duration: NAT };
const file = (extra: Record<string, Check> = {}): Check =>
  obj({ file_id: ID }, { file_unique_id: STR, file_name: STR, mime_type: STR, ...dims, ...extra });
const photo = listOf(file());
const location = obj({ latitude: NUM, longitude: NUM });

const message = obj({ message_id: INT, date: NAT, chat }, {
  from: user, sender_chat: chat, text: STR, caption: STR, entities: listOf(entity), caption_entities: listOf(entity),
  reply_to_message: obj({ message_id: INT }), message_thread_id: INT, is_topic_message: BOOL, edit_date: NAT,
  new_chat_members: listOf(user), left_chat_member: user, new_chat_title: STR, new_chat_photo: photo,
  migrate_to_chat_id: INT, migrate_from_chat_id: INT, forum_topic_created: obj({ name: STR }), author_signature: STR,
  forward_origin: obj({ type: STR }, { sender_user: user, sender_user_name: STR, sender_chat: chat, chat }),
  photo, animation: file(), video: file(), video_note: file(), voice: file(), document: file(),
  audio: file({ performer: STR, title: STR }), sticker: file({ emoji: STR, is_animated: BOOL, is_video: BOOL }),
  venue: obj({ location, title: STR }, { address: STR }), location,
  contact: obj({}, { first_name: STR, last_name: STR, phone_number: STR }),
  poll: obj({ question: STR, options: listOf(obj({ text: STR })) }), dice: obj({ emoji: STR, value: NUM }),
});
/** An emoji reaction must name its emoji; other reaction types (custom, paid) are ignored. */
const reactionType: Check = (v, at) => obj({ type: STR })(v, at) ?? ((v as Obj).type === "emoji" ? ID((v as Obj).emoji, `${at}.emoji`) : null);
const member = obj({ status: STR, user }, { is_member: BOOL });

const update = obj({}, {
  message, channel_post: message, edited_message: message, edited_channel_post: message,
  message_reaction: obj({ chat, message_id: INT, date: NAT, old_reaction: listOf(reactionType), new_reaction: listOf(reactionType) }, { user, actor_chat: chat }),
  chat_member: obj({ chat, date: NAT, new_chat_member: member, old_chat_member: member }),
  my_chat_member: obj({ chat, date: NAT, new_chat_member: member, old_chat_member: member }),
});

/** The first field of an update that inbound.ts could not use, e.g. "update.message.date"; null when it is fine. */
export function updateProblem(u: unknown): string | null {
  return update(u, "update");
}
