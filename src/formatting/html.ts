/** Matrix HTML (`formatted_body`) ↔ Doc. See html-parse.ts and html-render.ts for the rules. */
export { htmlToDoc } from "./html-parse.js";
export { docToHtml, type MatrixContent, type MatrixResolve } from "./html-render.js";
export { parseMatrixLink, matrixToUrl, type MatrixLinkTarget } from "./matrix-links.js";
