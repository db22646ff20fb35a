/**
 * Optional metrics hooks the resolver calls; the operator surface binds them to Prometheus. Hooks must
 * not throw (a throwing hook is caught and ignored so metrics can never break resolution).
 */
import type { RejectReason } from "./message-validator.js";

/** Every outcome label a query can get (docs/operations.md lists the same set; a test compares). */
export const QUERY_OUTCOMES = [
  "answer",
  "nodata",
  "nxdomain",
  "servfail",
  "refused",
  "bad_rcode",
  "truncated",
  "timeout",
  "bad_reply",
  "network",
] as const;
export type QueryOutcome = (typeof QUERY_OUTCOMES)[number];

export interface DnsMetrics {
  /** One try against one server finished. */
  query?(server: string, outcome: QueryOutcome, latencyMs: number): void;
  /** A lookup moved on from `from` to `to` after a failure. */
  failover?(from: string, to: string): void;
  /** A reply (or record) was rejected by validation. */
  rejected?(reason: RejectReason): void;
  /** A TCP connection to `server` was opened or closed (tcp-transport.ts keeps them for reuse). */
  tcpConnection?(server: string, event: "opened" | "closed"): void;
}
