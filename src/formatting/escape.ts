/** Escaping and URL policy shared by the HTML-producing renderers (Matrix and Telegram). */

/** Text content: & < > are enough for text nodes; quotes too so the same helper is safe in attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITY[c] as string);
}

const ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Telegram documents only &lt; &gt; &amp; &quot; as supported named entities, so use just those. */
export function escapeTelegram(s: string): string {
  return s.replace(/[&<>]/g, (c) => ENTITY[c] as string);
}
export function escapeTelegramAttr(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ENTITY[c] as string);
}

export const WEB_SCHEMES: readonly string[] = ["http", "https", "mailto"];

/**
 * Returns the URL (trimmed) if its scheme is in `schemes`, else null. Relative URLs are refused
 * (they mean nothing in a chat message) and so is anything with control characters or whitespace
 * inside, which browsers strip before reading the scheme ("java\nscript:" would otherwise pass a
 * naive check). Callers still escape the result when putting it into an attribute.
 */
export function safeUrl(url: string, schemes: readonly string[] = WEB_SCHEMES): string | null {
  const u = url.trim();
  if (u === "" || /[\u0000-\u0020\u007f-\u009f]/.test(u)) return null;
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(u);
  if (!m) return null;
  const scheme = (m[1] as string).toLowerCase();
  if (!schemes.includes(scheme)) return null;
  if ((scheme === "http" || scheme === "https") && !/^https?:\/\/[^/?#]/i.test(u)) return null;
  return u;
}
