/**
 * What one xDS stream can tell about its client, for fleet status (CSDS, `dns-eds status`, `/clients`,
 * the client-state gauges): read-only views of the maps the stream keeps anyway for the protocol
 * (subscribed names, acked/in-flight/rejected versions), plus a few timestamps. Nothing here is copied
 * per response; the classification below runs only when someone asks.
 *
 * A subscribed resource is, from the server's side (CSDS `ConfigStatus`):
 * - STALE   a response carrying it was sent and neither ACKed nor NACKed yet, or the client holds an
 *           older version than the store and the newer one is still queued (a slow stream);
 * - NOT_SENT the store has no such resource (for this client) — nothing to send;
 * - ERROR   the client NACKed the version the store holds now (it keeps its last good one);
 * - SYNCED  the client ACKed the version the store holds now.
 */
import type { EncodedResource } from "./encoded-resource.js";
import type { NodeInfo } from "./node-info.js";

export type ResourceConfigStatus = "SYNCED" | "STALE" | "ERROR" | "NOT_SENT";

/** One NACK as the client sent it: shared by every resource the NACKed response carried. */
export interface NackEvent {
  detail: string;
  at: number;
}

/** A version the client ACKed, and when it first ACKed it (undefined: it said so on connecting, Delta). */
export interface AckedVersion {
  version: string;
  at: number | undefined;
}

/** One type of one stream, as views of the stream's own state. */
export interface TypeStatusView {
  readonly typeUrl: string;
  readonly wildcard: boolean;
  readonly names: ReadonlySet<string>;
  /**
   * name → version the client ACKed (Delta: also what it said it had when it connected), and when it
   * ACKed a version different from the one before.
   */
  readonly acked: ReadonlyMap<string, Readonly<AckedVersion>>;
  /** name → version sent and not yet answered ("" = a Delta removal). */
  readonly inflight: ReadonlyMap<string, string> | undefined;
  /** When the oldest unanswered response of this type was sent. */
  readonly inflightSince: number | undefined;
  /** name → version the client refused. */
  readonly rejected: ReadonlyMap<string, string>;
  /** name → the NACK that refused it. */
  readonly nacks: ReadonlyMap<string, NackEvent>;
  /** Earliest store change not yet pushed on this stream. */
  readonly pendingSince: number | undefined;
}

export interface StreamStatusView {
  readonly kind: string;
  readonly node: NodeInfo | undefined;
  /** The client's address as grpc-js reports it (`ip:port`). */
  readonly peer: string;
  readonly openedAt: number;
  /** Who the stream was admitted as (authorization on), or undefined. */
  readonly principal: string | undefined;
  readonly types: readonly TypeStatusView[];
  /** What this client would be sent for `name` now (its variant), or undefined when it would get nothing. */
  current(typeUrl: string, name: string): EncodedResource | undefined;
  /** The names a wildcard subscription of this type covers now. */
  wildcardNames(typeUrl: string): Iterable<string>;
}

export interface ResourceStatus {
  typeUrl: string;
  name: string;
  status: ResourceConfigStatus;
  /** The version the status is about: sent (STALE in flight), held (ERROR, queued STALE) or ACKed (SYNCED). */
  version: string;
  /** When the client ACKed this version (SYNCED), if known. */
  lastUpdated: number | undefined;
  /** Since when it has been STALE, if known. */
  staleSince: number | undefined;
  /** For ERROR: the version refused, the client's message and when. */
  error: { version: string; detail: string; at: number } | undefined;
  /** The store's resource this is about, when the store still has it: held (SYNCED), sent (STALE) or refused (ERROR). */
  resource: EncodedResource | undefined;
}

/** Every resource one stream's client is subscribed to, with its status, in the order given by `types`. */
export function resourceStatuses(view: StreamStatusView): ResourceStatus[] {
  const out: ResourceStatus[] = [];
  for (const t of view.types) {
    for (const name of namesOf(view, t)) out.push(classify(view, t, name));
  }
  return out;
}

function namesOf(view: StreamStatusView, t: TypeStatusView): string[] {
  if (!t.wildcard) return [...t.names].sort();
  const all = new Set<string>(t.names);
  for (const n of view.wildcardNames(t.typeUrl)) all.add(n);
  for (const n of t.acked.keys()) all.add(n);
  for (const [n, v] of t.inflight ?? []) if (v !== "") all.add(n);
  return [...all].sort();
}

function classify(view: StreamStatusView, t: TypeStatusView, name: string): ResourceStatus {
  // Plain literals with every field set (one shape for V8; no spreads): this runs per resource per call.
  const typeUrl = t.typeUrl;
  const cur = view.current(typeUrl, name);
  const ack = t.acked.get(name);
  const held = ack?.version ?? "";
  const sent = t.inflight?.get(name);
  if (sent !== undefined && sent !== "") {
    const resource = cur?.version === sent ? cur : undefined;
    return {
      typeUrl,
      name,
      status: "STALE",
      version: sent,
      lastUpdated: undefined,
      staleSince: t.inflightSince,
      error: undefined,
      resource,
    };
  }
  if (!cur) {
    return {
      typeUrl,
      name,
      status: "NOT_SENT",
      version: held,
      lastUpdated: undefined,
      staleSince: undefined,
      error: undefined,
      resource: undefined,
    };
  }
  const nack = t.nacks.size > 0 ? t.nacks.get(name) : undefined;
  if (nack && t.rejected.get(name) === cur.version) {
    const error = { version: cur.version, detail: nack.detail, at: nack.at };
    return {
      typeUrl,
      name,
      status: "ERROR",
      version: held,
      lastUpdated: undefined,
      staleSince: undefined,
      error,
      resource: cur,
    };
  }
  if (held === cur.version) {
    return {
      typeUrl,
      name,
      status: "SYNCED",
      version: held,
      lastUpdated: ack?.at,
      staleSince: undefined,
      error: undefined,
      resource: cur,
    };
  }
  return {
    typeUrl,
    name,
    status: "STALE",
    version: held,
    lastUpdated: undefined,
    staleSince: t.pendingSince,
    error: undefined,
    resource: undefined,
  };
}
