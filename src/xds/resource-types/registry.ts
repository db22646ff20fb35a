/** The resource types the store accepts, by type URL. */
import { TYPE_URLS } from "../type-urls.js";
import { ClusterResourceType } from "./cluster.js";
import { EndpointResourceType } from "./endpoint.js";
import { ListenerResourceType } from "./listener.js";
import type { ResourceType } from "./resource-type.js";
import { RouteResourceType } from "./route.js";

export const RESOURCE_TYPES: ReadonlyMap<string, ResourceType> = new Map<string, ResourceType>([
  [TYPE_URLS.cluster, new ClusterResourceType()],
  [TYPE_URLS.endpoint, new EndpointResourceType()],
  [TYPE_URLS.listener, new ListenerResourceType()],
  [TYPE_URLS.route, new RouteResourceType()],
]);
