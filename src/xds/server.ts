/**
 * The xDS gRPC server: ADS (SotW + Delta) and the per-type EDS/CDS/LDS/RDS services (SotW + Delta) over
 * one ResourceStore. Responses leave as pre-built Buffers (a custom service definition whose response
 * serializer is the identity), so nothing is re-encoded per stream. Owns server limits (keepalive,
 * concurrent streams, message sizes, stream count) and graceful shutdown.
 */
import type { ServerHttp2Session } from "node:http2";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import pino, { type Logger } from "pino";
import {
  type DeltaDiscoveryRequest,
  DeltaDiscoveryRequestSchema,
  type DiscoveryRequest,
  DiscoveryRequestSchema,
} from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { drainOffsets, goAway, serverSessions, sessionPeer } from "./connection-drain.js";
import { DeltaStream } from "./delta-stream.js";
import { XdsError } from "./errors.js";
import { NOOP_METRICS, type XdsMetrics } from "./metrics.js";
import { type NodeInfo, zoneOf } from "./node-info.js";
import type { ResourceStore } from "./resource-store.js";
import { SharedResponses } from "./shared-responses.js";
import { SotwStream } from "./sotw-stream.js";
import type { StreamContext, TypeStateBase, XdsStreamBase } from "./stream-base.js";
import { TYPE_URLS } from "./type-urls.js";

export interface XdsServerLimits {
  /** Server keepalive ping interval (default 60 s) and ack timeout (default 20 s, as gRPC); a short timeout drops clients whose event loop is busy, e.g. during a connect storm. */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /** HTTP/2 max concurrent streams per connection (default 100). */
  maxConcurrentStreamsPerConnection?: number;
  /** Streams across all connections; more are refused with RESOURCE_EXHAUSTED (default 50,000). */
  maxStreams?: number;
  /** Largest request accepted (default 4 MiB) and response sent (default 64 MiB). */
  maxReceiveMessageBytes?: number;
  maxSendMessageBytes?: number;
  /** Names per type one stream may subscribe to (default 100,000). */
  maxNamesPerType?: number;
  /** Close connections after this age so load rebalances across replicas (default: never). */
  maxConnectionAgeMs?: number;
}

export interface XdsServerOptions {
  store: ResourceStore;
  logger?: Logger;
  metrics?: XdsMetrics;
  /** Which resource variant a node gets (default: its locality zone). */
  variantKeyOf?: (node: NodeInfo | undefined) => string | undefined;
  limits?: XdsServerLimits;
  credentials?: grpc.ServerCredentials;
  now?: () => number;
}

export interface DrainOptions {
  /** Connections are sent away at moments spread over this window (jittered, see drainOffsets). */
  windowMs: number;
  random?: () => number;
}

export interface XdsServer {
  listen(addr: string): Promise<number>;
  /**
   * Sends every client connection away, one at a time over the window: GOAWAY, then its streams end
   * with UNAVAILABLE so the client reconnects (elsewhere, as this replica reports not-ready). New
   * streams meanwhile are refused the same way. Resolves when the last connection has been sent away.
   */
  drain(opts: DrainOptions): Promise<void>;
  shutdown(graceMs?: number): Promise<void>;
  /** Open streams right now (for admin and tests). */
  streamCount(): number;
  /** Node ids of connected streams (for admin). */
  nodes(): Array<{ kind: string; node: NodeInfo | undefined }>;
}

type Method = { path: string; delta: boolean; typeUrl: string | undefined; kind: string };

const METHODS: Record<string, Method> = {
  StreamAggregatedResources: m(
    "discovery",
    "AggregatedDiscoveryService",
    "StreamAggregatedResources",
    false,
    undefined,
    "ads-sotw",
  ),
  DeltaAggregatedResources: m(
    "discovery",
    "AggregatedDiscoveryService",
    "DeltaAggregatedResources",
    true,
    undefined,
    "ads-delta",
  ),
  StreamEndpoints: m(
    "endpoint",
    "EndpointDiscoveryService",
    "StreamEndpoints",
    false,
    TYPE_URLS.endpoint,
    "eds-sotw",
  ),
  DeltaEndpoints: m(
    "endpoint",
    "EndpointDiscoveryService",
    "DeltaEndpoints",
    true,
    TYPE_URLS.endpoint,
    "eds-delta",
  ),
  StreamClusters: m(
    "cluster",
    "ClusterDiscoveryService",
    "StreamClusters",
    false,
    TYPE_URLS.cluster,
    "cds-sotw",
  ),
  DeltaClusters: m(
    "cluster",
    "ClusterDiscoveryService",
    "DeltaClusters",
    true,
    TYPE_URLS.cluster,
    "cds-delta",
  ),
  StreamListeners: m(
    "listener",
    "ListenerDiscoveryService",
    "StreamListeners",
    false,
    TYPE_URLS.listener,
    "lds-sotw",
  ),
  DeltaListeners: m(
    "listener",
    "ListenerDiscoveryService",
    "DeltaListeners",
    true,
    TYPE_URLS.listener,
    "lds-delta",
  ),
  StreamRoutes: m("route", "RouteDiscoveryService", "StreamRoutes", false, TYPE_URLS.route, "rds-sotw"),
  DeltaRoutes: m("route", "RouteDiscoveryService", "DeltaRoutes", true, TYPE_URLS.route, "rds-delta"),
};

