// openExportSource: what `tandem import slack-export|telegram-export` calls, by kind, for exports
// the tests write from the documented formats.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExportFormatError } from "../../../src/networks/export-error.js";
import { isExportKind, openExportSource } from "../../../src/networks/export-sources.js";
import { byDay, slackChannel, slackMessage, slackTs, slackUser, writeSlackExport } from "../../support/exports/slack-export.js";
import { tgMessage, writeTelegramExport } from "../../support/exports/telegram-export.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-exports-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function first<T>(it: AsyncIterable<T>): Promise<T | undefined> {
  for await (const x of it) return x;
  return undefined;
}

describe("openExportSource", () => {
  it("opens a Slack export zip and a Telegram export folder by kind", async () => {
    const zip = join(dir, "slack.zip");
    await writeSlackExport(zip, { users: [slackUser("T0001", "U0001", "Carol")], channels: [slackChannel("C0001", "general", ["U0001"])], days: byDay("general", [slackMessage("U0001", slackTs(Date.UTC(2024, 0, 5)), "hi")]) });
    const slack = await openExportSource("slack-export", zip, { slack: { teamDomain: "acme" } });
    expect(slack.network).toBe("slack");
    expect((await first(slack.conversations()))?.info.aliasLocalpart).toBe("slack_acme_general");
    await slack.close();

    const tg = join(dir, "tg");
    await writeTelegramExport(tg, { chats: [{ name: "Ops", type: "public_supergroup", id: 42, messages: [tgMessage(1, 1_704_448_800, { id: 7, name: "Al" }, ["hi"])] }] });
    const telegram = await openExportSource("telegram-export", tg);
    expect(telegram.network).toBe("telegram");
    expect((await first(telegram.conversations()))?.chat).toBe("-10042");
    await telegram.close();
  });

  it("refuses the wrong kind of export with an error naming the path", async () => {
    const notZip = join(dir, "result.json");
    writeFileSync(notZip, "{}");
    const err = await openExportSource("slack-export", notZip).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExportFormatError);
    expect((err as Error).message).toBe(`${notZip}: not a zip file (no end of central directory record)`);
    expect(isExportKind("slack-export")).toBe(true);
    expect(isExportKind("slack")).toBe(false);
  });
});
