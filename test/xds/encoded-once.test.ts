import { describe, expect, it } from "vitest";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { versionAhead } from "../../src/xds/encoded-resource.js";
import { clusterLoadAssignment } from "../../src/xds/resource-builders.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";

const cla = (name: string, n: number) =>
  clusterLoadAssignment(name, [
    {
      zone: "z1",
      endpoints: Array.from({ length: n }, (_, i) => ({ address: `127.0.${i >> 8}.${i & 255}`, port: 8080 })),
    },
  ]);

describe("a resource encoded ahead of its publish (encoded once)", () => {
  it("gets from the store the version reported ahead, and the same bytes as one never encoded ahead", () => {
    const ahead = cla("svc", 300);
    const version = versionAhead(TYPE_URLS.endpoint, ClusterLoadAssignmentSchema, ahead);
    const a = new ResourceStore();
    a.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: ahead }] });
    const b = new ResourceStore();
    b.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: cla("svc", 300) }] });
    const ea = a.getEncoded(TYPE_URLS.endpoint, "svc");
    const eb = b.getEncoded(TYPE_URLS.endpoint, "svc");
    expect(ea?.version).toBe(version);
    expect(eb?.version).toBe(version);
    expect(Buffer.from(ea?.deltaField ?? [])).toEqual(Buffer.from(eb?.deltaField ?? []));
  });

  it("a second store publishing the same message encodes it itself and agrees", () => {
    const m = cla("svc", 10);
    const version = versionAhead(TYPE_URLS.endpoint, ClusterLoadAssignmentSchema, m);
    const a = new ResourceStore();
    const b = new ResourceStore();
    a.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: m }] });
    b.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: m }] });
    expect(a.get(TYPE_URLS.endpoint, "svc")?.version).toBe(version);
    expect(b.get(TYPE_URLS.endpoint, "svc")?.version).toBe(version);
  });
});
