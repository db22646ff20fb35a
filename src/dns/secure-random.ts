/**
 * Cryptographic randomness for query IDs and 0x20 case bits (RFC 5452: IDs must be unpredictable).
 * Reads from a refilled buffer so a query costs no syscall.
 */
import { randomFillSync } from "node:crypto";

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let pos = POOL_BYTES;

function take(n: number): number {
  if (pos + n > POOL_BYTES) {
    randomFillSync(pool);
    pos = 0;
  }
  const at = pos;
  pos += n;
  return at;
}

/** A uniformly random 16-bit query ID. */
export function randomQueryId(): number {
  return pool.readUInt16BE(take(2));
}

/** `n` random bytes (a copy). */
export function randomBytesFromPool(n: number): Uint8Array {
  const at = take(n);
  return Uint8Array.prototype.slice.call(pool, at, at + n);
}
