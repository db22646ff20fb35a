/**
 * Strict decoder for DNS replies. dns-packet's decoder accepts much garbage (an A record with RDLENGTH 8,
 * trailing bytes, QDCOUNT 0 with question bytes read as an answer), so replies are read here instead:
 * every section is read to exactly its declared count, every RDATA must fill exactly its RDLENGTH (A = 4,
 * AAAA = 16, names and SRV/SOA fixed parts exactly), compression pointers must point strictly backwards,
 * names ≤ 255 octets, and nothing may follow the last record. Failure returns a reason, never throws.
 * Semantic checks against the query (ID, question, QR, opcode) live in message-validator.ts.
 * A and AAAA addresses are kept as numbers (Ipv4Data, Ipv6Data) and made text only when read.
 */

import { formatIpv6Words, Ipv4Data, Ipv6Data } from "./address-data.js";

export const TYPE_A = 1;
export const TYPE_NS = 2;
export const TYPE_CNAME = 5;
export const TYPE_SOA = 6;
export const TYPE_TXT = 16;
export const TYPE_AAAA = 28;
export const TYPE_SRV = 33;
export const TYPE_OPT = 41;
export const CLASS_IN = 1;

/**
 * A record's RDATA. The decoder gives A and AAAA as Ipv4Data and Ipv6Data (the same `kind` and `address`,
 * plus the numbers: address-data.ts); code that reads only `kind` and `address` may be handed plain objects.
 */
export type RecordData =
  | { kind: "A"; address: string }
  | { kind: "AAAA"; address: string }
  | { kind: "CNAME"; target: string }
  | { kind: "NS"; host: string }
  | { kind: "SRV"; priority: number; weight: number; port: number; target: string }
  | { kind: "SOA"; mname: string; rname: string; serial: number; minimum: number }
  | { kind: "TXT"; strings: string[] }
  | { kind: "OTHER" };

export interface WireRecord {
  /** Owner, lower case with trailing dot; odd octets escaped as \DDD so they never match a valid name. */
  name: string;
  type: number;
  class: number;
  /** TTL as received, with a top-bit-set value (RFC 2181 §8) read as 0. */
  ttl: number;
  data: RecordData;
}

export interface WireQuestion {
  /** Name exactly as on the wire (case preserved, for the 0x20 check), trailing dot. */
  rawName: string;
  type: number;
  class: number;
}

export interface WireMessage {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** Full rcode including the EDNS extended bits. */
  rcode: number;
  questions: WireQuestion[];
  answers: WireRecord[];
  authorities: WireRecord[];
  additionals: WireRecord[];
  /** EDNS UDP payload size when an OPT record was present. */
  ednsUdpSize: number | undefined;
}

export type DecodeFailure =
  | "short-header"
  | "truncated"
  | "bad-label"
  | "bad-pointer"
  | "name-too-long"
  | "bad-rdlength"
  | "trailing-bytes"
  | "bad-opt";

export type DecodeResult = { ok: true; msg: WireMessage } | { ok: false; reason: DecodeFailure };

class Fail {
  constructor(readonly reason: DecodeFailure) {}
}

const MAX_NAME_WIRE = 255;

/** Reads a (possibly compressed) name; returns [name, offset after the name in the original stream]. */
function readName(buf: Uint8Array, start: number, preserveCase: boolean): [string, number] {
  let off = start;
  let end = -1;
  let wireLen = 0;
  // A pointer must point before the position it was read from, so each jump strictly decreases the
  // offset and the walk terminates; segmentStart tracks that bound.
  let segmentStart = start;
  let out = "";
  for (;;) {
    if (off >= buf.length) throw new Fail("truncated");
    const len = buf[off] as number;
    if (len === 0) {
      wireLen += 1;
      off += 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (off + 1 >= buf.length) throw new Fail("truncated");
      const target = ((len & 0x3f) << 8) | (buf[off + 1] as number);
      if (target >= segmentStart) throw new Fail("bad-pointer");
      if (end < 0) end = off + 2;
      off = target;
      segmentStart = target;
      continue;
    }
    if (kind !== 0) throw new Fail("bad-label");
    if (off + 1 + len > buf.length) throw new Fail("truncated");
    wireLen += len + 1;
    if (wireLen > MAX_NAME_WIRE - 1) throw new Fail("name-too-long");
    for (let i = off + 1; i <= off + len; i++) {
      let c = buf[i] as number;
      // Letters, digits, '-', '_', '*' are kept; anything else (including '.') is escaped as \DDD so a
      // label can never impersonate two labels of a valid name.
      const plain =
        (c >= 0x61 && c <= 0x7a) ||
        (c >= 0x41 && c <= 0x5a) ||
        (c >= 0x30 && c <= 0x39) ||
        c === 0x2d ||
        c === 0x5f ||
        c === 0x2a;
      if (!plain) {
        out += `\\${c.toString().padStart(3, "0")}`;
        continue;
      }
      if (!preserveCase && c >= 0x41 && c <= 0x5a) c |= 0x20;
      out += String.fromCharCode(c);
    }
    out += ".";
    off += 1 + len;
  }
  if (out === "") out = ".";
  return [out, end < 0 ? off : end];
}

