/**
 * Builders for the standard resource shapes dns-eds serves: an EDS Cluster over ADS, a ClusterLoadAssignment,
 * and the API Listener + RouteConfiguration pair a proxyless gRPC client needs for `xds:///NAME`.
 * They produce exactly what FIELD-NOTES "What a gRPC client accepts" asks for.
 */
import { create } from "@bufbuild/protobuf";
import { anyPack, DurationSchema } from "@bufbuild/protobuf/wkt";
import {
  type Cluster,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
  ClusterSchema,
} from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import { HealthStatus } from "../gen/envoy/config/core/v3/health_check_pb.js";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { type Listener, ListenerSchema } from "../gen/envoy/config/listener/v3/listener_pb.js";
import { type RouteConfiguration, RouteConfigurationSchema } from "../gen/envoy/config/route/v3/route_pb.js";
import { RouterSchema } from "../gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import { HttpConnectionManagerSchema } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";

export type LbPolicyName = "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM" | "RING_HASH";

export function edsCluster(
  name: string,
  opts: { lbPolicy?: LbPolicyName; connectTimeoutMs?: number; serviceName?: string } = {},
): Cluster {
  const ms = opts.connectTimeoutMs ?? 1_000;
  return create(ClusterSchema, {
    name,
    clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: {
      edsConfig: { configSourceSpecifier: { case: "ads", value: {} }, resourceApiVersion: 2 /* V3 */ },
      serviceName: opts.serviceName ?? "",
    },
    lbPolicy: Cluster_LbPolicy[opts.lbPolicy ?? "ROUND_ROBIN"],
    connectTimeout: create(DurationSchema, {
      seconds: BigInt(Math.floor(ms / 1000)),
      nanos: (ms % 1000) * 1_000_000,
    }),
  });
}

export interface EndpointInput {
  address: string;
  port: number;
  health?: keyof typeof HealthStatus;
  weight?: number;
  /** `Endpoint.hostname` (dns-eds gives it the DNS name the address came from). */
  hostname?: string;
}

export interface LocalityInput {
  region?: string;
  zone?: string;
  subZone?: string;
  weight?: number;
  priority?: number;
  endpoints: EndpointInput[];
}

export function clusterLoadAssignment(
  clusterName: string,
  localities: LocalityInput[],
): ClusterLoadAssignment {
  return create(ClusterLoadAssignmentSchema, {
    clusterName,
    endpoints: localities.map((l) => ({
      locality: { region: l.region ?? "", zone: l.zone ?? "", subZone: l.subZone ?? "" },
      loadBalancingWeight: l.weight ?? 1,
      priority: l.priority ?? 0,
      lbEndpoints: l.endpoints.map((e) => ({
        hostIdentifier: {
          case: "endpoint" as const,
          value: {
            address: {
              address: {
                case: "socketAddress" as const,
                value: { address: e.address, portSpecifier: { case: "portValue" as const, value: e.port } },
              },
            },
            hostname: e.hostname ?? "",
          },
        },
        healthStatus: HealthStatus[e.health ?? "UNKNOWN"],
        loadBalancingWeight: e.weight,
      })),
    })),
  });
}

/** API listener for `xds:///name`: HCM with RDS over ADS and the router filter last. */
export function grpcApiListener(name: string, routeConfigName: string): Listener {
  const hcm = create(HttpConnectionManagerSchema, {
    routeSpecifier: {
      case: "rds",
      value: {
        routeConfigName,
        configSource: { configSourceSpecifier: { case: "ads", value: {} }, resourceApiVersion: 2 },
      },
    },
    httpFilters: [
      {
        name: "envoy.filters.http.router",
        configType: { case: "typedConfig", value: anyPack(RouterSchema, create(RouterSchema)) },
      },
    ],
  });
  return create(ListenerSchema, {
    name,
    apiListener: { apiListener: anyPack(HttpConnectionManagerSchema, hcm) },
  });
}

/** One virtual host (default `*`) whose last route (prefix "") goes to `clusterName`. */
export function routeToCluster(
  name: string,
  clusterName: string,
  domains: string[] = ["*"],
): RouteConfiguration {
  return create(RouteConfigurationSchema, {
    name,
    virtualHosts: [
      {
        name: `${name}-vhost`,
        domains,
        routes: [
          {
            match: { pathSpecifier: { case: "prefix", value: "" } },
            action: { case: "route", value: { clusterSpecifier: { case: "cluster", value: clusterName } } },
          },
        ],
      },
    ],
  });
}
