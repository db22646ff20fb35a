/**
 * The xDS gRPC server: ADS (SotW + Delta) and the per-type EDS/CDS/LDS/RDS services (SotW + Delta) over
 * one ResourceStore. Responses leave as pre-built Buffers (a custom service definition whose response
 * serializer is the identity), so nothing is re-encoded per stream; requests arrive scanned, not decoded
 * (request-scanner.ts). Owns the server limits (limits.ts): the connection gate in front of grpc-js,
 * grpc-js' own settings (keepalive, streams per connection, message sizes, connection age), the stream
 * count, the idle sweep; the per-stream ones live in the streams. Also graceful shutdown.
 */
import type { ServerHttp2Session } from "node:http2";
import * as grpc from "@grpc/grpc-js";
import pino, { type Logger } from "pino";
import { parseHostPort } from "../dns/host-port.js";
import {
  type AuthorizationRule,
  type CallIdentity,
  DeniedError,
  type StreamAccess,
  XdsAuthorization,
} from "./authorization.js";
import { type ClientSnapshot, clientSnapshots } from "./client-status.js";
import { ClientTextLog } from "./client-text-log.js";
import { drainOffsets, goAway, serverSessions, sessionPeer } from "./connection-drain.js";
import { ConnectionGate } from "./connection-gate.js";
import { ConvergenceTracker } from "./convergence-tracker.js";
import { CSDS_DEFINITION, type CsdsCall, type CsdsVisibility, csdsImplementation } from "./csds-service.js";
import { DeltaStream } from "./delta-stream.js";
import { XdsError } from "./errors.js";
import { type LimitName, RESTART_LIMITS, withDefaultLimits, type XdsLimits } from "./limits.js";
import { completeMetrics, type XdsMetrics } from "./metrics.js";
import { type NodeInfo, zoneOf } from "./node-info.js";
import { scanDeltaRequest, scanSotwRequest, type XdsRequest } from "./request-scanner.js";
import type { ResourceStore } from "./resource-store.js";
import { SharedResponses } from "./shared-responses.js";
import { SotwStream } from "./sotw-stream.js";
import type { SharedBudget, StreamContext, TypeStateBase, XdsStreamBase } from "./stream-base.js";
import { TYPE_URLS } from "./type-urls.js";