function readU16(buf: Uint8Array, off: number): number {
  return ((buf[off] as number) << 8) | (buf[off + 1] as number);
}

function readU32(buf: Uint8Array, off: number): number {
  return (
    (((buf[off] as number) << 24) >>> 0) +
    (((buf[off + 1] as number) << 16) | ((buf[off + 2] as number) << 8) | (buf[off + 3] as number))
  );
}

/** RFC 5952 text form of a 16-byte IPv6 address. */
export function formatIpv6(buf: Uint8Array, off: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(readU16(buf, off + i * 2));
  return formatIpv6Words(words);
}

/**
 * An owner name that is only a compression pointer, read once per target: a reply of a thousand records
 * points every owner at the question's name, and decoding it char by char each time was most of the
 * decode's garbage. The walk from a pointer depends on nothing but its target (readName checks each jump
 * against the segment it starts), so the cached name is the one a fresh walk would return.
 */
function readOwner(buf: Uint8Array, off: number, pointed: Map<number, string>): [string, number] {
  const b = buf[off];
  if (b === undefined || (b & 0xc0) !== 0xc0 || off + 1 >= buf.length) return readName(buf, off, false);
  const target = ((b & 0x3f) << 8) | (buf[off + 1] as number);
  if (target >= off) throw new Fail("bad-pointer");
  let name = pointed.get(target);
  if (name === undefined) {
    name = readName(buf, off, false)[0];
    pointed.set(target, name);
  }
  return [name, off + 2];
}

function readRecord(
  buf: Uint8Array,
  off: number,
  out: WireRecord[],
  opt: { size: number | undefined; ext: number; seen: boolean; pointed: Map<number, string> },
  section: 0 | 1 | 2,
): number {
  const [name, afterName] = readOwner(buf, off, opt.pointed);
  if (afterName + 10 > buf.length) throw new Fail("truncated");
  const type = readU16(buf, afterName);
  const klass = readU16(buf, afterName + 2);
  const rawTtl = readU32(buf, afterName + 4);
  const rdlen = readU16(buf, afterName + 8);
  const rdStart = afterName + 10;
  const rdEnd = rdStart + rdlen;
  if (rdEnd > buf.length) throw new Fail("truncated");
  if (type === TYPE_OPT) {
    // One OPT, owned by the root, only in the additional section (RFC 6891 §6.1.1).
    if (section !== 2 || opt.seen || name !== ".") throw new Fail("bad-opt");
    opt.seen = true;
    opt.size = klass;
    opt.ext = rawTtl >>> 24;
    let o = rdStart;
    while (o < rdEnd) {
      if (o + 4 > rdEnd) throw new Fail("bad-opt");
      o += 4 + readU16(buf, o + 2);
      if (o > rdEnd) throw new Fail("bad-opt");
    }
    return rdEnd;
  }
  const ttl = rawTtl >= 0x80000000 ? 0 : rawTtl;
  let data: RecordData;
  switch (type) {
    case TYPE_A:
      if (rdlen !== 4) throw new Fail("bad-rdlength");
      data = new Ipv4Data(readU16(buf, rdStart), readU16(buf, rdStart + 2));
      break;
    case TYPE_AAAA:
      if (rdlen !== 16) throw new Fail("bad-rdlength");
      data = new Ipv6Data(
        readU16(buf, rdStart),
        readU16(buf, rdStart + 2),
        readU16(buf, rdStart + 4),
        readU16(buf, rdStart + 6),
        readU16(buf, rdStart + 8),
        readU16(buf, rdStart + 10),
        readU16(buf, rdStart + 12),
        readU16(buf, rdStart + 14),
      );
      break;
    case TYPE_CNAME:
    case TYPE_NS: {
      const [target, after] = readName(buf, rdStart, false);
      if (after !== rdEnd) throw new Fail("bad-rdlength");
      data = type === TYPE_CNAME ? { kind: "CNAME", target } : { kind: "NS", host: target };
      break;
    }
    case TYPE_SRV: {
      if (rdlen < 7) throw new Fail("bad-rdlength");
      const [target, after] = readName(buf, rdStart + 6, false);
      if (after !== rdEnd) throw new Fail("bad-rdlength");
      data = {
        kind: "SRV",
        priority: readU16(buf, rdStart),
        weight: readU16(buf, rdStart + 2),
        port: readU16(buf, rdStart + 4),
        target,
      };
      break;
    }
    case TYPE_SOA: {
      const [mname, a1] = readName(buf, rdStart, false);
      if (a1 > rdEnd) throw new Fail("bad-rdlength");
      const [rname, a2] = readName(buf, a1, false);
      if (a2 + 20 !== rdEnd) throw new Fail("bad-rdlength");
      const minimum = readU32(buf, a2 + 16);
      data = {
        kind: "SOA",
        mname,
        rname,
        serial: readU32(buf, a2),
        minimum: minimum >= 0x80000000 ? 0 : minimum,
      };
      break;
    }
    case TYPE_TXT: {
      const strings: string[] = [];
      let o = rdStart;
      while (o < rdEnd) {
        const l = buf[o] as number;
        if (o + 1 + l > rdEnd) throw new Fail("bad-rdlength");
        strings.push(Buffer.from(buf.buffer, buf.byteOffset + o + 1, l).toString("utf8"));
        o += 1 + l;
      }
      if (rdlen === 0) throw new Fail("bad-rdlength");
      data = { kind: "TXT", strings };
      break;
    }
    default:
      data = { kind: "OTHER" };
  }
  out.push({ name, type, class: klass, ttl, data });
  return rdEnd;
}

