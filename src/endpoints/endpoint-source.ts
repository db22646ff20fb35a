/**
 * What the endpoint pipeline needs from the DNS side (the caching resolver satisfies it): keep names
 * fresh, tell us when an answer changes, and resolve once on demand. Failures never arrive as updates,
 * so a DNS outage leaves the last good answer in place; an empty NOERROR or NXDOMAIN is an answer.
 */
import type { Answer, RecordType } from "../dns/types.js";

export interface EndpointSource {
  track(name: string, type: RecordType): void;
  untrack(name: string, type: RecordType): void;
  onUpdate(cb: (name: string, type: RecordType, answer: Answer) => void): () => void;
  resolve(name: string, type: RecordType): Promise<Answer>;
  /** When the answer currently held for (name, type) expires (unix ms); optional, for the snapshot's TTL left. */
  expiresAt?(name: string, type: RecordType): number | undefined;
}

/** Lower case with the trailing dot, the spelling answers and the cache use. */
export function fqdn(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith(".") ? n : `${n}.`;
}

/** `TYPE name` key of one tracked lookup. */
export const lookupKey = (name: string, type: RecordType): string => `${type} ${fqdn(name)}`;
