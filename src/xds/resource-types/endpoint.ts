/**
 * ClusterLoadAssignment (EDS). Enforces what gRPC's EDS parser (A27, grpc-js-xds endpoint-resource-type)
 * and Envoy reject, so a bad assignment fails at publish time instead of as a NACK in every client:
 * locality and weight on every locality entry, contiguous priorities from 0, no duplicate
 * (locality, priority), IP-literal socket addresses with a port, unique across the cluster, uint32 sums.
 */
import { isIP } from "node:net";
import { isMessage, type Message } from "@bufbuild/protobuf";
import type { Address } from "../../gen/envoy/config/core/v3/address_pb.js";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "../../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { invalidResource } from "../errors.js";
import { TYPE_URLS } from "../type-urls.js";
import type { ResourceRef, ResourceType } from "./resource-type.js";

const T = TYPE_URLS.endpoint;
const UINT32_MAX = 0xffffffff;
/** gRPC rejects priorities above this (A27). */
const MAX_PRIORITY = 128;

export class EndpointResourceType implements ResourceType {
  readonly typeUrl = T;
  readonly schema = ClusterLoadAssignmentSchema;

  validate(name: string, resource: Message): void {
    const cla = asCla(name, resource);
    if (cla.clusterName !== name) {
      throw invalidResource(
        T,
        name,
        "cluster_name",
        `must equal the resource name (got "${cla.clusterName}")`,
      );
    }
    const priorities = new Map<number, number>();
    const seenLocality = new Set<string>();
    const seenAddress = new Set<string>();
    cla.endpoints.forEach((loc, i) => {
      const f = `endpoints[${i}]`;
      if (!loc.locality) throw invalidResource(T, name, `${f}.locality`, "is required");
      const w = loc.loadBalancingWeight;
      if (w === undefined || w < 1)
        throw invalidResource(T, name, `${f}.load_balancing_weight`, "must be ≥ 1");
      if (loc.priority > MAX_PRIORITY)
        throw invalidResource(T, name, `${f}.priority`, `must be ≤ ${MAX_PRIORITY}`);
      const key = `${loc.locality.region}\u0000${loc.locality.zone}\u0000${loc.locality.subZone}\u0000${loc.priority}`;
      if (seenLocality.has(key))
        throw invalidResource(T, name, `${f}.locality`, "duplicate locality at this priority");
      seenLocality.add(key);
      const sum = (priorities.get(loc.priority) ?? 0) + w;
      if (sum > UINT32_MAX)
        throw invalidResource(T, name, `${f}.load_balancing_weight`, "priority weight sum overflows uint32");
      priorities.set(loc.priority, sum);
      let endpointWeights = 0;
      loc.lbEndpoints.forEach((lb, j) => {
        const g = `${f}.lb_endpoints[${j}]`;
        if (lb.hostIdentifier.case !== "endpoint")
          throw invalidResource(T, name, `${g}.endpoint`, "is required");
        const ep = lb.hostIdentifier.value;
        checkAddress(name, `${g}.endpoint.address`, ep.address, seenAddress);
        ep.additionalAddresses.forEach((a, k) => {
          checkAddress(name, `${g}.endpoint.additional_addresses[${k}].address`, a.address, seenAddress);
        });
        const ew = lb.loadBalancingWeight;
        if (ew !== undefined && ew < 1)
          throw invalidResource(T, name, `${g}.load_balancing_weight`, "must be ≥ 1");
        endpointWeights += ew ?? 1;
        if (endpointWeights > UINT32_MAX)
          throw invalidResource(T, name, `${g}.load_balancing_weight`, "weight sum overflows uint32");
      });
    });
    for (let p = 0; p < priorities.size; p++) {
      if (!priorities.has(p))
        throw invalidResource(
          T,
          name,
          "endpoints.priority",
          `priorities must be contiguous from 0 (missing ${p})`,
        );
    }
  }

  references(): ResourceRef[] {
    return [];
  }
}

function checkAddress(name: string, field: string, addr: Address | undefined, seen: Set<string>): void {
  if (addr?.address.case !== "socketAddress")
    throw invalidResource(T, name, field, "must be a socket_address");
  const sa = addr.address.value;
  if (!isIPv4Fast(sa.address) && isIP(sa.address) === 0)
    throw invalidResource(T, name, `${field}.address`, `"${sa.address}" is not an IP literal`);
  if (sa.portSpecifier.case !== "portValue" || sa.portSpecifier.value < 1 || sa.portSpecifier.value > 65535) {
    throw invalidResource(T, name, `${field}.port_value`, "must be a port in 1..65535");
  }
  const key = `${sa.address}|${sa.portSpecifier.value}`;
  if (seen.has(key))
    throw invalidResource(T, name, field, `duplicate address ${sa.address}:${sa.portSpecifier.value}`);
  seen.add(key);
}

/** Dotted-quad check without a regex: validation of 10k-endpoint CLAs spends most of its time here. */
function isIPv4Fast(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 46 : s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || value > 255) return false;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false; // no leading zeros, as net.isIP
      value = value * 10 + (c - 48);
      digits++;
      if (digits > 3) return false;
    } else {
      return false;
    }
  }
  return parts === 4;
}

function asCla(name: string, m: Message): ClusterLoadAssignment {
  if (!isMessage(m, ClusterLoadAssignmentSchema)) {
    throw invalidResource(
      T,
      name,
      "",
      `expected ${ClusterLoadAssignmentSchema.typeName}, got ${m.$typeName}`,
    );
  }
  return m;
}
