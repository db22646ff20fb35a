/**
 * The cache's public entry: a `Resolver` that reads local tier → etcd tier → upstream and writes both,
 * with one shared fetch per key, serve-stale on upstream failure, refresh-ahead of names the control
 * plane serves (by the one replica that owns each name), and change notifications for those names.
 * Without etcd it is the local tier alone, with the same behaviour for a single replica.
 */
import type { Logger } from "pino";
import { recordAnswer } from "../dns/answer-history.js";
import type { Answer, RecordType, ResolveOptions, Resolver } from "../dns/types.js";
import type { HealthSink } from "../health/types.js";
import { cacheKey, normalizeName } from "./cache-key.js";
import type { CacheMetrics, EtcdTierState } from "./cache-metrics.js";
import {
  type CachePolicy,
  cacheTtlSeconds,
  isNegative,
  recheckTtlSeconds,
  refreshAheadAt,
  resolvePolicy,
} from "./cache-policy.js";
import { cachedAnswer } from "./cached-answer.js";
import { CacheError } from "./errors.js";
import { createEtcdClient, type EtcdClientOptions } from "./etcd-client.js";
import { EtcdMirror, type MirrorStats } from "./etcd-mirror.js";
import { EtcdRejections } from "./etcd-rejections.js";
import { EtcdAnswerTier, type EtcdTierStats, entryFromAnswer } from "./etcd-tier.js";
import { HealthStore } from "./health-store.js";
import { LeaseBuckets } from "./lease-buckets.js";
import { type LocalEntry, LocalTier, type LocalTierStats } from "./local-tier.js";
import {
  EtcdNameOwnership,
  type NameOwnership,
  type OwnershipStatus,
  SoleOwnership,
} from "./name-ownership.js";
import { NotifiedAnswer } from "./notified-answer.js";

export interface CachingResolverEtcdOptions {
  endpoints: string[];
  /** Key prefix (default "/dns-eds/"); keys live under `${prefix}v1/`. */
  prefix?: string;
  /** Deadline of each etcd call, ms (default 2000). */
  opTimeoutMs?: number;
  /** Width of a lease bucket, seconds (default 5). */
  leaseBucketSeconds?: number;
  /** Ownership shards (default 64; same on every replica). */
  shards?: number;
  /** Ownership session TTL, seconds (default 5). */
  sessionTtlSeconds?: number;
  /** Reconnect backoff, ms (defaults 100 and 5000). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** TLS to etcd (PEM buffers), as the etcd3 client takes them. */
  credentials?: EtcdClientOptions["credentials"];
  /** etcd user authentication. */
  auth?: EtcdClientOptions["auth"];
  /** How far in the future an answer's `resolvedAt` in etcd may be, ms (default 5,000). */
  maxClockSkewMs?: number;
  /** Keys per Range request when listing the prefix (default 500). */
  listPageKeys?: number;
}

export interface CachingResolverOptions {
  upstream: Resolver;
  /** Unique per replica; no '/'. */
  replicaId: string;
  etcd?: CachingResolverEtcdOptions;
  policy?: Partial<CachePolicy>;
  localMaxEntries?: number;
  localMaxBytes?: number;
  now?: () => number;
  random?: () => number;
  metrics?: CacheMetrics;
  logger?: Logger;
  /**
   * A tracked name this replica does not own is refreshed by this replica itself when no fresh answer
   * arrived this long after expiry (the owner died and takeover is not done yet). Default 2 × session
   * TTL + 2 s.
   */
  followerGraceMs?: number;
  /** How long a non-owner waits for the owner's answer on a miss of a tracked name, ms (default 2000). */
  followerWaitMs?: number;
  /**
   * A miss waits at most this long for etcd before asking the upstream, ms (default 300): a hung etcd
   * (no quorum, paused member) must not stall lookups until the etcd call deadline.
   */
  etcdReadWaitMs?: number;
}

export interface CacheStatus {
  etcd: EtcdTierState;
  replicaId: string;
  local: LocalTierStats;
  etcdTier?: EtcdTierStats;
  mirror?: MirrorStats;
  ownership?: OwnershipStatus;
  leaseGrants: number;
  tracked: number;
  inflight: number;
  upstreamQueries: number;
  upstreamFailures: number;
  /** Values in etcd rejected by their checks, by `kind/reason`. */
  etcdRejected: Record<string, number>;
}

export type UpdateListener = (name: string, type: RecordType, answer: Answer) => void;

