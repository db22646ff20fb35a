/**
 * What happens to a value in etcd that fails its checks: it is not applied (nothing served changes),
 * it is counted per kind and reason (`dnseds_etcd_rejected_values_total`), and it is logged — at most
 * a few lines a minute per kind, with the number left out, because whoever can write the prefix can
 * write millions of bad keys and must not be able to flood the log. Keys and details are truncated.
 */
import type { Logger } from "pino";

/** The sub-prefix a value came from. */
export type EtcdValueKind = "dns" | "health" | "owners" | "members";

/** Bounded, so it can be a metric label. */
export type EtcdRejectReason =
  | "decode"
  | "key_mismatch"
  | "bad_key"
  | "bad_name"
  | "bad_address"
  | "bad_ttl"
  | "future_resolved_at"
  | "bad_rcode"
  | "too_large"
  | "bad_value"
  | "no_lease"
  | "foreign_lease";

export interface EtcdRejectionsOptions {
  logger?: Logger;
  /** Metric hook: one call per rejected value. */
  onReject?: (kind: EtcdValueKind, reason: EtcdRejectReason) => void;
  now?: () => number;
  /** Log lines per kind per minute at most (default 10). */
  logsPerMinute?: number;
}

const clip = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);

export class EtcdRejections {
  private readonly counts = new Map<string, number>();
  private readonly windows = new Map<EtcdValueKind, { start: number; logged: number; suppressed: number }>();
  private readonly now: () => number;
  private readonly perMinute: number;

  constructor(private readonly opts: EtcdRejectionsOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.perMinute = opts.logsPerMinute ?? 10;
  }

  reject(kind: EtcdValueKind, reason: EtcdRejectReason, key: string, detail: string): void {
    const k = `${kind}/${reason}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    try {
      this.opts.onReject?.(kind, reason);
    } catch {
      // metrics must never break the watch
    }
    const logger = this.opts.logger;
    if (!logger) return;
    const now = this.now();
    let w = this.windows.get(kind);
    if (!w || now - w.start >= 60_000) {
      w = { start: now, logged: 0, suppressed: w && now - w.start >= 60_000 ? w.suppressed : 0 };
      this.windows.set(kind, w);
    }
    if (w.logged >= this.perMinute) {
      w.suppressed++;
      return;
    }
    w.logged++;
    const suppressed = w.suppressed;
    w.suppressed = 0;
    logger.warn(
      { kind, reason, key: clip(key), detail: clip(detail), ...(suppressed > 0 ? { suppressed } : {}) },
      `rejected a ${kind} value in etcd (${reason}); not applied`,
    );
  }

  /** Rejections so far, by `kind/reason`. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  total(kind?: EtcdValueKind): number {
    let n = 0;
    for (const [k, v] of this.counts) if (!kind || k.startsWith(`${kind}/`)) n += v;
    return n;
  }
}
