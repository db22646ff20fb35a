/**
 * ClusterLoadAssignment (EDS). Enforces what gRPC's EDS parser (A27, grpc-js-xds endpoint-resource-type)
 * and Envoy reject, so a bad assignment fails at publish time instead of as a NACK in every client:
 * locality and weight on every locality entry, contiguous priorities from 0, no duplicate
 * (locality, priority), IP-literal socket addresses with a port, unique across the cluster, uint32 sums.
 */
import { isIP } from "node:net";
import { isMessage, type Message } from "@bufbuild/protobuf";
import type { Address } from "../../gen/envoy/config/core/v3/address_pb.js";
import type {
  LbEndpoint,
  LocalityLbEndpoints,
} from "../../gen/envoy/config/endpoint/v3/endpoint_components_pb.js";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "../../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { invalidResource } from "../errors.js";
import { frozenLbFacts } from "../frozen-lb-endpoint.js";
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
    // When every address key follows the one before in the builder's order (one address per endpoint,
    // as in a single locality entry), they are unique without a set, which a 10,000-endpoint assignment
    // rebuilt for one changed name would otherwise fill every time. Otherwise a second walk uses one.
    let last: string | undefined;
    let inOrder = true;
    // A plain loop, not forEach: as a callback made on every call, the per-endpoint loop was optimised
    // by V8 again for a third of a running server's validations of one large assignment (10 times in 30).
    for (let i = 0; i < cla.endpoints.length; i++) {
      const loc = cla.endpoints[i] as LocalityLbEndpoints;
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
      const lbs = loc.lbEndpoints;
      for (let j = 0; j < lbs.length; j++) {
        const lb = lbs[j] as LbEndpoint;
        // Field paths are spelled out only for an error: this loop runs once per endpoint.
        if (lb.hostIdentifier.case !== "endpoint")
          throw invalidResource(T, name, `${lbField(i, j)}.endpoint`, "is required");
        const ep = lb.hostIdentifier.value;
        const facts = frozenLbFacts(lb);
        let keys = facts?.keys;
        if (keys === undefined) {
          const checked = [checkAddress(name, i, j, -1, ep.address)];
          for (let k = 0; k < ep.additionalAddresses.length; k++)
            checked.push(checkAddress(name, i, j, k, ep.additionalAddresses[k]?.address));
          keys = checked;
          // Unchangeable from here on: a later assignment listing it needs only the uniqueness check.
          if (facts !== undefined) facts.keys = keys;
        }
        if (inOrder) {
          const first = keys[0] as string;
          if (keys.length !== 1 || (last !== undefined && !addressAfter(last, first))) inOrder = false;
          last = first;
        }
        const ew = lb.loadBalancingWeight;
        if (ew !== undefined && ew < 1)
          throw invalidResource(T, name, `${lbField(i, j)}.load_balancing_weight`, "must be ≥ 1");
        endpointWeights += ew ?? 1;
        if (endpointWeights > UINT32_MAX)
          throw invalidResource(
            T,
            name,
            `${lbField(i, j)}.load_balancing_weight`,
            "weight sum overflows uint32",
          );
      }
    }
    if (!inOrder) {
      const repeated = firstRepeatedAddress(name, cla);
      if (repeated !== undefined) throw repeated;
    }
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

// The address keys (`address|port`) of LbEndpoints that passed checkAddress and cannot change since are
// kept in their facts (frozen-lb-endpoint.ts): a 10,000-endpoint assignment rebuilt for one changed name
// then re-checks only the endpoints that are new.

const lbField = (i: number, j: number): string => `endpoints[${i}].lb_endpoints[${j}]`;

/** The path of an LbEndpoint's address (k = -1) or of its k-th additional address. */
const addressField = (i: number, j: number, k: number): string =>
  k < 0
    ? `${lbField(i, j)}.endpoint.address`
    : `${lbField(i, j)}.endpoint.additional_addresses[${k}].address`;

/** Checks one socket address (see addressField for i, j, k) and returns its key, `address|port`. */
function checkAddress(name: string, i: number, j: number, k: number, addr: Address | undefined): string {
  if (addr?.address.case !== "socketAddress")
    throw invalidResource(T, name, addressField(i, j, k), "must be a socket_address");
  const sa = addr.address.value;
  if (!isIPv4Fast(sa.address) && isIP(sa.address) === 0)
    throw invalidResource(
      T,
      name,
      `${addressField(i, j, k)}.address`,
      `"${sa.address}" is not an IP literal`,
    );
  if (sa.portSpecifier.case !== "portValue" || sa.portSpecifier.value < 1 || sa.portSpecifier.value > 65535) {
    throw invalidResource(T, name, `${addressField(i, j, k)}.port_value`, "must be a port in 1..65535");
  }
  return `${sa.address}|${sa.portSpecifier.value}`;
}

const BAR = 0x7c;

/**
 * True when key `b` comes strictly after key `a` in the order the assignment builder lists endpoints:
 * by address as a string, then by port as a number. Keys are `address|port`, and no IP literal holds
 * a '|', so an address that ends first is the shorter prefix and sorts first.
 */
function addressAfter(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x === BAR ? true : y === BAR ? false : y > x;
    if (x === BAR) return Number(b.slice(i + 1)) > Number(a.slice(i + 1));
  }
  return false;
}

/**
 * The error for the first address listed a second time, walking in order; undefined when none is. Every
 * address here passed checkAddress in the first walk, so each is a socket address with a port.
 */
function firstRepeatedAddress(name: string, cla: ClusterLoadAssignment): Error | undefined {
  const seen = new Set<string>();
  for (let i = 0; i < cla.endpoints.length; i++) {
    const lbs = cla.endpoints[i]?.lbEndpoints ?? [];
    for (let j = 0; j < lbs.length; j++) {
      const lb = lbs[j] as LbEndpoint;
      let keys = frozenLbFacts(lb)?.keys;
      if (keys === undefined) {
        if (lb.hostIdentifier.case !== "endpoint") continue;
        const ep = lb.hostIdentifier.value;
        keys = [ep.address, ...ep.additionalAddresses.map((a) => a.address)].map((a, k) =>
          checkAddress(name, i, j, k - 1, a),
        );
      }
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k] as string;
        const before = seen.size;
        seen.add(key);
        if (seen.size === before)
          return invalidResource(
            T,
            name,
            addressField(i, j, k - 1),
            `duplicate address ${key.replace("|", ":")}`,
          );
      }
    }
  }
  return undefined;
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
