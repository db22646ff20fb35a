/**
 * Regression (found by test/envoy/metadata-subsets.test.ts under BIND, which rotates the order of a TXT
 * RRset between answers): the same endpoint metadata must give the same assignment bytes whatever order
 * its keys arrived in, or every rotation is a new version (a push to every client, and replicas that
 * disagree on versions).
 */
import { toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { buildAssignment } from "../../src/endpoints/assignment-builder.js";
import type { EndpointCandidate } from "../../src/endpoints/endpoint-candidates.js";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { cluster } from "./fixtures.js";

const candidate = (metadata: Record<string, string>): EndpointCandidate => ({
  key: "127.0.0.1|80",
  sourceIndex: 0,
  host: "svc.example.com.",
  address: "127.0.0.1",
  port: 80,
  family: 4,
  srvPriority: 0,
  weight: 1,
  metadata,
});

describe("endpoint metadata order", () => {
  it("keys in any order encode to the same bytes, sorted", () => {
    const spec = cluster();
    const a = buildAssignment({ spec, candidates: [candidate({ version: "v2", stage: "canary", a: "1" })] });
    const b = buildAssignment({ spec, candidates: [candidate({ stage: "canary", a: "1", version: "v2" })] });
    expect(toBinary(ClusterLoadAssignmentSchema, a)).toEqual(toBinary(ClusterLoadAssignmentSchema, b));
    const md = a.endpoints[0]?.lbEndpoints[0]?.metadata?.filterMetadata["envoy.lb"];
    expect(Object.keys(md ?? {})).toEqual(["a", "stage", "version"]);
  });
});
