/**
 * Builds query messages: one question, RD set, EDNS0 OPT advertising a 1232-byte UDP payload (the DNS
 * flag day 2020 value that avoids IP fragmentation). The bytes are exactly what dns-packet's encoder
 * produces for the same query (test/dns/wire-and-names.test.ts checks this against dns-packet), written
 * directly because dns-packet's generic encoder was the largest single cost of a lookup in the profile.
 * Names must already be validated (name-validation.ts): ASCII letters, digits, '-', '_' only.
 */
import type { RecordType } from "./types.js";

export const EDNS_UDP_PAYLOAD = 1232;

export const RECORD_TYPE_CODES: Readonly<Record<RecordType, number>> = { A: 1, AAAA: 28, SRV: 33, TXT: 16 };

const FLAG_RD = 0x0100;
const TYPE_OPT = 41;
const CLASS_IN = 1;
const OPT_RR_BYTES = 11;

export interface QuerySpec {
  id: number;
  /** Name as it goes on the wire (0x20 case applied), with or without trailing dot. */
  name: string;
  type: RecordType;
  /** EDNS UDP payload size to advertise; 0 sends no OPT record. */
  ednsUdpSize?: number;
}

export function encodeQuery(q: QuerySpec): Buffer {
  const edns = q.ednsUdpSize ?? EDNS_UDP_PAYLOAD;
  const name = q.name.endsWith(".") ? q.name.slice(0, -1) : q.name;
  // Wire name: one length byte per label plus the characters (dots become length bytes) plus the root.
  const nameBytes = name.length === 0 ? 1 : name.length + 2;
  const buf = Buffer.allocUnsafe(12 + nameBytes + 4 + (edns > 0 ? OPT_RR_BYTES : 0));
  // Plain byte stores: the bounds-checked writeUInt16BE calls showed in the cold-path profile.
  buf[0] = q.id >> 8;
  buf[1] = q.id & 0xff;
  buf[2] = FLAG_RD >> 8;
  buf[3] = FLAG_RD & 0xff;
  buf[4] = 0;
  buf[5] = 1;
  buf[6] = 0;
  buf[7] = 0;
  buf[8] = 0;
  buf[9] = 0;
  buf[10] = 0;
  buf[11] = edns > 0 ? 1 : 0;
  let off = 12;
  if (name.length > 0) {
    let lenAt = off++;
    let len = 0;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c === 0x2e) {
        buf[lenAt] = len;
        lenAt = off++;
        len = 0;
      } else {
        buf[off++] = c;
        len++;
      }
    }
    buf[lenAt] = len;
  }
  buf[off++] = 0;
  const qtype = RECORD_TYPE_CODES[q.type];
  buf[off++] = qtype >> 8;
  buf[off++] = qtype & 0xff;
  buf[off++] = CLASS_IN >> 8;
  buf[off++] = CLASS_IN & 0xff;
  if (edns > 0) {
    // OPT: root owner, type 41, CLASS = payload size, TTL 0 (ext rcode, version, flags), RDLEN 0.
    buf[off++] = 0;
    buf[off++] = TYPE_OPT >> 8;
    buf[off++] = TYPE_OPT & 0xff;
    buf[off++] = edns >> 8;
    buf[off++] = edns & 0xff;
    for (let i = 0; i < 6; i++) buf[off + i] = 0;
  }
  return buf;
}
