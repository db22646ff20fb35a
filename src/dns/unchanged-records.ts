/**
 * Whether the address records of a reply are the records of the answer already held, so a refresh that
 * brought nothing new can hand back the held array instead of making a thousand new records. Every
 * layer above then sees the same array and stops at an identity check (history, flap guard, change
 * notification) where it used to build and compare key sets. The servers this matters for rotate their
 * record order on every reply (BIND does), so the check is as a multiset, not byte for byte.
 */
import { recordKeys } from "./answer-history.js";
import type { DnsRecord } from "./types.js";
import type { WireRecord } from "./wire-decoder.js";

/** Which held records this check has matched; `epoch` marks the current check's (one check at a time). */
let marks = new Uint32Array(0);
let epoch = 0;

/** True when `wire` holds exactly the records of `held`: same addresses, types and TTLs, in any order. */
export function sameAddressRecords(wire: readonly WireRecord[], held: readonly DnsRecord[]): boolean {
  const n = held.length;
  if (n === 0 || wire.length !== n) return false;
  const index = recordKeys(held);
  // A held answer with duplicate addresses is left to the full path.
  if (index.size !== n) return false;
  if (marks.length < n) marks = new Uint32Array(Math.max(n, marks.length * 2));
  if (++epoch === 0xffff_ffff) {
    marks.fill(0);
    epoch = 1;
  }
  for (let j = 0; j < n; j++) {
    const w = wire[j] as WireRecord;
    const d = w.data;
    if (d.kind !== "A" && d.kind !== "AAAA") return false;
    const i = index.get(d.address);
    if (i === undefined || marks[i] === epoch) return false;
    const h = held[i] as DnsRecord;
    if (h.type !== d.kind || h.ttl !== w.ttl) return false;
    marks[i] = epoch;
  }
  // As many records as held, each matched a distinct held one: the same multiset.
  return true;
}
