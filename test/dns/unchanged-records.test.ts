// An unchanged refresh hands back the held records array (ResolveOptions.previous): the multiset check
// on its own (named cases, then seeded fast-check properties against a plain reference), and through the resolver
// against a fake server that rotates its record order on every reply, as BIND does. The check compares
// the decoder's numbers with a per-held-array table, so the cases run with the decoder's own records
// (Ipv4Data, Ipv6Data, or decoded bytes) as well as plain objects.
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Ipv4Data, Ipv6Data } from "../../src/dns/address-data.js";
import { createResolver, type DnsResolver } from "../../src/dns/resolver.js";
import type { DnsRecord } from "../../src/dns/types.js";
import { noteAddressNumbers, sameAddressRecords } from "../../src/dns/unchanged-records.js";
import { decodeMessage, type WireRecord } from "../../src/dns/wire-decoder.js";
import { seeded } from "../support/property-seed.js";
import { aRecord, type FakeDnsServer, replyTo, startFakeDnsServer } from "./support/fake-dns-server.js";

const wireA = (address: string, ttl = 60): WireRecord => ({
  name: "x.test.",
  type: 1,
  class: 1,
  ttl,
  data: { kind: "A", address },
});
const heldA = (address: string, ttl = 60): DnsRecord => ({ type: "A", address, ttl });
const heldAAAA = (address: string, ttl = 60): DnsRecord => ({ type: "AAAA", address, ttl });
/** A wire record as the decoder makes it: numbers, text only when read. */
const wireOf = (data: Ipv4Data | Ipv6Data, ttl = 60): WireRecord => ({
  name: "x.test.",
  type: data.kind === "A" ? 1 : 28,
  class: 1,
  ttl,
  data,
});
const num4 = (text: string, ttl = 60): WireRecord => wireOf(Ipv4Data.fromText(text) as Ipv4Data, ttl);
const num6 = (text: string, ttl = 60): WireRecord => wireOf(Ipv6Data.fromText(text) as Ipv6Data, ttl);
const plain6 = (address: string, ttl = 60): WireRecord => ({
  ...wireA("x", ttl),
  type: 28,
  data: { kind: "AAAA", address },
});

/** The reference: equal as multisets of (type, address, ttl), address records only, nothing empty. */
function reference(wire: readonly WireRecord[], held: readonly DnsRecord[]): boolean {
  if (held.length === 0 || wire.length !== held.length) return false;
  const key = (t: string, a: string, ttl: number) => `${t}|${a}|${ttl}`;
  const count = new Map<string, number>();
  const heldAddresses = new Set<string>();
  for (const h of held) {
    if (h.type !== "A" && h.type !== "AAAA") return false;
    // Held answers with duplicate addresses are left to the full path (the check says false).
    if (heldAddresses.has(h.address)) return false;
    heldAddresses.add(h.address);
    const k = key(h.type, h.address, h.ttl);
    count.set(k, (count.get(k) ?? 0) + 1);
  }
  for (const w of wire) {
    if (w.data.kind !== "A" && w.data.kind !== "AAAA") return false;
    const k = key(w.data.kind, w.data.address, w.ttl);
    const n = count.get(k) ?? 0;
    if (n === 0) return false;
    count.set(k, n - 1);
  }
  return true;
}

