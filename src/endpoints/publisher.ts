/**
 * The narrow seam between the endpoint pipeline and the xDS resource store: the pipeline publishes
 * batches of upserts and removals; the integrator passes the real store (same shape) or a test recorder.
 */
import type { Message } from "@bufbuild/protobuf";

const PREFIX = "type.googleapis.com/";
export const CLUSTER_TYPE = `${PREFIX}envoy.config.cluster.v3.Cluster`;
export const ENDPOINT_TYPE = `${PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`;
export const LISTENER_TYPE = `${PREFIX}envoy.config.listener.v3.Listener`;
export const ROUTE_TYPE = `${PREFIX}envoy.config.route.v3.RouteConfiguration`;

export interface ResourceUpsert {
  typeUrl: string;
  name: string;
  resource: Message;
  /** Zone-aware EDS: the assignment for clients of each zone, keyed by zone. */
  variants?: ReadonlyMap<string, Message>;
}

export interface PublishBatch {
  upsert?: ResourceUpsert[];
  remove?: Array<{ typeUrl: string; name: string }>;
}

export interface Publisher {
  /** May return a promise (awaited; a rejection means "not published, retry"); other results are ignored. */
  publish(batch: PublishBatch): unknown;
}
