/**
 * Cluster (CDS). Rejects what Envoy or gRPC would NACK: a missing discovery type, EDS without an ADS/self
 * config source (gRPC only follows those), and LB policies gRPC cannot run.
 */
import { isMessage, type Message } from "@bufbuild/protobuf";
import {
  type Cluster,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
  ClusterSchema,
} from "../../gen/envoy/config/cluster/v3/cluster_pb.js";
import { invalidResource } from "../errors.js";
import { TYPE_URLS } from "../type-urls.js";
import type { ResourceRef, ResourceType } from "./resource-type.js";

const T = TYPE_URLS.cluster;

/** CLUSTER_PROVIDED is Envoy-internal; gRPC NACKs it and anything it has no implementation for. */
const ACCEPTED_LB = new Set<Cluster_LbPolicy>([
  Cluster_LbPolicy.ROUND_ROBIN,
  Cluster_LbPolicy.LEAST_REQUEST,
  Cluster_LbPolicy.RING_HASH,
  Cluster_LbPolicy.RANDOM,
  Cluster_LbPolicy.MAGLEV,
]);

export class ClusterResourceType implements ResourceType {
  readonly typeUrl = T;
  readonly schema = ClusterSchema;

  validate(name: string, resource: Message): void {
    const c = asCluster(name, resource);
    if (c.name !== name)
      throw invalidResource(T, name, "name", `must equal the resource name (got "${c.name}")`);
    const dt = c.clusterDiscoveryType;
    if (dt.case === undefined) throw invalidResource(T, name, "type", "cluster discovery type is not set");
    if (dt.case === "type" && dt.value === Cluster_DiscoveryType.EDS) {
      const src = c.edsClusterConfig?.edsConfig?.configSourceSpecifier.case;
      if (src !== "ads" && src !== "self") {
        throw invalidResource(
          T,
          name,
          "eds_cluster_config.eds_config",
          "must be an `ads` or `self` config source",
        );
      }
    }
    if (c.lbPolicy === Cluster_LbPolicy.LOAD_BALANCING_POLICY_CONFIG) {
      if (!c.loadBalancingPolicy || c.loadBalancingPolicy.policies.length === 0) {
        throw invalidResource(
          T,
          name,
          "load_balancing_policy",
          "LOAD_BALANCING_POLICY_CONFIG needs policies",
        );
      }
    } else if (!ACCEPTED_LB.has(c.lbPolicy)) {
      throw invalidResource(
        T,
        name,
        "lb_policy",
        `unsupported policy ${Cluster_LbPolicy[c.lbPolicy] ?? c.lbPolicy}`,
      );
    }
    const ct = c.connectTimeout;
    if (ct && (ct.seconds < 0n || (ct.seconds === 0n && ct.nanos <= 0))) {
      throw invalidResource(T, name, "connect_timeout", "must be > 0");
    }
  }

  references(name: string, resource: Message): ResourceRef[] {
    const c = asCluster(name, resource);
    const dt = c.clusterDiscoveryType;
    if (dt.case !== "type" || dt.value !== Cluster_DiscoveryType.EDS) return [];
    return [{ typeUrl: TYPE_URLS.endpoint, name: edsServiceName(c) }];
  }
}

/** The CLA name a Cluster of type EDS asks for: `service_name` when set, else the cluster's own name. */
export function edsServiceName(c: Cluster): string {
  const s = c.edsClusterConfig?.serviceName;
  return s !== undefined && s !== "" ? s : c.name;
}

function asCluster(name: string, m: Message): Cluster {
  if (!isMessage(m, ClusterSchema))
    throw invalidResource(T, name, "", `expected ${ClusterSchema.typeName}, got ${m.$typeName}`);
  return m;
}
