/**
 * Every default value of the config file, in one place. The schema applies these; docs/config.md is
 * checked against the schema by a test, so a default changes here and nowhere else.
 */

export const XDS_DEFAULTS = {
  listen: "0.0.0.0:18000",
  limits: {
    maxConcurrentStreams: 10_000,
    /** grpc-js' own receive default; responses are bounded by the CLA sizes we build. */
    maxMessageBytes: 4 * 1024 * 1024,
    keepaliveMs: 30_000,
    keepaliveTimeoutMs: 10_000,
    debounceMs: 100,
  },
} as const;

/** Loopback by default: the admin port exposes config and metrics and has no authentication. */
export const ADMIN_DEFAULTS = { listen: "127.0.0.1:19000" } as const;

export const DNS_DEFAULTS = {
  timeoutMs: 500,
  attempts: 2,
  backoff: { baseMs: 1_000, maxMs: 60_000 },
  /** Seconds; RFC 8767 suggests serving stale for 1 to 3 days, TTL clamps follow common resolvers. */
  minTtl: 5,
  maxTtl: 86_400,
  negativeTtlCap: 3_600,
  serveStaleMaxAgeMs: 86_400_000,
  use0x20: false,
  /** Empty by default: tests and the embedded demo resolve to loopback. */
  rebindingGuard: [] as string[],
  /** What glibc falls back to when resolv.conf lists no nameserver. */
  fallbackServer: "127.0.0.1:53",
  resolvConfPath: "/etc/resolv.conf",
} as const;

export const CACHE_DEFAULTS = {
  localMaxEntries: 100_000,
  refreshAheadMaxLeadMs: 2_000,
  etcd: { prefix: "/dns-eds/", dialTimeoutMs: 3_000 },
} as const;

export const HEALTH_DEFAULTS = {
  type: "tcp",
  intervalMs: 5_000,
  timeoutMs: 1_000,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  initialJitter: 0.5,
  intervalJitter: 0.1,
  path: "/",
  grpcService: "",
} as const;

/**
 * Stopping on SIGTERM. No delay by default: outside Kubernetes nothing watches /readyz; the Helm chart
 * sets one so endpoints controllers stop routing here first. Window plus grace stay under Docker's 10 s
 * stop timeout.
 */
export const SHUTDOWN_DEFAULTS = {
  drainDelayMs: 0,
  drainWindowMs: 5_000,
  graceMs: 2_000,
} as const;

export const CLUSTER_DEFAULTS = {
  ipFamily: "V4_PREFERRED",
  happyEyeballs: false,
  zoneAware: false,
  grpcListener: false,
  connectTimeoutMs: 5_000,
  lbPolicy: "ROUND_ROBIN",
  /** Envoy's own default; gRPC ignores it. */
  overprovisioningFactor: 140,
  drainMs: 30_000,
} as const;

export const SOURCE_DEFAULTS = {
  locality: { region: "", zone: "", subZone: "" },
  weight: 1,
  txtMetadata: false,
} as const;
