/**
 * dns-eds as a library (`import ... from "dns-eds"`): the versioned xDS store and the gRPC xDS server
 * (SotW and Delta, ADS and per-type services) to serve ClusterLoadAssignments, Clusters, Listeners and
 * Routes from any source, the resource builders, and the hardened DNS stub resolver, which stands
 * alone. The control plane itself (config, cache, health, the `dns-eds` binary) is not part of this API.
 * See docs/library.md.
 */

export { DnsError, type DnsErrorCode, isDnsError } from "./dns/dns-error.js";
export { createResolver, type DnsResolver, type ResolverOptions } from "./dns/resolver.js";
export type { Answer, DnsRecord, RecordType, ResolveOptions, Resolver } from "./dns/types.js";
export * from "./xds/index.js";