export interface CachingResolver extends Resolver {
  start(): Promise<void>;
  /** Graceful stop: releases ownership at once (others take over without waiting for the TTL). */
  close(): Promise<void>;
  /** Crash-like stop: nothing released; other replicas take over after the session TTL. */
  abandon(): Promise<void>;
  /** Names the control plane serves: keep fresh (owner refreshes ahead; others follow etcd). Fires onUpdate. */
  track(name: string, type: RecordType): void;
  untrack(name: string, type: RecordType): void;
  onUpdate(cb: UpdateListener): () => void;
  /**
   * Unix ms when the locally cached answer for (name, type) stops being fresh, or undefined when none is
   * cached. Updates fire only when content changes, so this is how a view shows the TTL actually left.
   */
  expiresAt(name: string, type: RecordType): number | undefined;
  healthStore(): HealthSink;
  ownership(): NameOwnership;
  status(): CacheStatus;
}

/** Bound of the name → key memo per type; cleared wholesale when reached (names are few in practice). */
const KEY_MEMO_LIMIT = 200_000;

interface Tracked {
  name: string;
  type: RecordType;
  timer: NodeJS.Timeout | undefined;
  /** What listeners were last told, to tell them only of a change. */
  notified: NotifiedAnswer;
  /** Resolvers waiting for the owner's answer to arrive through etcd. */
  waiters: (() => void)[];
  /** Unix ms of the last refresh attempt by the timer (0 = none) and whether it brought nothing new. */
  lastAttempt: number;
  lastFailed: boolean;
}

class AbortedError extends CacheError {
  constructor() {
    super("ERR_DNS_ABORTED", "lookup aborted");
  }
}

class CachingResolverImpl implements CachingResolver {
  private readonly upstream: Resolver;
  private readonly replicaId: string;
  private readonly policy: CachePolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly metrics: CacheMetrics | undefined;
  private readonly logger: Logger | undefined;
  private readonly local: LocalTier;
  private readonly mirror: EtcdMirror | undefined;
  private readonly etcdTier: EtcdAnswerTier | undefined;
  private readonly leases: LeaseBuckets | undefined;
  private readonly owner: NameOwnership;
  private readonly etcdOwnership: EtcdNameOwnership | undefined;
  private readonly health: HealthStore;
  private readonly inflight = new Map<string, Promise<Answer>>();
  private readonly tracked = new Map<string, Tracked>();
  private readonly listeners = new Set<UpdateListener>();
  private readonly followerGraceMs: number;
  private readonly followerWaitMs: number;
  private readonly etcdReadWaitMs: number;
  private readonly closeClient: (() => void) | undefined;
  private readonly rejections: EtcdRejections;
  private upstreamQueries = 0;
  private upstreamFailures = 0;
  private closed = false;
  private readonly keyMemo: Partial<Record<RecordType, Map<string, string>>> = {
    A: new Map(),
    AAAA: new Map(),
    SRV: new Map(),
    TXT: new Map(),
  };

  constructor(opts: CachingResolverOptions) {
    if (!opts.replicaId || opts.replicaId.includes("/"))
      throw new RangeError("replicaId must be non-empty, no '/'");
    this.upstream = opts.upstream;
    this.replicaId = opts.replicaId;
    this.policy = resolvePolicy(opts.policy);
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.metrics = opts.metrics;
    this.logger = opts.logger;
    this.local = new LocalTier({ maxEntries: opts.localMaxEntries, maxBytes: opts.localMaxBytes });
    const sessionTtl = opts.etcd?.sessionTtlSeconds ?? 5;
    this.followerGraceMs = opts.followerGraceMs ?? 2 * sessionTtl * 1000 + 2000;
    this.followerWaitMs = opts.followerWaitMs ?? 2000;
    this.etcdReadWaitMs = opts.etcdReadWaitMs ?? 300;
    this.rejections = new EtcdRejections({
      ...(opts.logger ? { logger: opts.logger } : {}),
      onReject: (kind, reason) => this.metrics?.etcdRejected?.(kind, reason),
      now: this.now,
    });
    if (opts.etcd) {
      const e = opts.etcd;
      const client = createEtcdClient({
        endpoints: e.endpoints,
        opTimeoutMs: e.opTimeoutMs,
        credentials: e.credentials,
        auth: e.auth,
      });
      this.closeClient = () => client.close();
      this.mirror = new EtcdMirror({
        client,
        prefix: e.prefix ?? "/dns-eds/",
        backoffBaseMs: e.backoffBaseMs,
        backoffMaxMs: e.backoffMaxMs,
        logger: opts.logger,
        random: this.random,
        listPageKeys: e.listPageKeys,
      });
      this.leases = new LeaseBuckets({ client, bucketMs: (e.leaseBucketSeconds ?? 5) * 1000, now: this.now });
      this.etcdTier = new EtcdAnswerTier({
        mirror: this.mirror,
        local: this.local,
        leases: this.leases,
        policy: this.policy,
        replicaId: this.replicaId,
        now: this.now,
        logger: opts.logger,
        onRemote: (key, answer) => this.remoteUpdate(key, answer),
        rejections: this.rejections,
        maxClockSkewMs: e.maxClockSkewMs,
        owns: (key) => this.owner.owns(key),
      });
      this.etcdOwnership = new EtcdNameOwnership({
        mirror: this.mirror,
        replicaId: this.replicaId,
        shards: e.shards,
        sessionTtlSeconds: sessionTtl,
        logger: opts.logger,
        rejections: this.rejections,
      });
      this.owner = this.etcdOwnership;
      this.health = new HealthStore({
        mirror: this.mirror,
        leases: this.etcdOwnership,
        rejections: this.rejections,
        logger: opts.logger,
      });
      this.mirror.onState((s) => this.metrics?.etcdState?.(s));
    } else {
      this.owner = new SoleOwnership();
      this.health = new HealthStore({ logger: opts.logger });
    }
    this.owner.onChange(() => {
      for (const key of this.tracked.keys()) this.schedule(key);
    });
  }

