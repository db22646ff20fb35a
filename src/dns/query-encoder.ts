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
  buf.writeUInt16BE(q.id, 0);
  buf.writeUInt16BE(FLAG_RD, 2);
  buf.writeUInt16BE(1, 4);
  buf.writeUInt32BE(0, 6);
  buf.writeUInt16BE(edns > 0 ? 1 : 0, 10);
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
  buf.writeUInt16BE(RECORD_TYPE_CODES[q.type], off);
  buf.writeUInt16BE(CLASS_IN, off + 2);
  off += 4;
  if (edns > 0) {
    buf[off] = 0;
    buf.writeUInt16BE(TYPE_OPT, off + 1);
    buf.writeUInt16BE(edns, off + 3);
    buf.writeUInt32BE(0, off + 5);
    buf.writeUInt16BE(0, off + 9);
  }
  return buf;
}
