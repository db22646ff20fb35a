/** Public surface of the endpoints stage: the pipeline, the pure builders, and the seams it is wired through. */
export {
  type BuildInput,
  buildAssignment,
  buildAssignmentFromAnswers,
  type ClientZone,
  LB_METADATA_KEY,
  localityKey,
  MAX_PRIORITY,
  zoneKey,
} from "./assignment-builder.js";
export {
  buildApiListener,
  buildCluster,
  buildRouteConfiguration,
  clusterResources,
  clusterResourcesKey,
} from "./cluster-resources.js";
export type { ClusterSpec, IpFamilyPolicy, LocalitySpec, SourceSpec } from "./cluster-spec.js";
export { type EndpointCandidate, extractCandidates, type SourceResolution } from "./endpoint-candidates.js";
export {
  type ClusterSnapshot,
  EndpointPipeline,
  EndpointPipelineError,
  type EndpointPipelineOptions,
  type EndpointSnapshot,
  type HealthTracker,
} from "./endpoint-pipeline.js";
export { type EndpointSource, fqdn, lookupKey } from "./endpoint-source.js";
export {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  type PublishBatch,
  type Publisher,
  type ResourceUpsert,
  ROUTE_TYPE,
} from "./publisher.js";
export { parseTxtMetadata } from "./txt-metadata.js";
