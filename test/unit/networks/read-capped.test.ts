/** Downloads are read with a size cap, whether or not the answer says its length (chunked). */
import { describe, expect, it } from "vitest";
import { RemoteError } from "../../../src/core/errors.js";
import { readCapped } from "../../../src/networks/read-capped.js";

const MB = 1024 * 1024;
const tooLarge = () => new RemoteError("file_too_large", "over the cap", { retryable: false });

/** A body of `chunks` pieces of 1 MB with no Content-Length (as a chunked answer); counts what was pulled. */
function chunked(chunks: number) {
  const seen = { pulled: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (seen.pulled === chunks) return ctrl.close();
      seen.pulled++;
      ctrl.enqueue(new Uint8Array(MB).fill(seen.pulled));
    },
    cancel() {
      seen.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { res: new Response(body), seen };
}

describe("readCapped", () => {
  it("returns a body within the cap, byte for byte", async () => {
    const { res } = chunked(3);
    const data = await readCapped(res, 3 * MB, tooLarge);
    expect(data.length).toBe(3 * MB);
    expect([data[0], data[MB], data[2 * MB]]).toEqual([1, 2, 3]);
  });

  it("stops reading a chunked body as soon as it passes the cap, and cancels the rest", async () => {
    const { res, seen } = chunked(1000); // a 1 GB download
    await expect(readCapped(res, 5 * MB, tooLarge)).rejects.toMatchObject({ code: "file_too_large" });
    expect(seen.pulled).toBeLessThanOrEqual(7);
    expect(seen.cancelled).toBe(true);
  });

  it("refuses a declared Content-Length over the cap without reading", async () => {
    const { res: inner, seen } = chunked(10);
    const res = new Response(inner.body, { headers: { "content-length": String(10 * MB) } });
    await expect(readCapped(res, MB, tooLarge)).rejects.toMatchObject({ code: "file_too_large" });
    expect(seen.pulled).toBeLessThanOrEqual(1);
  });

  it("an empty body is an empty buffer", async () => {
    expect((await readCapped(new Response(null), MB, tooLarge)).length).toBe(0);
  });
});
