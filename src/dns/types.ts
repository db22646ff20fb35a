/**
 * The resolver contract every stage after DNS depends on. The wire resolver (src/dns), the caching
 * tiers (src/cache) and test doubles all implement `Resolver`, so a stage never knows which it has.
 */

/** Record types dns-eds looks up. */
export type RecordType = "A" | "AAAA" | "SRV" | "TXT";

/** One record of an answer; `ttl` is the record's own TTL in seconds as received (top bit set → 0). */
export type DnsRecord =
  | { type: "A"; address: string; ttl: number }
  | { type: "AAAA"; address: string; ttl: number }
  | { type: "SRV"; priority: number; weight: number; port: number; target: string; ttl: number }
  | { type: "TXT"; strings: string[]; ttl: number };

/** Outcome of a lookup that produced a DNS answer. NXDOMAIN and NODATA are answers, not errors. */
export interface Answer {
  /** Query name, lower case, fully qualified with a trailing dot. */
  name: string;
  type: RecordType;
  /** 0 NOERROR, 3 NXDOMAIN. */
  rcode: number;
  /** Records of the requested type, after CNAME chasing and scrubbing (empty for NXDOMAIN/NODATA). */
  records: DnsRecord[];
  /** TTL in seconds the answer may be cached for (clamped; negative TTL for NXDOMAIN/NODATA). */
  ttl: number;
  /** `host:port` of the server that answered, or the tier that served it (e.g. "etcd"). */
  server: string;
  /** Unix ms when the answer was received from DNS. */
  resolvedAt: number;
  /** True when served past its TTL because every server failed (RFC 8767). */
  stale: boolean;
  /** For SRV answers: addresses of targets, keyed by lower-case target name with trailing dot. */
  targets?: ReadonlyMap<string, { a: DnsRecord[]; aaaa: DnsRecord[] }>;
  /**
   * For SRV answers: targets whose follow-up lookup failed (or that are not host names), with why.
   * They have no addresses in `targets`; the rest of the answer stands. Not shared through etcd.
   */
  targetErrors?: ReadonlyMap<string, string>;
  /**
   * What this name's earlier answers said (A, AAAA and SRV; see answer-history.ts): recorded by the
   * cache where the answer was resolved and shared with it. Absent from the wire resolver's answers.
   */
  history?: AnswerHistory;
}

/** The endpoint-bearing part of an answer. */
export interface AnswerContent {
  records: DnsRecord[];
  /** SRV answers: the targets' addresses, as in `Answer.targets`. */
  targets?: ReadonlyMap<string, { a: DnsRecord[]; aaaa: DnsRecord[] }>;
  /** Clamped TTL, seconds, the answer was cached with. */
  ttl: number;
  /** Unix ms it was resolved. */
  resolvedAt: number;
}

/** A non-empty answer that lacks records of the confirmed one, seen once so far. */
export interface PendingShrink {
  content: AnswerContent;
  /** `resolvedAt` of the sighting. */
  since: number;
}

export interface AnswerHistory {
  /**
   * The last non-empty answer that is confirmed: it removed nothing from the one before, or it was
   * seen on two resolutions in a row (an empty run in between does not break the row).
   */
  confirmed: AnswerContent;
  /** `resolvedAt` of the first empty answer after `confirmed` or `pending`; absent while not empty. */
  emptySince?: number;
  /** The latest non-empty answer when it removed records from `confirmed` and awaits a second sighting. */
  pending?: PendingShrink;
}

export interface ResolveOptions {
  /** Aborts the lookup; the promise rejects with a DnsError of code ERR_DNS_ABORTED. */
  signal?: AbortSignal;
  /**
   * The records of the answer the caller holds for this (name, type). When the new answer's address
   * records are the same (addresses, types and TTLs, in any order), the answer carries this very array
   * (never copied, never changed), so an unchanged refresh shows as `answer.records === previous`.
   */
  previous?: readonly DnsRecord[];
}

/** Looks up one (name, type). Rejects with a `DnsError` when no valid answer could be had. */
export interface Resolver {
  resolve(name: string, type: RecordType, options?: ResolveOptions): Promise<Answer>;
}
