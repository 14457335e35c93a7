/** matrix.to permalinks and matrix: URIs, as Matrix clients use them for pills. */

export type MatrixLinkTarget = { kind: "user"; mxid: string } | { kind: "room"; room: string };

const USER_RE = /^@[^:\s/]+:[^\s/]+$/;
const ROOM_RE = /^[#!][^:\s/]+:[^\s/]+$/;

/**
 * Recognises user and room permalinks. Event permalinks ("!room:s/$event") are ordinary links,
 * not chat mentions: they point at a message. Clients percent-encode ids inconsistently
 * (Element writes them raw, others as %40/%3A), so the fragment is decoded once.
 */
export function parseMatrixLink(url: string): MatrixLinkTarget | null {
  const u = url.trim();
  const to = /^https?:\/\/matrix\.to\/#\/([^?]+)(?:\?.*)?$/i.exec(u);
  if (to) {
    const id = decodeOnce(to[1] as string);
    if (USER_RE.test(id)) return { kind: "user", mxid: id };
    if (ROOM_RE.test(id)) return { kind: "room", room: id };
    return null;
  }
  const uri = /^matrix:(u|r|roomid)\/([^/?#]+)(?:\?[^#]*)?$/i.exec(u);
  if (uri) {
    const sigil = { u: "@", r: "#", roomid: "!" }[(uri[1] as string).toLowerCase() as "u" | "r" | "roomid"];
    const id = sigil + decodeOnce(uri[2] as string);
    if (sigil === "@") return USER_RE.test(id) ? { kind: "user", mxid: id } : null;
    return ROOM_RE.test(id) ? { kind: "room", room: id } : null;
  }
  return null;
}

function decodeOnce(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** https://matrix.to/#/<id>, the id written raw as Element does (callers escape the attribute). */
export function matrixToUrl(id: string): string {
  return "https://matrix.to/#/" + id.replace(/[\s"<>?]/g, encodeURIComponent);
}
