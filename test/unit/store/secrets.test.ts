import { describe, expect, it } from "vitest";
import type { LoginRow } from "../../../src/store/api.js";
import { openStore } from "../../../src/store/store.js";
import { SecretBox, secretsPolicyError } from "../../../src/store/secrets.js";
import { describeEachBackend, storeOpener } from "../../support/db.js";

const login: Omit<LoginRow, "createdAt"> = {
  id: "slack:T1", network: "slack", ownerMxid: "@a:x", remoteId: "T1", name: "Acme",
  secrets: { bot: "xoxb-1111-secret", app: "xapp-2222-secret" },
};

describe("SecretBox", () => {
  it("v1 format with a fresh IV per write; round-trips", () => {
    const box = new SecretBox("k1");
    const a = box.seal({ t: "x" });
    const b = box.seal({ t: "x" });
    expect(a).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(Buffer.from(a.split(":")[1]!, "base64")).toHaveLength(12);
    expect(a).not.toBe(b);
    expect(box.open(a, "login l")).toEqual({ t: "x" });
    expect(new SecretBox("k1").open(b, "login l")).toEqual({ t: "x" });
  });

  it("tampered ciphertext and a wrong key fail clearly", () => {
    const sealed = new SecretBox("k1").seal({ t: "x" });
    expect(() => new SecretBox("k2").open(sealed, "login l")).toThrow(/secrets of login l: the encryption key changed/);
    const [v, iv, tag, ct] = sealed.split(":");
    const bad = `${v}:${iv}:${tag}:${Buffer.from("garbage").toString("base64")}${ct!.slice(12)}`;
    expect(() => new SecretBox("k1").open(bad, "login l")).toThrow(/encryption key changed/);
    expect(() => new SecretBox("").open(sealed, "login l")).toThrow(/encrypted but no encryption key is configured/);
    expect(() => new SecretBox("k1").open("v9:zzz", "login l")).toThrow(/unknown format/);
  });

  it("derive() makes the key off the main thread, the same key: it opens what was sealed before it existed", async () => {
    // Sealed by `new SecretBox("derive-fixture-key")` (scryptSync); this key is used nowhere else, so derive() computes it.
    const sealed = "v1:bFru/tPegtW5F7Rv:Eq0U2BnJWJfl/oxuiQyUxQ==:Hifz9R9Cx0dpuMX50yVvh70MXpZvL20E";
    const box = await SecretBox.derive("derive-fixture-key");
    expect(box.open(sealed, "login l")).toEqual({ token: "xoxb-fixture" });
    expect((await SecretBox.derive("")).encrypted).toBe(false);
  });

  it("no key: plain marker, readable with or without a key", () => {
    const plain = new SecretBox("").seal({ t: "x" });
    expect(plain).toBe('plain:{"t":"x"}');
    expect(new SecretBox("").open(plain, "l")).toEqual({ t: "x" });
    expect(new SecretBox("k").open(plain, "l")).toEqual({ t: "x" });
  });

  it("secretsPolicyError refuses an empty key only with an external database", () => {
    expect(secretsPolicyError({ uri: "postgres://h/db", encryptionKey: "" })).toMatch(/encryption_key.*TANDEM_ENCRYPTION_KEY.*required/);
    expect(secretsPolicyError({ uri: "postgres://h/db", encryptionKey: "k" })).toBeNull();
    expect(secretsPolicyError({ uri: "", encryptionKey: "" })).toBeNull();
  });
});

describeEachBackend("secrets at rest", (backend) => {
  const open = storeOpener();

  it("are ciphertext in the table and round-trip", async () => {
    const s = await open(backend);
    await s.logins.put(login);
    const [row] = await s.db.query<{ secrets_enc: string }>("SELECT secrets_enc FROM logins");
    expect(row!.secrets_enc).toMatch(/^v1:/);
    expect(row!.secrets_enc).not.toContain("xoxb");
    expect(row!.secrets_enc).not.toContain("secret");
    expect((await s.logins.get("slack:T1"))!.secrets).toEqual(login.secrets);
  });

  it("a changed key is named in the error; the right key still reads", async () => {
    const opts = await backend.open();
    const s1 = await openStore(opts);
    await s1.logins.put(login);
    await s1.close();

    const s2 = await openStore({ ...opts, encryptionKey: "another-key" });
    try {
      await expect(s2.logins.get("slack:T1")).rejects.toMatchObject({ code: "store.secrets" });
      await expect(s2.logins.list()).rejects.toThrow(/secrets of login slack:T1: the encryption key changed/);
    } finally {
      await s2.close();
    }
    const s3 = await openStore(opts);
    try {
      expect((await s3.logins.get("slack:T1"))!.secrets).toEqual(login.secrets);
    } finally {
      await s3.close();
    }
  });

  it("without a key they are stored with the plain marker", async () => {
    const s = await open(backend, { encryptionKey: "" });
    await s.logins.put(login);
    const [row] = await s.db.query<{ secrets_enc: string }>("SELECT secrets_enc FROM logins");
    expect(row!.secrets_enc).toBe(`plain:${JSON.stringify(login.secrets)}`);
    expect((await s.logins.get("slack:T1"))!.secrets).toEqual(login.secrets);
  });
});
