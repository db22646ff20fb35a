/**
 * The control plane, wired: config → DNS resolver → caching resolver (local LRU, optional etcd) →
 * health scheduler → endpoint pipeline → versioned xDS store → gRPC xDS server, with the admin
 * providers beside it. Each stage only sees the small interface of the next; this module is the one
 * place that knows them all, so swapping a tier (no etcd, another resolver) changes nothing else.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { AdminProviders } from "../admin/admin-server.js";
import { clientRows } from "../admin/clients-page.js";
import type { ClusterView } from "../admin/clusters-page.js";
import { componentLogger, type Logger } from "../admin/logger.js";
import type { DnsEdsMetrics } from "../admin/metrics.js";
import { NackLog } from "../admin/nack-log.js";
import { dnsReadiness, etcdReadiness, firstResolutionReadiness } from "../admin/readiness.js";
import { type CachingResolver, createCachingResolver } from "../cache/caching-resolver.js";

import type { DnsEdsConfig, EtcdConfig } from "../config/config-types.js";
import { LiveReload, type ReloadReport } from "../config/live-reload.js";
import { ReplaceableResolver } from "../dns/replaceable-resolver.js";
import { createResolver, type ResolverOptions } from "../dns/resolver.js";
import { EndpointPipeline } from "../endpoints/endpoint-pipeline.js";
import { describeHold, holdEventMessage } from "../endpoints/flap-guard.js";
import { HealthScheduler } from "../health/health-scheduler.js";
import { systemRootCertificates } from "../health/system-roots.js";
import { clientConfigs } from "../xds/client-status.js";
import { countClientStates } from "../xds/client-summary.js";
import { envoyConfigDump } from "../xds/envoy-config-dump.js";
import { DEFAULT_XDS_LIMITS, RESTART_LIMITS, type XdsLimits } from "../xds/limits.js";
import { NOOP_METRICS } from "../xds/metrics.js";
import { ResourceStore } from "../xds/resource-store.js";
import { createXdsServer, type XdsServer } from "../xds/server.js";
import { type StaleRefresh, startStaleRefresh } from "../xds/stale-refresh.js";
import { TYPE_URLS, typeLabel } from "../xds/type-urls.js";
import { startXdsTransport, transportReadiness } from "./xds-transport.js";

const versionOf = (r: { version: string } | undefined) => (r ? { version: r.version } : {});

export interface StartServerOptions {
  logger: Logger;
  metrics?: DnsEdsMetrics;
  /** Unique per replica (default: hostname + random suffix). */
  replicaId?: string;
  /**
   * Tests only: the store to publish into, e.g. `new ResourceStore({ skipValidation: true })` so a test
   * can publish a resource clients reject. Default: a new validating store.
   */
  store?: ResourceStore;
}

