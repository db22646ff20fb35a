/**
 * Distributed tier of DNS answers: keys `${prefix}v1/dns/${type}/${name}` holding a
 * dnseds.v1.CachedAnswer, attached to a bucketed lease so etcd deletes them once they are no longer
 * fresh. Watch events (via the mirror) are applied to the local tier; a delete never removes a
 * local entry, because an expiring lease must not withdraw endpoints by itself (the local entry keeps
 * serving, stale if need be). Writes made while etcd is unreachable are kept (latest per key) and
 * replayed when the mirror reconnects, so no update is lost.
 */
import type { Logger } from "pino";
import type { Answer } from "../dns/types.js";
import { decodeAnswer, encodeAnswer } from "./answer-codec.js";
import { cacheKey } from "./cache-key.js";
import { type CachePolicy, expiresAt, staleUntil } from "./cache-policy.js";
import type { EtcdMirror } from "./etcd-mirror.js";
import type { LeaseBuckets } from "./lease-buckets.js";
import type { LocalEntry, LocalTier } from "./local-tier.js";

export const DNS_SUBPREFIX = "dns/";

export interface EtcdTierOptions {
  mirror: EtcdMirror;
  local: LocalTier;
  leases: LeaseBuckets;
  policy: CachePolicy;
  replicaId: string;
  now: () => number;
  /** Called when an answer from etcd (another replica, or a re-list) replaced the local entry. */
  onRemote?: (key: string, answer: Answer) => void;
  logger?: Logger;
}

export interface EtcdTierStats {
  puts: number;
  putFailures: number;
  applied: number;
  decodeErrors: number;
  pending: number;
  replayed: number;
}

export function entryFromAnswer(answer: Answer, resolvedBy: string, policy: CachePolicy): LocalEntry {
  return {
    answer,
    expiresAt: expiresAt(answer.resolvedAt, answer.ttl),
    staleUntil: staleUntil(answer.resolvedAt, answer.ttl, policy),
    resolvedBy,
    lastStaleRefresh: 0,
  };
}

export class EtcdAnswerTier {
  private readonly opts: EtcdTierOptions;
  private readonly root: string;
  /** Answers not yet acknowledged by etcd, latest per key. */
  private readonly pending = new Map<string, Answer>();
  private readonly counters = { puts: 0, putFailures: 0, applied: 0, decodeErrors: 0, replayed: 0 };

  constructor(opts: EtcdTierOptions) {
    this.opts = opts;
    this.root = `${opts.mirror.root}${DNS_SUBPREFIX}`;
    opts.mirror.subscribe(DNS_SUBPREFIX, {
      put: (key, value) => this.apply(key, value),
      delete: () => undefined,
      snapshot: (entries) => {
        for (const [key, value] of entries) this.apply(key, value);
      },
    });
    opts.mirror.onState((s) => {
      if (s === "connected") void this.replay();
    });
  }

  fullKey(key: string): string {
    return `${this.root}${key}`;
  }

  stats(): EtcdTierStats {
    return { ...this.counters, pending: this.pending.size };
  }

  /** Reads one key from etcd (a local miss); stores it locally when usable. */
  async get(key: string): Promise<LocalEntry | undefined> {
    if (this.opts.mirror.state() !== "connected") return undefined;
    let buf: Buffer | null;
    try {
      buf = await this.opts.mirror.client.get(this.fullKey(key)).buffer();
    } catch (err) {
      this.opts.mirror.reportFailure(err);
      return undefined;
    }
    if (!buf) return undefined;
    this.apply(key, buf, false);
    return this.opts.local.peek(key);
  }

  /**
   * Writes an answer this replica resolved. Resolves true once etcd acknowledged it; false when it was
   * queued for replay (etcd degraded) or is too close to expiry to be worth sharing.
   */
  async put(key: string, answer: Answer): Promise<boolean> {
    if (this.opts.mirror.state() !== "connected") {
      this.pending.set(key, answer);
      return false;
    }
    const exp = expiresAt(answer.resolvedAt, answer.ttl);
    if (exp - this.opts.now() < 1000) return false;
    const value = Buffer.from(encodeAnswer(answer, this.opts.replicaId));
    try {
      const lease = await this.opts.leases.leaseFor(exp);
      await this.opts.mirror.client.put(this.fullKey(key)).value(value).lease(lease).exec();
      this.counters.puts++;
      const queued = this.pending.get(key);
      if (queued && queued.resolvedAt <= answer.resolvedAt) this.pending.delete(key);
      return true;
    } catch (err) {
      this.counters.putFailures++;
      const cur = this.pending.get(key);
      if (!cur || cur.resolvedAt <= answer.resolvedAt) this.pending.set(key, answer);
      if (err instanceof Error && /lease not found/i.test(err.message)) this.opts.leases.clear();
      else this.opts.mirror.reportFailure(err);
      return false;
    }
  }

  private async replay(): Promise<void> {
    // Leases may have expired or been revoked while we were away; start from fresh buckets.
    this.opts.leases.clear();
    const batch = [...this.pending];
    for (const [key, answer] of batch) {
      const local = this.opts.local.peek(key);
      // The re-list may already have brought a newer answer from another replica: ours is obsolete.
      if (local && local.answer.resolvedAt > answer.resolvedAt) {
        this.pending.delete(key);
        continue;
      }
      if (this.opts.mirror.state() !== "connected") return;
      if (await this.put(key, answer)) this.counters.replayed++;
      else if (expiresAt(answer.resolvedAt, answer.ttl) - this.opts.now() < 1000) this.pending.delete(key);
    }
  }

  private apply(key: string, value: Buffer, notify = true): void {
    let decoded: ReturnType<typeof decodeAnswer>;
    try {
      decoded = decodeAnswer(value);
    } catch (err) {
      this.counters.decodeErrors++;
      this.opts.logger?.warn({ err, key }, "undecodable cached answer in etcd; ignored");
      return;
    }
    if (key !== cacheKey(decoded.answer.name, decoded.answer.type)) {
      this.counters.decodeErrors++;
      this.opts.logger?.warn({ key }, "cached answer stored under a key that does not match it; ignored");
      return;
    }
    const entry = entryFromAnswer(decoded.answer, decoded.resolvedBy, this.opts.policy);
    if (!this.opts.local.set(key, entry)) return;
    this.counters.applied++;
    if (notify) this.opts.onRemote?.(key, entry.answer);
  }
}
