/**
 * The facts record of an unchangeable LbEndpoint (src/xds/frozen-lb-endpoint.ts): the builder's own
 * endpoints carry it in a hidden slot that protobuf-es, copies and equality never see; an endpoint frozen
 * by anyone else gets one only once it is proven unchangeable; a changeable one never gets one, so the
 * encoder and the store check and write it afresh every time.
 */
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { buildAssignmentFromAnswers } from "../../src/endpoints/assignment-builder.js";
import {
  type LbEndpoint,
  LbEndpointSchema,
} from "../../src/gen/envoy/config/endpoint/v3/endpoint_components_pb.js";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { encodeClusterLoadAssignment } from "../../src/xds/cla-encoder.js";
import { freezeLbEndpoint, frozenLbFacts } from "../../src/xds/frozen-lb-endpoint.js";
import { EndpointResourceType } from "../../src/xds/resource-types/endpoint.js";
import { a, cluster, dnsSource } from "../endpoints/fixtures.js";
import { deepFreeze } from "../support/deep-freeze.js";
import { lbEndpointAt } from "../support/lb-endpoint.js";

const fresh = (address = "10.0.0.1", port = 80): LbEndpoint => lbEndpointAt(address, port, 1);

function built(): LbEndpoint {
  const spec = cluster({ ipFamily: "V4_ONLY", sources: [dnsSource("svc.test", 80)], allowLoopback: true });
  const cla = buildAssignmentFromAnswers(spec, [{ a: a("svc.test", "10.0.0.1") }]);
  return cla.endpoints[0]?.lbEndpoints[0] as LbEndpoint;
}

describe("frozen LbEndpoint facts", () => {
  it("a builder-made endpoint has a record, invisible to protobuf-es, copies and equality", () => {
    const lb = built();
    expect(frozenLbFacts(lb)).toMatchObject({ keys: undefined, src: undefined });
    expect(Object.keys({ ...lb })).toEqual(Object.keys(lb));
    expect(Object.getOwnPropertySymbols({ ...lb })).toEqual([]);
    const twin = fresh();
    if (twin.hostIdentifier.case === "endpoint") twin.hostIdentifier.value.hostname = "svc.test";
    expect(equals(LbEndpointSchema, lb, twin)).toBe(true);
    expect(lb).toEqual(twin);
    expect(toBinary(LbEndpointSchema, lb)).toEqual(toBinary(LbEndpointSchema, twin));
    expect(JSON.stringify(lb)).toEqual(JSON.stringify(twin));
  });

  it("the encoder and the store fill the one record, and what they keep is what they would compute", () => {
    const lb = built();
    const cla = create(ClusterLoadAssignmentSchema, {
      clusterName: "svc",
      endpoints: [{ locality: {}, loadBalancingWeight: 1, lbEndpoints: [lb] }],
    });
    const first = encodeClusterLoadAssignment(cla);
    new EndpointResourceType().validate("svc", cla);
    const facts = frozenLbFacts(lb);
    expect(facts?.keys).toEqual(["10.0.0.1|80"]);
    // They point at the endpoint's whole lb_endpoints field (tag 2, length, body) in the buffer just made.
    const body = toBinary(LbEndpointSchema, lb);
    const field = Buffer.from([0x12, body.length, ...body]);
    expect(facts?.src).toBe(first);
    const kept = (f: typeof facts) => Buffer.from(f?.src?.subarray(f.at, f.at + f.len) ?? []);
    expect(kept(facts)).toEqual(field);
    // The second encode copies those bytes: same bytes as toBinary, and the facts move to the new buffer.
    const second = encodeClusterLoadAssignment(cla);
    expect(second).toEqual(first);
    expect(facts?.src).toBe(second);
    expect(kept(facts)).toEqual(field);
    expect(Buffer.from(first as Uint8Array)).toEqual(Buffer.from(toBinary(ClusterLoadAssignmentSchema, cla)));
  });

  it("an endpoint frozen elsewhere, all the way down, gets a record; the same one each time", () => {
    const lb = deepFreeze(fresh());
    const facts = frozenLbFacts(lb);
    expect(facts).toBeDefined();
    expect(frozenLbFacts(lb)).toBe(facts);
  });

  it("a changeable endpoint gets none: not frozen, frozen only at the top, or carrying unknown fields", () => {
    expect(frozenLbFacts(fresh())).toBeUndefined();
    expect(frozenLbFacts(Object.freeze(fresh()))).toBeUndefined();
    const unknown = fresh();
    unknown.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    expect(frozenLbFacts(freezeLbEndpoint(unknown))).toBeUndefined();
  });

  it("a changeable endpoint is encoded afresh each time: a change between encodes shows", () => {
    const lb = fresh();
    const cla = create(ClusterLoadAssignmentSchema, {
      clusterName: "svc",
      endpoints: [{ locality: {}, loadBalancingWeight: 1, lbEndpoints: [lb] }],
    });
    encodeClusterLoadAssignment(cla);
    lb.loadBalancingWeight = 7;
    expect(Buffer.from(encodeClusterLoadAssignment(cla) as Uint8Array)).toEqual(
      Buffer.from(toBinary(ClusterLoadAssignmentSchema, cla)),
    );
  });
});
