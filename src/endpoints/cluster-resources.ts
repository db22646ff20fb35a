/**
 * The resources around a cluster's assignment: the CDS Cluster (type EDS over ADS) and, for proxyless
 * gRPC (`xds:///NAME`), an API Listener whose HCM fetches RDS over ADS plus the RouteConfiguration, both
 * named like the cluster. Shapes follow what gRPC C-core and grpc-js accept (FIELD-NOTES): HCM with a
 * non-empty http_filters list ending in the router with a typed_config, eds_config = ads, a route whose
 * last match is prefix "".
 */
import { create } from "@bufbuild/protobuf";
import { anyPack, DurationSchema } from "@bufbuild/protobuf/wkt";
import {
  type Cluster,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
  ClusterSchema,
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

export function buildCluster(spec: ClusterSpec): Cluster {
  return create(ClusterSchema, {
    name: spec.name,
    clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.EDS },
    // service_name empty: the CLA is looked up by the cluster's own name.
    edsClusterConfig: { edsConfig: ads() },
    connectTimeout: duration(Math.max(1, spec.connectTimeoutMs)),
    lbPolicy: Cluster_LbPolicy[spec.lbPolicy],
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
  return JSON.stringify([spec.name, spec.connectTimeoutMs, spec.lbPolicy, spec.grpcListener]);
}
