/**
 * xDS type URLs dns-eds serves, and the order the protocol wants updates pushed in
 * (CDS → EDS → LDS → RDS; Envoy warms clusters before endpoints and listeners before routes).
 */

const PREFIX = "type.googleapis.com/";

export const TYPE_URLS = {
  cluster: `${PREFIX}envoy.config.cluster.v3.Cluster`,
  endpoint: `${PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  listener: `${PREFIX}envoy.config.listener.v3.Listener`,
  route: `${PREFIX}envoy.config.route.v3.RouteConfiguration`,
} as const;

export type XdsTypeUrl = (typeof TYPE_URLS)[keyof typeof TYPE_URLS];

/** Push order; removals of every type come after all upserts. */
export const PUSH_ORDER: readonly XdsTypeUrl[] = [
  TYPE_URLS.cluster,
  TYPE_URLS.endpoint,
  TYPE_URLS.listener,
  TYPE_URLS.route,
];

const KNOWN = new Set<string>(PUSH_ORDER);

export function isKnownTypeUrl(typeUrl: string): typeUrl is XdsTypeUrl {
  return KNOWN.has(typeUrl);
}

/**
 * SotW responses for LDS and CDS carry the full set (a missing resource means "deleted"), and only these
 * two types support the wildcard subscription.
 */
export function isFullStateType(typeUrl: string): boolean {
  return typeUrl === TYPE_URLS.cluster || typeUrl === TYPE_URLS.listener;
}

/** Short label for logs and metrics: "cds", "eds", "lds", "rds". */
export function typeLabel(typeUrl: string): string {
  switch (typeUrl) {
    case TYPE_URLS.cluster:
      return "cds";
    case TYPE_URLS.endpoint:
      return "eds";
    case TYPE_URLS.listener:
      return "lds";
    case TYPE_URLS.route:
      return "rds";
    default:
      return "unknown";
  }
}
