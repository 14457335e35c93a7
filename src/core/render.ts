/**
 * Turning core messages into Matrix event content and back-references: mentions of remote
 * users become pills to their ghosts, chat mentions become links to portal rooms.
 */
import type { Doc } from "../formatting/ast.js";
import { docToHtml } from "../formatting/html.js";
import type { NetworkConnector } from "./connector.js";
import type { MatrixPort } from "./matrix-port.js";
import type { PortalDirectory } from "./portals.js";

export function renderForMatrix(
  doc: Doc, connectors: ReadonlyMap<string, NetworkConnector>, matrix: MatrixPort, portals: PortalDirectory,
): { body: string; format?: string; formatted_body?: string } {
  const out = docToHtml(doc, {
    mention(target) {
      if (target.kind === "matrix") return { mxid: target.mxid, name: "" }; // keep the incoming pill text
      const connector = connectors.get(target.network);
      if (!connector) return null;
      return { mxid: matrix.ghostMxid(connector.ghostLocalpart(target.id)), name: "" };
    },
    chat(target) {
      if (target.kind === "matrix") return { link: target.room, name: target.room };
      const link = portals.linkForChat(target.network, target.id);
      if (!link) return null;
      return { link: link.alias ?? link.roomId, name: link.name };
    },
  });
  return out.formatted_body !== undefined
    ? { body: out.body, format: "org.matrix.custom.html", formatted_body: out.formatted_body }
    : { body: out.body };
}
