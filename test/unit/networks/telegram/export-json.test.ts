// The streaming scanner of result.json: the same messages and chats as JSON.parse of the whole
// file, however the file is cut into chunks, and clear errors for JSON that is not well-formed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JsonScanError, scanExport, type ScanItem } from "../../../../src/networks/telegram/export-json.js";
import { tgMessage, tgService } from "../../../support/exports/telegram-export.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-tg-json-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const f = join(dir, `result-${++n}.json`);
  writeFileSync(f, text);
  return f;
}

async function scan(f: string, range: { start: number; end: number } | null = null, chunk?: number): Promise<ScanItem[]> {
  const out: ScanItem[] = [];
  for await (const item of scanExport(f, range, chunk)) out.push(item);
  return out;
}

const al = { id: 1, name: "Al \"the\" {brace} [x] \\ Ünïcødé 🚀" };
const tricky = [
  tgMessage(1, 1_704_448_800, al, ["quote \" backslash \\ braces {}[] ", { type: "bold", text: "Привет 👋🏽" }], { reply_to_message_id: 0 }),
  tgService(2, 1_704_448_860, al, "invite_members", { members: ["A", "B"] }),
  tgMessage(3, 1_704_448_920, al, ["nested"], { reactions: [{ type: "emoji", emoji: "❤", recent: [{ from_id: "user2" }] }], poll: { question: "q?", answers: [{ text: "a" }] } }),
];

describe("result.json scanner", () => {
  it("finds every chat of a full export with its fields and every message, at any chunk size", async () => {
    const full = {
      about: "Here is the data you requested.", personal_information: { user_id: 1, first_name: "Al" }, contacts: { list: [{ name: "x" }] },
      chats: { about: "…", list: [
        { name: "Ops {1}", type: "private_supergroup", id: 10, messages: tricky },
        { messages: [tricky[0]], name: "Late fields", id: 11, type: "private_group" },
      ] },
      left_chats: { list: [{ name: "Gone", type: "public_channel", id: 12, messages: [] }] },
    };
    const f = file(JSON.stringify(full, null, 1));
    const whole = await scan(f);
    for (const chunk of [1, 3, 7, 64]) expect(await scan(f, null, chunk)).toEqual(whole);
    const messages = whole.filter((i) => i.kind === "message").map((i) => JSON.parse(i.raw.toString("utf8")));
    expect(messages).toEqual([...tricky, tricky[0]]);
    const chats = whole.filter((i): i is Extract<ScanItem, { kind: "chat" }> => i.kind === "chat").map((i) => i.chat);
    expect(chats.map((c) => c.fields)).toEqual([
      { name: "Ops {1}", type: "private_supergroup", id: 10 }, { name: "Late fields", id: 11, type: "private_group" }, { name: "Gone", type: "public_channel", id: 12 },
    ]);
    // A chat's range is its messages array: read again on its own, it gives the same messages.
    const again = (await scan(f, chats[0]!.messages, 5)).map((i) => i.kind === "message" && JSON.parse(i.raw.toString("utf8")));
    expect(again).toEqual(tricky);
    expect(whole.find((i) => i.kind === "message")).toMatchObject({ chatFields: { name: "Ops {1}", type: "private_supergroup", id: 10 } });
  });

  it("reads a single-chat export", async () => {
    const f = file(JSON.stringify({ name: "Ops", type: "public_supergroup", id: 5, messages: tricky }));
    const items = await scan(f, null, 2);
    expect(items.filter((i) => i.kind === "message")).toHaveLength(3);
    expect(items.at(-1)).toMatchObject({ kind: "chat", chat: { fields: { name: "Ops", type: "public_supergroup", id: 5 } } });
  });

  it("refuses JSON that is cut short, has stray closers, or a message that is not an object, saying where", async () => {
    const good = JSON.stringify({ name: "Ops", type: "public_supergroup", id: 5, messages: tricky });
    await expect(scan(file(good.slice(0, -30)))).rejects.toThrow(JsonScanError);
    await expect(scan(file(good.slice(0, -30)))).rejects.toThrow(/unexpected end of file \(truncated\?\) at byte/);
    await expect(scan(file('{"a": 1}}'))).rejects.toThrow(/unexpected "}" at byte 8/);
    await expect(scan(file('{"name": "x", "messages": [1, 2]}'))).rejects.toThrow(/a message that is not an object at byte 27/);
    await expect(scan(file('{"a": tru e}'))).rejects.toThrow(/not a JSON value: tru/);
    await expect(scan(file(""))).rejects.toThrow(/no JSON value/);
  });
});
