/** Public surface of the xDS stage: the versioned store, the server, and the helpers around them. */
export type { EncodedResource } from "./encoded-resource.js";
export { XdsError, type XdsErrorCode } from "./errors.js";
export { DEFAULT_XDS_LIMITS, type LimitName, type XdsLimits } from "./limits.js";
export { NOOP_METRICS, type XdsMetrics } from "./metrics.js";
export { type NodeInfo, zoneOf } from "./node-info.js";
export {
  clusterLoadAssignment,
  type EndpointInput,
  edsCluster,
  grpcApiListener,
  type LocalityInput,
  routeToCluster,
} from "./resource-builders.js";
export {
  type PublishBatch,
  type ResourceChange,
  ResourceStore,
  type ResourceStoreOptions,
  type ResourceUpsert,
  type StoreWatch,
} from "./resource-store.js";
export {
  createXdsServer,
  shutdownOnSignals,
  type XdsServer,
  type XdsServerOptions,
} from "./server.js";
export { isFullStateType, PUSH_ORDER, TYPE_URLS, type XdsTypeUrl } from "./type-urls.js";