function m(
  pkg: string,
  service: string,
  method: string,
  delta: boolean,
  typeUrl: string | undefined,
  kind: string,
): Method {
  return { path: `/envoy.service.${pkg}.v3.${service}/${method}`, delta, typeUrl, kind };
}

/** Groups METHODS by service path prefix into grpc-js service definitions with Buffer responses. */
function serviceDefinitions(): Map<string, grpc.ServiceDefinition> {
  const out = new Map<string, grpc.ServiceDefinition>();
  for (const [name, def] of Object.entries(METHODS)) {
    const service = def.path.slice(1, def.path.lastIndexOf("/"));
    let sd = out.get(service) as Record<string, grpc.MethodDefinition<unknown, Buffer>> | undefined;
    if (!sd) {
      sd = {};
      out.set(service, sd as grpc.ServiceDefinition);
    }
    const schema = def.delta ? DeltaDiscoveryRequestSchema : DiscoveryRequestSchema;
    sd[name] = {
      path: def.path,
      requestStream: true,
      responseStream: true,
      requestSerialize: (r: unknown) =>
        Buffer.from(toBinary(schema, r as DiscoveryRequest & DeltaDiscoveryRequest)),
      requestDeserialize: (b: Buffer) => fromBinary(schema, b),
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    };
  }
  return out;
}

