/**
 * Turns DNS TXT records next to a name into endpoint metadata (`key=value` per record, RFC 1464 style),
 * so operators can label endpoints for Envoy's subset load balancer without touching dns-eds config.
 */
import type { DnsRecord } from "../dns/types.js";

/** Keys and values longer than this are ignored: metadata rides in every EDS push. */
const MAX_KEY = 63;
const MAX_VALUE = 255;

/**
 * One TXT record is one attribute; its character-strings are concatenated first because long values
 * are split across strings on the wire. Records without `=` or with an empty key are skipped; a later
 * record with the same key wins so the result does not depend on how the server ordered duplicates
 * beyond "last one seen".
 */
export function parseTxtMetadata(records: readonly DnsRecord[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of records) {
    if (r.type !== "TXT") continue;
    const text = r.strings.join("");
    const eq = text.indexOf("=");
    if (eq <= 0) continue;
    const key = text.slice(0, eq).trim();
    const value = text.slice(eq + 1);
    if (key.length === 0 || key.length > MAX_KEY || value.length > MAX_VALUE) continue;
    out[key] = value;
  }
  return out;
}
