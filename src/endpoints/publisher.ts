/**
 * The narrow seam between the endpoint pipeline and the xDS resource store: the pipeline publishes
 * batches of upserts and removals; the integrator passes the real store (same shape) or a test recorder.
 */
import type { Message } from "@bufbuild/protobuf";
import { TYPE_URLS } from "../xds/type-urls.js";

// The type URLs live in one module (src/xds/type-urls.ts, plain constants); short names for this stage.
export const CLUSTER_TYPE: string = TYPE_URLS.cluster;
export const ENDPOINT_TYPE: string = TYPE_URLS.endpoint;
export const LISTENER_TYPE: string = TYPE_URLS.listener;
export const ROUTE_TYPE: string = TYPE_URLS.route;

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
