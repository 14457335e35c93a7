/**
 * Reads a download's body with a size cap. A Content-Length check alone is not enough: a chunked
 * answer has none, and a wrong one is possible; without a cap, `arrayBuffer()` would hold a
 * file of any size in memory before any limit was looked at.
 */
import { RemoteError } from "../core/errors.js";

/** The body, if it is at most `max` bytes; otherwise stops reading and throws `tooLarge()`. */
export async function readCapped(res: Response, max: number, tooLarge: () => RemoteError): Promise<Buffer> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch (err) {
      // The connection broke or stalled mid-body: a network failure, worth another try.
      if (err instanceof RemoteError) throw err;
      throw new RemoteError("network", `download cut off: ${err instanceof Error ? err.message : String(err)}`, { retryable: true, cause: err });
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}
