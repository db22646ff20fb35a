/**
 * The one exponential backoff of dns-eds. The DNS server pool's down-marking, the etcd mirror's
 * re-list loop, the retries of one etcd call and the endpoint pipeline's publish retry all take their
 * delays from `backoffDelay`: base · 2^attempt, capped, with optional downward jitter drawn from an
 * injectable source (tests pass their own). cockatiel (which etcd3 brings) still runs the etcd call
 * retries, because etcd3 takes a cockatiel policy there; its jitter generators draw from Math.random
 * and keep their state in a chain of objects, so the delays come from here through its DelegateBackoff.
 */

export interface BackoffOptions {
  /** Delay of attempt 0, ms. */
  baseMs: number;
  /** Longest delay, ms. */
  maxMs: number;
  /** Fraction (0..1) the delay may be cut by at random: 0.5 draws from [½, 1] × the exponential. Default 0. */
  jitter?: number;
  /** Uniform [0, 1) source of the jitter (default Math.random). */
  random?: () => number;
}

/** Delay before retry number `attempt` (0-based) in ms. */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const n = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** n);
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0));
  return jitter === 0 ? exp : exp * (1 - jitter * (opts.random ?? Math.random)());
}
