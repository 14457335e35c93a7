// Lint: typescript-eslint's recommended rules, plus the one architectural rule that holds
// the layout together: the core imports neither the Matrix side nor any network.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "bench/results/**", "reports/**", ".stryker-tmp*/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
      // A variable read by a closure before its single assignment cannot be const.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          { group: ["**/matrix/*", "**/networks/*", "matrix-appservice-bridge", "@slack/*", "grammy"], message: "The core must not depend on Matrix or a network: use its ports (matrix-port.ts, connector.ts)." },
        ],
      }],
    },
  },
  {
    files: ["src/networks/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          { group: ["**/matrix/*", "**/store/*", "matrix-appservice-bridge", "pg", "@electric-sql/*"], message: "A connector never talks to Matrix or the database: push RemoteEvents to the core." },
        ],
      }],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" },
  },
);
