/**
 * The one spelling of a cache key, shared by the local tier, the etcd key layout, and ownership:
 * `${type}/${name}` with the name lower case and fully qualified.
 */
import { nameProblem } from "../dns/name-validation.js";
import type { RecordType } from "../dns/types.js";
import { CacheError } from "./errors.js";

const TYPES: ReadonlySet<string> = new Set(["A", "AAAA", "SRV", "TXT"]);

/**
 * Lower-cases and adds the trailing dot; rejects names the resolver would not look up (the one
 * validator, src/dns/name-validation.ts, with its `lookup` rules: the cache holds what DNS answered).
 */
export function normalizeName(name: string): string {
  const problem = nameProblem(name, "lookup");
  if (problem !== undefined) {
    throw new CacheError("ERR_CACHE_BAD_NAME", `not a DNS name: ${JSON.stringify(name)} (${problem})`);
  }
  const n = name.toLowerCase();
  return n.endsWith(".") ? n : `${n}.`;
}

export function cacheKey(name: string, type: RecordType): string {
  return `${type}/${name}`;
}

export function parseCacheKey(key: string): { type: RecordType; name: string } | undefined {
  const slash = key.indexOf("/");
  if (slash <= 0) return undefined;
  const type = key.slice(0, slash);
  const name = key.slice(slash + 1);
  if (!TYPES.has(type) || !name.endsWith(".")) return undefined;
  return { type: type as RecordType, name };
}
