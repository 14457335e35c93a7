// The limits shown by `help telegram` are the ones docs/telegram.md lists, word for word.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { TELEGRAM_LIMITATIONS } from "../../../../src/networks/telegram/index.js";

describe("telegram limitations", () => {
  const docs = readFileSync(new URL("../../../../docs/telegram.md", import.meta.url), "utf8");
  const lines = TELEGRAM_LIMITATIONS.split("\n");

  it("names what a bot cannot see", () => {
    for (const re of [/history from before the bot joined/, /No deletions/, /other bots/, /Reactions only where the bot is an admin/, /Privacy mode/, /20 MB/, /self-hosted Bot API server/i, /Forum topics/, /one reaction per message/]) {
      expect(TELEGRAM_LIMITATIONS).toMatch(re);
    }
  });

  it.each(lines.slice(1).map((l) => [l]))("docs/telegram.md has: %s", (line) => {
    expect(docs).toContain(`- ${line.replace(/^• /, "")}\n`);
  });

  it("docs/telegram.md has the intro line", () => {
    expect(docs).toContain(lines[0]);
  });
});
