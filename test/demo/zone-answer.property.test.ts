import * as packet from "dns-packet";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { answerQuery, ZoneIndex } from "../../src/demo/zone-answer.js";
import { parseZoneFile } from "../../src/demo/zone-file.js";
import { decodeMessage } from "../../src/dns/wire-decoder.js";
import { seeded } from "../support/property-seed.js";

const index = new ZoneIndex(
  parseZoneFile(`$ORIGIN p.test.
@ SOA ns hm 1 2 3 4 5
a A 10.0.0.1
a AAAA ::1
c CNAME a
_s._tcp SRV 0 1 80 a
t TXT "k=v"
`),
);

const valid = packet.encode({
  type: "query",
  id: 77,
  flags: 0,
  questions: [{ name: "c.p.test", type: "A" }],
});

/** Every reply must decode, echo the id, be a response, and stay within the UDP limit. */
function checkReply(input: Buffer, out: Buffer | null): void {
  if (out === null) {
    // Dropped only when there is no header to answer or the input claims to be a response.
    expect(input.length < 12 || (input.readUInt16BE(2) & 0x8000) !== 0).toBe(true);
    return;
  }
  const reply = packet.decode(out);
  expect(reply.id).toBe(input.readUInt16BE(0));
  expect(reply.type).toBe("response");
  expect(out.length).toBeLessThanOrEqual(1232);
  // A question in the reply is the query's own, octet for octet (resolvers drop any other reply).
  const got = decodeMessage(out, false);
  expect(got.ok).toBe(true);
  if (got.ok && got.msg.questions.length > 0) {
    const asked = decodeMessage(input, false);
    expect(asked.ok && asked.msg.questions).toEqual(got.msg.questions);
  }
}

/** `valid` with the given octets replaced: how the property builds each mutated query. */
function mutate(edits: Array<[number, number]>, cut = 0): Buffer {
  const input = Buffer.from(valid);
  for (const [at, value] of edits) input[at] = value;
  return input.subarray(0, input.length - cut);
}

describe("answerQuery regression cases (counterexamples the properties found)", () => {
  it("[[13,46]] (seed -1483944130, path 450): a first label holding a '.' byte gets a decodable NXDOMAIN echoing the question", () => {
    // c.p.test with its first label's only octet turned into '.': one label "\046", not two empty ones.
    const input = mutate([[13, 46]]);
    const out = answerQuery(index, input, { transport: "udp" });
    checkReply(input, out);
    const reply = packet.decode(out as Buffer);
    expect((reply.flags ?? 0) & 0xf).toBe(3);
    expect(reply.answers).toEqual([]);
    // The question section is the query's, byte for byte (no pointers in the input to re-encode).
    expect((out as Buffer).subarray(12, input.length)).toEqual(input.subarray(12));
  });

  it("a label 'a.p' under test. is one label, not the zone's a.p.test: refused, never answered", () => {
    const input = Buffer.from(
      packet.encode({ type: "query", id: 5, questions: [{ name: "axp.test", type: "A" }] }),
    );
    input[14] = 0x2e; // "axp" -> "a.p": the wire name is 3"a.p" 4"test", outside p.test
    const out = answerQuery(index, input, { transport: "udp" });
    checkReply(input, out);
    const reply = packet.decode(out as Buffer);
    expect((reply.flags ?? 0) & 0xf).toBe(5);
    expect(reply.answers).toEqual([]);
  });
});

describe("answerQuery on hostile input", () => {
  it("never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (bytes) => {
        const input = Buffer.from(bytes);
        checkReply(input, answerQuery(index, input, { transport: "udp" }));
      }),
      seeded({ seed: 15008, runs: 3000, label: "zone random bytes" }),
    );
  });

  it("never throws on mutations of a valid query", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.integer({ min: 0, max: 8 }),
        (edits, cut) => {
          const input = mutate(edits, cut);
          checkReply(input, answerQuery(index, input, { transport: "udp" }));
        },
      ),
      seeded({ seed: 15009, runs: 3000, label: "zone mutated query" }),
    );
  });

  it("answers every in-zone name and type with AA and a consistent rcode", () => {
    const names = [
      "p.test",
      "a.p.test",
      "c.p.test",
      "_s._tcp.p.test",
      "_tcp.p.test",
      "t.p.test",
      "zz.p.test",
    ];
    const types = ["A", "AAAA", "CNAME", "SRV", "TXT", "SOA", "NS", "MX", "ANY"] as const;
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.constantFrom(...types), fc.boolean(), (name, type, edns) => {
        const q = packet.encode({
          type: "query",
          id: 9,
          questions: [{ name, type: type as "A" }],
          additionals: edns
            ? [
                {
                  name: ".",
                  type: "OPT",
                  udpPayloadSize: 4096,
                  extendedRcode: 0,
                  ednsVersion: 0,
                  flags: 0,
                  flag_do: false,
                  options: [],
                },
              ]
            : [],
        });
        const out = answerQuery(index, q, { transport: "udp" });
        expect(out).not.toBeNull();
        const reply = packet.decode(out as Buffer);
        expect(reply.flag_aa).toBe(true);
        const rcode = (reply.flags ?? 0) & 0xf;
        expect(rcode).toBe(name === "zz.p.test" ? 3 : 0);
        if ((reply.answers ?? []).length === 0) expect(reply.authorities?.[0]?.type).toBe("SOA");
        expect((reply.additionals ?? []).some((a) => a.type === "OPT")).toBe(edns);
      }),
      seeded({ seed: 15010, runs: 300, label: "zone in-zone names" }),
    );
  });
});
