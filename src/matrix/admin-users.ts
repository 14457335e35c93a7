/**
 * The homeserver's local users and their e-mail addresses, through Synapse's admin API
 * (`GET /_synapse/admin/v2/users`, then `GET /_synapse/admin/v2/users/<id>` for each one's
 * threepids). Why the admin API: the user directory search answers names, never e-mails, and no
 * client-server endpoint maps an address to a user without an identity server. The bridge may
 * use it only when its bot is a server admin (the operator's choice); otherwise the answer is
 * M_FORBIDDEN and `map --by-email` says so (a CSV file needs nothing of the homeserver).
 */
import { MatrixError } from "../core/errors.js";
import { errcodeOf } from "./errors.js";

type Request = (method: string, path: string, qs?: Record<string, unknown>) => Promise<unknown>;

interface UsersPage {
  users?: Array<{ name?: unknown; deactivated?: unknown; is_guest?: unknown }>;
  next_token?: unknown;
}

const PAGE = 500;
/** 100,000 accounts; a server larger than that is mapped with a CSV file. */
const MAX_PAGES = 200;
const enc = encodeURIComponent;

export async function localUsersWithEmails(request: Request, isBridgeUser: (mxid: string) => boolean): Promise<Array<{ mxid: string; emails: string[] }>> {
  const ids: string[] = [];
  let from: string | undefined;
  try {
    for (let i = 0; i < MAX_PAGES; i++) {
      const page = await request("GET", "/_synapse/admin/v2/users", { limit: PAGE, guests: false, deactivated: false, ...(from ? { from } : {}) }) as UsersPage;
      for (const u of page.users ?? []) {
        if (typeof u.name === "string" && u.deactivated !== true && u.deactivated !== 1 && !isBridgeUser(u.name)) ids.push(u.name);
      }
      from = typeof page.next_token === "string" || typeof page.next_token === "number" ? String(page.next_token) : undefined;
      if (!from) break;
    }
  } catch (err) {
    const code = errcodeOf(err);
    if (code === "M_FORBIDDEN" || code === "M_UNRECOGNIZED" || code === "M_NOT_FOUND") {
      throw new MatrixError(code, `admin API refused: ${err instanceof Error ? err.message : String(err)}`, {
        retryable: false, cause: err,
        userMessage: "The homeserver does not let the bridge read its users' e-mail addresses (Synapse's admin API; the bridge bot must be a server admin). Map people with `claim`, `map` or a CSV file instead.",
      });
    }
    throw err;
  }
  const out: Array<{ mxid: string; emails: string[] }> = [];
  for (const mxid of ids) {
    const user = await request("GET", `/_synapse/admin/v2/users/${enc(mxid)}`) as { threepids?: Array<{ medium?: unknown; address?: unknown }> };
    const emails = (user.threepids ?? []).filter((t) => t.medium === "email" && typeof t.address === "string").map((t) => t.address as string);
    if (emails.length) out.push({ mxid, emails });
  }
  return out;
}
