import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describeUri, embeddedDbPath, isUniqueViolation, StoreError } from "../../../src/store/db.js";
import { openDb, openStore } from "../../../src/store/store.js";
import { describeEachBackend, storeOpener } from "../../support/db.js";

describe("connection errors", () => {
  it("one clear line, without the password", async () => {
    const err = await openStore({ uri: "postgres://tandem:s3cret-pw@127.0.0.1:1/bridge", dataDir: "", encryptionKey: "k" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe("store.connect");
    expect((err as Error).message).toBe("cannot connect to Postgres at 127.0.0.1:1/bridge: ECONNREFUSED");
    expect(JSON.stringify(err) + String(err) + (err as Error).stack).not.toContain("s3cret-pw");
  });

  it("describeUri never shows credentials", () => {
    expect(describeUri("postgres://u:p@db.example:6543/tandem?sslmode=require")).toBe("db.example:6543/tandem");
    expect(describeUri("postgres://u:p@db.example/tandem")).toBe("db.example:5432/tandem");
    expect(describeUri("not a uri u:p@")).toBe("(unparsable database.uri)");
  });
});

describeEachBackend("Db", (backend) => {
  const open = storeOpener();

  it("query with $n params, tx commit and rollback, statementCount", async () => {
    const { db } = await open(backend);
    const [row] = await db.query<{ a: number; b: string }>("SELECT $1::int + 1 AS a, $2::text AS b", [41, "x"]);
    expect(row).toEqual({ a: 42, b: "x" });

    const before = db.statementCount;
    await db.tx(async (t) => {
      await t.query("INSERT INTO kv (key, value) VALUES ('a', '1')");
      await t.query("INSERT INTO kv (key, value) VALUES ('b', '2')");
    });
    expect(db.statementCount - before).toBe(4); // BEGIN, 2 inserts, COMMIT

    await expect(
      db.tx(async (t) => {
        await t.query("INSERT INTO kv (key, value) VALUES ('c', '3')");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const keys = await db.query<{ key: string }>("SELECT key FROM kv ORDER BY key");
    expect(keys.map((k) => k.key)).toEqual(["a", "b"]);
  });

  it("nested tx is a savepoint", async () => {
    const { db } = await open(backend);
    await db.tx(async (t) => {
      await t.query("INSERT INTO kv (key, value) VALUES ('outer', '1')");
      await t.tx(async (t2) => {
        await t2.query("INSERT INTO kv (key, value) VALUES ('inner-ok', '1')");
      });
      await t
        .tx(async (t2) => {
          await t2.query("INSERT INTO kv (key, value) VALUES ('inner-bad', '1')");
          await t2.query("SELECT 1 / 0");
        })
        .catch(() => undefined);
    });
    const keys = await db.query<{ key: string }>("SELECT key FROM kv ORDER BY key");
    expect(keys.map((k) => k.key)).toEqual(["inner-ok", "outer"]);
  });

  it("errors are StoreErrors naming the SQLSTATE, constraint and statement", async () => {
    const { db } = await open(backend);
    await db.query("INSERT INTO kv (key, value) VALUES ('k', 'v')");
    const err = await db.query("INSERT INTO kv (key, value) VALUES ('k', 'v')").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: "store.conflict", sqlState: "23505", constraint: "kv_pkey" });
    expect(isUniqueViolation(err)).toBe(true);
    expect((err as Error).message).toMatch(/duplicate key.*\[23505\] in: INSERT INTO kv/);

    const err2 = await db.query("SELECT nope FROM kv").catch((e: unknown) => e);
    expect(err2).toMatchObject({ code: "store.query", sqlState: "42703" });
  });

  it("concurrent transactions do not interleave on the same rows", async () => {
    const { db } = await open(backend);
    await db.query("INSERT INTO kv (key, value) VALUES ('n', '0')");
    const bump = () =>
      db.tx(async (t) => {
        const [r] = await t.query<{ value: string }>("SELECT value FROM kv WHERE key = 'n' FOR UPDATE");
        await new Promise((res) => setTimeout(res, 5));
        await t.query("UPDATE kv SET value = $1 WHERE key = 'n'", [String(Number(r!.value) + 1)]);
      });
    await Promise.all(Array.from({ length: 8 }, bump));
    expect(await db.query("SELECT value FROM kv WHERE key = 'n'")).toEqual([{ value: "8" }]);
  });

  it("exec runs a multi-statement script", async () => {
    const { db } = await open(backend);
    await db.exec!("CREATE TABLE t1 (x int); INSERT INTO t1 VALUES (1), (2);");
    expect(await db.query("SELECT count(*)::int AS n FROM t1")).toEqual([{ n: 2 }]);
  });

  if (backend.name === "pglite") {
    it("pglite: transactions run one at a time, queries wait for them", async () => {
      const { db } = await open(backend);
      await db.query("CREATE TABLE log (id serial, who text)");
      const run = (who: string) =>
        db.tx(async (t) => {
          await t.query("INSERT INTO log (who) VALUES ($1)", [`${who}1`]);
          await new Promise((res) => setTimeout(res, 10));
          await t.query("INSERT INTO log (who) VALUES ($1)", [`${who}2`]);
        });
      await Promise.all([run("a"), run("b"), db.query("INSERT INTO log (who) VALUES ('q')")]);
      const who = (await db.query<{ who: string }>("SELECT who FROM log ORDER BY id")).map((r) => r.who).join(",");
      expect(["a1,a2,b1,b2,q", "a1,a2,q,b1,b2"]).toContain(who);
    });

    it("pglite: using the outer Db inside its own tx fails fast instead of deadlocking", async () => {
      const { db } = await open(backend);
      const err = await db.tx(async () => db.query("SELECT 1")).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "store.misuse" });
      expect(await db.query("SELECT 1 AS x")).toEqual([{ x: 1 }]); // usable afterwards
    });

    it("pglite: the same folder cannot be opened twice", async () => {
      const opts = await backend.open();
      const db = await openDb(opts);
      try {
        await expect(openDb(opts)).rejects.toMatchObject({ code: "store.locked" });
      } finally {
        await db.close();
      }
      const again = await openDb(opts);
      await again.close();
    });

    it("pglite: a folder locked by another live process is refused; a stale lock is taken over", async () => {
      const opts = await backend.open();
      const lock = `${path.resolve(embeddedDbPath(opts.dataDir))}.lock`;
      fs.writeFileSync(lock, `${process.ppid}\n`); // alive, not us
      await expect(openDb(opts)).rejects.toThrow(new RegExp(`in use by another process \\(pid ${process.ppid}\\)`));
      fs.writeFileSync(lock, "999999999\n"); // no such process
      const db = await openDb(opts);
      expect(fs.readFileSync(lock, "utf8").trim()).toBe(String(process.pid));
      await db.close();
      expect(fs.existsSync(lock)).toBe(false);
    });
  }
});