  async start(): Promise<void> {
    if (!this.mirror || !this.etcdOwnership) {
      this.metrics?.etcdState?.("disabled");
      return;
    }
    this.metrics?.etcdState?.(this.mirror.state());
    await this.mirror.start();
    await this.etcdOwnership.start();
  }

  async close(): Promise<void> {
    this.shutdown();
    this.etcdTier?.close();
    await this.etcdOwnership?.close();
    await this.mirror?.close();
    this.closeClient?.();
  }

  async abandon(): Promise<void> {
    this.shutdown();
    this.etcdTier?.close();
    this.etcdOwnership?.abandon();
    await this.mirror?.close();
    this.closeClient?.();
  }

  private shutdown(): void {
    this.closed = true;
    for (const t of this.tracked.values()) {
      if (t.timer) clearTimeout(t.timer);
      for (const w of t.waiters) w();
    }
    this.tracked.clear();
  }

  resolve(name: string, type: RecordType, options?: ResolveOptions): Promise<Answer> {
    // Callers pass the same name strings over and over: memoising name → key skips normalising and
    // building a fresh key string (whose hash V8 would compute again) on every cached lookup.
    const keys = this.keyMemo[type];
    let key = keys?.get(name);
    if (key === undefined) {
      try {
        key = cacheKey(normalizeName(name), type);
      } catch (err) {
        return Promise.reject(err);
      }
      if (keys) {
        if (keys.size >= KEY_MEMO_LIMIT) keys.clear();
        keys.set(name, key);
      }
    }
    const fresh = this.local.fresh(key, this.now());
    if (fresh !== undefined) return Promise.resolve(fresh);
    return this.slowPath(key, key.slice(type.length + 1), type, options?.signal);
  }

