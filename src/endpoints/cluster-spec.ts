/**
 * What the endpoints stage needs to know about one cluster. The config stage maps the YAML file onto
 * these plain, frozen objects; nothing here depends on how they were written down.
 */
import type { HealthCheckSpec } from "../health/types.js";

export type IpFamilyPolicy = "V4_ONLY" | "V6_ONLY" | "V4_PREFERRED" | "V6_PREFERRED" | "ALL";

export interface LocalitySpec {
  region: string;
  zone: string;
  subZone: string;
}

interface SourceBase {
  locality: LocalitySpec;
  /** Locality weight (≥ 1). */
  weight: number;
  /** Metadata put on every endpoint of this source, under filter_metadata["envoy.lb"]. */
  metadata: Readonly<Record<string, string>>;
  /** Also read `key=value` TXT records at the name and merge them into the metadata. */
  txtMetadata: boolean;
}

export type SourceSpec =
  | (SourceBase & { kind: "dns"; name: string; port: number })
  | (SourceBase & { kind: "srv"; name: string })
  | (SourceBase & { kind: "static"; addresses: ReadonlyArray<{ address: string; port: number }> });

/** Grace for empty answers and damping for shrinking ones (issue 16; applied in flap-guard.ts). */
export interface FlapGuardSpec {
  /**
   * How long a name that had records keeps serving them after it answers NXDOMAIN or NODATA, ms;
   * "auto": max(60 s, 2 × the TTL of its last confirmed answer); 0: no grace.
   */
  emptyGraceMs: number | "auto";
  /** A smaller answer lacking more than this share (0..1) of the confirmed records is held. */
  shrinkThreshold: number;
  /** Longest hold of such an answer when no second sighting confirms it, ms; 0: no damping. */
  shrinkHoldMs: number;
}

/** Caps on DNS-controlled size, per cluster (cluster-input-screen.ts). */
export interface InputLimits {
  /** Distinct SRV targets per SRV answer. */
  maxSrvTargets: number;
  /** Distinct endpoints (address:port) per cluster. */
  maxEndpoints: number;
  /** TXT metadata keys per endpoint. */
  maxTxtKeys: number;
  /** TXT metadata bytes (keys + values) per endpoint. */
  maxTxtBytes: number;
}

export interface ClusterSpec {
  name: string;
  sources: readonly SourceSpec[];
  ipFamily: IpFamilyPolicy;
  /** Publish dual-stack hosts as one endpoint with the other family in additional_addresses. */
  happyEyeballs: boolean;
  /** Put localities in the client's zone at priority 0, others after. */
  zoneAware: boolean;
  /**
   * Give every endpoint its DNS name as `Endpoint.hostname` (what Envoy's `auto_host_rewrite` and its
   * admin show). Absent = true: specs built in code need not set it; false leaves the field empty.
   */
  endpointHostname?: boolean;
  /** Keep only endpoints whose metadata has all these key/values. */
  selector?: Readonly<Record<string, string>>;
  /** Envoy's lb_subset_config: one subset selector (metadata keys) per entry. */
  subsetSelectors?: ReadonlyArray<readonly string[]>;
  healthCheck?: HealthCheckSpec;
  /** Publish an LDS API listener and RDS route of the same name for `xds:///NAME` (proxyless gRPC). */
  grpcListener: boolean;
  connectTimeoutMs: number;
  lbPolicy: "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM" | "RING_HASH";
  overprovisioningFactor: number;
  /** How long an endpoint that left DNS stays as DRAINING before removal. */
  drainMs: number;
  /** Absent: empty and shrunken answers apply at once (the config always sets it). */
  flapGuard?: FlapGuardSpec;
  /**
   * Envoy's `endpoint_stale_after` in ms (0 = off): with it, Envoy empties the cluster when no
   * assignment arrived for that long, so the xDS side re-sends it well before (xds/stale-refresh.ts).
   * Absent = off (specs built in code need not set it).
   */
  staleAfterMs?: number;
  /**
   * Rebinding-guard opt-out: let DNS answers (and etcd copies of them) put loopback addresses
   * (127.0.0.0/8, ::1) into this cluster. Everything else the guard denies stays denied. Required so
   * that every caller decides: the demo and tests say true, production configs leave it false.
   */
  allowLoopback: boolean;
  /** More CIDR ranges the guard denies for this cluster (config `dns.rebindingGuard`). */
  denyRanges?: readonly string[];
  /** Caps on what DNS controls the size of (config `dns.limits`); absent: the config defaults. */
  inputLimits?: InputLimits;
}
