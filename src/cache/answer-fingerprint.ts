/**
 * The content of an answer as one string: what listeners of a tracked name are told about is exactly
 * what changes this text (rcode, staleness, records without their TTLs as a multiset, SRV targets'
 * addresses, the history's facts). Equal text, nothing to tell.
 */
import { historyFingerprint } from "../dns/answer-history.js";
import type { Answer, DnsRecord } from "../dns/types.js";

/** A record without its TTL, as text. Addresses (the common case, thousands per name) skip JSON. */
function recordKey(r: DnsRecord): string {
  if (r.type === "A" || r.type === "AAAA") return `${r.type} ${r.address}`;
  return JSON.stringify(r, (k, v) => (k === "ttl" ? undefined : v));
}

export function answerFingerprint(a: Answer): string {
  const recs = a.records.map(recordKey).sort();
  const targets = a.targets
    ? [...a.targets]
        .map(
          ([k, t]) =>
            `${k}=${[...t.a, ...t.aaaa].map((r) => (r.type === "A" || r.type === "AAAA" ? r.address : "")).sort()}`,
        )
        .sort()
    : [];
  return `${a.rcode}|${a.stale}|${recs.join(",")}|${targets.join(";")}|${historyFingerprint(a.history)}`;
}
