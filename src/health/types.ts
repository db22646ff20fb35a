/**
 * Health of one endpoint as the checker sees it and as the endpoints stage publishes it.
 * The checker (src/health) and the shared store (src/cache) talk through these types.
 */
import type { ProbeTlsSpec } from "./probe-tls.js";

/** Mirrors envoy.config.core.v3.HealthStatus values dns-eds uses. */
export type EndpointHealth = "UNKNOWN" | "HEALTHY" | "UNHEALTHY" | "DRAINING";

/** An endpoint is identified by address and port; the key is `address|port`, IPv6 without brackets. */
export const endpointKey = (address: string, port: number): string => `${address}|${port}`;

export interface HealthCheckSpec {
  type: "tcp" | "http" | "https" | "grpc";
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  /** Jitter on the first check, as a fraction of the interval (0..1). */
  initialJitter: number;
  /** Jitter added to each interval, as a fraction of the interval (0..1). */
  intervalJitter: number;
  /** HTTP(S) path. */
  path?: string;
  /** HTTP(S) statuses that mean healthy (default 200..399). */
  expectedStatuses?: number[];
  /** gRPC health service name ("" = whole server). */
  grpcService?: string;
  /**
   * TLS of an `https` check (verification on by default), or of a `grpc` check, which uses TLS only
   * when this is given. See probe-tls.ts.
   */
  tls?: ProbeTlsSpec;
}

/** Where health results are published and read; local-only or shared through etcd. */
export interface HealthSink {
  set(key: string, health: EndpointHealth): void;
  get(key: string): EndpointHealth | undefined;
  /** The endpoint is no longer checked anywhere here: drop what is kept for it (a shared sink deletes its key). */
  forget?(key: string): void;
  onChange(listener: (key: string, health: EndpointHealth) => void): () => void;
}
