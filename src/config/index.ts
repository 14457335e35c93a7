// Public API of the config area: the schema and its types, loading, the registration.
export { ConfigError, isConfigError, type ConfigErrorCode, type ConfigProblem } from "./errors.js";
export {
  ConfigSchema,
  PERMISSION_KEY_RE,
  PERMISSION_LEVELS,
  configKeys,
  type Config,
  type ConfigFile,
  type KeyInfo,
  type PermissionLevel,
} from "./schema.js";
export { envOverrides, type EnvOverride } from "./env.js";
export { loadConfig, parseConfig, formatPath, suggestKey, type LoadOptions, type ParseOptions } from "./load.js";
export {
  NAMESPACE_PREFIXES,
  buildRegistration,
  readRegistration,
  registrationMismatches,
  registrationYaml,
  writeRegistration,
  type Registration,
  type RegistrationNamespace,
  type WriteResult,
} from "./registration.js";
export { configWarnings } from "./warnings.js";
