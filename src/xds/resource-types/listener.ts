/**
 * Listener (LDS). For proxyless gRPC the listener is an API listener wrapping an HttpConnectionManager;
 * for Envoy the HCM sits in a filter chain. Both are checked the same way: RDS over ADS/self (or an inline
 * route config), at least one HTTP filter, every filter with typed_config, router last.
 */
import { isMessage, type Message } from "@bufbuild/protobuf";
import { type Any, anyUnpack } from "@bufbuild/protobuf/wkt";
import { type Listener, ListenerSchema } from "../../gen/envoy/config/listener/v3/listener_pb.js";
import { RouterSchema } from "../../gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import {
  type HttpConnectionManager,
  HttpConnectionManagerSchema,
} from "../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { invalidResource } from "../errors.js";
import { TYPE_URLS } from "../type-urls.js";
import type { ResourceRef, ResourceType } from "./resource-type.js";

const T = TYPE_URLS.listener;
const HCM_TYPE_URL = `type.googleapis.com/${HttpConnectionManagerSchema.typeName}`;
const ROUTER_TYPE_URL = `type.googleapis.com/${RouterSchema.typeName}`;

export class ListenerResourceType implements ResourceType {
  readonly typeUrl = T;
  readonly schema = ListenerSchema;

  validate(name: string, resource: Message): void {
    const l = asListener(name, resource);
    if (l.name !== name)
      throw invalidResource(T, name, "name", `must equal the resource name (got "${l.name}")`);
    if (l.apiListener) {
      const any = l.apiListener.apiListener;
      if (!any || any.typeUrl !== HCM_TYPE_URL) {
        throw invalidResource(
          T,
          name,
          "api_listener.api_listener",
          `must be an ${HttpConnectionManagerSchema.typeName}`,
        );
      }
      checkHcm(name, "api_listener.api_listener", unpackHcm(name, "api_listener.api_listener", any));
      return;
    }
    if (!l.address) throw invalidResource(T, name, "address", "is required for a non-API listener");
    for (const [field, any] of hcmConfigs(l)) checkHcm(name, field, unpackHcm(name, field, any));
  }

  references(name: string, resource: Message): ResourceRef[] {
    const l = asListener(name, resource);
    const refs: ResourceRef[] = [];
    for (const [field, any] of hcmConfigs(l)) {
      const hcm = unpackHcm(name, field, any);
      if (hcm.routeSpecifier.case === "rds")
        refs.push({ typeUrl: TYPE_URLS.route, name: hcm.routeSpecifier.value.routeConfigName });
    }
    return refs;
  }
}

/** Every HCM config in the listener with the field path it sits at. */
function hcmConfigs(l: Listener): Array<[string, Any]> {
  const out: Array<[string, Any]> = [];
  if (l.apiListener?.apiListener?.typeUrl === HCM_TYPE_URL)
    out.push(["api_listener.api_listener", l.apiListener.apiListener]);
  const chains = l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains;
  chains.forEach((fc, i) => {
    fc.filters.forEach((f, j) => {
      if (f.configType.case === "typedConfig" && f.configType.value.typeUrl === HCM_TYPE_URL) {
        out.push([`filter_chains[${i}].filters[${j}].typed_config`, f.configType.value]);
      }
    });
  });
  return out;
}

function unpackHcm(name: string, field: string, any: Any): HttpConnectionManager {
  try {
    const hcm = anyUnpack(any, HttpConnectionManagerSchema);
    if (hcm) return hcm;
  } catch (e) {
    throw invalidResource(T, name, field, `cannot decode HttpConnectionManager: ${(e as Error).message}`);
  }
  throw invalidResource(T, name, field, "is not an HttpConnectionManager");
}

function checkHcm(name: string, field: string, hcm: HttpConnectionManager): void {
  const rs = hcm.routeSpecifier;
  if (rs.case === "rds") {
    const src = rs.value.configSource?.configSourceSpecifier.case;
    if (src !== "ads" && src !== "self")
      throw invalidResource(T, name, `${field}.rds.config_source`, "must be `ads` or `self`");
    if (rs.value.routeConfigName === "")
      throw invalidResource(T, name, `${field}.rds.route_config_name`, "is required");
  } else if (rs.case !== "routeConfig") {
    throw invalidResource(T, name, `${field}.route_specifier`, "must be `rds` or `route_config`");
  }
  if (hcm.httpFilters.length === 0)
    throw invalidResource(T, name, `${field}.http_filters`, "must not be empty");
  hcm.httpFilters.forEach((f, i) => {
    if (f.configType.case !== "typedConfig") {
      throw invalidResource(
        T,
        name,
        `${field}.http_filters[${i}].typed_config`,
        `filter "${f.name}" needs typed_config`,
      );
    }
  });
  const last = hcm.httpFilters[hcm.httpFilters.length - 1];
  if (last?.configType.case !== "typedConfig" || last.configType.value.typeUrl !== ROUTER_TYPE_URL) {
    throw invalidResource(T, name, `${field}.http_filters`, "the last filter must be the router");
  }
}

function asListener(name: string, m: Message): Listener {
  if (!isMessage(m, ListenerSchema))
    throw invalidResource(T, name, "", `expected ${ListenerSchema.typeName}, got ${m.$typeName}`);
  return m;
}