describe("sameAddressRecords", () => {
  const held = [heldA("10.0.0.1"), heldA("10.0.0.2"), heldA("10.0.0.3")];

  it("the same records in another order are the same", () => {
    expect(sameAddressRecords([wireA("10.0.0.3"), wireA("10.0.0.1"), wireA("10.0.0.2")], held)).toBe(true);
  });

  it("a changed TTL, a swapped, missing or extra address is a change", () => {
    expect(sameAddressRecords([wireA("10.0.0.3"), wireA("10.0.0.1"), wireA("10.0.0.2", 59)], held)).toBe(
      false,
    );
    expect(sameAddressRecords([wireA("10.0.0.3"), wireA("10.0.0.1"), wireA("10.0.0.9")], held)).toBe(false);
    expect(sameAddressRecords([wireA("10.0.0.3"), wireA("10.0.0.1")], held)).toBe(false);
    expect(
      sameAddressRecords([wireA("10.0.0.3"), wireA("10.0.0.1"), wireA("10.0.0.2"), wireA("10.0.0.4")], held),
    ).toBe(false);
  });

  it("regression: a repeated address standing in for a missing one is a change", () => {
    expect(sameAddressRecords([wireA("10.0.0.1"), wireA("10.0.0.1"), wireA("10.0.0.2")], held)).toBe(false);
  });

  it("an AAAA record is not the A record of the same text, and SRV or TXT never match", () => {
    const v6: DnsRecord[] = [{ type: "AAAA", address: "2001:db8::1", ttl: 60 }];
    expect(
      sameAddressRecords([{ ...wireA("x"), type: 28, data: { kind: "AAAA", address: "2001:db8::1" } }], v6),
    ).toBe(true);
    expect(sameAddressRecords([wireA("2001:db8::1")], v6)).toBe(false);
    const srv: DnsRecord[] = [{ type: "SRV", priority: 1, weight: 1, port: 80, target: "a.test", ttl: 60 }];
    expect(
      sameAddressRecords(
        [
          {
            ...wireA("x"),
            type: 33,
            data: { kind: "SRV", priority: 1, weight: 1, port: 80, target: "a.test" },
          },
        ],
        srv,
      ),
    ).toBe(false);
  });

  it("nothing held, or a held answer with duplicate addresses, never matches", () => {
    expect(sameAddressRecords([], [])).toBe(false);
    const dup = [heldA("10.0.0.1"), heldA("10.0.0.1")];
    expect(sameAddressRecords([wireA("10.0.0.1"), wireA("10.0.0.1")], dup)).toBe(false);
  });

  it("the decoder's records of a rotated reply match held text records; a changed TTL does not", () => {
    const heldMixed = [heldA("10.0.0.1"), heldA("192.168.1.10"), heldAAAA("2001:db8::1"), heldAAAA("fe80::")];
    const rr = (type: number, rdata: number[], ttl: number) => [
      ...[0xc0, 12, 0, type, 0, 1, 0, 0, 0, ttl, 0, rdata.length],
      ...rdata,
    ];
    const v6 = (hex: string) => [...Buffer.from(hex, "hex")];
    const reply = (ttl: number) =>
      decodeMessage(
        Buffer.from([
          ...[0, 1, 0x81, 0x80, 0, 1, 0, 4, 0, 0, 0, 0],
          ...[1, 0x78, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1],
          ...rr(28, v6("fe800000000000000000000000000000"), 60),
          ...rr(1, [192, 168, 1, 10], 60),
          ...rr(28, v6("20010db8000000000000000000000001"), 60),
          ...rr(1, [10, 0, 0, 1], ttl),
        ]),
      );
    const same = reply(60);
    const shorter = reply(59);
    if (!same.ok || !shorter.ok) throw new Error("decode failed");
    expect(same.msg.answers[0]?.data).toBeInstanceOf(Ipv6Data);
    expect(same.msg.answers[1]?.data).toBeInstanceOf(Ipv4Data);
    expect(sameAddressRecords(same.msg.answers, heldMixed)).toBe(true);
    expect(sameAddressRecords(shorter.msg.answers, heldMixed)).toBe(false);
    // The same held array again (its table is kept): the same answers.
    expect(sameAddressRecords(same.msg.answers, heldMixed)).toBe(true);
    expect(sameAddressRecords(shorter.msg.answers, heldMixed)).toBe(false);
  });

  it("regression: an A and an AAAA record with the same numbers are different records", () => {
    // 0.0.0.1 is (hi 0, lo 1); 0:1:: is the groups 0, 1, then zeros: the same leading numbers.
    expect(sameAddressRecords([num6("0:1::")], [heldA("0.0.0.1")])).toBe(false);
    expect(sameAddressRecords([num4("0.0.0.1")], [heldAAAA("0:1::")])).toBe(false);
    const both = [heldA("0.0.0.1"), heldAAAA("0:1::")];
    expect(sameAddressRecords([num6("0:1::"), num4("0.0.0.1")], both)).toBe(true);
    expect(sameAddressRecords([num4("0.0.0.1"), num4("0.0.0.1")], both)).toBe(false);
    expect(sameAddressRecords([num6("0:1::"), num6("0:1::")], both)).toBe(false);
  });

  it("an IPv4-mapped IPv6 address is an AAAA record, not the A record of its IPv4 address", () => {
    const mapped = num6("::ffff:102:304");
    expect(sameAddressRecords([mapped], [heldA("1.2.3.4")])).toBe(false);
    expect(sameAddressRecords([num4("1.2.3.4")], [heldAAAA("::ffff:102:304")])).toBe(false);
    expect(sameAddressRecords([mapped], [heldAAAA("::ffff:102:304")])).toBe(true);
    // Held in the dotted spelling, which the decoder never makes: as before, not the decoded record.
    expect(sameAddressRecords([mapped], [heldAAAA("::ffff:1.2.3.4")])).toBe(false);
  });

  it("held text in another spelling than the decoder's matches only that same text, as before", () => {
    const upper = [heldAAAA("2001:DB8::1"), heldA("10.0.0.1")];
    expect(sameAddressRecords([num6("2001:db8::1"), num4("10.0.0.1")], upper)).toBe(false);
    expect(sameAddressRecords([plain6("2001:DB8::1"), wireA("10.0.0.1")], upper)).toBe(true);
    expect(sameAddressRecords([plain6("2001:DB8::1"), wireA("10.0.0.1", 1)], upper)).toBe(false);
    // A plain reply record in another spelling never matches a held record in the decoder's.
    expect(sameAddressRecords([plain6("2001:0db8::1")], [heldAAAA("2001:db8::1")])).toBe(false);
    expect(sameAddressRecords([plain6("2001:db8::1")], [heldAAAA("2001:db8::1")])).toBe(true);
    // An A record holding IPv6 text (only a plain object can): as before, never the AAAA record.
    expect(sameAddressRecords([wireA("2001:db8::1")], [heldAAAA("2001:db8::1")])).toBe(false);
  });

  it("duplicates, a length mismatch or a non-address record on either side: false", () => {
    expect(sameAddressRecords([num6("::1"), num6("::2")], [heldAAAA("::1"), heldAAAA("::1")])).toBe(false);
    expect(sameAddressRecords([num6("::1"), num6("::1")], [heldAAAA("::1"), heldAAAA("::1")])).toBe(false);
    expect(sameAddressRecords([num4("10.0.0.1")], [heldA("10.0.0.1"), heldA("10.0.0.2")])).toBe(false);
    expect(sameAddressRecords([num4("10.0.0.1"), num4("10.0.0.2")], [heldA("10.0.0.1")])).toBe(false);
    const srv: DnsRecord = { type: "SRV", priority: 1, weight: 1, port: 80, target: "a.test", ttl: 60 };
    expect(sameAddressRecords([num4("10.0.0.1"), num4("10.0.0.2")], [heldA("10.0.0.1"), srv])).toBe(false);
    const txt: WireRecord = { ...wireA("x"), type: 16, data: { kind: "TXT", strings: ["10.0.0.2"] } };
    expect(sameAddressRecords([num4("10.0.0.1"), txt], [heldA("10.0.0.1"), heldA("10.0.0.2")])).toBe(false);
  });

  it("records noted as made from a reply need no parse and answer the same", () => {
    const wire = [num4("10.0.0.1"), num6("2001:db8::1"), num4("10.0.0.2", 30)];
    const made: DnsRecord[] = wire.map((w) => ({
      type: w.data.kind as "A" | "AAAA",
      address: (w.data as { address: string }).address,
      ttl: w.ttl,
    }));
    noteAddressNumbers(made, wire);
    expect(sameAddressRecords([num4("10.0.0.2", 30), num4("10.0.0.1"), num6("2001:db8::1")], made)).toBe(
      true,
    );
    expect(sameAddressRecords([num4("10.0.0.2"), num4("10.0.0.1"), num6("2001:db8::1")], made)).toBe(false);
    expect(sameAddressRecords([num4("10.0.0.2", 30), num6("a00:1::"), num6("2001:db8::1")], made)).toBe(
      false,
    );
    // Plain reply records are not noted (their text would have to be parsed anyway).
    const plainHeld = [heldA("10.0.0.1")];
    noteAddressNumbers(plainHeld, [wireA("10.0.0.9")]);
    expect(sameAddressRecords([num4("10.0.0.1")], plainHeld)).toBe(true);
  });

  it("a large held answer: thousands of addresses, all found, one changed one not", () => {
    const n = 4096;
    const texts = Array.from({ length: n }, (_, i) =>
      i % 2 === 0 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : `2001:db8::${i.toString(16)}`,
    );
    const held = texts.map((t) => (t.includes(":") ? heldAAAA(t) : heldA(t)));
    const wire = (rot: number, change?: number) =>
      texts.map((_, k) => {
        const i = (k + rot) % n;
        const t = texts[i] as string;
        const w = t.includes(":") ? num6(t) : num4(t);
        return i === change ? { ...w, ttl: 61 } : w;
      });
    expect(sameAddressRecords(wire(17), held)).toBe(true);
    expect(sameAddressRecords(wire(4000), held)).toBe(true);
    expect(sameAddressRecords(wire(5, 3001), held)).toBe(false);
    const moved = wire(9);
    moved[100] = num6("2001:db8::1:0:0:1");
    expect(sameAddressRecords(moved, held)).toBe(false);
  });

  it("agrees with a plain multiset comparison (seeded property)", () => {
    const pool = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
    const held = fc.array(fc.record({ address: fc.constantFrom(...pool), ttl: fc.constantFrom(30, 60) }), {
      minLength: 1,
      maxLength: 5,
    });
    // Mostly a shuffled copy of what is held, sometimes with one address or TTL changed, one record
    // added, or one record standing in for another.
    const cases = held.chain((h) =>
      fc.tuple(
        fc.constant(h),
        fc.shuffledSubarray(h, { minLength: h.length, maxLength: h.length }),
        fc.constantFrom("same", "address", "ttl", "extra", "repeat"),
        fc.constantFrom(...pool),
        fc.constantFrom(30, 60, 61),
      ),
    );
    let same = 0;
    let runs = 0;
    fc.assert(
      fc.property(cases, ([h, shuffled, change, address, ttl]) => {
        const heldRecords = h.map((x) => heldA(x.address, x.ttl));
        const wire = shuffled.map((x) => wireA(x.address, x.ttl));
        const first = wire[0] as WireRecord;
        const firstAddress = (first.data as { address: string }).address;
        if (change === "address") wire[0] = wireA(address, first.ttl);
        else if (change === "ttl") wire[0] = wireA(firstAddress, ttl);
        else if (change === "extra") wire.push(wireA(address));
        else if (change === "repeat" && wire.length > 1) wire[1] = first;
        const want = reference(wire, heldRecords);
        runs++;
        if (want) same++;
        return sameAddressRecords(wire, heldRecords) === want;
      }),
      seeded({ seed: 20261202, runs: 20_000, label: "unchanged records" }),
    );
    // Both outcomes were exercised, not one of them every time.
    expect(same).toBeGreaterThan(runs / 10);
    expect(same).toBeLessThan(runs - runs / 10);
  });

  it("seed 20261203: the decoder's records, A and AAAA, agree with a plain multiset comparison (seeded property)", () => {
    // Addresses whose numbers collide across types (0.0.0.1 and 0:1::, 10.0.0.1 and a00:1::) and an
    // IPv4-mapped one, as numbers; held records carry their text, sometimes in another spelling.
    type Entry = { type: "A" | "AAAA"; words: number[]; alt?: string };
    const pool: Entry[] = [
      { type: "A", words: [0, 1] },
      { type: "A", words: [0x0a00, 1] },
      { type: "A", words: [0x0a00, 2] },
      { type: "A", words: [0xc0a8, 0x010a] },
      { type: "A", words: [0xffff, 0xffff] },
      { type: "AAAA", words: [0, 1, 0, 0, 0, 0, 0, 0], alt: "0:1:0::" },
      { type: "AAAA", words: [0x0a00, 1, 0, 0, 0, 0, 0, 0], alt: "A00:1::" },
      { type: "AAAA", words: [0, 0, 0, 0, 0, 0, 0, 1], alt: "0::1" },
      { type: "AAAA", words: [0, 0, 0, 0, 0, 0xffff, 0x0a00, 1], alt: "::ffff:10.0.0.1" },
      { type: "AAAA", words: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], alt: "2001:DB8::1" },
    ];
    const dataOf = (type: "A" | "AAAA", w: number[]): Ipv4Data | Ipv6Data => {
      const g = (i: number) => w[i] ?? 0;
      return type === "A"
        ? new Ipv4Data(g(0), g(1))
        : new Ipv6Data(g(0), g(1), g(2), g(3), g(4), g(5), g(6), g(7));
    };
    const textOf = (e: Entry) => dataOf(e.type, e.words).address;
    const srvHeld: DnsRecord = { type: "SRV", priority: 1, weight: 1, port: 80, target: "a.test", ttl: 60 };
    const srvWire: WireRecord = {
      ...wireA("x"),
      type: 33,
      data: { kind: "SRV", priority: 1, weight: 1, port: 80, target: "a.test" },
    };
    const heldArb = fc.record({
      picks: fc.array(fc.record({ e: fc.nat(pool.length - 1), ttl: fc.constantFrom(30, 60) }), {
        minLength: 1,
        maxLength: 6,
      }),
      // Rarely: one held record in another spelling (etcd, the cache codec), or an SRV record.
      odd: fc.constantFrom("none", "none", "none", "none", "none", "none", "alt", "srv"),
      noted: fc.boolean(),
    });
    const change = fc.record({
      rot: fc.nat(),
      at: fc.nat(),
      kind: fc.constantFrom(
        "same",
        "same",
        "same",
        "address",
        "ttl",
        "type",
        "extra",
        "drop",
        "repeat",
        "plain",
        "srv",
      ),
      e: fc.nat(pool.length - 1),
      ttl: fc.constantFrom(30, 60, 61),
    });
    let same = 0;
    let runs = 0;
    fc.assert(
      fc.property(
        heldArb,
        fc.array(change, { minLength: 1, maxLength: 3 }),
        ({ picks, odd, noted }, changes) => {
          const entries = picks.map((p) => pool[p.e] as Entry);
          const held: DnsRecord[] = picks.map((p, i) => {
            const e = entries[i] as Entry;
            return { type: e.type, address: textOf(e), ttl: p.ttl };
          });
          const oddAt = picks.length - 1;
          if (odd === "alt" && (entries[oddAt] as Entry).alt !== undefined) {
            held[oddAt] = {
              ...(held[oddAt] as DnsRecord),
              address: (entries[oddAt] as Entry).alt,
            } as DnsRecord;
          } else if (odd === "srv") {
            held[oddAt] = srvHeld;
          } else if (noted) {
            // As the resolver does: the records were made from these reply records.
            noteAddressNumbers(
              held,
              picks.map((p, i) =>
                wireOf(dataOf((entries[i] as Entry).type, (entries[i] as Entry).words), p.ttl),
              ),
            );
          }
          // Several replies against the same held array: its table is built once and kept.
          for (const c of changes) {
            const n = held.length;
            const wire: WireRecord[] = [];
            for (let k = 0; k < n; k++) {
              const i = (k + c.rot) % n;
              const h = held[i] as DnsRecord;
              const e = entries[i] as Entry;
              wire.push(h.type === "SRV" ? srvWire : wireOf(dataOf(e.type, e.words), h.ttl));
            }
            const k = c.at % n;
            const w = wire[k] as WireRecord;
            const e = pool[c.e] as Entry;
            if (c.kind === "address") wire[k] = wireOf(dataOf(e.type, e.words), w.ttl);
            else if (c.kind === "ttl") wire[k] = { ...w, ttl: c.ttl };
            else if (c.kind === "type" && w.data instanceof Ipv4Data)
              wire[k] = wireOf(dataOf("AAAA", [w.data.hi, w.data.lo]), w.ttl);
            else if (c.kind === "type" && w.data instanceof Ipv6Data)
              wire[k] = wireOf(dataOf("A", [w.data.w0, w.data.w1]), w.ttl);
            else if (c.kind === "extra") wire.push(wireOf(dataOf(e.type, e.words), c.ttl));
            else if (c.kind === "drop") wire.splice(k, 1);
            else if (c.kind === "repeat" && n > 1) wire[k] = wire[(k + 1) % n] as WireRecord;
            else if (c.kind === "srv") wire[k] = srvWire;
            else if (c.kind === "plain") {
              // A reply record as a plain object, in the spelling of the held record it stands for.
              const h = held[(k + c.rot) % n] as DnsRecord;
              if (h.type === "A" || h.type === "AAAA") {
                wire[k] = { ...w, type: h.type === "A" ? 1 : 28, data: { kind: h.type, address: h.address } };
              }
            }
            const got = sameAddressRecords(wire, held);
            const want = reference(wire, held);
            runs++;
            if (want) same++;
            if (got !== want) return false;
          }
          return true;
        },
      ),
      seeded({ seed: 20261203, runs: 3000, label: "unchanged records, decoder numbers" }),
    );
    // Both outcomes were exercised, not one of them every time.
    expect(same).toBeGreaterThan(runs / 10);
    expect(same).toBeLessThan(runs - runs / 10);
  });
});

