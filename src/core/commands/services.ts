/** What commands may ask of the bridge; implemented by core/bridge.ts. */
import type { CutoverChangeRow, CutoverPhase, PortalLinkRow } from "../../store/api.js";
import type { LoginRecord, LoginResult, NetworkConnector } from "../connector.js";
import type { HealthBoard } from "../health.js";
import type { People } from "../people-service.js";
import type { PortalDirectory } from "../portals.js";
import type { CommandRegistry } from "./registry.js";
import type { FinishResult } from "../cutover-finish.js";
import type { SpaceDirectory } from "../spaces.js";

export interface BridgeServices {
  connectors: ReadonlyMap<string, NetworkConnector>;
  health: HealthBoard;
  portals: PortalDirectory;
  registry: CommandRegistry;
  /** Person mappings and claims (absent on stores without them). */
  people?: People;
  queueDepth(): Promise<number>;
  logins(): LoginRecord[];
  /** Store the login, connect it and start the first sync; returns the record. */
  completeLogin(ownerMxid: string, connector: NetworkConnector, result: LoginResult): Promise<LoginRecord>;
  logout(loginId: string): Promise<void>;
  /** Create portals for the login's most recent chats; returns how many are new. */
  sync(loginId: string): Promise<number>;
  /** The sender's power level in a room. */
  powerLevel(roomId: string, mxid: string): Promise<number>;
  /** Link an existing room to a remote chat through the sender's login (or any, for admins). */
  linkRoom(roomId: string, network: string, input: string, by: string, isAdmin: boolean): Promise<PortalLinkRow>;
  /** Move a room to a cutover phase with the notices that go with it; false if it already was. */
  changePhase(roomId: string, phase: CutoverPhase, by: string, rollback: boolean): Promise<boolean>;
  phaseHistory(roomId: string): Promise<CutoverChangeRow[]>;
  /** `cutover finish`: end the parallel run for a room (core/cutover-finish.ts); null when it was finished already. */
  finishCutover(roomId: string, by: string, admins?: string[]): Promise<FinishResult | null>;
  /** `cutover resume`: the way back from finish; false when the room was not finished. */
  resumeCutover(roomId: string, by: string): Promise<boolean>;
  spaces: SpaceDirectory;
  /** What the last `link` of this room to that network did about history (once), for the confirmation. */
  backfillNote?(roomId: string, network: string): string | undefined;
  /** One `status` line per backfill of these logins' portals (running, or recently ended). */
  backfillStatus?(loginIds?: ReadonlySet<string>): string[];
  /** One `status` line per detached link (its login logged out) of logins `owner` had (all when absent). */
  detachedStatus?(owner?: string): Promise<string[]>;
}
