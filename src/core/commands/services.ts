/** What commands may ask of the bridge; implemented by core/bridge.ts. */
import type { LoginRecord, LoginResult, NetworkConnector } from "../connector.js";
import type { HealthBoard } from "../health.js";
import type { PortalDirectory } from "../portals.js";
import type { CommandRegistry } from "./registry.js";

export interface BridgeServices {
  connectors: ReadonlyMap<string, NetworkConnector>;
  health: HealthBoard;
  portals: PortalDirectory;
  registry: CommandRegistry;
  queueDepth(): Promise<number>;
  logins(): LoginRecord[];
  /** Store the login, connect it and start the first sync; returns the record. */
  completeLogin(ownerMxid: string, connector: NetworkConnector, result: LoginResult): Promise<LoginRecord>;
  logout(loginId: string): Promise<void>;
  /** Create portals for the login's most recent chats; returns how many are new. */
  sync(loginId: string): Promise<number>;
}
