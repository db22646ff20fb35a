/**
 * Fleet status as CSDS `ClientConfig`s: one per connected client, where a client is a node id on one
 * connection (`peer`), so the per-type streams of one Envoy merge, while two processes sharing a
 * bootstrap's node id stay apart. Each carries the node as the client sent it (without `extensions`,
 * which Envoy fills with hundreds of entries), with dns-eds's facts about the connection added under
 * the metadata key `dns_eds` (`peer`, `locality`, `streams`, `connected_at`), and one
 * `GenericXdsConfig` per subscribed resource (see stream-status.ts for the statuses).
 *
 * `last_updated` is when the client ACKed the version it holds (SYNCED, ERROR) or when the pending
 * version was sent (STALE); `error_state` carries the NACK (details, the refused version, when).
 * `xds_config` (and `error_state.failed_configuration`) only when `includeContents`: a fleet of Envoys
 * holding thousands of assignments would otherwise make every status call megabytes.
 */
import { create, type JsonValue } from "@bufbuild/protobuf";
import { AnySchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UpdateFailureStateSchema } from "../gen/envoy/admin/v3/config_dump_shared_pb.js";
import { NodeSchema } from "../gen/envoy/config/core/v3/base_pb.js";
import {
  type ClientConfig,
  ClientConfig_GenericXdsConfigSchema,
  ClientConfigSchema,
  ConfigStatus,
} from "../gen/envoy/service/status/v3/csds_pb.js";
import type { EncodedResource } from "./encoded-resource.js";
import type { MatchableNode, NodePredicate } from "./node-matcher.js";
import { type ResourceStatus, resourceStatuses, type StreamStatusView } from "./stream-status.js";
import { PUSH_ORDER } from "./type-urls.js";

/** One client: the streams of one node id on one connection, and what they are subscribed to. */
export interface ClientSnapshot {
  nodeId: string;
  peer: string;
  streams: readonly StreamStatusView[];
  /** Computed on first read, so a request that filters clients out never classifies their resources. */
  readonly resources: ResourceStatus[];
  /** The node as CSDS returns it (and as node_matchers see it). */
  matchable: MatchableNode;
}

function statusesOf(streams: readonly StreamStatusView[]): ResourceStatus[] {
  const resources = streams.flatMap((s) => resourceStatuses(s));
  const order = (t: string) => PUSH_ORDER.indexOf(t as (typeof PUSH_ORDER)[number]);
  resources.sort(
    (a, b) => order(a.typeUrl) - order(b.typeUrl) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return resources;
}

const STATUS: Record<ResourceStatus["status"], ConfigStatus> = {
  SYNCED: ConfigStatus.SYNCED,
  STALE: ConfigStatus.STALE,
  ERROR: ConfigStatus.ERROR,
  NOT_SENT: ConfigStatus.NOT_SENT,
};

const iso = (ms: number) => new Date(ms).toISOString();

/** Groups streams into clients (sorted by node id, then address) with their resources' statuses. */
export function clientSnapshots(views: readonly StreamStatusView[]): ClientSnapshot[] {
  const byKey = new Map<string, StreamStatusView[]>();
  for (const v of views) {
    const key = `${v.node?.id ?? ""}\u0000${v.peer}`;
    const list = byKey.get(key);
    if (list) list.push(v);
    else byKey.set(key, [v]);
  }
  const out: ClientSnapshot[] = [];
  for (const streams of byKey.values()) {
    const first = streams[0] as StreamStatusView;
    const node = streams.find((s) => s.node)?.node;
    const loc = node?.locality;
    const dnsEds: { [k: string]: JsonValue } = {
      peer: first.peer,
      streams: streams.map((s) => s.kind),
      connected_at: iso(Math.min(...streams.map((s) => s.openedAt))),
      ...(loc ? { locality: { region: loc.region, zone: loc.zone, sub_zone: loc.subZone } } : {}),
    };
    let resources: ResourceStatus[] | undefined;
    out.push({
      nodeId: node?.id ?? "",
      peer: first.peer,
      streams,
      get resources(): ResourceStatus[] {
        resources ??= statusesOf(streams);
        return resources;
      },
      matchable: { id: node?.id ?? "", metadata: { ...(node?.metadata ?? {}), dns_eds: dnsEds } },
    });
  }
  return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.peer < b.peer ? -1 : 1));
}

/** The clients `matches` selects, as CSDS ClientConfigs. */
export function clientConfigs(
  clients: readonly ClientSnapshot[],
  opts: { matches?: NodePredicate; includeContents?: boolean } = {},
): ClientConfig[] {
  const out: ClientConfig[] = [];
  for (const c of clients) {
    if (opts.matches && !opts.matches(c.matchable)) continue;
    out.push(clientConfig(c, opts.includeContents ?? false));
  }
  return out;
}

const anyOf = (e: EncodedResource) => create(AnySchema, { typeUrl: e.typeUrl, value: e.bytes });

function clientConfig(c: ClientSnapshot, includeContents: boolean): ClientConfig {
  const info = c.streams.find((s) => s.node)?.node;
  const node = create(NodeSchema, {
    id: c.nodeId,
    cluster: info?.cluster ?? "",
    ...(info?.locality
      ? {
          locality: {
            region: info.locality.region,
            zone: info.locality.zone,
            subZone: info.locality.subZone,
          },
        }
      : {}),
    userAgentName: info?.userAgentName ?? "",
    ...(info?.userAgentVersion
      ? { userAgentVersionType: { case: "userAgentVersion", value: info.userAgentVersion } }
      : {}),
    clientFeatures: [...(info?.clientFeatures ?? [])],
    metadata: c.matchable.metadata,
  });
  return create(ClientConfigSchema, {
    node,
    genericXdsConfigs: c.resources.map((r) => {
      const at = r.status === "STALE" ? r.staleSince : r.lastUpdated;
      return create(ClientConfig_GenericXdsConfigSchema, {
        typeUrl: r.typeUrl,
        name: r.name,
        versionInfo: r.version,
        configStatus: STATUS[r.status],
        ...(at !== undefined ? { lastUpdated: timestampFromMs(at) } : {}),
        ...(includeContents && r.resource && r.status !== "ERROR" ? { xdsConfig: anyOf(r.resource) } : {}),
        ...(r.error
          ? {
              errorState: create(UpdateFailureStateSchema, {
                details: r.error.detail,
                versionInfo: r.error.version,
                lastUpdateAttempt: timestampFromMs(r.error.at),
                ...(includeContents && r.resource ? { failedConfiguration: anyOf(r.resource) } : {}),
              }),
            }
          : {}),
      });
    }),
  });
}
