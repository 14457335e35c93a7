/**
 * Reaction emoji between Matrix and Telegram, and the one-reaction-per-bot rule.
 *
 * Telegram lets a bot set only emoji from a fixed list (ReactionTypeEmoji), written without the
 * U+FE0F variation selector ("❤", "☃"); Matrix clients usually send "❤️". We compare without
 * FE0F and give Matrix the fully qualified form so Telegram's ❤ and Element's ❤️ are one key.
 *
 * A bot can hold at most one reaction on a message, so several Matrix reactions on one Telegram
 * message map to one: the most recent Matrix reaction wins; removing it falls back to the newest
 * one still present (or none). `ReactionStack` keeps that order per message, in memory.
 */
import type { ReactionTypeEmoji } from "grammy/types";

export type TelegramEmoji = ReactionTypeEmoji["emoji"];

/** Telegram's allowed reaction emoji (Bot API ReactionTypeEmoji), as Telegram writes them. */
export const TELEGRAM_REACTIONS: readonly TelegramEmoji[] = [
  "👍", "👎", "❤", "🔥", "🥰", "👏", "😁", "🤔", "🤯", "😱", "🤬", "😢", "🎉", "🤩", "🤮", "💩", "🙏", "👌", "🕊",
  "🤡", "🥱", "🥴", "😍", "🐳", "❤‍🔥", "🌚", "🌭", "💯", "🤣", "⚡", "🍌", "🏆", "💔", "🤨", "😐", "🍓", "🍾", "💋",
  "🖕", "😈", "😴", "😭", "🤓", "👻", "👨‍💻", "👀", "🎃", "🙈", "😇", "😨", "🤝", "✍", "🤗", "🫡", "🎅", "🎄", "☃",
  "💅", "🤪", "🗿", "🆒", "💘", "🙉", "🦄", "😘", "💊", "🙊", "😎", "👾", "🤷‍♂", "🤷", "🤷‍♀", "😡",
];

const FE0F = /\uFE0F/g;
const BY_BARE = new Map<string, TelegramEmoji>(TELEGRAM_REACTIONS.map((e) => [e.replace(FE0F, ""), e]));

/** Telegram emoji whose Matrix form needs U+FE0F (their default presentation is text). */
const QUALIFIED: Record<string, string> = {
  "❤": "❤️", "☃": "☃️", "✍": "✍️", "🕊": "🕊️", "❤‍🔥": "❤️‍🔥", "🤷‍♂": "🤷‍♂️", "🤷‍♀": "🤷‍♀️",
};

/** The Telegram emoji for a Matrix reaction key, or null when Telegram does not allow it. */
export function toTelegramEmoji(key: string): TelegramEmoji | null {
  return BY_BARE.get(key.trim().replace(FE0F, "")) ?? null;
}

/** The Matrix reaction key for a Telegram emoji. */
export function toMatrixEmoji(emoji: string): string {
  return Object.hasOwn(QUALIFIED, emoji) ? QUALIFIED[emoji]! : emoji;
}

/** Per message, the Matrix reactions the bot stands for, oldest first. */
export class ReactionStack {
  private readonly stacks = new Map<string, TelegramEmoji[]>();

  constructor(private readonly maxMessages = 5000) {}

  /** Records a change; returns the reaction the bot should now hold (null = none). */
  apply(target: string, emoji: TelegramEmoji, on: boolean): TelegramEmoji | null {
    const stack = (this.stacks.get(target) ?? []).filter((e) => e !== emoji);
    if (on) stack.push(emoji);
    this.stacks.delete(target); // re-insert: the map's order is least recently used first
    if (stack.length > 0) this.stacks.set(target, stack);
    while (this.stacks.size > this.maxMessages) this.stacks.delete(this.stacks.keys().next().value as string);
    return stack[stack.length - 1] ?? null;
  }

  current(target: string): TelegramEmoji | null {
    const s = this.stacks.get(target);
    return s?.[s.length - 1] ?? null;
  }
}
