/** Cluster, API Listener and RouteConfiguration checked by grpc-js-xds's own decoders and validators. */
import { createRequire } from "node:module";
import { type DescMessage, type Message, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  buildApiListener,
  buildCluster,
  buildRouteConfiguration,
  clusterResources,
} from "../../src/endpoints/cluster-resources.js";
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE } from "../../src/endpoints/publisher.js";
import { Cluster_LbPolicy, ClusterSchema } from "../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { ListenerSchema } from "../../src/gen/envoy/config/listener/v3/listener_pb.js";
import { RouteConfigurationSchema } from "../../src/gen/envoy/config/route/v3/route_pb.js";
import { cluster } from "./fixtures.js";

const require = createRequire(import.meta.url);
type Decoder = {
  get(): {
    decode(
      ctx: unknown,
      r: { type_url: string; value: Buffer },
    ): { name: string; value?: Record<string, unknown>; error?: string };
  };
};
// register() installs grpc-js-xds's HTTP filters (router among them), which listener validation looks up.
(require("@grpc/grpc-js-xds") as { register(): void }).register();
const dir = "@grpc/grpc-js-xds/build/src/xds-resource-type";
const { ClusterResourceType } = require(`${dir}/cluster-resource-type.js`) as {
  ClusterResourceType: Decoder;
};
const { ListenerResourceType } = require(`${dir}/listener-resource-type.js`) as {
  ListenerResourceType: Decoder;
};
const { RouteConfigurationResourceType } = require(`${dir}/route-config-resource-type.js`) as {
  RouteConfigurationResourceType: Decoder;
};
const context = {
  bootstrap: {
    certificateProviders: {},
    servers: [],
    node: {},
    authorities: {},
    serverListenerResourceNameTemplate: null,
    xdsServers: [],
  },
};

function decode<D extends DescMessage>(d: Decoder, typeUrl: string, schema: D, msg: Message) {
  const r = d
    .get()
    .decode(context, { type_url: typeUrl, value: Buffer.from(toBinary(schema, msg as never)) });
  expect(r.error).toBeUndefined();
  return r;
}

describe("cluster resources", () => {
  const spec = cluster({
    name: "payments",
    grpcListener: true,
    connectTimeoutMs: 2500,
    lbPolicy: "ROUND_ROBIN",
  });

  it("builds an EDS cluster over ADS that grpc-js-xds accepts", () => {
    const c = buildCluster(spec);
    expect(c.connectTimeout?.seconds).toBe(2n);
    expect(c.connectTimeout?.nanos).toBe(500_000_000);
    expect(c.edsClusterConfig?.edsConfig?.configSourceSpecifier.case).toBe("ads");
    const r = decode(ClusterResourceType, CLUSTER_TYPE, ClusterSchema, c);
    expect(r.name).toBe("payments");
    expect(r.value?.type).toBe("EDS");
  });

  for (const lbPolicy of ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "RING_HASH"] as const) {
    it(`grpc-js-xds accepts a grpcListener cluster asking for ${lbPolicy}`, () => {
      const c = buildCluster({ ...spec, lbPolicy });
      const r = ClusterResourceType.get().decode(context, {
        type_url: CLUSTER_TYPE,
        value: Buffer.from(toBinary(ClusterSchema, c)),
      });
      expect(r.error ?? "ok").toBe("ok");
      if (lbPolicy === "LEAST_REQUEST" || lbPolicy === "RANDOM") {
        // What grpc-js falls back to: locality-weighted round robin from load_balancing_policy.
        expect(JSON.stringify(r.value?.lbPolicyConfig)).toContain("round_robin");
        expect(c.loadBalancingPolicy?.policies[0]?.typedExtensionConfig?.name).toBe(
          lbPolicy === "LEAST_REQUEST"
            ? "envoy.load_balancing_policies.least_request"
            : "envoy.load_balancing_policies.random",
        );
      }
    });
  }

  it("publishes lb_policy as declared for clusters not meant for proxyless gRPC", () => {
    const c = buildCluster({ ...spec, grpcListener: false, lbPolicy: "LEAST_REQUEST" });
    expect(Cluster_LbPolicy[c.lbPolicy]).toBe("LEAST_REQUEST");
    expect(c.loadBalancingPolicy).toBeUndefined();
  });

  it("builds an API listener with RDS over ADS and a router filter, accepted by grpc-js-xds", () => {
    const r = decode(ListenerResourceType, LISTENER_TYPE, ListenerSchema, buildApiListener(spec));
    expect(r.name).toBe("payments");
  });

  it("builds a route configuration whose last route sends everything to the cluster", () => {
    const rc = buildRouteConfiguration(spec);
    expect(rc.virtualHosts[0]?.domains).toEqual(["*"]);
    const r = decode(RouteConfigurationResourceType, ROUTE_TYPE, RouteConfigurationSchema, rc);
    expect(r.name).toBe("payments");
  });

  it("publishes the listener pair only when asked", () => {
    expect(clusterResources(spec).map((u) => u.typeUrl)).toEqual([CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE]);
    expect(clusterResources({ ...spec, grpcListener: false }).map((u) => u.typeUrl)).toEqual([CLUSTER_TYPE]);
  });
});
