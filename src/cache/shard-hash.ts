/**
 * Stable string hashing for ownership: which shard a key falls in, and which live replica a shard
 * belongs to (rendezvous / highest-random-weight hashing, so a membership change moves only the
 * shards of the replica that came or went).
 */

/** FNV-1a's 32-bit offset basis and prime. */
export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/**
 * FNV-1a, 32 bit, with murmur3's finaliser. Not cryptographic; only needs to be stable across replicas
 * and versions.
 */
export function fnv1a(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return fmix32(h);
}

/**
 * murmur3's fmix32, as an unsigned 32-bit number: FNV alone clusters on short, similar inputs like
 * "3|r1". Also SotW version_info's finaliser (src/xds/versions-digest.ts).
 */
export function fmix32(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export function shardOf(key: string, shards: number): number {
  return fnv1a(key) % shards;
}

/** The member with the highest weight for `shard`; ties broken by id so every replica agrees. */
export function rendezvousOwner(shard: number, members: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestW = -1;
  for (const m of members) {
    const w = fnv1a(`${shard}|${m}`);
    if (w > bestW || (w === bestW && best !== undefined && m < best)) {
      best = m;
      bestW = w;
    }
  }
  return best;
}
