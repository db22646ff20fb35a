/** Lease bucketing against a recording stand-in for the etcd lease API: grants per bucket, TTLs never short. */
import type { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { LeaseBuckets } from "../../src/cache/lease-buckets.js";

function fakeClient(grants: number[], grantedAt: number[] = [], now: () => number = () => 0): Etcd3 {
  let id = 0;
  return {
    leaseClient: {
      leaseGrant: async (req: { TTL: number }) => {
        grants.push(req.TTL);
        grantedAt.push(now());
        return { ID: String(++id), TTL: String(req.TTL) };
      },
    },
  } as unknown as Etcd3;
}

describe("lease buckets", () => {
  it("grants one lease per 5 s expiry bucket, never one per key, and never expires a key early", async () => {
    let now = 1_000_000;
    const grants: number[] = [];
    const grantedAt: number[] = [];
    const b = new LeaseBuckets({
      client: fakeClient(grants, grantedAt, () => now),
      bucketMs: 5000,
      now: () => now,
    });
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      // 10,000 names with a 30 s TTL resolved over 30 s.
      now = 1_000_000 + i * 3;
      const expires = now + 30_000;
      const id = await b.leaseFor(expires);
      ids.add(id);
      const idx = Number(id) - 1;
      // Lease end = grant time + TTL: never before the key's own expiry, less than a bucket after it.
      const leaseEnd = (grantedAt[idx] ?? 0) + (grants[idx] ?? 0) * 1000;
      expect(leaseEnd).toBeGreaterThanOrEqual(expires);
      expect(leaseEnd - expires).toBeLessThan(5000 + 1000);
    }
    // 30 s of expiries in 5 s buckets: about 6–7 leases for 10,000 keys.
    expect(b.grants).toBeLessThanOrEqual(8);
    expect(ids.size).toBe(b.grants);
  });

  it("rounds a lease up to the end of its bucket", async () => {
    const now = 1_000_000;
    const grants: number[] = [];
    const b = new LeaseBuckets({ client: fakeClient(grants), bucketMs: 5000, now: () => now });
    await b.leaseFor(now + 12_300); // bucket ends at 1,015,000
    expect(grants).toEqual([15]);
    await b.leaseFor(now + 14_999);
    expect(grants).toHaveLength(1);
    await b.leaseFor(now + 15_001);
    expect(grants).toEqual([15, 20]);
  });
});
