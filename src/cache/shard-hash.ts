/**
 * Stable string hashing for ownership: which shard a key falls in, and which live replica a shard
 * belongs to (rendezvous / highest-random-weight hashing, so a membership change moves only the
 * shards of the replica that came or went).
 */

/** FNV-1a, 32 bit. Not cryptographic; only needs to be stable across replicas and versions. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32): FNV alone clusters on short, similar inputs like "3|r1".
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
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
