/**
 * The resources around a cluster's assignment: the CDS Cluster (type EDS over ADS) and, for proxyless
 * gRPC (`xds:///NAME`), an API Listener whose HCM fetches RDS over ADS plus the RouteConfiguration, both
 * named like the cluster. Shapes follow what gRPC C-core and grpc-js accept (FIELD-NOTES): HCM with a
 * non-empty http_filters list ending in the router with a typed_config, eds_config = ads, a route whose
 * last match is prefix "".
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { AnySchema, anyPack, DurationSchema } from "@bufbuild/protobuf/wkt";
import {
  type Cluster,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
  Cluster_LbSubsetConfig_LbSubsetFallbackPolicy,
  ClusterSchema,
  LoadBalancingPolicySchema,
} from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import { ApiVersion } from "../gen/envoy/config/core/v3/config_source_pb.js";
import { type Listener, ListenerSchema } from "../gen/envoy/config/listener/v3/listener_pb.js";
import { type RouteConfiguration, RouteConfigurationSchema } from "../gen/envoy/config/route/v3/route_pb.js";
import { RouterSchema } from "../gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import { HttpConnectionManagerSchema } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import type { ClusterSpec } from "./cluster-spec.js";
import { CLUSTER_TYPE, LISTENER_TYPE, type ResourceUpsert, ROUTE_TYPE } from "./publisher.js";

const ads = () => ({
  configSourceSpecifier: { case: "ads" as const, value: {} },
  resourceApiVersion: ApiVersion.V3,
});

const duration = (ms: number) =>
  create(DurationSchema, {
    seconds: BigInt(Math.floor(ms / 1000)),
    nanos: Math.round(ms % 1000) * 1_000_000,
  });

const LB_EXT = "type.googleapis.com/envoy.extensions.load_balancing_policies.";

/** One entry of load_balancing_policy: an extension name and its config packed as Any. */
const policy = (name: string, typeUrl: string, value: Uint8Array = new Uint8Array()) => ({
  typedExtensionConfig: { name, typedConfig: create(AnySchema, { typeUrl, value }) },
});

/**
 * For LEAST_REQUEST / RANDOM on a cluster proxyless gRPC uses: gRPC clients NACK those lb_policy values
 * (grpc-js-xds, C-core), so lb_policy says ROUND_ROBIN and load_balancing_policy (gRFC A52) lists the
 * wanted policy first and locality-weighted round robin second. Envoy and A52 clients take the first
 * policy they implement; clients without A52 read lb_policy. LeastRequest/Random/RoundRobin configs are
 * empty messages (defaults); WrrLocality's one field (1: endpoint_picking_policy) is encoded by hand.
 */
function grpcSafeLbPolicy(
  wanted: "LEAST_REQUEST" | "RANDOM",
): MessageInitShape<typeof LoadBalancingPolicySchema> {
  const roundRobin = create(LoadBalancingPolicySchema, {
    policies: [policy("envoy.load_balancing_policies.round_robin", `${LB_EXT}round_robin.v3.RoundRobin`)],
  });
  const inner = toBinary(LoadBalancingPolicySchema, roundRobin);
  const wrrLocality = new Uint8Array([0x0a, ...varint(inner.length), ...inner]);
  return {
    policies: [
      wanted === "LEAST_REQUEST"
        ? policy("envoy.load_balancing_policies.least_request", `${LB_EXT}least_request.v3.LeastRequest`)
        : policy("envoy.load_balancing_policies.random", `${LB_EXT}random.v3.Random`),
      policy(
        "envoy.load_balancing_policies.wrr_locality",
        `${LB_EXT}wrr_locality.v3.WrrLocality`,
        wrrLocality,
      ),
    ],
  };
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

export function buildCluster(spec: ClusterSpec): Cluster {
  const needsA52 = spec.grpcListener && (spec.lbPolicy === "LEAST_REQUEST" || spec.lbPolicy === "RANDOM");
  return create(ClusterSchema, {
    name: spec.name,
    clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.EDS },
    // service_name empty: the CLA is looked up by the cluster's own name.
    edsClusterConfig: { edsConfig: ads() },
    connectTimeout: duration(Math.max(1, spec.connectTimeoutMs)),
    lbPolicy: needsA52 ? Cluster_LbPolicy.ROUND_ROBIN : Cluster_LbPolicy[spec.lbPolicy],
    ...(needsA52 && (spec.lbPolicy === "LEAST_REQUEST" || spec.lbPolicy === "RANDOM")
      ? { loadBalancingPolicy: grpcSafeLbPolicy(spec.lbPolicy) }
      : {}),
    // Subsets over the endpoint metadata (filter_metadata["envoy.lb"]); a request whose metadata_match
    // finds no subset still goes to some endpoint rather than failing.
    ...(spec.subsetSelectors && spec.subsetSelectors.length > 0
      ? {
          lbSubsetConfig: {
            fallbackPolicy: Cluster_LbSubsetConfig_LbSubsetFallbackPolicy.ANY_ENDPOINT,
            subsetSelectors: spec.subsetSelectors.map((keys) => ({ keys: [...keys] })),
          },
        }
      : {}),
  });
}

export function buildApiListener(spec: ClusterSpec): Listener {
  const hcm = create(HttpConnectionManagerSchema, {
    statPrefix: spec.name,
    routeSpecifier: { case: "rds", value: { routeConfigName: spec.name, configSource: ads() } },
    httpFilters: [
      {
        name: "envoy.filters.http.router",
        configType: { case: "typedConfig", value: anyPack(RouterSchema, create(RouterSchema)) },
      },
    ],
  });
  return create(ListenerSchema, {
    name: spec.name,
    apiListener: { apiListener: anyPack(HttpConnectionManagerSchema, hcm) },
  });
}

export function buildRouteConfiguration(spec: ClusterSpec): RouteConfiguration {
  return create(RouteConfigurationSchema, {
    name: spec.name,
    virtualHosts: [
      {
        name: spec.name,
        domains: ["*"],
        routes: [
          {
            match: { pathSpecifier: { case: "prefix", value: "" } },
            action: { case: "route", value: { clusterSpecifier: { case: "cluster", value: spec.name } } },
          },
        ],
      },
    ],
  });
}

/** Everything but the assignment, in push order (CDS, LDS, RDS); the pipeline adds the CLA. */
export function clusterResources(spec: ClusterSpec): ResourceUpsert[] {
  const out: ResourceUpsert[] = [{ typeUrl: CLUSTER_TYPE, name: spec.name, resource: buildCluster(spec) }];
  if (spec.grpcListener) {
    out.push({ typeUrl: LISTENER_TYPE, name: spec.name, resource: buildApiListener(spec) });
    out.push({ typeUrl: ROUTE_TYPE, name: spec.name, resource: buildRouteConfiguration(spec) });
  }
  return out;
}

/** Everything clusterResources() reads from the spec: equal keys mean identical resources, so no push. */
export function clusterResourcesKey(spec: ClusterSpec): string {
  return JSON.stringify([
    spec.name,
    spec.connectTimeoutMs,
    spec.lbPolicy,
    spec.grpcListener,
    spec.subsetSelectors ?? [],
  ]);
}
