/**
 * One etcd lease per expiry bucket, never one per key (the pattern Kubernetes' lease manager uses):
 * a key that must disappear at time T is attached to the lease of the bucket [T, T + bucket), so
 * 10,000 names cost at most one grant and one expiry per bucket width instead of 10,000 of each.
 * Keys outlive their freshness by less than one bucket width, never expire early.
 */
import type { Etcd3 } from "etcd3";

export interface LeaseBucketsOptions {
  client: Etcd3;
  /** Bucket width, ms (default 5000). */
  bucketMs?: number;
  now?: () => number;
}

export class LeaseBuckets {
  private readonly client: Etcd3;
  private readonly bucketMs: number;
  private readonly now: () => number;
  /** bucket end (unix ms) → lease id (decimal string) being granted or granted. */
  private readonly buckets = new Map<number, Promise<string>>();
  private grantCount = 0;

  constructor(opts: LeaseBucketsOptions) {
    this.client = opts.client;
    this.bucketMs = opts.bucketMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** Lease grants issued so far (the cost the bucketing bounds). */
  get grants(): number {
    return this.grantCount;
  }

  /** Live buckets. */
  get size(): number {
    return this.buckets.size;
  }

  /** A lease that expires at or after `expiresAtMs` and less than one bucket width later. */
  leaseFor(expiresAtMs: number): Promise<string> {
    const now = this.now();
    this.prune(now);
    const end = Math.ceil(expiresAtMs / this.bucketMs) * this.bucketMs;
    let p = this.buckets.get(end);
    if (!p) {
      const ttl = Math.max(1, Math.ceil((end - now) / 1000));
      this.grantCount++;
      p = this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }).then((r) => String(r.ID));
      this.buckets.set(end, p);
      // A failed grant must not poison the bucket for later writes.
      p.catch(() => {
        if (this.buckets.get(end) === p) this.buckets.delete(end);
      });
    }
    return p;
  }

  /** Forgets a bucket whose lease etcd no longer knows (e.g. after a restore). */
  invalidate(leaseId: string): void {
    for (const [end, p] of this.buckets) {
      void p.then(
        (id) => {
          if (id === leaseId && this.buckets.get(end) === p) this.buckets.delete(end);
        },
        () => undefined,
      );
    }
  }

  /** Drops every bucket (after etcd came back: its leases may have been revoked meanwhile). */
  clear(): void {
    this.buckets.clear();
  }

  private prune(now: number): void {
    // A lease within a second of its end is not worth reusing: the put could land after expiry.
    for (const end of this.buckets.keys()) if (end - 1000 <= now) this.buckets.delete(end);
  }
}
