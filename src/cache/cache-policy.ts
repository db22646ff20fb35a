/**
 * Caching semantics of DNS answers (issue 3, "Caching semantics"): how long an answer may be kept,
 * which outcomes are never cached, how long a last good answer may be served stale (RFC 8767), and
 * when a served name is refreshed ahead of expiry. Pure functions over an injected clock so the
 * policy is testable without timers.
 */
import type { Answer, AnswerHistory } from "../dns/types.js";

export interface CachePolicy {
  /** Lower clamp of a positive or negative TTL, seconds. */
  minTtlSeconds: number;
  /** Upper clamp of a positive TTL, seconds. */
  maxTtlSeconds: number;
  /** Upper clamp of a negative (NXDOMAIN/NODATA) TTL, seconds. */
  maxNegativeTtlSeconds: number;
  /** How long past expiry the last good answer may be served stale, seconds (RFC 8767 max-stale). */
  maxStaleSeconds: number;
  /** While serving stale, the upstream is retried at most once per this many seconds per name. */
  staleRefreshIntervalSeconds: number;
  /** Refresh-ahead window, as fractions of the TTL (a uniform pick in [lo, hi]). */
  refreshAheadLo: number;
  refreshAheadHi: number;
  /**
   * Longest lead of a refresh before expiry, seconds; the lead actually used is jittered in
   * [max/2, max]. Every refresh is one etcd put, so the puts per name per TTL are TTL / (TTL − lead):
   * 1.18 at 80–90 % of a 30 s TTL, 1.05 with the 2 s default cap. Short TTLs keep the fractions.
   */
  refreshAheadMaxLeadSeconds: number;
}

export const DEFAULT_CACHE_POLICY: Readonly<CachePolicy> = Object.freeze({
  minTtlSeconds: 5,
  maxTtlSeconds: 86_400,
  maxNegativeTtlSeconds: 3_600,
  maxStaleSeconds: 86_400,
  staleRefreshIntervalSeconds: 30,
  refreshAheadLo: 0.8,
  refreshAheadHi: 0.9,
  refreshAheadMaxLeadSeconds: 2,
});

export function resolvePolicy(partial?: Partial<CachePolicy>): CachePolicy {
  const p = { ...DEFAULT_CACHE_POLICY, ...(partial ?? {}) };
  if (!(p.minTtlSeconds >= 0 && p.maxTtlSeconds >= p.minTtlSeconds)) {
    throw new RangeError(`cache policy: need 0 <= minTtlSeconds <= maxTtlSeconds`);
  }
  if (!(p.refreshAheadLo > 0 && p.refreshAheadHi >= p.refreshAheadLo && p.refreshAheadHi < 1)) {
    throw new RangeError(`cache policy: need 0 < refreshAheadLo <= refreshAheadHi < 1`);
  }
  if (!(p.refreshAheadMaxLeadSeconds > 0)) {
    throw new RangeError(`cache policy: need refreshAheadMaxLeadSeconds > 0`);
  }
  return p;
}

/** NXDOMAIN, or NOERROR with no records of the type (NODATA). */
export function isNegative(answer: Pick<Answer, "rcode" | "records">): boolean {
  return answer.rcode !== 0 || answer.records.length === 0;
}

/**
 * The TTL an upstream answer is cached for, or 0 when it must not be cached. A raw TTL of 0 means
 * "use once" (RFC 1035), so it is not raised to the minimum; only rcodes that are answers
 * (NOERROR, NXDOMAIN) are cacheable: SERVFAIL/REFUSED arrive as rejections and never reach here.
 */
export function cacheTtlSeconds(
  answer: Pick<Answer, "rcode" | "records" | "ttl">,
  policy: CachePolicy,
): number {
  if (answer.rcode !== 0 && answer.rcode !== 3) return 0;
  const raw = Number.isFinite(answer.ttl) ? Math.floor(answer.ttl) : 0;
  if (raw <= 0) return 0;
  const max = isNegative(answer)
    ? Math.min(policy.maxNegativeTtlSeconds, policy.maxTtlSeconds)
    : policy.maxTtlSeconds;
  return Math.min(max, Math.max(policy.minTtlSeconds, raw));
}

/** Unix ms at which an answer cached with `ttlSeconds` stops being fresh. */
export function expiresAt(resolvedAt: number, ttlSeconds: number): number {
  return resolvedAt + ttlSeconds * 1000;
}

/** Unix ms after which even a stale copy must no longer be served. */
export function staleUntil(resolvedAt: number, ttlSeconds: number, policy: CachePolicy): number {
  return expiresAt(resolvedAt, ttlSeconds) + policy.maxStaleSeconds * 1000;
}

/**
 * When to refresh a served name ahead of expiry: at 80–90 % of its TTL by default, jittered, but never
 * more than `refreshAheadMaxLeadSeconds` (jittered down to half of it) before expiry. A long lead buys
 * retries before expiry but costs a DNS query and an etcd put per name more often; past a couple of
 * seconds it only adds load, since serve-stale covers a longer outage.
 */
export function refreshAheadAt(
  resolvedAt: number,
  ttlSeconds: number,
  policy: CachePolicy,
  random: () => number = Math.random,
): number {
  const ttlMs = ttlSeconds * 1000;
  const frac = policy.refreshAheadLo + (policy.refreshAheadHi - policy.refreshAheadLo) * random();
  const maxLeadMs = policy.refreshAheadMaxLeadSeconds * 1000 * (0.5 + 0.5 * random());
  const leadMs = Math.min(ttlMs * (1 - frac), maxLeadMs);
  return resolvedAt + Math.floor(ttlMs - leadMs);
}

/**
 * The TTL an answer is cached (and so re-checked) with, given the history recorded for it (issue 16).
 * An empty answer after a non-empty one is re-checked at the name's positive TTL, not its negative TTL
 * (which may be an hour): a grace can only end early if the name is asked again inside it. A shrunken
 * answer seen once is re-checked after the minimum TTL, so the second sighting that confirms it comes
 * in seconds, not a whole TTL later.
 */
export function recheckTtlSeconds(
  ttl: number,
  history: AnswerHistory | undefined,
  empty: boolean,
  policy: CachePolicy,
): number {
  if (!history) return ttl;
  const floor = Math.max(1, policy.minTtlSeconds);
  if (empty) {
    const positive = history.confirmed.ttl > 0 ? history.confirmed.ttl : floor;
    // TTL 0 would mean "not cached": the empty run's start must survive until the next resolution.
    return Math.max(1, Math.min(ttl > 0 ? ttl : positive, positive));
  }
  return history.pending ? Math.max(1, Math.min(ttl, floor)) : ttl;
}
