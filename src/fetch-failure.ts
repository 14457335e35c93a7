// Node's fetch rejects with "fetch failed" and hides the reason in `cause` (ECONNREFUSED,
// ENOTFOUND, a TLS error…); an operator needs the reason.

export function fetchFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === "TimeoutError" || err.name === "AbortError") return "no answer in time";
  const cause = err.cause as { code?: unknown; message?: unknown; address?: unknown; port?: unknown } | undefined;
  if (!cause) return err.message;
  const code = typeof cause.code === "string" ? cause.code : undefined;
  const where = typeof cause.address === "string" ? ` (${cause.address}${typeof cause.port === "number" ? `:${cause.port}` : ""})` : "";
  const text = typeof cause.message === "string" ? cause.message : "";
  const why = code === "ECONNREFUSED" ? "connection refused: nothing listens there"
    : code === "ENOTFOUND" ? "host name not found (DNS)"
    : code === "ECONNRESET" ? "connection reset"
    : text || code || err.message;
  return `${why}${code && !why.includes(code) ? ` [${code}]` : ""}${where && !why.includes(String(cause.address)) ? where : ""}`;
}