export interface XdsServerOptions {
  store: ResourceStore;
  logger?: Logger;
  metrics?: XdsMetrics;
  /** Which resource variant a node gets (default: its locality zone). */
  variantKeyOf?: (node: NodeInfo | undefined) => string | undefined;
  /** Limits not given take the config defaults (limits.ts). */
  limits?: Partial<XdsLimits>;
  credentials?: grpc.ServerCredentials;
  /**
   * Per-node authorization by client certificate (needs credentials that verify client certificates);
   * absent: every client may claim any node and see everything.
   */
  authorization?: readonly AuthorizationRule[];
  now?: () => number;
  /**
   * Who may see which clients over CSDS (csds-service.ts). Default: the streams' authorization — off:
   * every caller sees every client; on: its own identity's clients, every client for an operator.
   */
  csdsAccess?: (call: CsdsCall) => CsdsVisibility;
  /** CSDS budget: resource entries answered per second across all callers (default 50,000; csds-service.ts). */
  csdsEntriesPerSecond?: number;
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
  /** Open connections right now. */
  connectionCount(): number;
  /** Node ids of connected streams, and who each was admitted as (for admin and fleet status). */
  nodes(): Array<{ kind: string; node: NodeInfo | undefined; identity: CallIdentity | undefined }>;
  /** The limits in force. */
  limits(): Readonly<XdsLimits>;
  /**
   * Applies new limits to what follows (next connection, stream, request); returns the keys that
   * differ but are grpc-js settings, read at start only (they keep their old value until a restart).
   */
  setLimits(next: Partial<XdsLimits>): LimitName[];
  /** The authorization in force (undefined: off); CSDS checks its callers with it. */
  authorization(): XdsAuthorization | undefined;
  /** New rules for new streams; open streams whose rights changed are ended (see reauthorize). */
  setAuthorization(rules: readonly AuthorizationRule[] | undefined): void;
  /** Every connected client with the status of each resource it subscribed to (CSDS, /clients, metrics). */
  clients(): ClientSnapshot[];
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

/**
 * Groups METHODS by service path prefix into grpc-js service definitions with Buffer responses and
 * scanned requests (the scan reads the live `limits`).
 */
function serviceDefinitions(limits: XdsLimits): Map<string, grpc.ServiceDefinition> {
  const out = new Map<string, grpc.ServiceDefinition>();
  for (const [name, def] of Object.entries(METHODS)) {
    const service = def.path.slice(1, def.path.lastIndexOf("/"));
    let sd = out.get(service) as Record<string, grpc.MethodDefinition<XdsRequest, Buffer>> | undefined;
    if (!sd) {
      sd = {};
      out.set(service, sd as grpc.ServiceDefinition);
    }
    const scan = def.delta ? scanDeltaRequest : scanSotwRequest;
    sd[name] = {
      path: def.path,
      requestStream: true,
      responseStream: true,
      // A server never serializes requests.
      requestSerialize: () => {
        throw new XdsError("ERR_XDS_SERVER_STATE", "the xDS server does not send requests");
      },
      requestDeserialize: (b: Buffer): XdsRequest => scan(b, limits),
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    };
  }
  return out;
}

export function createXdsServer(opts: XdsServerOptions): XdsServer {
  const logger = opts.logger ?? pino({ level: "silent" });
  const metrics = completeMetrics(opts.metrics);
  const limits = withDefaultLimits(opts.limits);
  const now = opts.now ?? Date.now;
  const streams = new Set<XdsStreamBase<TypeStateBase>>();
  let shuttingDown = false;
  let draining = false;
  const shared = new SharedResponses();
  const budget: SharedBudget = { nameBytes: 0 };
  const clientLog = new ClientTextLog(logger, { now, onSuppressed: (k) => metrics.clientLogSuppressed(k) });

  const serverOptions: grpc.ServerOptions = {
    "grpc.keepalive_time_ms": limits.keepaliveMs,
    "grpc.keepalive_timeout_ms": limits.keepaliveTimeoutMs,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    "grpc.max_concurrent_streams": limits.maxStreamsPerConnection,
    "grpc.max_receive_message_length": limits.maxRequestBytes,
    // A backstop: streams check maxResponseBytes themselves and say so by name.
    "grpc.max_send_message_length": limits.maxResponseBytes,
    // After the first stream, an HTTP/2 connection left without any stream this long gets a GOAWAY.
    "grpc.max_connection_idle_ms": limits.idleTimeoutMs,
    // Channelz would track every call and message of thousands of long-lived streams (a hot spot in
    // the fan-out profile) for an introspection service this server does not expose.
    "grpc.enable_channelz": 0,
  };
  if (limits.maxConnectionAgeMs > 0) {
    serverOptions["grpc.max_connection_age_ms"] = limits.maxConnectionAgeMs;
    serverOptions["grpc.max_connection_age_grace_ms"] = limits.maxConnectionAgeGraceMs;
  }
  const server = new grpc.Server(serverOptions);
  let gate: ConnectionGate | undefined;
  let authorization = opts.authorization ? new XdsAuthorization(opts.authorization) : undefined;
  const convergence = new ConvergenceTracker((ms) => metrics.converged?.(ms), now);

  /** GOAWAY on one connection, then its streams end with UNAVAILABLE. */
  const sendAway = (peer: string | undefined, session: ServerHttp2Session | undefined) => {
    if (session) goAway(session);
    for (const s of streams) {
      if (s.peer === peer)
        s.endWith(grpc.status.UNAVAILABLE, "server draining; reconnect to another replica");
    }
  };

  const open = (def: Method) => (call: grpc.ServerDuplexStream<XdsRequest, Buffer>) => {
    const peer = call.getPeer();
    gate?.streamStarted(peer);
    if (draining && !shuttingDown) {
      // A client that reached this connection during the drain is sent on at once, connection and all.
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
    if (shuttingDown) {
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "server shutting down" });
      return;
    }
    let access: StreamAccess | undefined;
    try {
      access = authorization?.admit(call);
    } catch (e) {
      if (!(e instanceof DeniedError)) throw e;
      metrics.denied(e.reason);
      clientLog.warn("denied", { reason: e.reason, kind: def.kind, peer }, e.message);
      call.emit("error", { code: grpc.status.PERMISSION_DENIED, details: e.message });
      return;
    }
    if (streams.size >= limits.maxStreams) {
      metrics.limitExceeded("maxStreams");
      clientLog.warn("limit", { limit: "maxStreams", kind: def.kind, peer }, "xds stream refused");
      call.emit("error", {
        code: grpc.status.RESOURCE_EXHAUSTED,
        details: `too many xDS streams: ${streams.size} are open (xds.limits.maxStreams)`,
      });
      return;
    }
    const ctx: StreamContext = {
      convergence,
      store: opts.store,
      logger,
      metrics,
      now,
      limits,
      budget,
      clientLog,
      peer,
      access,
      variantKeyOf: opts.variantKeyOf ?? zoneOf,
      fixedTypeUrl: def.typeUrl,
      kind: def.kind,
      onClose: (s) => streams.delete(s),
      shared,
    };
    const s = def.delta ? new DeltaStream(ctx, call) : new SotwStream(ctx, call);
    if (!s.isClosed) streams.add(s as unknown as XdsStreamBase<TypeStateBase>);
  };

