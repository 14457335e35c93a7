/**
 * Everything the running bridge needs beyond its config, log and store, gathered in one module
 * that main.ts loads with import() while the database opens. Loading these modules is most of a
 * start's CPU (matrix-appservice-bridge with matrix-bot-sdk alone ~0.6 s, the network SDKs
 * ~0.3 s); meanwhile the embedded database's WASM compiles on V8's background threads and its
 * files are read, so a restart waits for the longer of the two instead of their sum.
 */
export { BridgeCore } from "./core/bridge.js";
export { HealthBoard } from "./core/health.js";
export { MatrixAppservice } from "./matrix/appservice.js";
export { AvatarProxy } from "./matrix/avatars.js";
export { AppservicePort } from "./matrix/port.js";
export { HomeserverLink } from "./matrix/homeserver-link.js";
export { HomeserverWatch } from "./matrix/homeserver-watch.js";
export { DatabaseWriteProbe } from "./observability/database-probe.js";
export { healthRoute } from "./observability/health-route.js";
export { MetricsServer } from "./observability/http.js";
export { createMetrics } from "./observability/metrics.js";
export { routeSdkLogs } from "./observability/sdk-logs.js";
export { auditRoute } from "./observability/audit-route.js";
export { statusRoutes } from "./observability/status-page.js";
export { createConnectors, TOKEN_SHAPES } from "./networks/index.js";