export function createXdsServer(opts: XdsServerOptions): XdsServer {
  const logger = opts.logger ?? pino({ level: "silent" });
  const metrics = opts.metrics ?? NOOP_METRICS;
  const limits = opts.limits ?? {};
  const maxStreams = limits.maxStreams ?? 50_000;
  const now = opts.now ?? Date.now;
  const streams = new Set<XdsStreamBase<TypeStateBase, unknown>>();
  /** The peer (`call.getPeer()`) of each stream, to find the streams of one connection. */
  const peers = new Map<XdsStreamBase<TypeStateBase, unknown>, string>();
  let shuttingDown = false;
  let draining = false;
  const shared = new SharedResponses();

  const serverOptions: grpc.ServerOptions = {
    "grpc.keepalive_time_ms": limits.keepaliveTimeMs ?? 60_000,
    "grpc.keepalive_timeout_ms": limits.keepaliveTimeoutMs ?? 20_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    "grpc.max_concurrent_streams": limits.maxConcurrentStreamsPerConnection ?? 100,
    "grpc.max_receive_message_length": limits.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
    "grpc.max_send_message_length": limits.maxSendMessageBytes ?? 64 * 1024 * 1024,
  };
  if (limits.maxConnectionAgeMs !== undefined) {
    serverOptions["grpc.max_connection_age_ms"] = limits.maxConnectionAgeMs;
    serverOptions["grpc.max_connection_age_grace_ms"] = 30_000;
  }
  const server = new grpc.Server(serverOptions);

  /** GOAWAY on one connection, then its streams end with UNAVAILABLE. */
  const sendAway = (peer: string | undefined, session: ServerHttp2Session | undefined) => {
    if (session) goAway(session);
    for (const [s, p] of peers) {
      if (p === peer) s.endWith(grpc.status.UNAVAILABLE, "server draining; reconnect to another replica");
    }
  };

  const open = (def: Method) => (call: grpc.ServerDuplexStream<unknown, Buffer>) => {
    if (draining && !shuttingDown) {
      // A client that reached this connection during the drain is sent on at once, connection and all.
      const peer = call.getPeer();
      call.emit("error", {
        code: grpc.status.UNAVAILABLE,
        details: "server draining; reconnect to another replica",
      });
      sendAway(
        peer,
        serverSessions(server).find((x) => sessionPeer(x) === peer),
      );
      return;
    }
    if (shuttingDown || streams.size >= maxStreams) {
      const code = shuttingDown ? grpc.status.UNAVAILABLE : grpc.status.RESOURCE_EXHAUSTED;
      call.emit("error", { code, details: shuttingDown ? "server shutting down" : "too many xDS streams" });
      return;
    }
    const ctx: StreamContext = {
      store: opts.store,
      logger,
      metrics,
      now,
      limits: { maxNamesPerType: limits.maxNamesPerType ?? 100_000 },
      variantKeyOf: opts.variantKeyOf ?? zoneOf,
      fixedTypeUrl: def.typeUrl,
      kind: def.kind,
      onClose: (s) => {
        streams.delete(s);
        peers.delete(s);
      },
      shared,
    };
    const s = def.delta
      ? new DeltaStream(ctx, call as grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>)
      : new SotwStream(ctx, call as grpc.ServerDuplexStream<DiscoveryRequest, Buffer>);
    if (!s.isClosed) {
      const base = s as unknown as XdsStreamBase<TypeStateBase, unknown>;
      streams.add(base);
      peers.set(base, call.getPeer());
    }
  };

  for (const [service, sd] of serviceDefinitions()) {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const name of Object.keys(sd)) {
      const def = METHODS[name];
      if (def) impl[name] = open(def) as grpc.handleBidiStreamingCall<unknown, Buffer>;
    }
    server.addService(sd, impl);
    logger.debug({ service }, "xds service registered");
  }

  let listening = false;
  return {
    listen(addr: string): Promise<number> {
      return new Promise((resolve, reject) => {
        server.bindAsync(addr, opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, port) => {
          if (err) {
            reject(new XdsError("ERR_XDS_SERVER_STATE", `cannot listen on ${addr}: ${err.message}`));
            return;
          }
          listening = true;
          logger.info({ addr, port }, "xds server listening");
          resolve(port);
        });
      });
    },

    async drain({ windowMs, random = Math.random }: DrainOptions): Promise<void> {
      if (draining || shuttingDown || !listening) return;
      draining = true;
      const sessions = serverSessions(server);
      // Streams whose connection is not among the sessions (none expected) are ended on their own.
      const known = new Set(sessions.map(sessionPeer));
      const orphans = [...new Set(peers.values())].filter((p) => !known.has(p));
      const targets: Array<() => void> = [
        ...sessions.map((session) => () => sendAway(sessionPeer(session), session)),
        ...orphans.map((peer) => () => sendAway(peer, undefined)),
      ];
      const offsets = drainOffsets(targets.length, windowMs, random);
      logger.info({ connections: targets.length, streams: streams.size, windowMs }, "xds server draining");
      await Promise.all(
        targets.map(
          (send, i) =>
            new Promise<void>((resolve) => {
              setTimeout(() => {
                send();
                resolve();
              }, offsets[i]);
            }),
        ),
      );
    },

    async shutdown(graceMs = 5_000): Promise<void> {
      if (shuttingDown) return;
      shuttingDown = true;
      if (!listening) return;
      logger.info({ streams: streams.size, graceMs }, "xds server shutting down");
      const done = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      // xDS streams never end by themselves; end them with UNAVAILABLE so clients reconnect elsewhere.
      for (const s of [...streams]) s.endWith(grpc.status.UNAVAILABLE, "server shutting down");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      });
      const forced = await Promise.race([done.then(() => false), timedOut]);
      clearTimeout(timer);
      if (forced) {
        logger.warn("xds server grace period over; forcing shutdown");
        server.forceShutdown();
      }
    },

    streamCount: () => streams.size,
    nodes: () => [...streams].map((s) => ({ kind: s.kind, node: s.node })),
  };
}

/**
 * Shuts the server down gracefully on SIGTERM/SIGINT, then calls `after` (e.g. process.exit).
 * Returns a function that removes the handlers.
 */
export function shutdownOnSignals(
  server: XdsServer,
  graceMs: number,
  after: () => void,
  proc: Pick<NodeJS.EventEmitter, "once" | "off"> = process,
): () => void {
  const handler = () => {
    dispose();
    void server.shutdown(graceMs).finally(after);
  };
  const dispose = () => {
    proc.off("SIGTERM", handler);
    proc.off("SIGINT", handler);
  };
  proc.once("SIGTERM", handler);
  proc.once("SIGINT", handler);
  return dispose;
}
