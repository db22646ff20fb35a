/**
 * `/config_dump` in Envoy's own shape: `{"configs": [...]}` holding an `envoy.admin.v3.ClustersConfigDump`
 * (`dynamic_active_clusters`), `EndpointsConfigDump` (`dynamic_endpoint_configs`), `ListenersConfigDump`
 * (`dynamic_listeners[].active_state`) and `RoutesConfigDump` (`dynamic_route_configs`), each resource
 * with `version_info` (its content hash) and `last_updated` (the publish that last changed it), as
 * proto-JSON with the .proto field names, so `jq` paths written for Envoy work here.
 *
 * Query parameters as in Envoy: `resource` (one repeated field of those dumps; each element becomes a
 * config of its own), `mask` (a FieldMask applied to each config, or to each element with `resource`),
 * `name_regex` (resources whose name fully matches). Unlike Envoy, endpoints are always included
 * (Envoy needs `?include_eds`; it is accepted and changes nothing).
 *
 * Zone variants: a resource with variants is listed once for its default and once per variant, the
 * variant's entry right after the default; its `version_info` is the variant's content hash followed by
 * ` variant=KEY` (the only field of Envoy's entry that can carry the label and stay decodable).
 */
import { create, createRegistry, type DescMessage, type Message, toJson } from "@bufbuild/protobuf";
import { AnySchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ClustersConfigDump_DynamicClusterSchema,
  ClustersConfigDumpSchema,
  EndpointsConfigDump_DynamicEndpointConfigSchema,
  EndpointsConfigDumpSchema,
  file_envoy_admin_v3_config_dump_shared,
  ListenersConfigDump_DynamicListenerSchema,
  ListenersConfigDumpSchema,
  RoutesConfigDump_DynamicRouteConfigSchema,
  RoutesConfigDumpSchema,
  UpdateFailureStateSchema,
} from "../gen/envoy/admin/v3/config_dump_shared_pb.js";
import { file_envoy_config_cluster_v3_cluster } from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import { file_envoy_config_endpoint_v3_endpoint } from "../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { file_envoy_config_listener_v3_listener } from "../gen/envoy/config/listener/v3/listener_pb.js";
import { file_envoy_config_route_v3_route } from "../gen/envoy/config/route/v3/route_pb.js";
import { file_envoy_extensions_filters_http_router_v3_router } from "../gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import { file_envoy_extensions_filters_network_http_connection_manager_v3_http_connection_manager } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { file_envoy_extensions_load_balancing_policies_least_request_v3_least_request } from "../gen/envoy/extensions/load_balancing_policies/least_request/v3/least_request_pb.js";
import { file_envoy_extensions_load_balancing_policies_maglev_v3_maglev } from "../gen/envoy/extensions/load_balancing_policies/maglev/v3/maglev_pb.js";
import { file_envoy_extensions_load_balancing_policies_pick_first_v3_pick_first } from "../gen/envoy/extensions/load_balancing_policies/pick_first/v3/pick_first_pb.js";
import { file_envoy_extensions_load_balancing_policies_random_v3_random } from "../gen/envoy/extensions/load_balancing_policies/random/v3/random_pb.js";
import { file_envoy_extensions_load_balancing_policies_ring_hash_v3_ring_hash } from "../gen/envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash_pb.js";
import { file_envoy_extensions_load_balancing_policies_round_robin_v3_round_robin } from "../gen/envoy/extensions/load_balancing_policies/round_robin/v3/round_robin_pb.js";
import { file_envoy_extensions_load_balancing_policies_wrr_locality_v3_wrr_locality } from "../gen/envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality_pb.js";
import { file_envoy_extensions_upstreams_http_v3_http_protocol_options } from "../gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js";
import type { EncodedResource } from "./encoded-resource.js";
import { fullMatchRegex } from "./full-match-regex.js";
import { applyFieldMask, parseFieldMask } from "./json-field-mask.js";
import type { ResourceStore, StoredEntry } from "./resource-store.js";
import { TYPE_URLS } from "./type-urls.js";

