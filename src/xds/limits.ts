/**
 * What one xDS client (connection, stream, request) may cost the server. Each limit has one stable name:
 * the config key under `xds.limits`, the `limit` label of `dnseds_xds_limit_exceeded_total`, and the
 * text a refused client reads in its gRPC status. Defaults live with the config's (one place).
 */
import { status } from "@grpc/grpc-js";
import { XDS_DEFAULTS } from "../config/defaults.js";
import { XdsError } from "./errors.js";

export interface XdsLimits {
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
}

export type LimitName = keyof XdsLimits;

const { debounceMs: _notAServerLimit, ...serverDefaults } = XDS_DEFAULTS.limits;
export const DEFAULT_XDS_LIMITS: Readonly<XdsLimits> = Object.freeze({ ...serverDefaults });

export function withDefaultLimits(partial: Partial<XdsLimits> | undefined): XdsLimits {
  const out: XdsLimits = { ...DEFAULT_XDS_LIMITS };
  if (partial) {
    for (const [k, v] of Object.entries(partial) as Array<[LimitName, number | undefined]>) {
      if (v !== undefined) out[k] = v;
    }
  }
  return out;
}

/** Limits that grpc-js reads when the server is constructed; changing them needs a restart. */
export const RESTART_LIMITS: readonly LimitName[] = [
  "maxStreamsPerConnection",
  "maxRequestBytes",
  "maxResponseBytes",
  "maxConnectionAgeMs",
  "maxConnectionAgeGraceMs",
  "keepaliveMs",
  "keepaliveTimeoutMs",
];

/** A client went over a limit: the stream ends with `grpcCode`, and the message names the limit. */
export class LimitError extends XdsError {
  readonly limit: LimitName;
  readonly grpcCode: status;
  constructor(limit: LimitName, message: string, grpcCode: status = status.RESOURCE_EXHAUSTED) {
    super("ERR_XDS_LIMIT", `${message} (xds.limits.${limit})`);
    this.limit = limit;
    this.grpcCode = grpcCode;
  }
}