  const clients = () => clientSnapshots([...streams].map((s) => s.status()));
  // CSDS sits behind the streams' authorization: with it on, a caller sees the clients admitted with
  // its own identity (principal), all of them when its rule says operator; a caller without an
  // accepted certificate is refused (PERMISSION_DENIED). With it off, every caller sees every client.
  const csdsAccessByIdentity = (call: CsdsCall): CsdsVisibility => {
    const authz = authorization;
    if (!authz) return { all: true };
    let id: CallIdentity;
    try {
      id = authz.identify(call);
    } catch (e) {
      if (e instanceof DeniedError) metrics.denied(e.reason);
      throw e;
    }
    if (id.operator) return { all: true };
    return { all: false, visible: (c) => c.streams.every((s) => s.principal === id.principal) };
  };
  server.addService(
    CSDS_DEFINITION,
    csdsImplementation({
      clients,
      access: opts.csdsAccess ?? csdsAccessByIdentity,
      ...(opts.csdsEntriesPerSecond !== undefined ? { entriesPerSecond: opts.csdsEntriesPerSecond } : {}),
      now,
      onError: (err) => logger.warn({ err }, "csds request failed"),
    }),
  );

  for (const [service, sd] of serviceDefinitions(limits)) {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const name of Object.keys(sd)) {
      const def = METHODS[name];
      if (def) impl[name] = open(def) as grpc.handleBidiStreamingCall<unknown, Buffer>;
    }
    server.addService(sd, impl);
    logger.debug({ service }, "xds service registered");
  }

  // Streams that have subscribed to nothing for idleTimeoutMs (from their start, or since they
  // unsubscribed everything) hold a slot for nothing: end them so the client may reconnect if it wants.
  let sweepTimer: NodeJS.Timeout | undefined;
  const startSweep = () => {
    if (sweepTimer !== undefined) clearInterval(sweepTimer);
    const every = Math.min(5_000, Math.max(25, Math.floor(limits.idleTimeoutMs / 4)));
    sweepTimer = setInterval(() => {
      const t = now();
      for (const s of streams) {
        if (s.idleSince !== undefined && t - s.idleSince >= limits.idleTimeoutMs) {
          metrics.limitExceeded("idleTimeoutMs");
          s.endWith(
            grpc.status.UNAVAILABLE,
            `no subscription for ${limits.idleTimeoutMs} ms (xds.limits.idleTimeoutMs)`,
          );
        }
      }
    }, every);
    sweepTimer.unref();
  };

  let listening = false;
  return {
    async listen(addr: string): Promise<number> {
      const hp = parseHostPort(addr, { allowPortZero: true });
      if (!hp.ok) throw new XdsError("ERR_XDS_SERVER_STATE", `cannot listen on ${addr}: ${hp.problem}`);
      if (gate) throw new XdsError("ERR_XDS_SERVER_STATE", "the xDS server is already listening");
      const injector = server.createConnectionInjector(
        opts.credentials ?? grpc.ServerCredentials.createInsecure(),
      );
      gate = new ConnectionGate({
        limits,
        inject: (socket) => injector.injectConnection(socket),
        metrics,
        clientLog,
      });
      const port = await gate.listen(hp.value.host, hp.value.port);
      listening = true;
      startSweep();
      logger.info({ addr, port }, "xds server listening");
      return port;
    },

    async drain({ windowMs, random = Math.random }: DrainOptions): Promise<void> {
      if (draining || shuttingDown || !listening) return;
      draining = true;
      const sessions = serverSessions(server);
      // Streams whose connection is not among the sessions (none expected) are ended on their own.
      const known = new Set(sessions.map(sessionPeer));
      const orphans = [...new Set([...streams].map((s) => s.peer))].filter((p) => !known.has(p));
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
      if (sweepTimer !== undefined) clearInterval(sweepTimer);
      if (!listening) return;
      logger.info({ streams: streams.size, graceMs }, "xds server shutting down");
      gate?.close();
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
    connectionCount: () => gate?.size ?? 0,
    nodes: () => [...streams].map((s) => ({ kind: s.kind, node: s.node, identity: s.identity })),
    limits: () => limits,

    authorization: () => authorization,

    setAuthorization(rules: readonly AuthorizationRule[] | undefined): void {
      authorization = rules ? new XdsAuthorization(rules) : undefined;
      for (const s of [...streams]) s.reauthorize(authorization);
    },

    setLimits(next: Partial<XdsLimits>): LimitName[] {
      const wanted = withDefaultLimits(next);
      const needRestart: LimitName[] = [];
      for (const key of Object.keys(wanted) as LimitName[]) {
        if (wanted[key] === limits[key]) continue;
        if (RESTART_LIMITS.includes(key)) needRestart.push(key);
        else limits[key] = wanted[key];
      }
      if (listening && !shuttingDown) startSweep();
      return needRestart;
    },
    clients,
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
