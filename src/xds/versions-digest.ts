/**
 * SotW `version_info` of a type's state: a digest of the name → version pairs the client holds. It must
 * be the same on every replica for the same pairs (clients reconnect anywhere), whatever order the pairs
 * were added in, and differ when any pair differs.
 *
 * The digest is a sum, not a hash of the sorted pairs: each pair is hashed on its own (two 32-bit lanes)
 * and the lanes are added modulo 2^32, so the pairs need no sorting, joining or cryptographic hash. A
 * state of ten names is pushed to every stream that watches it on each change (W3 churn, W4's connect
 * storm), and sort + join + sha256 of it was about 4 µs per push. Nothing relies on the digest being
 * hard to forge: versions are content hashes of what we serve, and version_info only tells a client's
 * state apart in logs, CSDS and its next request.
 */

/** The two lanes of the last pair hashed (module scratch: no array per pair). */
let laneA = 0;
let laneB = 0;

/** FNV-1a over `name`, a separator, then `version`, in two lanes with different offset bases. */
function hashPair(name: string, version: string): void {
  let a = 0x811c9dc5;
  let b = 0x2f6b7a13;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  // "=" between the two: ("ab", "c") and ("a", "bc") are different pairs.
  a = Math.imul(a ^ 0x3d, 0x01000193);
  b = Math.imul(b ^ 0x3d, 0x01000193);
  for (let i = 0; i < version.length; i++) {
    const c = version.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  laneA = fmix32(a);
  laneB = fmix32(b);
}

/**
 * murmur3's finaliser: FNV's low bits depend little on the last characters, and a sum of weakly mixed
 * terms would let small changes cancel out.
 */
function fmix32(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/** Stable, order-free digest of a name → version map, as 16 hex digits. */
export function versionsDigest(known: ReadonlyMap<string, string>): string {
  // One resource (the common EDS case): its own content hash already identifies the state.
  if (known.size === 1) for (const v of known.values()) return v;
  let lo = 0;
  let hi = 0;
  for (const [n, v] of known) {
    hashPair(n, v);
    lo = (lo + laneA) | 0;
    hi = (hi + laneB) | 0;
  }
  return hex8(hi) + hex8(lo);
}