  private slowPath(key: string, name: string, type: RecordType, signal?: AbortSignal): Promise<Answer> {
    if (this.closed) return Promise.reject(new CacheError("ERR_CACHE_CLOSED", "caching resolver closed"));
    const now = this.now();
    const lk = this.local.lookup(key, now);
    if (lk.state === "fresh") return Promise.resolve(lk.entry.answer);
    if (
      lk.state === "stale" &&
      now - lk.entry.lastStaleRefresh < this.policy.staleRefreshIntervalSeconds * 1000
    ) {
      this.metrics?.servedStale?.(type);
      return Promise.resolve(LocalTier.staleAnswerOf(lk.entry));
    }
    const shared = this.fetch(key, name, type, false);
    if (!signal) return shared;
    if (signal.aborted) return Promise.reject(new AbortedError());
    // The fetch is shared by every caller of the key, so one caller's abort only detaches that caller.
    return new Promise<Answer>((resolve, reject) => {
      const onAbort = () => reject(new AbortedError());
      signal.addEventListener("abort", onAbort, { once: true });
      shared.then(
        (a) => {
          signal.removeEventListener("abort", onAbort);
          resolve(a);
        },
        (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      );
    });
  }

  /** One fetch per key at a time; concurrent misses share it. */
  private fetch(key: string, name: string, type: RecordType, refreshAsOwner: boolean): Promise<Answer> {
    let p = this.inflight.get(key);
    if (!p) {
      p = this.doFetch(key, name, type, refreshAsOwner).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async doFetch(
    key: string,
    name: string,
    type: RecordType,
    refreshAsOwner: boolean,
  ): Promise<Answer> {
    const tier = this.etcdTier;
    if (tier && !refreshAsOwner && this.mirror?.state() === "connected") {
      const fromEtcd = await this.freshFromEtcd(key);
      if (fromEtcd) {
        // The watch event for this value may already have been applied silently by this read.
        this.notifyIfTracked(key, fromEtcd);
        return fromEtcd;
      }
    }
    const startedAt = this.now();
    const prev = this.local.peek(key);
    if (prev && startedAt >= prev.expiresAt) prev.lastStaleRefresh = startedAt;
    let raw: Answer;
    try {
      this.upstreamQueries++;
      // The held records let an unchanged refresh come back as the same array (ResolveOptions.previous).
      // Only address records are matched that way; for SRV/TXT the hint would only cost a key index.
      const hint = prev && (type === "A" || type === "AAAA") ? { previous: prev.answer.records } : undefined;
      raw = await this.upstream.resolve(name, type, hint);
      this.metrics?.upstream?.(type, "ok", this.now() - startedAt);
    } catch (err) {
      this.upstreamFailures++;
      this.metrics?.upstream?.(type, "error", this.now() - startedAt);
      const now = this.now();
      const entry = this.local.peek(key);
      if (entry && now < entry.staleUntil) {
        entry.lastStaleRefresh = now;
        if (now >= entry.expiresAt) {
          this.metrics?.servedStale?.(type);
          const stale = LocalTier.staleAnswerOf(entry);
          this.notifyIfTracked(key, stale);
          return stale;
        }
        return entry.answer;
      }
      throw err;
    }
    const answer = this.withHistory(key, { ...raw, name: raw.name || name, type, stale: false });
    const ttl = answer.ttl;
    if (ttl > 0) {
      const entry = entryFromAnswer(answer, this.replicaId, this.policy);
      this.local.set(key, entry);
      if (tier) {
        tier.put(key, answer).catch((err) => this.logger?.warn({ err, key }, "etcd put failed"));
      }
    }
    this.notifyIfTracked(key, answer);
    return answer;
  }

  /**
   * A fresh upstream answer with the history this replica records for it (issue 16), from the answer
   * held before it (its own or the owner's, through etcd); the TTL is the one it is re-checked after.
   */
  private withHistory(key: string, raw: Answer): Answer {
    const clamped: Answer = { ...raw, ttl: cacheTtlSeconds(raw, this.policy) };
    const history = recordAnswer(this.local.peek(key)?.answer, clamped);
    if (!history) return cachedAnswer(clamped, clamped.ttl, undefined);
    const ttl = recheckTtlSeconds(clamped.ttl, history, isNegative(clamped), this.policy);
    return cachedAnswer(clamped, ttl, history);
  }

  private async freshFromEtcd(key: string): Promise<Answer | undefined> {
    const tier = this.etcdTier;
    if (!tier) return undefined;
    const isFresh = (e: LocalEntry | undefined) => e !== undefined && this.now() < e.expiresAt;
    let timer: NodeJS.Timeout | undefined;
    const e = await Promise.race([
      tier.get(key),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), this.etcdReadWaitMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (isFresh(e)) return e?.answer;
    // A tracked name another replica owns: give the owner a moment to publish instead of querying too.
    const t = this.tracked.get(key);
    if (t && !this.owner.owns(key) && !this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.followerWaitMs);
        timer.unref?.();
        function done() {
          clearTimeout(timer);
          resolve();
        }
        t.waiters.push(done);
      });
      const after = this.local.peek(key);
      if (isFresh(after)) return after?.answer;
    }
    return undefined;
  }

  private remoteUpdate(key: string, answer: Answer): void {
    const t = this.tracked.get(key);
    if (!t) return;
    const waiters = t.waiters.splice(0);
    for (const w of waiters) w();
    this.notify(t, answer);
    this.schedule(key);
  }

  private notifyIfTracked(key: string, answer: Answer): void {
    const t = this.tracked.get(key);
    if (t) this.notify(t, answer);
  }

  private notify(t: Tracked, answer: Answer): void {
    if (!t.notified.update(answer)) return;
    for (const cb of this.listeners) {
      try {
        cb(t.name, t.type, answer);
      } catch (err) {
        this.logger?.error({ err }, "onUpdate listener threw");
      }
    }
  }

  track(name: string, type: RecordType): void {
    const n = normalizeName(name);
    const key = cacheKey(n, type);
    if (this.tracked.has(key) || this.closed) return;
    this.tracked.set(key, {
      name: n,
      type,
      timer: undefined,
      notified: new NotifiedAnswer(),
      waiters: [],
      lastAttempt: 0,
      lastFailed: false,
    });
    const e = this.local.peek(key);
    const now = this.now();
    if (e && now < e.staleUntil) {
      const t = this.tracked.get(key);
      if (t) this.notify(t, now < e.expiresAt ? e.answer : LocalTier.staleAnswerOf(e));
    }
    this.schedule(key);
  }

  expiresAt(name: string, type: RecordType): number | undefined {
    let key: string;
    try {
      key = cacheKey(normalizeName(name), type);
    } catch {
      return undefined;
    }
    return this.local.peek(key)?.expiresAt;
  }

  untrack(name: string, type: RecordType): void {
    const key = cacheKey(normalizeName(name), type);
    const t = this.tracked.get(key);
    if (!t) return;
    if (t.timer) clearTimeout(t.timer);
    for (const w of t.waiters) w();
    this.tracked.delete(key);
  }

  onUpdate(cb: UpdateListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Sets the refresh timer of a tracked key from its current entry, ownership and last attempt. */
  private schedule(key: string): void {
    const t = this.tracked.get(key);
    if (!t || this.closed) return;
    if (t.timer) clearTimeout(t.timer);
    const now = this.now();
    const e = this.local.peek(key);
    const interval = this.policy.staleRefreshIntervalSeconds * 1000;
    let at: number;
    if (!e) {
      // Nothing cacheable yet (first track, TTL 0, or failures): retry without spinning.
      at =
        t.lastAttempt === 0
          ? now
          : t.lastAttempt + (t.lastFailed ? interval : this.policy.minTtlSeconds * 1000);
    } else {
      at = this.owner.owns(key)
        ? refreshAheadAt(e.answer.resolvedAt, e.answer.ttl, this.policy, this.random)
        : // Follow etcd: at expiry flag the answer stale; step in only if the owner stays silent.
          now < e.expiresAt
          ? e.expiresAt
          : e.expiresAt + this.followerGraceMs;
      if (t.lastFailed && t.lastAttempt >= e.answer.resolvedAt) {
        const backoff =
          now < e.expiresAt ? Math.min(interval, Math.max(1000, (e.expiresAt - now) / 2)) : interval;
        at = Math.max(at, t.lastAttempt + backoff);
      }
    }
    const delay = Math.min(Math.max(0, at - now), 2 ** 31 - 1);
    t.timer = setTimeout(() => void this.refresh(key), delay);
    t.timer.unref?.();
  }

  private async refresh(key: string): Promise<void> {
    const t = this.tracked.get(key);
    if (!t || this.closed) return;
    t.timer = undefined;
    const entry = this.local.peek(key);
    const owns = this.owner.owns(key);
    if (!owns && entry && this.now() < entry.expiresAt + this.followerGraceMs) {
      // The owner has not published a newer answer by expiry: what we serve is now stale.
      if (this.now() >= entry.expiresAt) this.notify(t, LocalTier.staleAnswerOf(entry));
      this.schedule(key);
      return;
    }
    const before = entry?.answer.resolvedAt ?? -1;
    let failed = false;
    try {
      await this.fetch(key, t.name, t.type, owns);
    } catch (err) {
      failed = true;
      this.logger?.debug({ err, key }, "refresh of a tracked name failed");
    }
    // Served from the old entry (upstream failed, stale or not) counts as a failed attempt.
    const after = this.local.peek(key)?.answer.resolvedAt ?? -1;
    t.lastAttempt = this.now();
    t.lastFailed = failed || (after === before && after !== -1);
    this.schedule(key);
  }

  healthStore(): HealthSink {
    return this.health;
  }

  ownership(): NameOwnership {
    return this.owner;
  }

  status(): CacheStatus {
    return {
      etcd: this.mirror ? this.mirror.state() : "disabled",
      replicaId: this.replicaId,
      local: this.local.stats(),
      etcdTier: this.etcdTier?.stats(),
      mirror: this.mirror?.stats(),
      ownership: this.etcdOwnership?.status(),
      leaseGrants: this.leases?.grants ?? 0,
      tracked: this.tracked.size,
      inflight: this.inflight.size,
      upstreamQueries: this.upstreamQueries,
      upstreamFailures: this.upstreamFailures,
      etcdRejected: this.rejections.snapshot(),
    };
  }
}

export function createCachingResolver(opts: CachingResolverOptions): CachingResolver {
  return new CachingResolverImpl(opts);
}
