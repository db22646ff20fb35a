/**
 * The one spelling of a cache key, shared by the local tier, the etcd key layout, and ownership:
 * `${type}/${name}` with the name lower case and fully qualified.
 */
import type { RecordType } from "../dns/types.js";
import { CacheError } from "./errors.js";

const TYPES: ReadonlySet<string> = new Set(["A", "AAAA", "SRV", "TXT"]);

/** Lower-cases and adds the trailing dot; rejects names that cannot be DNS names. */
export function normalizeName(name: string): string {
  let n = name.toLowerCase();
  if (!n.endsWith(".")) n += ".";
  if (n.length > 254 || n === "." || n.includes("..") || n.includes("/")) {
    throw new CacheError("ERR_CACHE_BAD_NAME", `not a DNS name: ${JSON.stringify(name)}`);
  }
  return n;
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
