/**
 * The client-side acceptance rules for a ClusterLoadAssignment, checked two ways: our own mirror of
 * grpc-js-xds `endpoint-resource-type.ts` (A27) plus the Envoy proto constraints gRPC skips (weights ≥ 1,
 * priority ≤ 128, every locality weighted, contiguous priorities, endpoint weight sums), and the real
 * grpc-js-xds decoder run on the encoded bytes.
 */
import { createRequire } from "node:module";
import { isIPv4, isIPv6 } from "node:net";
import { toBinary } from "@bufbuild/protobuf";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";

const UINT32_MAX = 0xffff_ffff;
const require = createRequire(import.meta.url);

interface GrpcDecodeResult {
  name: string;
  value?: unknown;
  error?: string;
}
const { EndpointResourceType } =
  require("@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js") as {
    EndpointResourceType: {
      get(): { decode(ctx: unknown, r: { type_url: string; value: Buffer }): GrpcDecodeResult };
    };
  };

export function validateCla(cla: ClusterLoadAssignment): string[] {
  const errors: string[] = [];
  const seenLoc = new Set<string>();
  const seenAddr = new Set<string>();
  const prioWeights = new Map<number, number>();
  cla.endpoints.forEach((le, i) => {
    if (!le.locality) errors.push(`endpoints[${i}] no locality`);
    const lk = `${le.locality?.region}/${le.locality?.zone}/${le.locality?.subZone}|${le.priority}`;
    if (seenLoc.has(lk)) errors.push(`endpoints[${i}] duplicate locality+priority ${lk}`);
    seenLoc.add(lk);
    if (le.priority > 128) errors.push(`endpoints[${i}] priority ${le.priority} > 128`);
    if (le.loadBalancingWeight === undefined || le.loadBalancingWeight < 1)
      errors.push(`endpoints[${i}] locality weight missing or < 1`);
    prioWeights.set(le.priority, (prioWeights.get(le.priority) ?? 0) + (le.loadBalancingWeight ?? 0));
    let epSum = 0;
    le.lbEndpoints.forEach((lb, j) => {
      if (lb.hostIdentifier.case !== "endpoint") {
        errors.push(`endpoints[${i}].lb[${j}] no endpoint`);
        return;
      }
      const ep = lb.hostIdentifier.value;
      const addrs = [ep.address, ...ep.additionalAddresses.map((x) => x.address)];
      for (const ad of addrs) {
        if (ad?.address.case !== "socketAddress") {
          errors.push(`endpoints[${i}].lb[${j}] not a socket address`);
          continue;
        }
        const sa = ad.address.value;
        if (sa.portSpecifier.case !== "portValue") errors.push(`endpoints[${i}].lb[${j}] no port_value`);
        if (!(isIPv4(sa.address) || isIPv6(sa.address)))
          errors.push(`endpoints[${i}].lb[${j}] not an IP: ${sa.address}`);
        const k = `${sa.address}|${sa.portSpecifier.value}`;
        if (seenAddr.has(k)) errors.push(`endpoints[${i}].lb[${j}] duplicate address ${k}`);
        seenAddr.add(k);
      }
      if (lb.loadBalancingWeight === undefined || lb.loadBalancingWeight < 1)
        errors.push(`endpoints[${i}].lb[${j}] weight < 1`);
      epSum += lb.loadBalancingWeight ?? 1;
    });
    if (epSum > UINT32_MAX) errors.push(`endpoints[${i}] endpoint weight sum > uint32`);
  });
  for (const [p, sum] of prioWeights) {
    if (sum > UINT32_MAX) errors.push(`priority ${p} locality weight sum > uint32`);
    if (p > 0 && !prioWeights.has(p - 1)) errors.push(`priority ${p} without ${p - 1}`);
  }
  if (prioWeights.size > 0 && !prioWeights.has(0)) errors.push("no priority 0");
  return errors;
}

/** Runs the encoded assignment through grpc-js-xds's own EDS decoder and validation. */
export function grpcJsXdsErrors(cla: ClusterLoadAssignment): string | undefined {
  const value = Buffer.from(toBinary(ClusterLoadAssignmentSchema, cla));
  const r = EndpointResourceType.get().decode(
    {},
    { type_url: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", value },
  );
  return r.error;
}
