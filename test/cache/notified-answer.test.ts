// NotifiedAnswer lets the cache skip the full fingerprint of a refresh that brought the same addresses
// back, or that changed them. It must never call an answer "the same" when the fingerprint would differ
// (listeners would miss a change: a new address, a stale flag, a pending shrink and serve the old
// endpoints), nor "changed" when it would not (every stream would get a push for nothing).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { answerFingerprint } from "../../src/cache/answer-fingerprint.js";
import { NotifiedAnswer } from "../../src/cache/notified-answer.js";
import type { Answer, DnsRecord } from "../../src/dns/types.js";
import { seeded } from "../support/property-seed.js";

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
  expect(n.update(a)).toBe(true);
  return n;
}

describe("NotifiedAnswer.compare", () => {
  const prev = ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.3"));

  it("is same for the same addresses with another TTL, resolution time, server or order", () => {
    const n = remembered(prev);
    expect(
      n.compare(ans(recs(5, "10.0.0.3", "10.0.0.1", "10.0.0.2"), { ttl: 5, resolvedAt: T0 + 9000 })),
    ).toBe("same");
    expect(n.compare(ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.3"), { server: "etcd" }))).toBe("same");
  });

  it("is changed when an address changed, was added or removed", () => {
    const n = remembered(prev);
    expect(n.compare(ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.4")))).toBe("changed");
    expect(n.compare(ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")))).toBe("changed");
    expect(n.compare(ans(recs(30, "10.0.0.1", "10.0.0.2")))).toBe("changed");
  });

  it("is changed for a repeated address standing in for a missing one (same length, other multiset)", () => {
    const n = remembered(prev);
    expect(n.compare(ans(recs(30, "10.0.0.1", "10.0.0.1", "10.0.0.2")))).toBe("changed");
    // A remembered answer with duplicates is left to the fingerprint.
    expect(
      remembered(ans(recs(30, "10.0.0.1", "10.0.0.1"))).compare(ans(recs(30, "10.0.0.1", "10.0.0.1"))),
    ).toBe("unknown");
  });

  it("is changed when a record of another kind stands in for an address (same count)", () => {
    const n = remembered(prev);
    const txt: DnsRecord = { type: "TXT", strings: ["k=v"], ttl: 30 };
    expect(n.compare(ans([txt, ...recs(30, "10.0.0.1", "10.0.0.2")]))).toBe("changed");
    expect(n.compare(ans([...recs(30, "10.0.0.1", "10.0.0.2"), txt]))).toBe("changed");
  });

  it("is changed when rcode or the stale flag changed", () => {
    const n = remembered(prev);
    expect(n.compare({ ...prev, stale: true })).toBe("changed");
    expect(n.compare({ ...prev, rcode: 3 })).toBe("changed");
  });

  it("is unknown when the history is not plain: a pending shrink, an empty run, or history appearing", () => {
    const plain = ans(recs(30, "10.0.0.1"));
    plain.history = { confirmed: confirmed(plain.records) };
    const n = remembered(plain);
    const again = ans(recs(30, "10.0.0.1"));
    again.history = { confirmed: confirmed(again.records) };
    expect(n.compare(again)).toBe("same");
    const pending = ans(recs(30, "10.0.0.1"));
    pending.history = {
      confirmed: confirmed(pending.records),
      pending: { content: confirmed(recs(30, "10.0.0.1")), since: T0 },
    };
    expect(n.compare(pending)).toBe("unknown");
    const other = ans(recs(30, "10.0.0.1"));
    other.history = { confirmed: confirmed(recs(30, "10.0.0.1", "10.0.0.2")) };
    expect(n.compare(other)).toBe("unknown");
    expect(n.compare(ans(recs(30, "10.0.0.1")))).toBe("unknown");
    expect(remembered(ans(recs(30, "10.0.0.1"))).compare(again)).toBe("unknown");
  });

  it("leaves SRV and TXT answers and nothing-remembered to the fingerprint (unknown)", () => {
    expect(new NotifiedAnswer().compare(prev)).toBe("unknown");
    const srv = ans([{ type: "SRV", priority: 0, weight: 1, port: 80, target: "a.", ttl: 30 }], {
      type: "SRV",
      targets: new Map([["a.", { a: recs(30, "10.0.0.1"), aaaa: [] }]]),
    });
    expect(remembered(srv).compare(srv)).toBe("unknown");
    const txt = ans([{ type: "TXT", strings: ["k=v"], ttl: 30 }], { type: "TXT" });
    expect(remembered(txt).compare(txt)).toBe("unknown");
  });

  it("answers each comparison on its own (a failed one leaves no marks behind)", () => {
    const n = remembered(prev);
    expect(n.compare(ans(recs(30, "10.0.0.1", "10.0.0.2", "10.0.0.9")))).toBe("changed");
    expect(n.compare(ans(recs(30, "10.0.0.2", "10.0.0.3", "10.0.0.1")))).toBe("same");
    expect(n.compare(ans(recs(30, "10.0.0.2", "10.0.0.3", "10.0.0.1")))).toBe("same");
  });
});

describe("NotifiedAnswer against the full fingerprint", () => {
  // Few addresses, duplicates allowed, every history shape and the odd TXT record: the cases the
  // one-pass comparison must either judge exactly as the fingerprint does or leave to it.
  const record = fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom("10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1") },
    { weight: 1, arbitrary: fc.constant("txt") },
  );
  const answer = fc
    .record({
      addrs: fc.array(record, { maxLength: 5 }),
      ttl: fc.constantFrom(5, 30),
      rcode: fc.constantFrom(0, 0, 0, 3),
      stale: fc.boolean(),
      history: fc.constantFrom("none", "plain", "pending", "other"),
    })
    .map(({ addrs, ttl, rcode, stale, history }) => {
      const records: DnsRecord[] = addrs.map((x) =>
        x === "txt" ? { type: "TXT", strings: ["k=v"], ttl } : (recs(ttl, x)[0] as DnsRecord),
      );
      const a = ans(records, { rcode, stale });
      if (history === "plain") a.history = { confirmed: confirmed(records) };
      if (history === "pending")
        a.history = {
          confirmed: confirmed(records),
          pending: { content: confirmed(recs(30, "10.0.0.9")), since: T0 },
        };
      if (history === "other") a.history = { confirmed: confirmed(recs(30, "10.0.0.9")) };
      return a;
    });

  it("says same or changed only when the fingerprints agree, and notifies exactly on a fingerprint change", () => {
    fc.assert(
      fc.property(fc.array(answer, { minLength: 1, maxLength: 8 }), (seq) => {
        const n = new NotifiedAnswer();
        let told: string | undefined;
        for (const a of seq) {
          const fp = answerFingerprint(a);
          const c = n.compare(a);
          if (c === "same") expect(fp).toBe(told);
          if (c === "changed") expect(fp).not.toBe(told);
          // The reference: notify when the fingerprint differs from the last notified one.
          expect(n.update(a)).toBe(fp !== told);
          if (fp !== told) told = fp;
        }
      }),
      seeded({ seed: 15008, runs: 1000, label: "notified answer vs fingerprint" }),
    );
  });
});
