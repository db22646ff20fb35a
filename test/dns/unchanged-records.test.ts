// An unchanged refresh hands back the held records array (ResolveOptions.previous): the multiset check
// on its own (named cases, then a seeded property against a plain reference), and through the resolver
// against a fake server that rotates its record order on every reply, as BIND does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createResolver, type DnsResolver } from "../../src/dns/resolver.js";
import type { DnsRecord } from "../../src/dns/types.js";
import { sameAddressRecords } from "../../src/dns/unchanged-records.js";
import type { WireRecord } from "../../src/dns/wire-decoder.js";
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

  it("agrees with a plain multiset comparison on 20,000 seeded cases", () => {
    const SEED = 20261202;
    const rand = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const pool = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
    let same = 0;
    for (let c = 0; c < 20_000; c++) {
      const n = 1 + Math.floor(rand() * 5);
      const held: DnsRecord[] = Array.from({ length: n }, () => heldA(pick(pool), pick([30, 60])));
      // Mostly a shuffled copy, sometimes with one field or one record changed, or one repeated.
      const wire = held.map((h) => wireA(h.type === "A" ? h.address : "", h.ttl)).sort(() => rand() - 0.5);
      const m = rand();
      if (m < 0.15) wire[0] = wireA(pick(pool), (wire[0] as WireRecord).ttl);
      else if (m < 0.3)
        wire[0] = wireA(((wire[0] as WireRecord).data as { address: string }).address, pick([30, 60, 61]));
      else if (m < 0.4) wire.push(wireA(pick(pool)));
      else if (m < 0.5 && wire.length > 1) wire[1] = wire[0] as WireRecord;
      const want = reference(wire, held);
      if (want) same++;
      expect({ c, seed: SEED, got: sameAddressRecords(wire, held) }).toEqual({ c, seed: SEED, got: want });
    }
    // Both outcomes were exercised, not one of them 20,000 times.
    expect(same).toBeGreaterThan(2_000);
    expect(same).toBeLessThan(18_000);
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