describe("resolver: an unchanged answer comes back as the held array", () => {
  let fake: FakeDnsServer;
  const open: DnsResolver[] = [];
  let addresses = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"];
  let ttl = 60;
  let turn = 0;
  beforeAll(async () => {
    fake = await startFakeDnsServer((q, c) => {
      // A new rotation on every reply, as BIND does.
      turn++;
      const rotated = [
        ...addresses.slice(turn % addresses.length),
        ...addresses.slice(0, turn % addresses.length),
      ];
      c.reply(
        replyTo(
          q,
          rotated.map((a) => aRecord(q.name, a, ttl)),
        ),
      );
    });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });
  afterAll(async () => {
    await fake.close();
  });
  const mk = () => {
    const r = createResolver({ servers: [fake.server], timeoutMs: 1000, attempts: 1 });
    open.push(r);
    return r;
  };

  it("same records in another order: the held array itself; a change: new records", async () => {
    const r = mk();
    const first = await r.resolve("svc.test", "A");
    expect(first.records).toHaveLength(4);
    const again = await r.resolve("svc.test", "A", { previous: first.records });
    expect(again.records).toBe(first.records);
    // Without the hint, new records every time.
    const plain = await r.resolve("svc.test", "A");
    expect(plain.records).not.toBe(first.records);
    expect(new Set(plain.records.map((x) => (x as { address: string }).address))).toEqual(new Set(addresses));

    ttl = 30;
    const shorter = await r.resolve("svc.test", "A", { previous: first.records });
    expect(shorter.records).not.toBe(first.records);
    expect(shorter.records.every((x) => x.ttl === 30)).toBe(true);
    expect(shorter.ttl).toBe(30);

    addresses = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.15"];
    const moved = await r.resolve("svc.test", "A", { previous: shorter.records });
    expect(moved.records).not.toBe(shorter.records);
    expect(moved.records.map((x) => (x as { address: string }).address)).toContain("127.0.0.15");
  });
});
