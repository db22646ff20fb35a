/**
 * Who is on the other end of a stream: node id, cluster, locality and client features as sent in the
 * first request (only the first request is guaranteed to carry `node`). Kept per stream; the default
 * variant key (zone-aware EDS) is the node's zone.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { Node } from "../gen/envoy/config/core/v3/base_pb.js";

export interface NodeInfo {
  id: string;
  cluster: string;
  locality: { region: string; zone: string; subZone: string } | undefined;
  clientFeatures: readonly string[];
  userAgent: string;
  userAgentName: string;
  userAgentVersion: string;
  /** The node's metadata as JSON (for fleet status), when it sent any. */
  metadata: { [k: string]: JsonValue } | undefined;
}

export function nodeInfoOf(node: Node | undefined): NodeInfo | undefined {
  if (!node) return undefined;
  const uaVersion =
    node.userAgentVersionType.case === "userAgentVersion" ? node.userAgentVersionType.value : "";
  return {
    id: node.id,
    cluster: node.cluster,
    locality: node.locality
      ? { region: node.locality.region, zone: node.locality.zone, subZone: node.locality.subZone }
      : undefined,
    clientFeatures: [...node.clientFeatures],
    userAgent: [node.userAgentName, uaVersion].filter((s) => s !== "").join("/"),
    userAgentName: node.userAgentName,
    userAgentVersion: uaVersion,
    // protobuf-es holds a Struct as plain JSON already: kept by reference, no copy.
    metadata: node.metadata,
  };
}

/** Default variant key: the client's zone, when it told us one. */
export function zoneOf(node: NodeInfo | undefined): string | undefined {
  const z = node?.locality?.zone;
  return z !== undefined && z !== "" ? z : undefined;
}
