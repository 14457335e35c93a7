/** The store area's public entry: openStore and the row types. */
export type * from "./api.js";
export { openStore, makeStore, openDb } from "./store.js";
export { StoreError, isUniqueViolation, describeUri, embeddedDbPath } from "./db.js";
export { migrate, loadMigrations, schemaVersion, MIGRATIONS_DIR, type Migration, type MigrateResult } from "./migrate.js";
export { secretsPolicyError, SecretBox } from "./secrets.js";
