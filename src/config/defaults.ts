/**
 * Every default value of the config file, in one place. The schema applies these; docs/config.md is
 * checked against the schema by a test, so a default changes here and nowhere else.
 */

export const XDS_DEFAULTS = {
  listen: "0.0.0.0:18000",
  /**
   * What one client may cost the xDS port. Sized for a fleet of proxies that each hold one ADS stream
   * watching up to ~10,000 clusters; raise them for bigger fleets (docs/security.md explains each).
   */
  limits: {
    /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: an xDS client needs 1 (ADS) to 4 (per-type services). */
    maxStreamsPerConnection: 100,
    /** Counted per remote IP address, before the TLS handshake. */
    maxConnectionsPerPeer: 100,
    maxConnections: 50_000,
    maxStreams: 50_000,
    maxRequestBytes: 1024 * 1024,
    /** A response over this is not sent: the stream ends and the error is logged and counted. */
    maxResponseBytes: 64 * 1024 * 1024,
    /** Every occurrence counts, duplicates included, before anything is decoded. */
    maxNamesPerRequest: 10_000,
    maxNameBytes: 1024,
    /** Distinct names across the stream's types. */
    maxNamesPerStream: 20_000,
    /** Distinct subscribed names plus Delta `initial_resource_versions`, UTF-8 bytes. */
    maxNameBytesPerStream: 2 * 1024 * 1024,
    /** The same, summed over every stream of the process. */
    maxNameBytesTotal: 512 * 1024 * 1024,
    /** Token bucket per stream; an ACK or NACK of the response in flight costs nothing. */
    requestsPerSecond: 20,
    requestBurst: 100,
    /** A connection without a stream, or a stream without a subscription, is closed after this. */
    idleTimeoutMs: 30_000,
    /** 0 = never. grpc-js spreads each connection's age by ±10 % so reconnects do not line up. */
    maxConnectionAgeMs: 1_800_000,
    /** After the GOAWAY, how long open streams may go on before the connection is closed. */
    maxConnectionAgeGraceMs: 10_000,
    keepaliveMs: 30_000,
    /** A short timeout drops clients whose event loop is busy, e.g. during a connect storm. */
    keepaliveTimeoutMs: 20_000,
    debounceMs: 100,
  },
  /** How often the TLS files are compared with the ones in force (rotation without a restart). */
  tls: { reloadIntervalMs: 10_000 },
} as const;

/**
 * Loopback by default: the admin port exposes config and metrics. Anywhere else it needs a token or
 * mTLS, or `allowUnauthenticated` said on purpose. The connection cap bounds sockets from one client.
 */
export const ADMIN_DEFAULTS = {
  listen: "127.0.0.1:19000",
  allowUnauthenticated: false,
  maxConnections: 64,
} as const;

export const DNS_DEFAULTS = {
  timeoutMs: 500,
  attempts: 2,
  backoff: { baseMs: 1_000, maxMs: 60_000 },
  /** Seconds; RFC 8767 suggests serving stale for 1 to 3 days, TTL clamps follow common resolvers. */
  minTtl: 5,
  maxTtl: 86_400,
  negativeTtlCap: 3_600,
  serveStaleMaxAgeMs: 86_400_000,
  /**
   * Issue 16. "auto" = max(60 s, 2 × the name's TTL): a zone reload or a secondary catching up is over
   * in seconds, and two TTLs mean at least two more answers agree before a set drains.
   */
  emptyGraceMs: "auto" as const,
  shrinkThreshold: 0.5,
  /** Normally a second sighting (the re-check after minTtl) decides first; this bounds the wait. */
  shrinkHoldMs: 30_000,
  use0x20: false,
  /** Below the 30 s that BIND and Unbound wait before closing an idle client connection. */
  tcpIdleMs: 10_000,
  /**
   * The rebinding guard is always on (loopback, link-local, metadata, multicast... are denied, see
   * src/dns/address-guard.ts); this opt-out lets DNS answers be loopback, for the demo and tests.
   */
  allowLoopback: false,
  /** More CIDR ranges the guard denies, on top of the built-in set. */
  rebindingGuard: [] as string[],
  /**
   * Caps on what a zone controls the size of. 64 targets is what the resolver follows up per SRV
   * answer; 10,000 endpoints is the largest assignment the benches build; TXT metadata rides in every
   * EDS push of every endpoint of the source.
   */
  limits: { maxSrvTargets: 64, maxEndpoints: 10_000, maxTxtKeys: 32, maxTxtBytes: 4_096 },
  /** What glibc falls back to when resolv.conf lists no nameserver. */
  fallbackServer: "127.0.0.1:53",
  resolvConfPath: "/etc/resolv.conf",
} as const;

export const CACHE_DEFAULTS = {
  localMaxEntries: 100_000,
  refreshAheadMaxLeadMs: 2_000,
  etcd: {
    prefix: "/dns-eds/",
    dialTimeoutMs: 3_000,
    /** A password over plaintext http:// is refused unless this says otherwise. */
    allowPlaintextPassword: false,
    /** How far in the future an answer's `resolvedAt` in etcd may be (replica clock skew). */
    maxClockSkewMs: 5_000,
  },
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
  endpointHostname: true,
  grpcListener: false,
  connectTimeoutMs: 5_000,
  lbPolicy: "ROUND_ROBIN",
  /** Envoy's own default; gRPC ignores it. */
  overprovisioningFactor: 140,
  drainMs: 30_000,
  /** 0 = off: Envoy keeps the last assignment however long the control plane is away (see docs/envoy.md). */
  staleAfterMs: 0,
} as const;

export const SOURCE_DEFAULTS = {
  locality: { region: "", zone: "", subZone: "" },
  weight: 1,
  txtMetadata: false,
} as const;
