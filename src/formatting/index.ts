/** The formatting layer: one small AST (ast.ts) and converters to and from each format. Pure; no I/O. */
export * from "./ast.js";
export * from "./html.js";
export * from "./slack.js";
export * from "./telegram.js";
export { safeUrl, escapeHtml } from "./escape.js";
