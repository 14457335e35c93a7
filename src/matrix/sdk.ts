/**
 * The one way into matrix-appservice-bridge and matrix-bot-sdk: import them from here, never
 * directly. sdk-patches.ts changes how the SDK loads and must run before its first file, which
 * the order of the two imports below guarantees (ES modules evaluate their imports in order).
 */
import "./sdk-patches.js";

export { AppService, AppServiceRegistration, Bridge } from "matrix-appservice-bridge";
export type { Intent } from "matrix-appservice-bridge";
export { LogService } from "@vector-im/matrix-bot-sdk";
