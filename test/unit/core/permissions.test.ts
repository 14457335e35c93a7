import { describe, expect, it } from "vitest";
import { Permissions, levelAtLeast } from "../../../src/core/permissions.js";

describe("permissions", () => {
  const p = new Permissions({ "*": "relay", "example.org": "user", "@boss:example.org": "admin", "@muted:example.org": "relay" });

  it("picks the most specific entry: mxid over server over *", () => {
    expect(p.levelOf("@boss:example.org")).toBe("admin");
    expect(p.levelOf("@alice:example.org")).toBe("user");
    expect(p.levelOf("@muted:example.org")).toBe("relay");
    expect(p.levelOf("@eve:elsewhere.net")).toBe("relay");
  });

  it("gives no access when nothing matches and there is no *", () => {
    const strict = new Permissions({ "example.org": "user" });
    expect(strict.levelOf("@eve:elsewhere.net")).toBe("none");
    expect(strict.allows("@eve:elsewhere.net", "relay")).toBe(false);
  });

  it("orders levels none < relay < user < admin", () => {
    expect(levelAtLeast("admin", "user")).toBe(true);
    expect(levelAtLeast("user", "admin")).toBe(false);
    expect(levelAtLeast("relay", "relay")).toBe(true);
    expect(levelAtLeast("none", "relay")).toBe(false);
  });

  it("does not treat a server name as matching a longer one", () => {
    expect(p.levelOf("@x:notexample.org")).toBe("relay");
  });
});
