/**
 * The runtime config every stage receives: plain, deep-frozen objects with every default applied and
 * every cluster already in the endpoints stage's ClusterSpec shape. Nothing here knows about YAML.
 */
import type { ClusterSpec } from "../endpoints/cluster-spec.js";
import type { HealthCheckSpec } from "../health/types.js";

export interface TlsFiles {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
}

/** One rule of `xds.authorization` (patterns: `*` = any run of characters). */
export interface XdsAuthorizationRule {
  identities: readonly string[];
  nodeIds: readonly string[];
  clusters: readonly string[];
  zones?: readonly string[];
  operator: boolean;
}

export interface XdsConfig {
  /** `host:port` for the gRPC server (IPv6 in brackets). */
  listen: string;
  /** What one client may cost (enforced in src/xds/limits.ts), plus the endpoints' debounce. */
  limits: {
    /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (enforced by HTTP/2 itself). */
    maxStreamsPerConnection: number;
    /** Open connections from one remote IP address; more are closed at accept, before TLS. */
    maxConnectionsPerPeer: number;
    /** Open connections in total; more are closed at accept. */
    maxConnections: number;
    /** Open xDS streams in total; more are refused with RESOURCE_EXHAUSTED. */
    maxStreams: number;
    /** Largest request message (grpc-js refuses a bigger one from its length prefix). */
    maxRequestBytes: number;
    /** Largest response; a bigger one is not sent and its stream ends. */
    maxResponseBytes: number;
    /** Names in one request, every occurrence counted, checked before any is decoded. */
    maxNamesPerRequest: number;
    /** UTF-8 bytes of one resource name (and of one Delta initial version). */
    maxNameBytes: number;
    /** Distinct subscribed names of one stream, all types together. */
    maxNamesPerStream: number;
    /** UTF-8 bytes of one stream's distinct names plus its Delta initial_resource_versions. */
    maxNameBytesPerStream: number;
    /** The same bytes summed over every stream. */
    maxNameBytesTotal: number;
    /** Token bucket per stream; ACKs/NACKs of the response in flight are free. */
    requestsPerSecond: number;
    requestBurst: number;
    /** A connection without a stream, or a stream without a subscription, is closed after this long. */
    idleTimeoutMs: number;
    /** 0 = never; grpc-js adds ±10 % jitter per connection. */
    maxConnectionAgeMs: number;
    maxConnectionAgeGraceMs: number;
    keepaliveMs: number;
    keepaliveTimeoutMs: number;
    /** How long the endpoints stage waits to batch changes into one push. */
    debounceMs: number;
  };
  /** Absent: plaintext. Paths are absolute (resolved against the config file's folder). */
  tls?: { certFile: string; keyFile: string; caFile?: string; reloadIntervalMs: number };
  /** Per-node authorization by client certificate (needs tls.caFile); absent: off. */
  authorization?: { rules: readonly XdsAuthorizationRule[] };
}

export interface DnsConfig {
  /** `ip:port` of each server in order of preference (IPv6 as `[addr]:port`). */
  servers: readonly string[];
  /** True when `servers` came from resolv.conf because the file named none. */
  serversFromSystem: boolean;
  timeoutMs: number;
  attempts: number;
  backoff: { baseMs: number; maxMs: number };
  /** Seconds. */
  minTtl: number;
  /** Seconds. */
  maxTtl: number;
  /** Seconds. */
  negativeTtlCap: number;
  serveStaleMaxAgeMs: number;
  /** Defaults of each cluster's flap guard (issue 16); already folded into `ClusterSpec.flapGuard`. */
  emptyGraceMs: number | "auto";
  shrinkThreshold: number;
  shrinkHoldMs: number;
  use0x20: boolean;
  /** Idle time of a reused TCP connection to a DNS server; 0: a connection per query. */
  tcpIdleMs: number;
  /** Rebinding-guard opt-out for every cluster that does not say otherwise. */
  allowLoopback: boolean;
  /** CIDR blocks denied on top of the guard's built-in set. */
  rebindingGuard: readonly string[];
  /** Caps on DNS-controlled size (copied into every cluster as `inputLimits`). */
  limits: {
    maxSrvTargets: number;
    maxEndpointsPerCluster: number;
    maxTxtKeysPerEndpoint: number;
    maxTxtBytesPerEndpoint: number;
  };
}

export interface EtcdConfig {
  endpoints: readonly string[];
  /** Key prefix, starts and ends with "/". */
  prefix: string;
  dialTimeoutMs: number;
  tls?: TlsFiles;
  auth?: { username: string; password?: string; passwordFile?: string };
  allowPlaintextPassword: boolean;
  maxClockSkewMs: number;
}

export interface CacheConfig {
  localMaxEntries: number;
  /** Longest lead of a refresh-ahead before expiry, ms. */
  refreshAheadMaxLeadMs: number;
  /** Absent: local tier only (one replica). */
  etcd?: EtcdConfig;
}

/** Stopping on SIGTERM (see docs/operations.md, "Stopping and rolling restarts"). */
export interface ShutdownConfig {
  /** After SIGTERM, /readyz is 503 at once; streams are served as usual this long. */
  drainDelayMs: number;
  /** Then each client connection is sent away at its own moment within this window. */
  drainWindowMs: number;
  /** Then whatever is still open gets this long before it is cut. */
  graceMs: number;
}

export interface AdminConfig {
  listen: string;
  /** File holding the bearer token (absolute path). */
  tokenFile?: string;
  /** HTTPS; with caFile, clients need a certificate it signed (mTLS). Absolute paths. */
  tls?: { certFile: string; keyFile: string; caFile?: string };
  allowUnauthenticated: boolean;
  maxConnections: number;
}

export interface DnsEdsConfig {
  /** Where it came from: a file path, or a label such as "<embedded>". */
  source: string;
  xds: XdsConfig;
  /** `host:port` of the admin HTTP server. */
  admin: AdminConfig;
  dns: DnsConfig;
  cache: CacheConfig;
  healthDefaults: HealthCheckSpec;
  shutdown: ShutdownConfig;
  clusters: readonly ClusterSpec[];
}
