// An unchanged refresh hands back the held records array (ResolveOptions.previous): the multiset check
// on its own (named cases, then a seeded fast-check property against a plain reference), and through the resolver
// against a fake server that rotates its record order on every reply, as BIND does.
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createResolver, type DnsResolver } from "../../src/dns/resolver.js";
import type { DnsRecord } from "../../src/dns/types.js";
import { sameAddressRecords } from "../../src/dns/unchanged-records.js";
import type { WireRecord } from "../../src/dns/wire-decoder.js";
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
