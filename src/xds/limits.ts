/**
 * What one xDS client (connection, stream, request) may cost the server. Each limit has one stable name:
 * the config key under `xds.limits`, the `limit` label of `dnseds_xds_limit_exceeded_total`, and the
 * text a refused client reads in its gRPC status. Defaults live with the config's (one place).
 */
import { status } from "@grpc/grpc-js";
import type { XdsConfig } from "../config/config-types.js";
import { XDS_DEFAULTS } from "../config/defaults.js";
import { XdsError } from "./errors.js";

/**
 * The limits themselves, each documented where the config declares it (config-types.ts); the endpoints'
 * debounce shares the config section but is not a client limit.
 */
export type XdsLimits = Omit<XdsConfig["limits"], "debounceMs">;

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
