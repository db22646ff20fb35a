/** dnseds.v1.CachedAnswer round trips (A, SRV with targets, negative) and rejects garbage with a stable code. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeAnswer, encodeAnswer } from "../../src/cache/answer-codec.js";
import type { Answer } from "../../src/dns/types.js";
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

  it("rejects garbage with ERR_CACHE_DECODE, never another error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeAnswer(bytes);
        } catch (err) {
          expect((err as { code?: string }).code).toBe("ERR_CACHE_DECODE");
        }
      }),
      seeded(15004, 2000, "answer codec garbage"),
    );
  });
});
