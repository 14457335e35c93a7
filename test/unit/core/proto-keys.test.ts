/**
 * Untrusted strings used as keys of lookup tables: "constructor", "__proto__" and friends are
 * keys of every plain object, so a lookup must ask for own keys only. Found by the Matrix event
 * fuzz (msgtype "constructor" became a file of kind Object); the same shape was in the HTML
 * parser (<constructor> became an inline node without a type), the cutover command and the
 * Telegram reaction table.
 */
import { describe, expect, it } from "vitest";
import { cutoverCommands } from "../../../src/core/commands/cutover.js";
import type { CommandContext } from "../../../src/core/commands/registry.js";
import type { BridgeServices } from "../../../src/core/commands/services.js";
import { CommandError } from "../../../src/core/errors.js";
import { htmlToDoc } from "../../../src/formatting/html.js";
import { parseMatrixEvent } from "../../../src/matrix/events.js";
import { toMatrixEmoji } from "../../../src/networks/telegram/reactions.js";
import { docProblems } from "../../support/fuzz.js";

const KEYS = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf"];

describe("prototype keys from untrusted input", () => {
  it("a Matrix msgtype named like an Object method is no file", () => {
    for (const k of KEYS) {
      const ev = parseMatrixEvent({ type: "m.room.message", event_id: "$e", room_id: "!r:x", sender: "@a:x", content: { msgtype: k, body: "x", url: "mxc://x/y" } });
      expect(ev, k).toBeNull();
    }
  });

  it("an HTML tag named like an Object method is ignored, and the doc stays well-formed", () => {
    for (const k of KEYS) {
      const doc = htmlToDoc(`<${k}>x</${k}> <b>y</b>`);
      expect(docProblems(doc), k).toEqual([]);
    }
  });

  it("a Telegram reaction named like an Object method maps to itself", () => {
    for (const k of KEYS) expect(toMatrixEmoji(k)).toBe(k);
  });

  it("`cutover constructor` is a usage error, not a phase", async () => {
    const changed: unknown[] = [];
    const svc = { portals: { portal: () => ({ phase: "parallel" }), allPortals: () => [] }, changePhase: async (...a: unknown[]) => { changed.push(a); return true; } } as unknown as BridgeServices;
    const [cmd] = cutoverCommands(svc);
    for (const k of KEYS) {
      const ctx = { args: [k], roomId: "!r:x", sender: "@admin:x", reply: async () => undefined } as unknown as CommandContext;
      await expect(cmd!.run(ctx)).rejects.toBeInstanceOf(CommandError);
    }
    expect(changed).toEqual([]);
  });
});
