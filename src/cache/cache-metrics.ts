/**
 * Metrics of the cache tiers. Hot-path counts (hits, misses, stale serves) are plain integers inside
 * the tiers and are read at scrape time, so the cached lookup never pays for a metrics call; the
 * rarer events (upstream queries, etcd state changes) go through these optional hooks.
 */
import type { RecordType } from "../dns/types.js";

export type EtcdTierState = "connected" | "degraded" | "disabled";

export interface CacheMetrics {
  /** One upstream (DNS stage) lookup finished. */
  upstream?(type: RecordType, outcome: "ok" | "error", ms: number): void;
  /** The distributed tier changed state. */
  etcdState?(state: EtcdTierState): void;
  /** A lookup was answered from a stale entry (RFC 8767). */
  servedStale?(type: RecordType): void;
  /** A value in etcd failed its checks and was not applied (kind: dns, health, owners, members). */
  etcdRejected?(kind: string, reason: string): void;
}