export interface RunningControlPlane {
  /** The bound xDS port (useful when the config asks for port 0). */
  readonly xdsPort: number;
  readonly store: ResourceStore;
  readonly pipeline: EndpointPipeline;
  readonly cache: CachingResolver;
  readonly adminProviders: AdminProviders;
  /**
   * The reload framework of this process. A stage that can apply a key in place registers it here (in
   * startServer, next to the others); every changed key not registered is reported as needing a restart.
   */
  readonly reloads: LiveReload;
  /** Applies what can be applied of `config` and says what was applied and what needs a restart. */
  reload(config: DnsEdsConfig): Promise<ReloadReport>;
  /**
   * Sends every xDS client away, spread over `shutdown.drainWindowMs` (GOAWAY, then UNAVAILABLE), and
   * resolves when the last one has been; `stop()` then gives what remains `shutdown.graceMs`.
   */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

function etcdOptions(etcd: EtcdConfig) {
  const password =
    etcd.auth?.password ??
    (etcd.auth?.passwordFile ? readFileSync(etcd.auth.passwordFile, "utf8").trim() : undefined);
  return {
    endpoints: [...etcd.endpoints],
    prefix: etcd.prefix,
    opTimeoutMs: etcd.dialTimeoutMs,
    maxClockSkewMs: etcd.maxClockSkewMs,
    ...(etcd.tls
      ? {
          credentials: {
            // No caFile: Node's default CA store (an empty buffer, as before, trusted nothing).
            rootCertificate: etcd.tls.caFile ? readFileSync(etcd.tls.caFile) : systemRootCertificates(),
            ...(etcd.tls.certFile ? { certChain: readFileSync(etcd.tls.certFile) } : {}),
            ...(etcd.tls.keyFile ? { privateKey: readFileSync(etcd.tls.keyFile) } : {}),
          },
        }
      : {}),
    ...(etcd.auth ? { auth: { username: etcd.auth.username, password: password ?? "" } } : {}),
  };
}

const LIVE_LIMITS = (Object.keys(DEFAULT_XDS_LIMITS) as Array<keyof XdsLimits>).filter(
  (k) => !RESTART_LIMITS.includes(k),
);

/** The xDS server's part of `xds.limits` (debounceMs belongs to the endpoints stage). */
function xdsLimitsOf(config: DnsEdsConfig): XdsLimits {
  const { debounceMs: _endpointsStage, ...limits } = config.xds.limits;
  return limits;
}

export async function startServer(
  config: DnsEdsConfig,
  opts: StartServerOptions,
): Promise<RunningControlPlane> {
  const root = opts.logger;
  const log = componentLogger(root, "app");
  const metrics = opts.metrics;
  const replicaId = opts.replicaId ?? `${hostname()}-${randomBytes(3).toString("hex")}`;
  const stops: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (e) {
        log.error({ err: e }, "error while stopping");
      }
    }
  };

  const reloads = new LiveReload(config);
  try {
    const resolverOptions = (c: DnsEdsConfig): ResolverOptions => ({
      servers: [...c.dns.servers],
      timeoutMs: c.dns.timeoutMs,
      attempts: c.dns.attempts,
      backoff: { baseMs: c.dns.backoff.baseMs, maxMs: c.dns.backoff.maxMs },
      use0x20: c.dns.use0x20,
      tcpIdleMs: c.dns.tcpIdleMs,
      // No rebindingGuard here: the guard runs per cluster in the endpoints stage, where it also covers
      // answers from etcd and keeps a source's last good set when it would deny every address.
      ...(metrics ? { metrics: metrics.dnsHooks() } : {}),
    });
    // Replaceable so a reload can apply new servers, timeouts and guards without dropping lookups.
    const dns = new ReplaceableResolver(createResolver(resolverOptions(config)));
    stops.push(() => dns.close());

    const cache = createCachingResolver({
      upstream: dns,
      replicaId,
      ...(config.cache.etcd ? { etcd: etcdOptions(config.cache.etcd) } : {}),
      policy: {
        minTtlSeconds: config.dns.minTtl,
        maxTtlSeconds: config.dns.maxTtl,
        maxNegativeTtlSeconds: config.dns.negativeTtlCap,
        maxStaleSeconds: Math.floor(config.dns.serveStaleMaxAgeMs / 1000),
        refreshAheadMaxLeadSeconds: config.cache.refreshAheadMaxLeadMs / 1000,
      },
      localMaxEntries: config.cache.localMaxEntries,
      logger: componentLogger(root, "cache"),
      ...(metrics ? { metrics: metrics.cacheHooks() } : {}),
    });
    await cache.start();
    stops.push(() => cache.close());

    const store = opts.store ?? new ResourceStore();
    const limits = config.xds.limits;
    const xdsLog = componentLogger(root, "xds");
    const transport = await startXdsTransport(
      config,
      xdsLog,
      metrics ? metrics.xdsHooks().tlsReload : undefined,
    );
    stops.push(() => transport.stop());
    // NACKs go to the metrics and to the /clusters page (which client refused which version, and why).
    const nacks = new NackLog();
    const xdsHooks = metrics?.xdsHooks();
    const xds: XdsServer = createXdsServer({
      store,
      logger: xdsLog,
      metrics: {
        ...(xdsHooks ?? NOOP_METRICS),
        nacked: (typeUrl, detail, rejected) => {
          xdsHooks?.nacked(typeUrl, detail);
          nacks.record(typeUrl, detail, rejected);
        },
      },
      credentials: transport.credentials,
      limits: xdsLimitsOf(config),
      ...(config.xds.authorization ? { authorization: config.xds.authorization.rules } : {}),
    });
    // Clusters with staleAfterMs: re-send their assignment before Envoy's endpoint_stale_after fires.
    const staleRefresh: StaleRefresh = startStaleRefresh({ store });
    stops.push(() => staleRefresh.stop());

    const ownership = cache.ownership();
    const scheduler = new HealthScheduler({
      sink: cache.healthStore(),
      owns: (key) => ownership.owns(key),
      ...(metrics ? { onProbe: metrics.healthProbeHook() } : {}),
    });
    stops.push(() => scheduler.close());

    const pipelineLog = componentLogger(root, "endpoints");
    const pipeline = new EndpointPipeline({
      source: cache,
      publisher: store,
      healthSink: cache.healthStore(),
      healthTracker: scheduler,
      debounceMs: limits.debounceMs,
      onError: (err, context) => pipelineLog.error({ err, context }, "endpoint pipeline error"),
      onHold: (e) => {
        metrics?.answerHold(e);
        const fields = {
          cluster: e.cluster,
          lookup: e.lookup,
          ...e.hold,
          ...(e.phase === "end" ? { outcome: e.outcome } : {}),
        };
        // A hold starting means DNS said something the cluster is not acting on yet: worth a warning.
        if (e.phase === "start") pipelineLog.warn(fields, holdEventMessage(e));
        else pipelineLog.info(fields, holdEventMessage(e));
      },
    });
    stops.push(() => pipeline.close());
    // Stopped first: streams end before the stages behind them close, so no client sees a half-closed
    // pipeline. The grace in force when the stop comes (shutdown.* applies live: it is read only then).
    stops.push(() => xds.shutdown(reloads.current().shutdown.graceMs));
    pipeline.setClusters(config.clusters);

    // What a reload applies in place (docs/operations.md, "What a reload applies"). Every other key
    // that changes is named in the reload's log line as needing a restart, and the reload is partial.
    // Stages that learn to apply a key live register it here.
    reloads.register(
      ["dns.servers", "dns.timeoutMs", "dns.attempts", "dns.backoff", "dns.use0x20", "dns.tcpIdleMs"],
      (next) => dns.replace(createResolver(resolverOptions(next))),
    );
    reloads.register("clusters", (next) => pipeline.setClusters(next.clusters));
    // The rebinding guard's settings are copied into every cluster at load time (the guard runs per
    // cluster in the endpoints stage), so applying the clusters applies them.
    reloads.register(["dns.allowLoopback", "dns.rebindingGuard", "dns.limits"], (next) =>
      pipeline.setClusters(next.clusters),
    );
    // Each cluster's health check is merged over healthDefaults at load time, so the clusters carry it.
    reloads.register("healthDefaults", (next) => pipeline.setClusters(next.clusters));
    // Read from reloads.current() when SIGTERM comes; nothing to do now.
    reloads.register("shutdown", () => {});
    // The xDS limits the server checks itself apply to the next connection, stream or request; the
    // grpc-js settings (RESTART_LIMITS) stay unregistered, so a change to them is reported as needing
    // a restart.
    reloads.register(
      LIVE_LIMITS.map((k) => `xds.limits.${k}`),
      (next) => void xds.setLimits(xdsLimitsOf(next)),
    );
    // New rules for new streams; open streams whose rights changed are ended so their clients
    // reconnect under the new rules. The TLS files themselves are followed by the transport.
    reloads.register("xds.authorization", (next) => {
      if (next.xds.authorization !== undefined && reloads.current().xds.tls?.caFile === undefined) {
        throw new Error("authorization needs client certificates (xds.tls.caFile) in force: restart");
      }
      xds.setAuthorization(next.xds.authorization?.rules);
    });
    // Likewise the grace and damping defaults (issue 16) are folded into each cluster's flapGuard.
    reloads.register(["dns.emptyGraceMs", "dns.shrinkThreshold", "dns.shrinkHoldMs"], (next) =>
      pipeline.setClusters(next.clusters),
    );

    // Bind last: a client that connects sees resources as soon as the first resolutions land.
    const xdsPort = await xds.listen(config.xds.listen);
    log.info({ port: xdsPort, replicaId, etcd: config.cache.etcd ? "configured" : "off" }, "xDS listening");

    const clusterViews = (): ClusterView[] => {
      return pipeline.snapshot().map((c) => ({
        name: c.name,
        // The default (zone-less) assignment's version; a per-request store read, not a dump.
        ...versionOf(store.get(TYPE_URLS.endpoint, c.name)),
        ...(c.errors.length > 0 ? { error: c.errors[c.errors.length - 1] } : {}),
        ...(c.holds.length > 0 ? { notes: c.holds.map(describeHold), holds: c.holds } : {}),
        ...(nacks.forName(c.name).length > 0 ? { nacks: nacks.forName(c.name) } : {}),
        ...(c.notes.length > 0 ? { inputNotes: c.notes.map((n) => n.message) } : {}),
        endpoints: c.endpoints.map((e) => ({
          address: e.address,
          port: e.port,
          health: e.draining ? "DRAINING" : e.health,
          priority: e.priority,
          locality: e.locality,
          source: e.source,
          weight: e.weight,
          ...(e.ttlLeftMs !== undefined ? { ttlLeftS: Math.max(0, Math.round(e.ttlLeftMs / 1000)) } : {}),
        })),
      }));
    };
    metrics?.observeClusters(() => pipeline.snapshot());
    metrics?.observeOwnership(() => cache.status().ownership);
    // Client states are computed from the streams' own ACK/NACK maps at scrape time, nothing per push.
    metrics?.observeXdsClients(() => countClientStates(xds.clients(), Date.now(), typeLabel));

    const adminProviders: AdminProviders = {
      readiness: [
        dnsReadiness(() => {
          const s = cache.status();
          // Reachable unless every upstream lookup so far failed; a fresh start with no lookups yet
          // waits for the first-resolution check instead.
          const reachable = s.upstreamQueries === 0 || s.upstreamFailures < s.upstreamQueries;
          return reachable
            ? { reachable }
            : { reachable, detail: `${s.upstreamFailures} of ${s.upstreamQueries} lookups failed` };
        }),
        etcdReadiness(() => cache.status().etcd),
        transportReadiness(transport),
        // Resolved, not merely published: a failed first lookup publishes an empty assignment, which
        // must not count as ready (a balancer would send clients to a replica serving nothing).
        firstResolutionReadiness(() => pipeline.unresolved()),
      ],
      configDump: (query) => envoyConfigDump(store, query),
      clusters: clusterViews,
      // The same rows `dns-eds status` builds from CSDS, for this replica.
      clients: () => clientRows(clientConfigs(xds.clients()), replicaId, Date.now()),
    };

    return {
      xdsPort,
      store,
      pipeline,
      cache,
      adminProviders,
      reloads,
      reload: (next: DnsEdsConfig) => reloads.apply(next),
      drain: () => xds.drain({ windowMs: reloads.current().shutdown.drainWindowMs }),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
