/**
 * How homeserver failures are classified: a real Matrix refusal (an errcode) is final unless it
 * says to wait; anything without an errcode did not come from the homeserver's API (a proxy's
 * page, a 2xx that is not JSON, an answer cut short) and is retried, with the homeserver counted
 * as unhealthy meanwhile; only a 413 stays final.
 */
import { describe, expect, it } from "vitest";
import { answerField, isUnreachable, toMatrixError, UnreadableAnswer } from "../../../src/matrix/errors.js";

describe("homeserver failures", () => {
  it.each([
    ["2xx that is not Matrix JSON", { statusCode: 200, body: "<html>Welcome to nginx!</html>" }, "M_BAD_ANSWER", true, true],
    ["a missing event_id", new UnreadableAnswer("send m.room.message"), "M_BAD_ANSWER", true, true],
    ["a proxy's 502 page", { statusCode: 502, body: "<html>502</html>" }, "HTTP_502", true, true],
    ["a proxy's 404 page", { statusCode: 404, body: "<html>404</html>" }, "HTTP_404", true, true],
    ["a proxy's 413 page", { statusCode: 413, body: "<html>413</html>" }, "HTTP_413", false, false],
    ["no answer at all", Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "ECONNREFUSED", true, true],
    ["M_FORBIDDEN", { statusCode: 403, body: { errcode: "M_FORBIDDEN", error: "no" } }, "M_FORBIDDEN", false, false],
    ["M_TOO_LARGE", { statusCode: 413, errcode: "M_TOO_LARGE", error: "event too large" }, "M_TOO_LARGE", false, false],
    ["M_LIMIT_EXCEEDED", { statusCode: 429, errcode: "M_LIMIT_EXCEEDED", retryAfterMs: 500 }, "M_LIMIT_EXCEEDED", true, false],
  ])("%s", (_what, err, code, retryable, unhealthy) => {
    const m = toMatrixError(err, "send");
    expect(m.code).toBe(code);
    expect(m.retryable).toBe(retryable);
    expect(isUnreachable(err)).toBe(unhealthy);
  });

  it("answerField takes a non-empty string field, and calls anything else unreadable", () => {
    expect(answerField({ event_id: "$e" }, "event_id", "send")).toBe("$e");
    for (const res of ["<html>", null, undefined, {}, { event_id: "" }, { event_id: 5 }, ["$e"]]) {
      expect(() => answerField(res, "event_id", "send")).toThrow(UnreadableAnswer);
    }
  });
});
