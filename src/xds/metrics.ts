/**
 * What the xDS server reports about itself. The operator surface (src/admin) implements this with
 * prom-client; the server only calls these hooks, so it stays free of any metrics library. The hooks
 * after `nacked` are optional, so an implementation written before them keeps working.
 */

export interface XdsMetrics {
  streamOpened(kind: string): void;
  streamClosed(kind: string): void;
  pushed(typeUrl: string, bytes: number, latencyMs: number): void;
  /** A client rejected a response: `rejected` names the resources and versions it refused. */
  nacked(typeUrl: string, detail: string, rejected?: NackInfo): void;
  /** A client went over a limit (a stream or connection was refused or ended); `limit` is its key. */
  limitExceeded?(limit: string): void;
  /** Authorization refused a stream: `no-identity`, `unknown-identity`, `node-id` or `zone`. */
  denied?(reason: string): void;
  connectionOpened?(): void;
  connectionClosed?(): void;
  /** A log line about client-sent text was held back by the rate limit. */
  clientLogSuppressed?(kind: string): void;
  /** The TLS files changed and were applied, or were refused (the previous ones stay). */
  tlsReload?(outcome: "applied" | "rejected"): void;
  /** A published change reached every stream it concerned and the last of them ACKed it (convergence-tracker.ts). */
  converged?(latencyMs: number): void;
}

export interface NackInfo {
  /** node.id of the client. */
  node: string;
  resources: ReadonlyArray<{ name: string; version: string }>;
}

export const NOOP_METRICS: Required<XdsMetrics> = {
  streamOpened() {},
  streamClosed() {},
  pushed() {},
  nacked() {},
  limitExceeded() {},
  denied() {},
  connectionOpened() {},
  connectionClosed() {},
  clientLogSuppressed() {},
  tlsReload() {},
  converged() {},
};

/** Every hook present: the given ones bound to their object, the rest no-ops. */
export function completeMetrics(m: XdsMetrics | undefined): Required<XdsMetrics> {
  if (!m) return NOOP_METRICS;
  const out = { ...NOOP_METRICS };
  for (const key of Object.keys(NOOP_METRICS) as Array<keyof XdsMetrics>) {
    const hook = m[key];
    if (typeof hook === "function") (out as Record<string, unknown>)[key] = hook.bind(m);
  }
  return out;
}
