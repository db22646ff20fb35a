/**
 * What a name's recent answers said, carried on its latest answer (issue 16): the last confirmed
 * non-empty answer, since when the name has answered empty (NXDOMAIN or NODATA), and a shrunken answer
 * seen only once. These are facts, not decisions: the replica that resolves a name records them (with
 * etcd, the name's owner) and they travel with the answer, so every replica holds the same facts, and
 * the endpoints stage applies each cluster's grace and damping to them. Observation times are the
 * answers' own `resolvedAt`, never a local clock, so a new owner continues a grace instead of restarting it.
 */
import type { Answer, AnswerContent, AnswerHistory, DnsRecord, RecordType } from "./types.js";

export type { AnswerContent, AnswerHistory, PendingShrink } from "./types.js";

/** Only answers that carry endpoints have a history; TXT (metadata) is taken as it comes. */
export const HISTORY_TYPES: ReadonlySet<RecordType> = new Set<RecordType>(["A", "AAAA", "SRV"]);

/** NXDOMAIN, or NOERROR with no records of the type (NODATA). */
export function isEmptyAnswer(a: Pick<Answer, "rcode" | "records">): boolean {
  return a.rcode !== 0 || a.records.length === 0;
}

const fqdn = (name: string): string => {
  const n = name.toLowerCase();
  return n.endsWith(".") ? n : `${n}.`;
};

/**
 * What identifies a record as one endpoint source: the address, or an SRV target and port (priority
 * and weight may change without anything being removed).
 */
export function recordKey(r: DnsRecord): string {
  switch (r.type) {
    case "A":
    case "AAAA":
      return r.address;
    case "SRV":
      return `${fqdn(r.target)}|${r.port}`;
    case "TXT":
      return r.strings.join("");
  }
}

/**
 * Key indexes by records array. An answer's records are never changed once the answer exists, and the
 * same arrays come back on every refresh: a name's previous answer is the next one's base (history,
 * flap guard, the resolver's unchanged-answer check), so without this each refresh of a
 * thousand-record name built its key sets again. The index lives as long as its array (a few dozen
 * bytes per record, for the answers the cache holds).
 */
const keyIndexes = new WeakMap<readonly DnsRecord[], ReadonlyMap<string, number>>();

/** Each distinct key of `records` → the index of its first record (fewer entries than records: duplicates). */
export function recordKeys(records: readonly DnsRecord[]): ReadonlyMap<string, number> {
  let keys = keyIndexes.get(records);
  if (keys === undefined) {
    const m = new Map<string, number>();
    for (let i = 0; i < records.length; i++) {
      const k = recordKey(records[i] as DnsRecord);
      if (!m.has(k)) m.set(k, i);
    }
    keys = m;
    keyIndexes.set(records, keys);
  }
  return keys;
}

/**
 * The keys of `records`, sorted and joined: order-free text of the set. Not kept: a fingerprint is taken
 * once per answer, and only when its content changed, so keeping the text would only hold memory.
 */
function sortedKeyText(records: readonly DnsRecord[]): string {
  return [...recordKeys(records).keys()].sort().join(",");
}

/** How many distinct records of `base` are missing from `next`. */
export function missingCount(base: readonly DnsRecord[], next: readonly DnsRecord[]): number {
  // The resolver hands back the held array itself when a refresh brought the same records.
  if (base === next) return 0;
  const have = recordKeys(next);
  let missing = 0;
  for (const k of recordKeys(base).keys()) if (!have.has(k)) missing++;
  return missing;
}

/** Same records (by key), in any order. */
export function sameRecords(a: readonly DnsRecord[], b: readonly DnsRecord[]): boolean {
  if (a === b) return true;
  const ka = recordKeys(a);
  const kb = recordKeys(b);
  if (ka.size !== kb.size) return false;
  for (const k of ka.keys()) if (!kb.has(k)) return false;
  return true;
}

export function contentOf(a: Answer): AnswerContent {
  const c: AnswerContent = { records: a.records, ttl: a.ttl, resolvedAt: a.resolvedAt };
  if (a.targets) c.targets = a.targets;
  return c;
}

/** The history an answer carries, or the one implied by a non-empty answer that carries none. */
export function historyOf(a: Answer): AnswerHistory | undefined {
  if (a.history) return a.history;
  if (!HISTORY_TYPES.has(a.type) || isEmptyAnswer(a)) return undefined;
  return { confirmed: contentOf(a) };
}

/**
 * The history of `next`, given the answer held before it for the same (name, type). `next` must be a
 * new resolution: an answer no newer than `prev` with the same content is the same sighting again (a
 * cache tier and a watch can both deliver it) and gets `prev`'s history instead of counting twice.
 */
export function recordAnswer(prev: Answer | undefined, next: Answer): AnswerHistory | undefined {
  if (!HISTORY_TYPES.has(next.type)) return undefined;
  const before = prev ? historyOf(prev) : undefined;
  if (
    prev &&
    next.resolvedAt <= prev.resolvedAt &&
    isEmptyAnswer(next) === isEmptyAnswer(prev) &&
    sameRecords(next.records, prev.records)
  ) {
    return before;
  }
  if (isEmptyAnswer(next)) {
    if (!before) return undefined;
    // The first empty answer starts the run; later ones keep its start, so the grace is not renewed.
    const h: AnswerHistory = {
      confirmed: before.confirmed,
      emptySince: before.emptySince ?? next.resolvedAt,
    };
    if (before.pending) h.pending = before.pending;
    return h;
  }
  const content = contentOf(next);
  if (!before) return { confirmed: content };
  // Growth, reordering, changed weights: nothing was removed, so nothing needs a second look.
  if (missingCount(before.confirmed.records, next.records) === 0) return { confirmed: content };
  // Seen again on the next resolution: confirmed.
  if (before.pending && sameRecords(before.pending.content.records, next.records))
    return { confirmed: content };
  return { confirmed: before.confirmed, pending: { content, since: next.resolvedAt } };
}

/** A short stable text of a history, for change detection (content, not TTLs or times of confirmation). */
export function historyFingerprint(h: AnswerHistory | undefined): string {
  if (!h) return "";
  return `c=${sortedKeyText(h.confirmed.records)};e=${h.emptySince ?? ""};p=${h.pending ? `${h.pending.since}:${sortedKeyText(h.pending.content.records)}` : ""}`;
}
