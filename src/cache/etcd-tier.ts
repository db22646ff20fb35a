/**
 * Distributed tier of DNS answers: keys `${prefix}v1/dns/${type}/${name}` holding a
 * dnseds.v1.CachedAnswer, attached to a bucketed lease so etcd deletes them once they are no longer
 * fresh. Watch events (via the mirror) are applied to the local tier; a delete never removes a
 * local entry, because an expiring lease must not withdraw endpoints by itself (the local entry keeps
 * serving, stale if need be). Writes made while etcd is unreachable are kept (latest per key) and
 * replayed when the mirror reconnects, so no update is lost.
 */
import type { Logger } from "pino";
import { HISTORY_TYPES, recordAnswer } from "../dns/answer-history.js";
import type { Answer } from "../dns/types.js";
import { decodeAnswer, encodeAnswer } from "./answer-codec.js";
import { type CachePolicy, expiresAt, staleUntil } from "./cache-policy.js";
import { cachedAnswer } from "./cached-answer.js";
import { checkEtcdAnswer, DEFAULT_MAX_CLOCK_SKEW_MS } from "./etcd-answer-check.js";
import type { EtcdMirror } from "./etcd-mirror.js";
import type { EtcdRejections } from "./etcd-rejections.js";
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
  /** Puts in flight at most (default 32); the rest wait in the per-key coalescing queue. */
  maxInFlight?: number;
  /** Where values that fail their checks are counted and logged. */
  rejections?: EtcdRejections;
  /** How far in the future an answer's `resolvedAt` may be, ms (default 5,000). */
  maxClockSkewMs?: number;
  /** Whether this replica resolves the key: it then writes its answer back over a rejected value. */
  owns?: (key: string) => boolean;
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

interface QueuedWrite {
  answer: Answer;
  waiters: ((acked: boolean) => void)[];
}

export class EtcdAnswerTier {
  private readonly opts: EtcdTierOptions;
  private readonly root: string;
  /**
   * Writes not yet acknowledged by etcd, latest answer per key, oldest first. Bounded sending (not an
   * unbounded burst of puts) keeps every put inside its deadline when thousands of names refresh at once.
   */
  private readonly queue = new Map<string, QueuedWrite>();
  private readonly maxInFlight: number;
  private inFlight = 0;
  private closed = false;
  private readonly counters = { puts: 0, putFailures: 0, applied: 0, decodeErrors: 0, replayed: 0 };

  constructor(opts: EtcdTierOptions) {
    this.opts = opts;
    this.maxInFlight = opts.maxInFlight ?? 32;
    this.root = `${opts.mirror.root}${DNS_SUBPREFIX}`;
    opts.mirror.subscribe(DNS_SUBPREFIX, {
      put: (key, kv) => this.apply(key, kv.value),
      delete: () => undefined,
      snapshot: (entries) => {
        for (const [key, kv] of entries) this.apply(key, kv.value);
      },
    });
    opts.mirror.onState((s) => {
      if (s === "connected") this.resumeAfterOutage();
    });
  }

  fullKey(key: string): string {
    return `${this.root}${key}`;
  }