/** Every message type that can appear in the dump, inside an Any or not. */
export const DUMP_REGISTRY = createRegistry(
  file_envoy_admin_v3_config_dump_shared,
  file_envoy_config_cluster_v3_cluster,
  file_envoy_config_endpoint_v3_endpoint,
  file_envoy_config_listener_v3_listener,
  file_envoy_config_route_v3_route,
  file_envoy_extensions_filters_http_router_v3_router,
  file_envoy_extensions_filters_network_http_connection_manager_v3_http_connection_manager,
  file_envoy_extensions_upstreams_http_v3_http_protocol_options,
  file_envoy_extensions_load_balancing_policies_round_robin_v3_round_robin,
  file_envoy_extensions_load_balancing_policies_least_request_v3_least_request,
  file_envoy_extensions_load_balancing_policies_random_v3_random,
  file_envoy_extensions_load_balancing_policies_wrr_locality_v3_wrr_locality,
  file_envoy_extensions_load_balancing_policies_ring_hash_v3_ring_hash,
  file_envoy_extensions_load_balancing_policies_maglev_v3_maglev,
  file_envoy_extensions_load_balancing_policies_pick_first_v3_pick_first,
);

export interface ConfigDumpQuery {
  resource?: string | undefined;
  mask?: string | undefined;
  nameRegex?: string | undefined;
}

export type ConfigDumpErrorCode = "ERR_CONFIG_DUMP_NOT_FOUND" | "ERR_CONFIG_DUMP_BAD_QUERY";

/** A query the dump cannot answer: NOT_FOUND is Envoy's 404 (unknown `resource`), BAD_QUERY its 400. */
export class ConfigDumpError extends Error {
  constructor(
    readonly code: ConfigDumpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ConfigDumpError";
  }
}

type Json = Record<string, unknown>;

/** One dump type: its message, the repeated field holding dynamic resources, and how an entry looks. */
interface DumpKind {
  typeUrl: string;
  dump: DescMessage;
  field: string;
  element: DescMessage;
  entry(e: EncodedResource, versionInfo: string, updatedAt: number): Message;
}

const any = (e: EncodedResource) => create(AnySchema, { typeUrl: e.typeUrl, value: e.bytes });

const KINDS: readonly DumpKind[] = [
  {
    typeUrl: TYPE_URLS.cluster,
    dump: ClustersConfigDumpSchema,
    field: "dynamic_active_clusters",
    element: ClustersConfigDump_DynamicClusterSchema,
    entry: (e, versionInfo, at) =>
      create(ClustersConfigDump_DynamicClusterSchema, {
        versionInfo,
        cluster: any(e),
        lastUpdated: timestampFromMs(at),
      }),
  },
  {
    typeUrl: TYPE_URLS.endpoint,
    dump: EndpointsConfigDumpSchema,
    field: "dynamic_endpoint_configs",
    element: EndpointsConfigDump_DynamicEndpointConfigSchema,
    entry: (e, versionInfo, at) =>
      create(EndpointsConfigDump_DynamicEndpointConfigSchema, {
        versionInfo,
        endpointConfig: any(e),
        lastUpdated: timestampFromMs(at),
      }),
  },
  {
    typeUrl: TYPE_URLS.listener,
    dump: ListenersConfigDumpSchema,
    field: "dynamic_listeners",
    element: ListenersConfigDump_DynamicListenerSchema,
    entry: (e, versionInfo, at) =>
      create(ListenersConfigDump_DynamicListenerSchema, {
        name: e.name,
        activeState: { versionInfo, listener: any(e), lastUpdated: timestampFromMs(at) },
      }),
  },
  {
    typeUrl: TYPE_URLS.route,
    dump: RoutesConfigDumpSchema,
    field: "dynamic_route_configs",
    element: RoutesConfigDump_DynamicRouteConfigSchema,
    entry: (e, versionInfo, at) =>
      create(RoutesConfigDump_DynamicRouteConfigSchema, {
        versionInfo,
        routeConfig: any(e),
        lastUpdated: timestampFromMs(at),
      }),
  },
];

const typeUrlOf = (desc: DescMessage) => `type.googleapis.com/${desc.typeName}`;

/**
 * Proto-JSON of one entry. A resource that cannot be rendered (a typed config of a type this build
 * does not know) keeps its version and time, and says why in `error_state.details` instead of failing
 * the whole dump.
 */
