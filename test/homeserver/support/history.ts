/** Reading what an import wrote, as a client would: a room's whole timeline and the bridge's import progress. */
import type { ClientEvent, MatrixUser } from "./matrix-user.js";

export interface ImportSnapshot { state: string; source: string; messages: number; alreadyIn: number; conversations: Array<{ chat: string; roomId?: string }> }

/** The whole room as /messages gives it, oldest first. */
export async function roomHistory(user: MatrixUser, roomId: string): Promise<ClientEvent[]> {
  const out: ClientEvent[] = [];
  let from: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ dir: "b", limit: "500", ...(from ? { from } : {}) });
    const page = await user.request<{ chunk: ClientEvent[]; end?: string }>("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?${q}`);
    out.push(...page.chunk);
    if (!page.end || page.chunk.length === 0) break;
    from = page.end;
  }
  return out.reverse();
}

/** The running bridge's import progress (`GET /import` on its metrics listener), or null when none ran. */
export async function importProgress(metricsPort: number): Promise<ImportSnapshot | null> {
  return (await (await fetch(`http://127.0.0.1:${metricsPort}/import`)).json()) as ImportSnapshot | null;
}
