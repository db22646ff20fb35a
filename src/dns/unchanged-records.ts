/**
 * Whether the address records of a reply are the records of the answer already held, so a refresh that
 * brought nothing new can hand back the held array instead of making a thousand new records. Every
 * layer above then sees the same array and stops at an identity check (history, flap guard, change
 * notification) where it used to build and compare key sets. The servers this matters for rotate their
 * record order on every reply (BIND does), so the check is as a multiset, not byte for byte.
 *
 * It compares numbers, not text: the decoder keeps addresses as numbers (address-data.ts), and each held
 * array gets, once, a hash table from its addresses' numbers to its indexes (held arrays never change and
 * come back on every refresh), so a refresh reads numbers from the reply and makes no strings.
 */
import { randomFillSync } from "node:crypto";
import { Ipv4Data, Ipv6Data, parseIpv4, parseIpv6 } from "./address-data.js";
import { recordKeys } from "./answer-history.js";
import type { DnsRecord } from "./types.js";
import type { RecordData, WireRecord } from "./wire-decoder.js";

const TYPE_A = 1;
const TYPE_AAAA = 2;

/**
 * A held array's addresses by number: open addressing with linear probing, slots holding index + 1 (0 is
 * empty). Record i's type is types[i] and its 16-bit groups are words[8i..8i+7] (an A record: hi, lo).
 */
interface AddressTable {
  readonly slots: Int32Array;
  readonly mask: number;
  /** 32 − log2(slots.length): the hash's top bits pick the slot. */
  readonly shift: number;
  readonly types: Uint8Array;
  readonly words: Uint16Array;
}

/**
 * What a held array allows: a table; "never" when no reply can match it (a non-address record, or an
 * address twice, which is left to the full path); "text" when an address is not in the decoder's
 * spelling (possible only for records from the etcd tier or the cache codec), for which the text
 * comparison, which such a record can still fail exactly as before, is kept.
 */
type HeldAddresses = AddressTable | "never" | "text";

const tables = new WeakMap<readonly DnsRecord[], HeldAddresses>();

/**
 * Per-process random multipliers and offsets of the hash (multiply-shift over the 16-bit groups, a
 * universal family): a server cannot know them, so it cannot pick a thousand addresses that share one
 * slot and turn every lookup into a walk of the whole table. m[0..7] multiply the groups; m[8] and m[9]
 * are the offsets of A and AAAA, so the two types hash apart.
 */
const m = new Uint32Array(10);
randomFillSync(m);
type Ten = [number, number, number, number, number, number, number, number, number, number];
const [m0, m1, m2, m3, m4, m5, m6, m7, offsetA, offsetAAAA] = m as unknown as Ten;

function hashA(hi: number, lo: number): number {
  return (Math.imul(hi, m0) + Math.imul(lo, m1) + offsetA) | 0;
}

function hashAAAA(
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  w4: number,
  w5: number,
  w6: number,
  w7: number,
): number {
  let h = (Math.imul(w0, m0) + Math.imul(w1, m1) + offsetAAAA) | 0;
  h = (h + Math.imul(w2, m2) + Math.imul(w3, m3)) | 0;
  h = (h + Math.imul(w4, m4) + Math.imul(w5, m5)) | 0;
  return (h + Math.imul(w6, m6) + Math.imul(w7, m7)) | 0;
}

/** The held index of the A address (hi, lo), or −1. */
function findA(t: AddressTable, hi: number, lo: number): number {
  const { slots, mask, types, words } = t;
  for (let s = hashA(hi, lo) >>> t.shift; ; s = (s + 1) & mask) {
    const e = slots[s] as number;
    if (e === 0) return -1;
    const i = e - 1;
    const o = i << 3;
    if (types[i] === TYPE_A && words[o] === hi && words[o + 1] === lo) return i;
  }
}

/** The held index of the AAAA address `d`, or −1. */
function findAAAA(t: AddressTable, d: Ipv6Data): number {
  const { slots, mask, types, words } = t;
  const { w0, w1, w2, w3, w4, w5, w6, w7 } = d;
  for (let s = hashAAAA(w0, w1, w2, w3, w4, w5, w6, w7) >>> t.shift; ; s = (s + 1) & mask) {
    const e = slots[s] as number;
    if (e === 0) return -1;
    const i = e - 1;
    const o = i << 3;
    if (
      types[i] === TYPE_AAAA &&
      words[o] === w0 &&
      words[o + 1] === w1 &&
      words[o + 2] === w2 &&
      words[o + 3] === w3 &&
      words[o + 4] === w4 &&
      words[o + 5] === w5 &&
      words[o + 6] === w6 &&
      words[o + 7] === w7
    ) {
      return i;
    }
  }
}

/** Held addresses' types and 16-bit groups, as AddressTable keeps them. */
interface AddressNumbers {
  readonly types: Uint8Array;
  readonly words: Uint16Array;
}

/**
 * The numbers of records the resolver made from a reply, noted as it made them (noteAddressNumbers) and
 * taken when their table is built, so the table of a held array from this process reads no text.
 */
const noted = new WeakMap<readonly DnsRecord[], AddressNumbers>();

/**
 * Notes that `records[i]` was made from `wire[i]` (same type and address) for every i, so the numbers
 * the decoder read need not be parsed back from the records' text. Anything else is not noted.
 */
