/** Caching semantics (issue 3): TTL clamps, no caching of TTL 0, negative cap, stale horizon, refresh-ahead window. */
import { describe, expect, it } from "vitest";
import {
  cacheTtlSeconds,
  DEFAULT_CACHE_POLICY,
  refreshAheadAt,
  resolvePolicy,
  staleUntil,
} from "../../src/cache/cache-policy.js";

const pos = (ttl: number) => ({ rcode: 0, records: [{ type: "A" as const, address: "10.0.0.1", ttl }], ttl });
const p = DEFAULT_CACHE_POLICY;

describe("cache policy", () => {
  it("clamps positive TTLs to [5 s, 86,400 s] and never caches TTL 0", () => {
    expect(cacheTtlSeconds(pos(0), p)).toBe(0);
    expect(cacheTtlSeconds(pos(1), p)).toBe(5);
    expect(cacheTtlSeconds(pos(30), p)).toBe(30);
    expect(cacheTtlSeconds(pos(10_000_000), p)).toBe(86_400);
    expect(cacheTtlSeconds(pos(Number.NaN), p)).toBe(0);
  });

  it("caps negative answers (NXDOMAIN and NODATA) at 3,600 s", () => {
    expect(cacheTtlSeconds({ rcode: 3, records: [], ttl: 86_400 }, p)).toBe(3_600);
    expect(cacheTtlSeconds({ rcode: 0, records: [], ttl: 7_200 }, p)).toBe(3_600);
    expect(cacheTtlSeconds({ rcode: 3, records: [], ttl: 60 }, p)).toBe(60);
    expect(cacheTtlSeconds({ rcode: 3, records: [], ttl: 0 }, p)).toBe(0);
  });

  it("never caches rcodes that are not answers", () => {
    expect(cacheTtlSeconds({ rcode: 2, records: [], ttl: 300 }, p)).toBe(0);
    expect(cacheTtlSeconds({ rcode: 5, records: [], ttl: 300 }, p)).toBe(0);
  });

  it("serves stale up to the configured max age past expiry", () => {
    expect(staleUntil(1_000, 30, p)).toBe(1_000 + 30_000 + 86_400_000);
    expect(staleUntil(0, 10, resolvePolicy({ maxStaleSeconds: 60 }))).toBe(70_000);
  });

  it("refreshes ahead inside 80–90% of the TTL when the lead is not capped", () => {
    const uncapped = resolvePolicy({ refreshAheadMaxLeadSeconds: 3600 });
    expect(refreshAheadAt(0, 100, uncapped, () => 0)).toBe(80_000);
    expect(refreshAheadAt(0, 100, uncapped, () => 0.999999)).toBeLessThanOrEqual(90_000);
    for (let i = 0; i < 100; i++) {
      const at = refreshAheadAt(1_000, 30, uncapped);
      expect(at).toBeGreaterThanOrEqual(1_000 + 24_000);
      expect(at).toBeLessThanOrEqual(1_000 + 27_000);
    }
  });

  it("caps the lead at 1–2 s by default, so a 30 s TTL costs about one refresh per TTL", () => {
    let sum = 0;
    for (let i = 0; i < 1000; i++) {
      const at = refreshAheadAt(1_000, 30, p);
      expect(at).toBeGreaterThanOrEqual(1_000 + 28_000);
      expect(at).toBeLessThanOrEqual(1_000 + 29_000);
      sum += at - 1_000;
    }
    // Refreshes (and so etcd puts) per TTL: under 1.06, against 1.18 at 80–90 %.
    expect(30_000 / (sum / 1000)).toBeLessThan(1.06);
    // A short TTL keeps the proportional lead (10–20 % of 5 s is under the cap).
    for (let i = 0; i < 100; i++) {
      const at = refreshAheadAt(0, 5, p);
      expect(at).toBeGreaterThanOrEqual(4_000);
      expect(at).toBeLessThanOrEqual(4_500);
    }
  });

  it("rejects inconsistent policies", () => {
    expect(() => resolvePolicy({ minTtlSeconds: 10, maxTtlSeconds: 5 })).toThrow(RangeError);
    expect(() => resolvePolicy({ refreshAheadLo: 0.9, refreshAheadHi: 0.8 })).toThrow(RangeError);
    expect(() => resolvePolicy({ refreshAheadMaxLeadSeconds: 0 })).toThrow(RangeError);
  });
});