function entryJson(kind: DumpKind, e: EncodedResource, versionInfo: string, at: number): Json {
  const msg = kind.entry(e, versionInfo, at);
  try {
    return typeFirst(
      toJson(kind.element, msg as never, { registry: DUMP_REGISTRY, useProtoFieldName: true }),
    ) as Json;
  } catch (err) {
    const stripped = create(kind.element, {
      ...(kind.typeUrl === TYPE_URLS.listener
        ? { name: e.name }
        : { versionInfo, lastUpdated: timestampFromMs(at) }),
      errorState: create(UpdateFailureStateSchema, {
        details: `dns-eds cannot render ${e.name} as JSON: ${(err as Error).message}`,
        versionInfo,
      }),
    } as never);
    return toJson(kind.element, stripped as never, {
      registry: DUMP_REGISTRY,
      useProtoFieldName: true,
    }) as Json;
  }
}

/** protobuf-es appends an Any's "@type" after its fields; Envoy (and every reader's eye) puts it first. */
function typeFirst(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(typeFirst);
  if (v === null || typeof v !== "object") return v;
  const o = v as Json;
  const out: Json = "@type" in o ? { "@type": o["@type"] } : {};
  for (const [k, x] of Object.entries(o)) if (k !== "@type") out[k] = typeFirst(x);
  return out;
}

interface Rendered {
  kind: DumpKind;
  entries: Json[];
}

/** Builds the dump for `query`; throws ConfigDumpError for an unknown `resource` or a bad mask/regex. */
export function envoyConfigDump(store: ResourceStore, query: ConfigDumpQuery = {}): Json {
  let nameMatch: RegExp | undefined;
  if (query.nameRegex !== undefined && query.nameRegex !== "") {
    try {
      nameMatch = fullMatchRegex(query.nameRegex);
    } catch (e) {
      throw new ConfigDumpError("ERR_CONFIG_DUMP_BAD_QUERY", `name_regex: ${(e as Error).message}`);
    }
  }
  let paths: string[][] | undefined;
  if (query.mask !== undefined && query.mask !== "") {
    paths = parseFieldMask(query.mask);
    if (!paths) throw new ConfigDumpError("ERR_CONFIG_DUMP_BAD_QUERY", `mask ${query.mask}: empty path`);
  }
  let kinds = KINDS;
  if (query.resource !== undefined && query.resource !== "") {
    const r = query.resource;
    kinds = KINDS.filter((k) => k.dump.fields.some((f) => f.name === r && f.fieldKind === "list"));
    if (kinds.length === 0)
      throw new ConfigDumpError("ERR_CONFIG_DUMP_NOT_FOUND", `${r} not found in config dump`);
  }

  const rendered: Rendered[] = kinds.map((kind) => ({
    kind,
    entries: store
      .entries(kind.typeUrl)
      .filter((s) => nameMatch === undefined || nameMatch.test(s.name))
      .flatMap((s) => entriesOf(kind, s)),
  }));

  const configs: Json[] = [];
  if (query.resource !== undefined && query.resource !== "") {
    for (const { kind, entries } of rendered) {
      // Only our dynamic field holds anything; static and warming lists are always empty here.
      if (query.resource !== kind.field) continue;
      for (const entry of entries) {
        const masked = paths ? applyFieldMask(entry, kind.element, paths, DUMP_REGISTRY) : entry;
        if (!masked) {
          throw new ConfigDumpError(
            "ERR_CONFIG_DUMP_BAD_QUERY",
            `FieldMask ${query.mask} could not be applied to ${kind.element.typeName}`,
          );
        }
        configs.push({ "@type": typeUrlOf(kind.element), ...masked });
      }
    }
  } else {
    for (const { kind, entries } of rendered) {
      const dump: Json = entries.length > 0 ? { [kind.field]: entries } : {};
      const masked = paths ? applyFieldMask(dump, kind.dump, paths, DUMP_REGISTRY) : dump;
      if (masked) configs.push({ "@type": typeUrlOf(kind.dump), ...masked });
    }
    if (paths && configs.length === 0) {
      throw new ConfigDumpError(
        "ERR_CONFIG_DUMP_BAD_QUERY",
        `FieldMask ${query.mask} could not be successfully applied to any configs`,
      );
    }
  }
  // As Envoy prints it: an empty repeated field is left out.
  return configs.length > 0 ? { configs } : {};
}

function entriesOf(kind: DumpKind, s: StoredEntry): Json[] {
  const out = [entryJson(kind, s.base, s.base.version, s.updatedAt)];
  if (s.variants) {
    for (const key of [...s.variants.keys()].sort()) {
      const v = s.variants.get(key) as EncodedResource;
      out.push(entryJson(kind, v, `${v.version} variant=${key}`, s.updatedAt));
    }
  }
  return out;
}
