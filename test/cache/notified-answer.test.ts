// NotifiedAnswer lets the cache skip the full fingerprint of a refresh that brought the same addresses
// back. It must never call an answer "the same" when the fingerprint would differ: listeners would miss
// a change (a new address, a stale flag, a pending shrink) and serve the old endpoints.
import { describe, expect, it } from "vitest";
import { NotifiedAnswer } from "../../src/cache/notified-answer.js";
import type { Answer, DnsRecord } from "../../src/dns/types.js";

const T0 = 1_700_000_000_000;
const recs = (ttl: number, ...ips: string[]): DnsRecord[] =>
  ips.map((address) =>
    address.includes(":") ? { type: "AAAA", address, ttl } : { type: "A", address, ttl },
  );
const ans = (records: DnsRecord[], over: Partial<Answer> = {}): Answer => ({
  name: "svc.example.com.",
  type: "A",
  rcode: 0,
  records,
  ttl: 30,
  server: "test",
  resolvedAt: T0,
  stale: false,
  ...over,
});
const confirmed = (records: DnsRecord[]) => ({ records, ttl: 30, resolvedAt: T0 });

function remembered(a: Answer): NotifiedAnswer {
  const n = new NotifiedAnswer();
  n.remember(a);
  return n;
}

describe("NotifiedAnswer.sameAs", () => {
  const prev = ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.3"));

  it("is true for the same addresses with another TTL, resolution time, server or order", () => {
    const n = remembered(prev);
    expect(
      n.sameAs(ans(recs(5, "10.0.0.3", "10.0.0.1", "10.0.0.2"), { ttl: 5, resolvedAt: T0 + 9000 })),
    ).toBe(true);
    expect(n.sameAs(ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.3"), { server: "etcd" }))).toBe(true);
  });

  it("is false when an address changed, was added or removed", () => {
    const n = remembered(prev);
    expect(n.sameAs(ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.4")))).toBe(false);
    expect(n.sameAs(ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")))).toBe(false);
    expect(n.sameAs(ans(recs(30, "10.0.0.1", "10.0.0.2")))).toBe(false);
  });

  it("is false for a repeated address standing in for a missing one (same length, other multiset)", () => {
    const n = remembered(prev);
    expect(n.sameAs(ans(recs(30, "10.0.0.1", "10.0.0.1", "10.0.0.2")))).toBe(false);
    // A remembered answer with duplicates is left to the fingerprint.
    expect(
      remembered(ans(recs(30, "10.0.0.1", "10.0.0.1"))).sameAs(ans(recs(30, "10.0.0.1", "10.0.0.1"))),
    ).toBe(false);
  });

  it("is false when rcode or the stale flag changed", () => {
    const n = remembered(prev);
    expect(n.sameAs({ ...prev, stale: true })).toBe(false);
    expect(n.sameAs({ ...prev, rcode: 3 })).toBe(false);
  });

  it("is false when the history is not plain: a pending shrink, an empty run, or history appearing", () => {
    const plain = ans(recs(30, "10.0.0.1"));
    plain.history = { confirmed: confirmed(plain.records) };
    const n = remembered(plain);
    const again = ans(recs(30, "10.0.0.1"));
    again.history = { confirmed: confirmed(again.records) };
    expect(n.sameAs(again)).toBe(true);
    const pending = ans(recs(30, "10.0.0.1"));
    pending.history = {
      confirmed: confirmed(pending.records),
      pending: { content: confirmed(recs(30, "10.0.0.1")), since: T0 },
    };
    expect(n.sameAs(pending)).toBe(false);
    const other = ans(recs(30, "10.0.0.1"));
    other.history = { confirmed: confirmed(recs(30, "10.0.0.1", "10.0.0.2")) };
    expect(n.sameAs(other)).toBe(false);
    expect(n.sameAs(ans(recs(30, "10.0.0.1")))).toBe(false);
    expect(remembered(ans(recs(30, "10.0.0.1"))).sameAs(again)).toBe(false);
  });

  it("leaves SRV and TXT answers and nothing-remembered to the fingerprint", () => {
    expect(new NotifiedAnswer().sameAs(prev)).toBe(false);
    const srv = ans([{ type: "SRV", priority: 0, weight: 1, port: 80, target: "a.", ttl: 30 }], {
      type: "SRV",
      targets: new Map([["a.", { a: recs(30, "10.0.0.1"), aaaa: [] }]]),
    });
    expect(remembered(srv).sameAs(srv)).toBe(false);
    const txt = ans([{ type: "TXT", strings: ["k=v"], ttl: 30 }], { type: "TXT" });
    expect(remembered(txt).sameAs(txt)).toBe(false);
  });

  it("answers each comparison on its own (a failed one leaves no marks behind)", () => {
    const n = remembered(prev);
    expect(n.sameAs(ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.9")))).toBe(false);
    expect(n.sameAs(ans(recs(30, "10.0.0.2", "10.0.0.3", "10.0.0.1")))).toBe(true);
    expect(n.sameAs(ans(recs(30, "10.0.0.2", "10.0.0.3", "10.0.0.1")))).toBe(true);
  });
});
