/**
 * Slack emoji names ↔ Unicode. node-emoji (emojilib/gemoji names) agrees with Slack for most
 * names; the table below covers Slack names it lacks and the reverse direction, where Slack's
 * canonical name differs from node-emoji's ("+1" is Slack's name for 👍, "thinking_face" for 🤔).
 * Custom workspace emoji have no Unicode form: callers keep ":name:".
 */
import * as nodeEmoji from "node-emoji";

/** [unicode, slack names…]; the first name is what we send to Slack for that character. */
const SLACK_TABLE: readonly (readonly string[])[] = [
  ["👍", "+1", "thumbsup"],
  ["👎", "-1", "thumbsdown"],
  ["🙂", "slightly_smiling_face", "simple_smile"],
  ["😆", "laughing", "satisfied"],
  ["🤔", "thinking_face"],
  ["🙄", "face_with_rolling_eyes"],
  ["🤣", "rolling_on_the_floor_laughing"],
  ["🙋", "raising_hand"],
  ["🤖", "robot_face"],
  ["🤗", "hugging_face"],
  ["☹️", "white_frowning_face"],
  ["❣️", "heavy_heart_exclamation_mark_ornament"],
  ["💩", "hankey", "poop", "shit"],
  ["👊", "facepunch", "punch"],
  ["✋", "hand", "raised_hand"],
  ["🤷", "shrug"],
  ["🤷‍♂️", "man-shrugging"],
  ["🤷‍♀️", "woman-shrugging"],
  ["🤦", "face_palm"],
  ["🤦‍♂️", "man-facepalming"],
  ["🤦‍♀️", "woman-facepalming"],
  ["🟢", "large_green_circle"],
  ["🔴", "red_circle"],
  ["❗", "exclamation", "heavy_exclamation_mark"],
  ["✉️", "email", "envelope"],
  ["🤩", "star-struck", "grinning_face_with_star_eyes"],
  ["🤪", "zany_face", "grinning_face_with_one_large_and_one_small_eye"],
  ["🥳", "partying_face"],
  ["🥺", "pleading_face"],
  ["🥴", "woozy_face"],
  ["🥵", "hot_face"],
  ["🥶", "cold_face"],
  ["🤮", "face_vomiting", "face_with_open_mouth_vomiting"],
  ["🤫", "shushing_face", "face_with_finger_covering_closed_lips"],
  ["🤭", "face_with_hand_over_mouth", "smiling_face_with_smiling_eyes_and_hand_covering_mouth"],
  ["🧐", "face_with_monocle"],
  ["🫠", "melting_face"],
  ["🫡", "saluting_face"],
  ["🤘", "the_horns", "sign_of_the_horns", "metal"],
  ["🤞", "crossed_fingers", "hand_with_index_and_middle_fingers_crossed"],
  ["🤐", "zipper_mouth_face"],
  ["🤓", "nerd_face"],
  ["🤑", "money_mouth_face"],
  ["🤒", "face_with_thermometer"],
  ["🤕", "face_with_head_bandage"],
  ["🙃", "upside_down_face"],
  ["🙁", "slightly_frowning_face"],
  ["🤝", "handshake"],
  ["❤️", "heart"],
  ["😄", "smile"],
  ["✅", "white_check_mark"],
  ["🎉", "tada"],
];

const NAME_TO_UNICODE = new Map<string, string>();
const UNICODE_TO_NAME = new Map<string, string>();
for (const [u, ...names] of SLACK_TABLE) {
  for (const n of names) NAME_TO_UNICODE.set(n, u as string);
  UNICODE_TO_NAME.set(stripVs(u as string), names[0] as string);
}

/** Slack's skin-tone-2…6 are the Fitzpatrick modifiers U+1F3FB…U+1F3FF. */
const TONES = ["\u{1F3FB}", "\u{1F3FC}", "\u{1F3FD}", "\u{1F3FE}", "\u{1F3FF}"];
const TONE_RE = /[\u{1F3FB}-\u{1F3FF}]/u;

function stripVs(s: string): string {
  return s.replace(/\uFE0F/g, "");
}

/**
 * ":thumbsup::skin-tone-3:", "thumbsup::skin-tone-3" or "+1" → "👍🏼". Null when unknown (a custom
 * emoji). The tone modifier goes after the first code point, replacing its variation selector,
 * which is where Unicode puts it in single and ZWJ sequences ("🤷‍♂️" → "🤷🏽‍♂️").
 */
export function slackEmojiToUnicode(name: string): string | null {
  const m = /^:?([^:]+?)(?:::skin-tone-([2-6]))?:?$/.exec(name.trim());
  if (!m) return null;
  const base = (m[1] as string).toLowerCase();
  const u = NAME_TO_UNICODE.get(base) ?? nodeEmoji.get(base);
  if (!u) return null;
  if (!m[2]) return u;
  const tone = TONES[Number(m[2]) - 2] as string;
  const first = String.fromCodePoint(u.codePointAt(0) as number);
  const rest = u.slice(first.length).replace(/^\uFE0F/, "");
  return first + tone + rest;
}

/** "👍🏽" → "+1::skin-tone-4" (the form Slack's reactions API uses), "❤️" → "heart"; null if unknown. */
export function unicodeToSlackEmoji(u: string): string | null {
  const s = u.trim();
  if (s === "") return null;
  const toneMatch = TONE_RE.exec(s);
  const base = s.replace(new RegExp(TONE_RE.source, "gu"), "");
  const name = UNICODE_TO_NAME.get(stripVs(base)) ?? nodeEmoji.which(base) ?? null;
  if (!name) return null;
  if (!toneMatch) return name;
  return `${name}::skin-tone-${TONES.indexOf(toneMatch[0]) + 2}`;
}

/** Hex code points as Slack rich_text sends them ("1f44d-1f3fd") → the string, or null. */
export function unicodeFromHex(hex: string): string | null {
  const parts = hex.split("-");
  if (parts.length === 0 || parts.some((p) => !/^[0-9a-f]{1,6}$/i.test(p))) return null;
  const cps = parts.map((p) => parseInt(p, 16));
  if (cps.some((c) => c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))) return null;
  return String.fromCodePoint(...cps);
}