/**
 * Decodes a reply. With `headerOnlyIfTruncated`, a TC=1 message is decoded only up to its question (the
 * rest may be cut anywhere) and returned with empty record sections.
 */
export function decodeMessage(buf: Uint8Array, headerOnlyIfTruncated = true): DecodeResult {
  try {
    if (buf.length < 12) return { ok: false, reason: "short-header" };
    const id = readU16(buf, 0);
    const flags = readU16(buf, 2);
    const qd = readU16(buf, 4);
    const an = readU16(buf, 6);
    const ns = readU16(buf, 8);
    const ar = readU16(buf, 10);
    const tc = (flags & 0x0200) !== 0;
    let off = 12;
    const questions: WireQuestion[] = [];
    for (let i = 0; i < qd; i++) {
      const [rawName, after] = readName(buf, off, true);
      if (after + 4 > buf.length) throw new Fail("truncated");
      questions.push({ rawName, type: readU16(buf, after), class: readU16(buf, after + 2) });
      off = after + 4;
    }
    const answers: WireRecord[] = [];
    const authorities: WireRecord[] = [];
    const additionals: WireRecord[] = [];
    const opt = {
      size: undefined as number | undefined,
      ext: 0,
      seen: false,
      pointed: new Map<number, string>(),
    };
    if (!(tc && headerOnlyIfTruncated)) {
      for (let i = 0; i < an; i++) off = readRecord(buf, off, answers, opt, 0);
      for (let i = 0; i < ns; i++) off = readRecord(buf, off, authorities, opt, 1);
      for (let i = 0; i < ar; i++) off = readRecord(buf, off, additionals, opt, 2);
      if (off !== buf.length) return { ok: false, reason: "trailing-bytes" };
    }
    return {
      ok: true,
      msg: {
        id,
        qr: (flags & 0x8000) !== 0,
        opcode: (flags >> 11) & 0xf,
        aa: (flags & 0x0400) !== 0,
        tc,
        rd: (flags & 0x0100) !== 0,
        ra: (flags & 0x0080) !== 0,
        rcode: (opt.ext << 4) | (flags & 0xf),
        questions,
        answers,
        authorities,
        additionals,
        ednsUdpSize: opt.size,
      },
    };
  } catch (e) {
    if (e instanceof Fail) return { ok: false, reason: e.reason };
    // Defensive: any other exception (a bug here) is still a rejected reply, never an escape.
    return { ok: false, reason: "truncated" };
  }
}
