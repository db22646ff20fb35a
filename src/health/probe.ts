/**
 * What a single health probe returns, shared by the TCP, HTTP and gRPC checkers and the scheduler.
 * A probe never throws: it reports a failure with a stable code and whether it is "hard" (the backend
 * answered and said no, e.g. connection refused or a wrong status) so the scheduler can act at once,
 * or "soft" (timeout, reset) so it counts towards the unhealthy threshold.
 */
import { isTlsFailure } from "./probe-tls.js";
import type { HealthCheckSpec } from "./types.js";

export type ProbeFailureCode =
  | "ERR_HEALTH_TIMEOUT"
  | "ERR_HEALTH_REFUSED"
  | "ERR_HEALTH_CONNECT"
  | "ERR_HEALTH_STATUS"
  | "ERR_HEALTH_NOT_SERVING"
  | "ERR_HEALTH_PROTOCOL"
  | "ERR_HEALTH_TLS"
  | "ERR_HEALTH_ABORTED";

export type ProbeResult = { ok: true } | { ok: false; hard: boolean; code: ProbeFailureCode; detail: string };

export interface ProbeTarget {
  address: string;
  port: number;
  /** DNS name the address came from, when known: the default name a TLS check verifies. */
  host?: string;
}

/** Runs one check; must settle by `spec.timeoutMs` or when `signal` aborts, whichever is first. */
export type Probe = (target: ProbeTarget, spec: HealthCheckSpec, signal: AbortSignal) => Promise<ProbeResult>;

/** Failure codes that mean the backend itself answered "no"; counted at once, not against thresholds. */
export const HARD_CODES: ReadonlySet<ProbeFailureCode> = new Set([
  "ERR_HEALTH_REFUSED",
  "ERR_HEALTH_STATUS",
  "ERR_HEALTH_NOT_SERVING",
  // A certificate that does not verify will not verify on the next try either.
  "ERR_HEALTH_TLS",
]);

export const fail = (code: ProbeFailureCode, detail: string): ProbeResult => ({
  ok: false,
  hard: HARD_CODES.has(code),
  code,
  detail,
});

/** Node socket errors → probe codes; a refused/reset connection is an answer, anything else is soft. */
export function socketFailure(err: NodeJS.ErrnoException): ProbeResult {
  if (err.code === "ECONNREFUSED") return fail("ERR_HEALTH_REFUSED", err.message);
  if (isTlsFailure(`${err.code ?? ""} ${err.message}`))
    return fail("ERR_HEALTH_TLS", `${err.code ?? "tls"}: ${err.message}`);
  if (err.code === "ETIMEDOUT") return fail("ERR_HEALTH_TIMEOUT", err.message);
  return fail("ERR_HEALTH_CONNECT", `${err.code ?? "error"}: ${err.message}`);
}

/** `host:port` with IPv6 bracketed, for URLs and gRPC targets. */
export const hostPort = (t: ProbeTarget): string =>
  t.address.includes(":") ? `[${t.address}]:${t.port}` : `${t.address}:${t.port}`;

/**
 * Settles a socket-based probe exactly once: on the first of its own outcome, the timeout or the abort
 * signal. `cleanup` releases the socket or request; the returned function reports the outcome.
 */
export function settleOnce(
  resolve: (r: ProbeResult) => void,
  signal: AbortSignal,
  timeoutMs: number,
  timeoutDetail: string,
  cleanup: () => void,
): (r: ProbeResult) => void {
  let settled = false;
  const finish = (r: ProbeResult): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    cleanup();
    resolve(r);
  };
  const onAbort = (): void => finish(fail("ERR_HEALTH_ABORTED", "aborted"));
  const timer = setTimeout(() => finish(fail("ERR_HEALTH_TIMEOUT", timeoutDetail)), timeoutMs);
  signal.addEventListener("abort", onAbort, { once: true });
  return finish;
}
