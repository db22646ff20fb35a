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
}

export interface ResolveOptions {
  /** Aborts the lookup; the promise rejects with a DnsError of code ERR_DNS_ABORTED. */
  signal?: AbortSignal;
}

/** Looks up one (name, type). Rejects with a `DnsError` when no valid answer could be had. */
export interface Resolver {
  resolve(name: string, type: RecordType, options?: ResolveOptions): Promise<Answer>;
}
