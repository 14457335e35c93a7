/**
 * One message, a bounded number of posts: a 10 MB message once became 269 Slack posts (and 175
 * Matrix events the other way), and the burst of sends stalled its chat for minutes. A message
 * split into more parts than `bridge.max_message_parts` keeps its first parts as messages and
 * sends the rest of its text as one text file.
 */

/** The file the rest of an over-long message goes in. */
export const OVERFLOW_FILE_NAME = "message-continued.txt";

/** `parts` when there are at most `max`; else the first `max - 1` and the rest joined, for the file. */
export function capParts(parts: readonly string[], max: number, join = ""): { parts: string[]; rest?: string } {
  if (parts.length <= max) return { parts: [...parts] };
  const keep = Math.max(0, max - 1);
  return { parts: parts.slice(0, keep), rest: parts.slice(keep).join(join) };
}
