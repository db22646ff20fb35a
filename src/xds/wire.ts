/**
 * The few protobuf wire-format primitives the response encoder needs to splice pre-encoded bytes
 * together (tags, varint lengths, string fields) without building a message object per stream.
 */

const WIRE_LEN = 2;
const textEncoder = new TextEncoder();

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Tag + length prefix of a length-delimited field. */
export function lenPrefix(field: number, len: number): Uint8Array {
  const tag = (field << 3) | WIRE_LEN;
  const out = new Uint8Array(varintSize(tag) + varintSize(len));
  writeVarint(out, writeVarint(out, 0, tag), len);
  return out;
}

/** A complete length-delimited field holding `payload`. */
export function lenField(field: number, payload: Uint8Array): Uint8Array {
  const prefix = lenPrefix(field, payload.length);
  const out = new Uint8Array(prefix.length + payload.length);
  out.set(prefix, 0);
  out.set(payload, prefix.length);
  return out;
}

/** A string field; empty strings are omitted, as proto3 does. */
export function stringField(field: number, value: string): Uint8Array {
  if (value === "") return new Uint8Array(0);
  return lenField(field, textEncoder.encode(value));
}