export function noteAddressNumbers(records: readonly DnsRecord[], wire: readonly WireRecord[]): void {
  const n = records.length;
  if (n === 0 || wire.length !== n) return;
  const types = new Uint8Array(n);
  const words = new Uint16Array(n * 8);
  for (let i = 0; i < n; i++) {
    const d = (wire[i] as WireRecord).data;
    const o = i << 3;
    if (d instanceof Ipv4Data) {
      types[i] = TYPE_A;
      words[o] = d.hi;
      words[o + 1] = d.lo;
    } else if (d instanceof Ipv6Data) {
      types[i] = TYPE_AAAA;
      words[o] = d.w0;
      words[o + 1] = d.w1;
      words[o + 2] = d.w2;
      words[o + 3] = d.w3;
      words[o + 4] = d.w4;
      words[o + 5] = d.w5;
      words[o + 6] = d.w6;
      words[o + 7] = d.w7;
    } else {
      return;
    }
  }
  noted.set(records, { types, words });
}

/**
 * `held`'s addresses as numbers: as noted when the resolver made them, else parsed from their text (held
 * records may be plain objects from the etcd tier or the cache codec). "never" or "text" as HeldAddresses.
 */
function heldNumbers(held: readonly DnsRecord[]): AddressNumbers | "never" | "text" {
  const n = held.length;
  const known = noted.get(held);
  if (known !== undefined) {
    noted.delete(held);
    return known;
  }
  const types = new Uint8Array(n);
  const words = new Uint16Array(n * 8);
  let text = false;
  for (let i = 0; i < n; i++) {
    const h = held[i] as DnsRecord;
    if (h.type === "A") {
      const v = parseIpv4(h.address);
      if (v < 0) text = true;
      words[i << 3] = v >>> 16;
      words[(i << 3) + 1] = v & 0xffff;
      types[i] = TYPE_A;
    } else if (h.type === "AAAA") {
      if (!parseIpv6(h.address, words, i << 3)) text = true;
      types[i] = TYPE_AAAA;
    } else {
      return "never";
    }
  }
  return text ? "text" : { types, words };
}

/** Builds `held`'s table, or says why there is none. */
function buildTable(held: readonly DnsRecord[]): HeldAddresses {
  const n = held.length;
  const numbers = heldNumbers(held);
  if (typeof numbers === "string") return numbers;
  const { types, words } = numbers;
  let bits = 1;
  while (1 << bits < 2 * n) bits++;
  const t: AddressTable = {
    slots: new Int32Array(1 << bits),
    mask: (1 << bits) - 1,
    shift: 32 - bits,
    types,
    words,
  };
  for (let i = 0; i < n; i++) {
    const o = i << 3;
    let s: number;
    if (types[i] === TYPE_A) {
      const hi = words[o] as number;
      const lo = words[o + 1] as number;
      // An address twice: left to the full path, as the text check did. (Implied anyway, since only the
      // first copy is ever found and no reply could mark all n records, but said here, and sooner.)
      if (findA(t, hi, lo) >= 0) return "never";
      s = hashA(hi, lo) >>> t.shift;
    } else {
      const d = Ipv6Data.fromGroups(words, o);
      if (findAAAA(t, d) >= 0) return "never";
      s = hashAAAA(d.w0, d.w1, d.w2, d.w3, d.w4, d.w5, d.w6, d.w7) >>> t.shift;
    }
    while (t.slots[s] !== 0) s = (s + 1) & t.mask;
    t.slots[s] = i + 1;
  }
  return t;
}

/**
 * The numbers of a reply's address record: the decoder's own, or parsed from a plain object's text
 * (records not from the decoder); undefined for any other record, or text not in the decoder's spelling
 * (which no held address in a table has, so it could not match).
 */
function numbersOf(d: RecordData): Ipv4Data | Ipv6Data | undefined {
  if (d instanceof Ipv4Data || d instanceof Ipv6Data) return d;
  if (d.kind === "A") return Ipv4Data.fromText(d.address);
  if (d.kind === "AAAA") return Ipv6Data.fromText(d.address);
  return undefined;
}

/** Which held records this check has matched; `epoch` marks the current check's (one check at a time). */
let marks = new Uint32Array(0);
let epoch = 0;

function nextEpoch(n: number): void {
  if (marks.length < n) marks = new Uint32Array(Math.max(n, marks.length * 2));
  if (++epoch === 0xffff_ffff) {
    marks.fill(0);
    epoch = 1;
  }
}

/** True when `wire` holds exactly the records of `held`: same addresses, types and TTLs, in any order. */
export function sameAddressRecords(wire: readonly WireRecord[], held: readonly DnsRecord[]): boolean {
  const n = held.length;
  if (n === 0 || wire.length !== n) return false;
  let t = tables.get(held);
  if (t === undefined) {
    t = buildTable(held);
    tables.set(held, t);
  }
  if (t === "never") return false;
  if (t === "text") return sameByText(wire, held);
  nextEpoch(n);
  for (let j = 0; j < n; j++) {
    const w = wire[j] as WireRecord;
    const d = numbersOf(w.data);
    if (d === undefined) return false;
    const i = d.kind === "A" ? findA(t, d.hi, d.lo) : findAAAA(t, d);
    if (i < 0 || marks[i] === epoch) return false;
    if ((held[i] as DnsRecord).ttl !== w.ttl) return false;
    marks[i] = epoch;
  }
  // As many records as held, each matched a distinct held one: the same multiset.
  return true;
}

/** The check by address text, for a held array with an address in another spelling than the decoder's. */
function sameByText(wire: readonly WireRecord[], held: readonly DnsRecord[]): boolean {
  const n = held.length;
  const index = recordKeys(held);
  // A held answer with duplicate addresses is left to the full path.
  if (index.size !== n) return false;
  nextEpoch(n);
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
  return true;
}
