/**
 * RouteConfiguration (RDS). Rejects what clients NACK: virtual hosts without domains, routes without a
 * path matcher or action, route actions without a cluster.
 */
import { isMessage, type Message } from "@bufbuild/protobuf";
import {
  type RouteConfiguration,
  RouteConfigurationSchema,
} from "../../gen/envoy/config/route/v3/route_pb.js";
import { invalidResource } from "../errors.js";
import { TYPE_URLS } from "../type-urls.js";
import type { ResourceRef, ResourceType } from "./resource-type.js";

const T = TYPE_URLS.route;

export class RouteResourceType implements ResourceType {
  readonly typeUrl = T;
  readonly schema = RouteConfigurationSchema;

  validate(name: string, resource: Message): void {
    const rc = asRoute(name, resource);
    if (rc.name !== name)
      throw invalidResource(T, name, "name", `must equal the resource name (got "${rc.name}")`);
    rc.virtualHosts.forEach((vh, i) => {
      const f = `virtual_hosts[${i}]`;
      if (vh.domains.length === 0 || vh.domains.some((d) => d === "")) {
        throw invalidResource(T, name, `${f}.domains`, "must be non-empty strings");
      }
      vh.routes.forEach((r, j) => {
        const g = `${f}.routes[${j}]`;
        if (!r.match || r.match.pathSpecifier.case === undefined)
          throw invalidResource(T, name, `${g}.match`, "needs a path specifier");
        if (r.action.case === undefined) throw invalidResource(T, name, `${g}.action`, "is required");
        if (r.action.case === "route") {
          const cs = r.action.value.clusterSpecifier;
          if (cs.case === undefined)
            throw invalidResource(T, name, `${g}.route.cluster_specifier`, "is required");
          if (cs.case === "cluster" && cs.value === "")
            throw invalidResource(T, name, `${g}.route.cluster`, "is empty");
        }
      });
    });
  }

  references(): ResourceRef[] {
    return [];
  }
}

function asRoute(name: string, m: Message): RouteConfiguration {
  if (!isMessage(m, RouteConfigurationSchema)) {
    throw invalidResource(T, name, "", `expected ${RouteConfigurationSchema.typeName}, got ${m.$typeName}`);
  }
  return m;
}