  stats(): EtcdTierStats {
    return { ...this.counters, pending: this.queue.size + this.inFlight };
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
   * Queues an answer this replica resolved. Resolves true once etcd acknowledged it (or a newer answer
   * for the same key that replaced it in the queue); false when it was dropped: too close to expiry to
   * be worth sharing, obsolete (etcd already holds a newer one), or the tier closed. While etcd is
   * unreachable the write waits and is sent on reconnect, so no update is lost.
   */
  put(key: string, answer: Answer): Promise<boolean> {
    if (this.closed || this.tooLate(answer)) return Promise.resolve(false);
    const cur = this.queue.get(key);
    if (cur && cur.answer.resolvedAt > answer.resolvedAt) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      if (cur) {
        cur.answer = answer;
        cur.waiters.push(resolve);
      } else {
        this.queue.set(key, { answer, waiters: [resolve] });
      }
      this.pump();
    });
  }

  /** Drops queued writes (their promises resolve false). */
  close(): void {
    this.closed = true;
    for (const w of this.queue.values()) for (const r of w.waiters) r(false);
    this.queue.clear();
  }

  private tooLate(answer: Answer): boolean {
    return expiresAt(answer.resolvedAt, answer.ttl) - this.opts.now() < 1000;
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.maxInFlight && this.opts.mirror.state() === "connected") {
      const first = this.queue.entries().next();
      if (first.done) return;
      const [key, write] = first.value;
      this.queue.delete(key);
      this.inFlight++;
      void this.send(key, write).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async send(key: string, write: QueuedWrite): Promise<void> {
    const { answer } = write;
    if (this.tooLate(answer)) {
      for (const r of write.waiters) r(false);
      return;
    }
    const value = Buffer.from(encodeAnswer(answer, this.opts.replicaId));
    try {
      const lease = await this.opts.leases.leaseFor(expiresAt(answer.resolvedAt, answer.ttl));
      await this.opts.mirror.client.put(this.fullKey(key)).value(value).lease(lease).exec();
      this.counters.puts++;
      for (const r of write.waiters) r(true);
    } catch (err) {
      this.counters.putFailures++;
      // Back in the queue unless a newer answer for the key arrived meanwhile (then it carries ours).
      const newer = this.queue.get(key);
      if (newer) newer.waiters.push(...write.waiters);
      else this.queue.set(key, write);
      if (err instanceof Error && /lease not found/i.test(err.message)) this.opts.leases.clear();
      else this.opts.mirror.reportFailure(err);
    }
  }

  /** A rejected put replaced the key: the owner of the name writes its own answer back. */
  private restore(key: string): void {
    const local = this.opts.local.peek(key);
    if (local && this.opts.owns?.(key)) void this.put(key, local.answer);
  }

  private reject(reason: Parameters<EtcdRejections["reject"]>[1], key: string, detail: string): void {
    if (this.opts.rejections) this.opts.rejections.reject("dns", reason, key, detail);
    else this.opts.logger?.warn({ key, reason, detail }, "rejected a cached answer in etcd; not applied");
  }

  private resumeAfterOutage(): void {
    // Leases may have expired or been revoked while we were away; start from fresh buckets.
    this.opts.leases.clear();
    for (const [key, write] of [...this.queue]) {
      const local = this.opts.local.peek(key);
      // The re-list may already have brought a newer answer from another replica: ours is obsolete.
      if (local && local.answer.resolvedAt > write.answer.resolvedAt) {
        this.queue.delete(key);
        for (const r of write.waiters) r(false);
      } else {
        this.counters.replayed++;
      }
    }
    this.pump();
  }

  /** Decodes and checks a value from etcd; one that fails is counted, logged and never served. */
  private apply(key: string, value: Buffer, notify = true): void {
    let decoded: ReturnType<typeof decodeAnswer>;
    try {
      decoded = decodeAnswer(value);
    } catch (err) {
      this.counters.decodeErrors++;
      this.reject("decode", key, (err as Error).message);
      this.restore(key);
      return;
    }
    const checked = checkEtcdAnswer(key, decoded, {
      now: this.opts.now(),
      maxClockSkewMs: this.opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS,
      policy: this.opts.policy,
    });
    if (!checked.ok) {
      this.counters.decodeErrors++;
      this.reject(checked.reason, key, checked.detail);
      this.restore(key);
      return;
    }
    const checkedAnswer = checked.answer;
    let history = checkedAnswer.history;
    if (!history && HISTORY_TYPES.has(checkedAnswer.type)) {
      // Written by a replica that predates answer histories (rolling upgrade): derive one from what
      // this replica held, so a grace still starts here; the start is the answer's own resolvedAt.
      history = recordAnswer(this.opts.local.peek(key)?.answer, checkedAnswer);
    }
    // Held in the one frozen shape every cached answer has, whichever tier it came from.
    const answer = cachedAnswer(checkedAnswer, checkedAnswer.ttl, history);
    const entry = entryFromAnswer(answer, decoded.resolvedBy, this.opts.policy);
    if (!this.opts.local.set(key, entry)) return;
    this.counters.applied++;
    if (notify) this.opts.onRemote?.(key, entry.answer);
  }
}
