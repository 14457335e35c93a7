/**
 * Where a history import (`tandem import …`, issue 14) reads a conversation's past from: a live
 * login's history API (Slack conversations.history/replies), or an export on disk (a Slack export
 * zip, a Telegram Desktop export). Each source is written in its network's folder; the importer in
 * the core sees only this interface, so a third network's export touches only its own folder.
 *
 * Sources speak the live path's vocabulary: the same RemoteEvent shapes with the same keys and the
 * same chat/message/user refs the live connector makes (its `ids.ts`), so an imported message and
 * the same message seen live are one message-map entry and are bridged once.
 */
import type { ChatInfo, ChatRef, FileRef, NetworkName, RemoteEvent, UserInfo, UserRef } from "./types.js";

/** What part of a conversation's past to read (ms since epoch, inclusive bounds). */
export interface HistoryWindow {
  since?: number;
  until?: number;
}

/** One event of a conversation's past. */
export type HistoryEvent = RemoteEvent & {
  /**
   * For a `message`: when it was last edited (its text is already the final text), so the import
   * can mark it edited. Absent when never edited.
   */
  editedAt?: number;
};

export interface HistoryConversation {
  network: NetworkName;
  /** The chat as the live connector names it, so the import lands in the same portal as live traffic. */
  chat: ChatRef;
  info: ChatInfo;
  /** How many messages the source expects to yield in this window, when it can tell cheaply (exports). */
  estimateMessages?(window: HistoryWindow): Promise<number | undefined>;
  /**
   * The conversation's past, OLDEST FIRST across the whole conversation, thread replies included
   * right after their turn in time (each with `msg.threadRoot` set). Reactions and membership/topic
   * changes come as their own events after the message they follow in time. Pacing to the network's
   * rate limits is the source's job; the iterator simply takes longer.
   */
  events(window: HistoryWindow): AsyncIterable<HistoryEvent>;
}

export interface HistorySource {
  network: NetworkName;
  /** For progress lines and `--dry-run`: "Slack workspace Acme (T0001)", "Telegram export of Ops". */
  describe: string;
  /** Releases what the source holds open (an export zip's file handle); call once the import is done. */
  close?(): Promise<void>;
  /** Every conversation the source holds, or just the one `only` names (a ref, `#name` or name). */
  conversations(only?: string): AsyncIterable<HistoryConversation>;
  /** Profile of an author (exports carry users.json; the API source asks the network). */
  userInfo(user: UserRef): Promise<UserInfo>;
  /** A file an event names: from the network, or from the export's folder. */
  download(file: FileRef): Promise<{ data: Buffer; mime: string; name: string }>;
  /** Notes worth telling the operator (e.g. "Slack rate tier 3: 50 requests/minute"), as they become known. */
  notes?(): string[];
}
