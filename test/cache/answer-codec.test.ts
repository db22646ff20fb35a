/** dnseds.v1.CachedAnswer round trips (A, SRV with targets, negative) and rejects garbage with a stable code. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeAnswer, encodeAnswer } from "../../src/cache/answer-codec.js";
import type { Answer, DnsRecord, RecordType } from "../../src/dns/types.js";

type SrvRecord = Extract<DnsRecord, { type: "SRV" }>;

import { seeded } from "../support/property-seed.js";

describe("answer codec", () => {
  it("round-trips an A answer with its metadata", () => {
    const a: Answer = {
      name: "api.example.test.",
      type: "A",
      rcode: 0,
      records: [
        { type: "A", address: "10.0.0.1", ttl: 30 },
        { type: "A", address: "10.0.0.2", ttl: 20 },
      ],
      ttl: 20,
      server: "127.0.0.1:5353",
      resolvedAt: 1_764_000_000_123,
      stale: false,
    };
    const d = decodeAnswer(encodeAnswer(a, "r1"));
    expect(d.resolvedBy).toBe("r1");
    expect(d.answer).toEqual(a);
  });

  it("round-trips SRV with target addresses and a negative answer", () => {
    const srv: Answer = {
      name: "_grpc._tcp.svc.test.",
      type: "SRV",
      rcode: 0,
      records: [{ type: "SRV", priority: 1, weight: 10, port: 8080, target: "b1.svc.test.", ttl: 60 }],
      ttl: 60,
      server: "[::1]:53",
      resolvedAt: 5,
      stale: false,
      targets: new Map([
        [
          "b1.svc.test.",
          {
            a: [{ type: "A", address: "127.0.0.2", ttl: 60 }],
            aaaa: [{ type: "AAAA", address: "::1", ttl: 60 }],
          },
        ],
      ]),
    };
    expect(decodeAnswer(encodeAnswer(srv, "r2")).answer).toEqual(srv);
    const nx: Answer = {
      name: "nope.test.",
      type: "AAAA",
      rcode: 3,
      records: [],
      ttl: 30,
      server: "s",
      resolvedAt: 1,
      stale: false,
    };
    expect(decodeAnswer(encodeAnswer(nx, "r")).answer).toEqual(nx);
  });

  it("reads values written by a newer version (unknown fields are skipped)", () => {
    const a: Answer = {
      name: "x.test.",
      type: "A",
      rcode: 0,
      records: [{ type: "A", address: "10.0.0.3", ttl: 9 }],
      ttl: 9,
      server: "s",
      resolvedAt: 7,
      stale: false,
    };
    const bytes = encodeAnswer(a, "r");
    // Field 99, varint 1, then field 100, length-delimited "new": what a future field would look like.
    const future = new Uint8Array([...bytes, 0x98, 0x06, 0x01, 0xa2, 0x06, 0x03, 0x6e, 0x65, 0x77]);
    expect(decodeAnswer(future).answer).toEqual(a);
  });

  it("rejects each kind of insane value with ERR_CACHE_DECODE", () => {
    const good: Answer = {
      name: "x.test.",
      type: "SRV",
      rcode: 0,
      records: [{ type: "SRV", priority: 1, weight: 1, port: 80, target: "t.test.", ttl: 5 }],
      ttl: 5,
      server: "s",
      resolvedAt: 1,
      stale: false,
    };
    const bad: Array<[string, Uint8Array]> = [
      ["an unknown record type", encode({ ...good, type: "MX" as RecordType, records: [] })],
      ["a name that is not fully qualified", encode({ ...good, name: "x.test" })],
      [
        "an address record in an SRV answer",
        encode({ ...good, records: [{ type: "A", address: "10.0.0.1", ttl: 5 }] }),
      ],
      [
        "an SRV port above 65535",
        encode({ ...good, records: [{ ...(good.records[0] as SrvRecord), port: 70_000 }] }),
      ],
      [
        "an SRV weight above 65535",
        encode({ ...good, records: [{ ...(good.records[0] as SrvRecord), weight: 65_536 }] }),
      ],
      ["a message cut short", encodeAnswer(good, "r").subarray(0, 9)],
      ["a wire type protobuf does not have", new Uint8Array([0x0f, 0x01])],
    ];
    for (const [what, bytes] of bad) {
      let code: string | undefined;
      try {
        decodeAnswer(bytes);
      } catch (err) {
        code = (err as { code?: string }).code;
      }
      expect(code, what).toBe("ERR_CACHE_DECODE");
    }
  });

  it("on garbage and on mutated values: ERR_CACHE_DECODE or a sane answer, never anything else", () => {
    const valid = encodeAnswer(
      {
        name: "_grpc._tcp.svc.test.",
        type: "SRV",
        rcode: 0,
        records: [{ type: "SRV", priority: 1, weight: 10, port: 8080, target: "b1.svc.test.", ttl: 60 }],
        ttl: 60,
        server: "[::1]:53",
        resolvedAt: 5,
        stale: false,
        targets: new Map([["b1.svc.test.", { a: [{ type: "A", address: "127.0.0.2", ttl: 60 }], aaaa: [] }]]),
      },
      "r",
    );
    let rejected = 0;
    let accepted = 0;
    const check = (bytes: Uint8Array) => {
      let decoded: ReturnType<typeof decodeAnswer>;
      try {
        decoded = decodeAnswer(bytes);
      } catch (err) {
        expect((err as { code?: string }).code).toBe("ERR_CACHE_DECODE");
        rejected++;
        return;
      }
      accepted++;
      expectSane(decoded.answer);
    };
    const mutation = fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutation), (input) => {
        if (input instanceof Uint8Array) return check(input);
        const bytes = Uint8Array.from(valid);
        for (const [at, v] of input) bytes[at] = v;
        check(bytes);
      }),
      seeded({ seed: 15004, runs: 2000, label: "answer codec garbage" }),
    );
    // Both outcomes occur: a decoder that accepted (or refused) everything would not pass.
    expect(rejected).toBeGreaterThan(100);
    expect(accepted).toBeGreaterThan(10);
  });
});

/** What every decoded answer must satisfy, whoever wrote the value. */
function expectSane(a: Answer): void {
  expect(["A", "AAAA", "SRV", "TXT"]).toContain(a.type);
  expect(a.name.endsWith(".")).toBe(true);
  for (const r of a.records) {
    expect(r.type).toBe(a.type);
    if (r.type === "SRV")
      for (const v of [r.priority, r.weight, r.port]) expect(v).toBeLessThanOrEqual(0xffff);
  }
  for (const t of a.targets?.values() ?? []) {
    for (const r of t.a) expect(r.type).toBe("A");
    for (const r of t.aaaa) expect(r.type).toBe("AAAA");
  }
}

function encode(a: Answer): Uint8Array {
  return encodeAnswer(a, "r");
}
