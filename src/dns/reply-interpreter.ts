/**
 * Turns one validated reply into a step of a lookup: the records of the asked type for the query name
 * or the end of its CNAME chain, a negative answer (NXDOMAIN/NODATA with its SOA-derived TTL), or the
 * next name to ask for when the server stopped at a CNAME it is not authoritative for. Scrubbing: only
 * records owned by the query name or a link of its chain are used (plus an SOA at or above the last
 * link, for the negative TTL); everything else in the reply is ignored.
 */
import { isSubdomainOf } from "./name-validation.js";
import { CLASS_IN, TYPE_CNAME, TYPE_SOA, type WireMessage, type WireRecord } from "./wire-decoder.js";

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

/** CNAME links followed across all queries of one lookup before giving up. */
export const MAX_CNAME_LINKS = 12;

export interface ChainState {
  /** The name the lookup started from (lower case, trailing dot). */
  start: string;
  /**
   * Every name of the chain so far, for loop detection; created at the first CNAME, since most lookups
   * have none and a Set per lookup showed in the cold-path profile.
   */
  visited: Set<string> | undefined;
  links: number;
  maxLinks: number;
}

export type ReplyStep =
  | {
      kind: "final";
      rcode: number;
      /** Name the records (or the negative answer) belong to: the last link of the chain. */
      finalName: string;
      records: WireRecord[];
      /** Min TTL of the CNAME links used and the records (positive) or min(SOA TTL, MINIMUM) (negative). */
      ttl: number;
      /** Min TTL of the CNAME links of this reply alone, for a caller that drops some records. */
      linkTtl: number;
    }
  | { kind: "continue"; nextName: string; ttl: number }
  | { kind: "loop"; name: string }
  | { kind: "too-long" };

/** The SOA in the authority section at or above `name`: it vouches for a negative answer about it. */
function enclosingSoa(msg: WireMessage, name: string): WireRecord | undefined {
  return msg.authorities.find(
    (r) =>
      r.type === TYPE_SOA && r.class === CLASS_IN && r.data.kind === "SOA" && isSubdomainOf(name, r.name),
  );
}

/** RFC 2308 §5: a negative answer may be cached for min(SOA TTL, SOA MINIMUM); 0 without an SOA. */
function negativeTtl(msg: WireMessage, name: string): number {
  const soa = enclosingSoa(msg, name);
  return soa?.data.kind === "SOA" ? Math.min(soa.ttl, soa.data.minimum) : 0;
}

/** Interprets a NOERROR or NXDOMAIN reply for `name`/`qtype`; mutates `chain`. */
export function interpretReply(msg: WireMessage, name: string, qtype: number, chain: ChainState): ReplyStep {
  let current = name;
  let ttl = Number.POSITIVE_INFINITY;
  let linkTtl = ttl;
  // Plain loops rather than filter/find with closures: this runs on every reply of a cold lookup.
  const answers = msg.answers;
  for (;;) {
    let records: WireRecord[] | undefined;
    let cname: WireRecord | undefined;
    for (const r of answers) {
      if (r.name !== current || r.class !== CLASS_IN) continue;
      if (r.type === qtype) {
        if (records === undefined) {
          records = [];
          linkTtl = ttl;
        }
        records.push(r);
        if (r.ttl < ttl) ttl = r.ttl;
      } else if (r.type === TYPE_CNAME && cname === undefined) cname = r;
    }
    if (records !== undefined) {
      return { kind: "final", rcode: RCODE_NOERROR, finalName: current, records, ttl, linkTtl };
    }
    if (cname?.data.kind !== "CNAME") break;
    chain.links++;
    if (chain.links > chain.maxLinks) return { kind: "too-long" };
    const target = cname.data.target;
    chain.visited ??= new Set([chain.start]);
    if (chain.visited.has(target)) return { kind: "loop", name: target };
    chain.visited.add(target);
    ttl = Math.min(ttl, cname.ttl);
    current = target;
  }
  if (msg.rcode === RCODE_NOERROR && current !== name && enclosingSoa(msg, current) === undefined) {
    // The server gave us a CNAME but nothing about its target (typical of an authoritative server
    // whose zone does not hold the target): ask for the target.
    return { kind: "continue", nextName: current, ttl };
  }
  return {
    kind: "final",
    rcode: msg.rcode,
    finalName: current,
    records: [],
    ttl: Math.min(ttl, negativeTtl(msg, current)),
    linkTtl: ttl,
  };
}
