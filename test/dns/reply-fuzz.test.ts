// Bounded fuzz of the reply path: 200,000 mutated replies (bit flips, byte overwrites, truncation,
// insertion, duplicated tails, count changes) through validateReply. Nothing may throw, and whatever is
// accepted must be well formed by an independent structural walk written here (counts as declared, A
// RDLENGTH 4, AAAA 16, no trailing bytes, TTLs < 2^31, the question equal to ours).
import dnsPacket from "dns-packet";
import { describe, expect, it } from "vitest";
import { type ExpectedReply, validateReply } from "../../src/dns/message-validator.js";

const ID = 0x1234;
const NAME = "svc.fuzz.test";

function seed(
  type: "A" | "AAAA" | "SRV",
  answers: dnsPacket.Answer[],
  extra: Partial<dnsPacket.Packet> = {},
) {
  const buf = dnsPacket.encode({
    type: "response",
    id: ID,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ type, name: NAME, class: "IN" }],
    answers,
    ...extra,
  });
  return { buf, type };
}

const SOA: dnsPacket.Answer = {
  type: "SOA",
  name: "fuzz.test",
  ttl: 60,
  data: {
    mname: "ns.fuzz.test",
    rname: "h.fuzz.test",
    serial: 1,
    refresh: 1,
    retry: 1,
    expire: 1,
    minimum: 30,
  },
};

const SEEDS = [
  seed("A", [
    { type: "A", name: NAME, ttl: 30, data: "127.0.0.1" },
    { type: "A", name: NAME, ttl: 40, data: "10.0.0.1" },
  ]),
  seed("AAAA", [{ type: "AAAA", name: NAME, ttl: 30, data: "2001:db8::1" }]),
  seed("A", [
    { type: "CNAME", name: NAME, ttl: 30, data: "x.fuzz.test" },
    { type: "A", name: "x.fuzz.test", ttl: 30, data: "127.0.0.2" },
  ]),
  seed(
    "SRV",
    [{ type: "SRV", name: NAME, ttl: 30, data: { priority: 1, weight: 2, port: 80, target: "t.fuzz.test" } }],
    {
      additionals: [
        { type: "A", name: "t.fuzz.test", ttl: 30, data: "127.0.0.3" },
        { type: "OPT", name: ".", udpPayloadSize: 1232 } as dnsPacket.Answer,
      ],
    },
  ),
  seed("A", [], { authorities: [SOA] }),
];

/** Independent walk: returns false when the buffer is not a well-formed message as declared. */
function wellFormed(buf: Buffer, expectType: number): boolean {
  const skipName = (o: number): number => {
    for (let hops = 0; hops < 128; hops++) {
      if (o >= buf.length) return -1;
      const l = buf[o] as number;
      if (l === 0) return o + 1;
      if ((l & 0xc0) === 0xc0) return o + 1 < buf.length ? o + 2 : -1;
      if ((l & 0xc0) !== 0) return -1;
      o += 1 + l;
    }
    return -1;
  };
  if (buf.length < 12 || buf.readUInt16BE(0) !== ID || (buf[2] as number) >> 7 !== 1) return false;
  if (buf.readUInt16BE(4) !== 1) return false;
  let o = skipName(12);
  if (o < 0 || o + 4 > buf.length || buf.readUInt16BE(o) !== expectType || buf.readUInt16BE(o + 2) !== 1)
    return false;
  o += 4;
  const rrs = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  for (let i = 0; i < rrs; i++) {
    o = skipName(o);
    if (o < 0 || o + 10 > buf.length) return false;
    const type = buf.readUInt16BE(o);
    const rdlen = buf.readUInt16BE(o + 8);
    if (type === 1 && rdlen !== 4) return false;
    if (type === 28 && rdlen !== 16) return false;
    o += 10 + rdlen;
    if (o > buf.length) return false;
  }
  return o === buf.length;
}

function rng(seedValue: number) {
  let s = seedValue >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(src: Buffer, rand: () => number): Buffer {
  const b = Buffer.from(src);
  const pos = () => 2 + Math.floor(rand() * Math.max(1, b.length - 2)); // keep the ID so checks go deep
  const n = 1 + Math.floor(rand() * 3);
  let out = b;
  for (let k = 0; k < n; k++) {
    const op = Math.floor(rand() * 7);
    if (op === 0) {
      const p = pos();
      out[p] = (out[p] as number) ^ (1 << Math.floor(rand() * 8));
    } else if (op === 1) {
      out[pos()] = Math.floor(rand() * 256);
    } else if (op === 2) {
      out = out.subarray(0, Math.max(0, pos()));
    } else if (op === 3) {
      const p = pos();
      out = Buffer.concat([out.subarray(0, p), Buffer.from([Math.floor(rand() * 256)]), out.subarray(p)]);
    } else if (op === 4) {
      out = Buffer.concat([out, out.subarray(Math.min(out.length, pos()))]);
    } else if (op === 5 && out.length >= 12) {
      const field = 4 + 2 * Math.floor(rand() * 4);
      out.writeUInt16BE((out.readUInt16BE(field) + (rand() < 0.5 ? 1 : -1)) & 0xffff, field);
    } else if (out.length >= 12) {
      // Point a compression pointer somewhere random.
      const p = pos();
      if (p + 1 < out.length) out.writeUInt16BE(0xc000 | Math.floor(rand() * out.length), p);
    }
  }
  return Buffer.from(out);
}

const TYPES = { A: 1, AAAA: 28, SRV: 33 } as const;

describe("reply fuzz", () => {
  it("the seeds themselves are accepted and well formed", () => {
    for (const s of SEEDS) {
      const exp: ExpectedReply = { id: ID, wireName: `${NAME}.`, type: TYPES[s.type], caseSensitive: true };
      expect(validateReply(s.buf, exp).ok).toBe(true);
      expect(wellFormed(s.buf, TYPES[s.type])).toBe(true);
    }
  });

  it("200,000 mutated replies: no throw, nothing malformed accepted", () => {
    const rand = rng(0xd15ea5e);
    let accepted = 0;
    let malformedAccepted = 0;
    let thrown = 0;
    for (let i = 0; i < 200_000; i++) {
      const s = SEEDS[i % SEEDS.length] as (typeof SEEDS)[0];
      const buf = mutate(s.buf, rand);
      const exp: ExpectedReply = { id: ID, wireName: `${NAME}.`, type: TYPES[s.type], caseSensitive: true };
      try {
        const v = validateReply(buf, exp);
        if (!v.ok) continue;
        const m = v.msg;
        if (m.tc) {
          // A truncated reply only sends the lookup to TCP: its sections are never read or used.
          if (m.answers.length + m.authorities.length + m.additionals.length > 0) malformedAccepted++;
          continue;
        }
        accepted++;
        const ttlsOk = [...m.answers, ...m.authorities, ...m.additionals].every(
          (r) => r.ttl >= 0 && r.ttl < 2 ** 31,
        );
        if (!wellFormed(buf, TYPES[s.type]) || !ttlsOk) malformedAccepted++;
      } catch {
        thrown++;
      }
    }
    expect(thrown).toBe(0);
    expect(malformedAccepted).toBe(0);
    // Some mutations are harmless (a TTL or address byte changed): the fuzz must reach acceptance too.
    expect(accepted).toBeGreaterThan(1000);
  });
});
