/**
 * Turns DNS TXT records next to a name into endpoint metadata, so operators can label endpoints for
 * Envoy's subset load balancer without touching dns-eds config. Two conventions are read:
 * - DNS-SD (RFC 6763 §6): each character-string of a record is one `key=value`, e.g.
 *   `"version=v1" "team=demo"`; used when a record has several strings and every one holds a `=`.
 * - RFC 1464: one `key=value` per record; a record's strings are joined first, because a value longer
 *   than 255 octets is split across strings on the wire (and then some piece lacks a `=`).
 */
import type { DnsRecord } from "../dns/types.js";

/** Keys and values longer than this are ignored: metadata rides in every EDS push. */
const MAX_KEY = 63;
const MAX_VALUE = 255;

/** The `key=value` texts one record holds, by the rule above. */
function pairsOf(strings: readonly string[]): string[] {
  if (strings.length > 1 && strings.every((s) => s.includes("="))) return [...strings];
  return [strings.join("")];
}

/**
 * Texts without `=` or with an empty key are skipped, as are oversized ones. Within one DNS-SD record
 * the first occurrence of a key counts (RFC 6763 §6.4); across records a later record with the same
 * key wins, so the result does not depend on how the server ordered duplicates beyond "last one seen".
 */
export function parseTxtMetadata(records: readonly DnsRecord[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of records) {
    if (r.type !== "TXT") continue;
    const seen = new Set<string>();
    for (const text of pairsOf(r.strings)) {
      const eq = text.indexOf("=");
      if (eq <= 0) continue;
      const key = text.slice(0, eq).trim();
      const value = text.slice(eq + 1);
      if (key.length === 0 || key.length > MAX_KEY || value.length > MAX_VALUE || seen.has(key)) continue;
      seen.add(key);
      out[key] = value;
    }
  }
  return out;
}
