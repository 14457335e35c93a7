/**
 * MSC2346 bridge info: every bridged chat puts an `m.bridge` state event (and the same as
 * `uk.half-shot.bridge`, the name older clients read) in its Matrix room, so clients can show
 * what the room is bridged to. A room linked to a Slack channel and a Telegram chat has one of
 * each: the state key names the chat (`tandem://slack/T0001/C0001`). Written with the portal
 * (initial_state), on link and rename, emptied on unlink; at start, only where it differs from
 * what the bridge last wrote (kept in kv), so a restart sends nothing when nothing changed.
 */
import { createHash } from "node:crypto";
import { errorFields } from "./log.js";
import type { PortalLinkRow } from "../store/api.js";
import type { ChatDescription, LoginRecord, NetworkConnector } from "./connector.js";
import type { CoreDeps } from "./context.js";

export const BRIDGE_STATE_TYPES = ["m.bridge", "uk.half-shot.bridge"] as const;

export interface BridgeInfo {
  stateKey: string;
  content: Record<string, unknown>;
}

/** The link fields bridge info depends on. */
export type DescribedLink = Pick<PortalLinkRow, "roomId" | "network" | "chat" | "name" | "loginId">;

/** What the bridge last wrote for one room and state key ("" once emptied). */
const writtenKey = (roomId: string, stateKey: string) => `bridge-info:${roomId}|${stateKey}`;
/** A digest of all bridge info as last synced: when it matches, start-up has nothing to check. */
const DIGEST_KEY = "bridge-info:digest";
/** Links described between two yields to the event loop at start. */
const SYNC_SLICE = 1000;

/** The m.bridge state key and content for one linked chat. Pure. */
export function describeLink(connector: NetworkConnector, botMxid: string, link: Omit<DescribedLink, "roomId">, login?: LoginRecord): BridgeInfo {
  const d: ChatDescription = connector.describeChat?.(link.chat, link.name, login) ?? {
    key: encodeURIComponent(link.chat),
    network: login ? { id: login.remoteId, displayname: login.name } : undefined,
    channel: { id: link.chat, displayname: link.name },
  };
  const protocol: Record<string, string> = { id: connector.network, displayname: connector.displayName };
  if (connector.externalUrl) protocol.external_url = connector.externalUrl;
  const content: Record<string, unknown> = { bridgebot: botMxid };
  if (login) content.creator = login.ownerMxid; // the person whose login bridges it
  content.protocol = protocol;
  if (d.network) content.network = d.network;
  content.channel = d.channel;
  return { stateKey: `tandem://${connector.network}/${d.key}`, content };
}

export class BridgeInfoWriter {
  constructor(
    private readonly deps: CoreDeps,
    private readonly loginOf: (loginId: string) => LoginRecord | undefined,
    /** Whether the room is a portal the bridge created (only those can carry the old state key). */
    private readonly isPortal: (roomId: string) => boolean,
  ) {}

  /** The bridge info for a link, or null when its network is not enabled. */
  infoFor(link: Omit<DescribedLink, "roomId">): BridgeInfo | null {
    const connector = this.deps.connectors.get(link.network);
    return connector ? describeLink(connector, this.deps.matrix.botMxid, link, this.loginOf(link.loginId)) : null;
  }

  /** Record that `info` is in the room already (sent as the new room's initial_state). */
  async remember(roomId: string, info: BridgeInfo): Promise<void> {
    await this.deps.store.kv.set(writtenKey(roomId, info.stateKey), JSON.stringify(info.content));
  }

  /**
   * Put the link's bridge info in its room, unless it is what was last written. Never throws:
   * a failure is logged and the next start tries again (nothing is recorded).
   */
  async write(link: DescribedLink, quiet = false): Promise<"written" | "unchanged" | "failed"> {
    const info = this.infoFor(link);
    if (!info) return "unchanged";
    const json = JSON.stringify(info.content);
    try {
      const last = await this.deps.store.kv.get(writtenKey(link.roomId, info.stateKey));
      if (last === json) return "unchanged";
      if (last === null && this.isPortal(link.roomId)) await this.clearLegacy(link);
      await this.put(link.roomId, info.stateKey, info.content);
      await this.deps.store.kv.set(writtenKey(link.roomId, info.stateKey), json);
      return "written";
    } catch (err) {
      this.deps.log[quiet ? "debug" : "warn"]("bridge info not written; tried again at the next start", { roomId: link.roomId, network: link.network, ...errorFields(err) });
      return "failed";
    }
  }

  /** Empty the link's bridge info (unlinked, or its chat moved): clients stop showing it. Never throws. */
  async remove(link: DescribedLink): Promise<void> {
    const info = this.infoFor(link);
    if (!info) return;
    try {
      await this.put(link.roomId, info.stateKey, {});
      await this.deps.store.kv.set(writtenKey(link.roomId, info.stateKey), "");
    } catch (err) {
      this.deps.log.warn("bridge info not removed", { roomId: link.roomId, network: link.network, ...errorFields(err) });
    }
  }

  /**
   * At start: write the bridge info of every link whose info differs from what was last
   * written (portals made before the bridge wrote it, renamed logins). One digest over all
   * of it, checked first, makes a start where nothing changed cost one query.
   */
  async syncAll(links: DescribedLink[]): Promise<{ checked: number; written: number; unchanged: number; failed: number }> {
    // In a fixed order, so the digest does not depend on the order the store listed them in.
    const sorted = [...links].sort((a, b) => (a.roomId === b.roomId ? (a.network < b.network ? -1 : 1) : a.roomId < b.roomId ? -1 : 1));
    const hash = createHash("sha256");
    const known: DescribedLink[] = [];
    for (const [i, link] of sorted.entries()) {
      if (i % SYNC_SLICE === 0) await new Promise((r) => setImmediate(r)); // 100,000 portals: never hold the event loop long
      const info = this.infoFor(link);
      if (!info) continue;
      hash.update(`${link.roomId}|${info.stateKey}|${JSON.stringify(info.content)}\n`);
      known.push(link);
    }
    const digest = hash.digest("hex");
    if (await this.deps.store.kv.get(DIGEST_KEY) === digest) return { checked: 0, written: 0, unchanged: known.length, failed: 0 };
    const outcomes = { written: 0, unchanged: 0, failed: 0 };
    for (const link of known) outcomes[await this.write(link, true)]++; // failures are summed up by the caller
    if (outcomes.failed === 0) await this.deps.store.kv.set(DIGEST_KEY, digest); // else the next start checks again
    return { checked: known.length, ...outcomes };
  }

  private async put(roomId: string, stateKey: string, content: Record<string, unknown>): Promise<void> {
    const { matrix } = this.deps;
    for (const type of BRIDGE_STATE_TYPES) await matrix.setState(roomId, matrix.botMxid, type, stateKey, content);
  }

  /** Portals made before this state key scheme carry it under "<network>/<chat>": empty that once. */
  private async clearLegacy(link: DescribedLink): Promise<void> {
    const legacy = `${link.network}/${link.chat}`;
    const old = await this.deps.matrix.getState(link.roomId, "m.bridge", legacy).catch(() => null);
    if (old && Object.keys(old).length > 0) await this.put(link.roomId, legacy, {});
  }
}
