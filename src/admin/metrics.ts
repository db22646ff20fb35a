/**
 * The Prometheus metric set of dns-eds (prom-client) with typed recording functions, plus adapters
 * shaped like the hook interfaces of the other stages (DNS, cache, xDS), so those stages stay free of
 * any metrics library and the integrator only plugs `metrics.xdsHooks()` etc. into them.
 *
 * Label values are bounded: servers come from config, types and outcomes from fixed sets, clusters
 * from config. Nothing per endpoint or per client becomes a label.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type EndpointHealthLabel = "UNKNOWN" | "HEALTHY" | "UNHEALTHY" | "DRAINING";
const HEALTH_LABELS: readonly EndpointHealthLabel[] = ["UNKNOWN", "HEALTHY", "UNHEALTHY", "DRAINING"];

/** What the ownership gauges read (the shape of the cache's ownership status). */
export interface OwnershipGaugeSource {
  members: readonly string[];
  ownedShards: readonly number[];
  balanced: boolean;
}

/** Same shape as DnsMetrics of src/dns. */
export interface DnsMetricsHooks {
  query(server: string, outcome: string, latencyMs: number): void;
  failover(from: string, to: string): void;
  rejected(reason: string): void;
  tcpConnection(server: string, event: "opened" | "closed"): void;
}

/** Same shape as CacheMetrics of src/cache. */
export interface CacheMetricsHooks {
  upstream(type: string, outcome: "ok" | "error", ms: number): void;
  etcdState(state: "connected" | "degraded" | "disabled"): void;
  servedStale(type: string): void;
  etcdRejected(kind: string, reason: string): void;
}

/** Same shape as XdsMetrics of src/xds. */
export interface XdsMetricsHooks {
  streamOpened(kind: string): void;
  streamClosed(kind: string): void;
  pushed(typeUrl: string, bytes: number, latencyMs: number): void;
  nacked(typeUrl: string, detail: string): void;
  limitExceeded(limit: string): void;
  denied(reason: string): void;
  connectionOpened(): void;
  connectionClosed(): void;
  clientLogSuppressed(kind: string): void;
  tlsReload(outcome: "applied" | "rejected"): void;
  converged(latencyMs: number): void;
}

/** Clients per xDS type label (cds, eds, lds, rds) and state, as the xDS stage counts them at scrape time. */
export type XdsClientStateCounts = ReadonlyMap<string, Readonly<Record<string, number>>>;

/** Same shape as HealthSchedulerOptions.onProbe of src/health: one call per probe. */
export type HealthProbeHook = (
  key: string,
  result: { ok: true } | { ok: false; code: string },
  health: EndpointHealthLabel,
) => void;

/** Same shape as the endpoints stage's HoldEvent (src/endpoints/flap-guard.ts), as far as metrics read it. */
export interface AnswerHoldEvent {
  phase: "start" | "end";
  cluster: string;
  hold: { kind: "empty" | "shrink" };
  outcome?: string;
}

/** What the endpoints gauge is computed from at scrape time (the same data as the /clusters page). */
export interface ClusterHealthSource {
  name: string;
  endpoints: ReadonlyArray<{ health: string }>;
  /** What the endpoints stage held back from DNS (rebinding guard, size caps); kinds are a fixed set. */
  notes?: ReadonlyArray<{ kind: string; count: number }>;
}

/** Cumulative counts kept as plain integers by the cache tiers, read at scrape time. */
export interface CacheCounterSnapshot {
  /** Per tier (e.g. "local", "etcd"). */
  hits: Readonly<Record<string, number>>;
  misses: Readonly<Record<string, number>>;
}

export interface DnsEdsMetrics {
  readonly registry: Registry;
  dnsQuery(server: string, outcome: string, latencyMs: number): void;
  dnsFailover(from: string, to: string): void;
  dnsRejected(reason: string): void;
  dnsTcpConnection(server: string, event: "opened" | "closed"): void;
  cacheHit(tier: string, n?: number): void;
  cacheMiss(tier: string, n?: number): void;
  staleAnswer(type: string): void;
  cacheUpstream(type: string, outcome: "ok" | "error", ms: number): void;
  etcdState(state: "connected" | "degraded" | "disabled"): void;
  /** A value in etcd failed its checks (kind: dns, health, owners, members; reason: a fixed set). */
  etcdRejected(kind: string, reason: string): void;
  /** An admin request refused for want of the bearer token. */
  adminUnauthorized(): void;
  /** An error nothing caught: `unhandled_rejection` (serving continues) or `uncaught_exception` (exit). */
  processError(kind: string): void;
  /** Reads the tiers' own counters at every scrape (the cached lookup path never calls into metrics). */
  observeCacheCounters(read: () => CacheCounterSnapshot): void;
  /** Reads name ownership at every scrape; undefined (no etcd tier) leaves the ownership gauges out. */
  observeOwnership(read: () => OwnershipGaugeSource | undefined): void;
  setClusterEndpoints(cluster: string, counts: Partial<Record<EndpointHealthLabel, number>>): void;
  removeCluster(cluster: string): void;
  /** Computes the endpoints gauge from the clusters' current endpoints at every scrape. */
  observeClusters(read: () => readonly ClusterHealthSource[]): void;
  /** `outcome`: "ok" or the failure code (ERR_HEALTH_TIMEOUT, ERR_HEALTH_REFUSED, ...). */
  healthCheck(outcome: string): void;
  xdsStreamOpened(kind: string): void;
  xdsStreamClosed(kind: string): void;
  xdsPushed(typeUrl: string, bytes: number, latencyMs: number): void;
  xdsNacked(typeUrl: string): void;
  /** A client went over an `xds.limits` key (label: the key). */
  xdsLimitExceeded(limit: string): void;
  /** Authorization refused a stream (label: why). */
  xdsDenied(reason: string): void;
  xdsConnections(delta: 1 | -1): void;
  xdsClientLogSuppressed(kind: string): void;
  xdsTlsReload(outcome: "applied" | "rejected"): void;
  /** From a change published to the last stream it concerned ACKing it. */
  xdsConverged(latencyMs: number): void;
  /** Reads the client-state counts at every scrape (dnseds_xds_clients). */
  observeXdsClients(read: () => XdsClientStateCounts): void;
  /** `applied`: every change in force; `partial`: some keys need a restart or failed; `invalid`: rejected. */
  configReload(outcome: "applied" | "partial" | "unchanged" | "invalid"): void;
  /** The keys whose new value waits for a restart (replaces the previous set). */
  setRestartPending(keys: readonly string[]): void;
  /** Issue 16: counts empty answers and shrinks held, and graces that ran out, per cluster. */
  answerHold(e: AnswerHoldEvent): void;
  dnsHooks(): DnsMetricsHooks;
  cacheHooks(): CacheMetricsHooks;
  xdsHooks(): XdsMetricsHooks;
  healthProbeHook(): HealthProbeHook;
}

export interface MetricsOptions {
  /** Registry to register into (default: a new one, so several servers can live in one process). */
  registry?: Registry;
  /** Also export Node process metrics (CPU, memory, event loop lag). Default true. */
  processMetrics?: boolean;
  /** Reported in dnseds_build_info. */
  version?: string;
}

/** `type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment` → `eds`: short, bounded labels. */
export function xdsTypeLabel(typeUrl: string): string {
  const message = typeUrl.slice(typeUrl.lastIndexOf(".") + 1);
  switch (message) {
    case "ClusterLoadAssignment":
      return "eds";
    case "Cluster":
      return "cds";
    case "Listener":
      return "lds";
    case "RouteConfiguration":
      return "rds";
    default:
      return message || "unknown";
  }
}

const DNS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const CONVERGENCE_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];
/** How often the event-loop delay histogram takes a sample (see collectDefaultMetrics below). */
const EVENT_LOOP_SAMPLE_MS = 100;
const PUSH_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(opts: MetricsOptions = {}): DnsEdsMetrics {
  const registry = opts.registry ?? new Registry();
  const registers = [registry];
  // Standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, ...), as every Node service
  // exports them, so stock dashboards and alerts work unchanged.
  // The event-loop delay percentiles (nodejs_eventloop_lag_p50 ...) sample every 100 ms, not prom-client's
  // default 10 ms: each sample is a timer waking the process, and a hundred wake-ups a second cost about
  // 10 ms of CPU per second in an otherwise idle server (measured: 13 → 5 ms/s with one name refreshing).
  // A stall of 100 ms or more still shows in every sample it delays; nodejs_eventloop_lag_seconds is
  // measured at each scrape as before.
  if (opts.processMetrics ?? true)
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

  new Gauge({
    name: "dnseds_build_info",
    help: "Always 1; the version label says which dns-eds runs.",
    labelNames: ["version"],
    registers,
  }).set({ version: opts.version ?? "unknown" }, 1);

  const dnsQueries = new Counter({
    name: "dnseds_dns_queries_total",
    help: "DNS queries sent, by server and outcome (ok, nxdomain, nodata, timeout, servfail, refused, error...).",
    labelNames: ["server", "outcome"],
    registers,
  });
  const dnsLatency = new Histogram({
    name: "dnseds_dns_query_duration_seconds",
    help: "Time from sending a DNS query to its outcome, by server.",
    labelNames: ["server"],
    buckets: DNS_BUCKETS,
    registers,
  });
  const dnsFailovers = new Counter({
    name: "dnseds_dns_failovers_total",
    help: "Queries moved from one server to the next.",
    labelNames: ["from", "to"],
    registers,
  });
  const dnsRejected = new Counter({
    name: "dnseds_dns_rejected_replies_total",
    help: "DNS replies rejected by validation, by reason (wrong id, wrong question, malformed...).",
    labelNames: ["reason"],
    registers,
  });

  const dnsTcpOpened = new Counter({
    name: "dnseds_dns_tcp_connections_opened_total",
    help: "TCP connections opened to a DNS server (for names too large for UDP); kept and reused while queries come.",
    labelNames: ["server"],
    registers,
  });
  const dnsTcpOpen = new Gauge({
    name: "dnseds_dns_tcp_connections",
    help: "TCP connections to a DNS server open now.",
    labelNames: ["server"],
    registers,
  });

  const cacheHits = new Counter({
    name: "dnseds_cache_hits_total",
    help: "Lookups answered by a cache tier.",
    labelNames: ["tier"],
    registers,
    // prom-client calls this before each scrape: fold in the tiers' own counters (misses are read too).
    collect: () => collectCache(),
  });
  const cacheMisses = new Counter({
    name: "dnseds_cache_misses_total",
    help: "Lookups a cache tier could not answer.",
    labelNames: ["tier"],
    registers,
  });
  const staleAnswers = new Counter({
    name: "dnseds_cache_stale_answers_total",
    help: "Answers served past their TTL because every DNS server failed (RFC 8767), by record type.",
    labelNames: ["type"],
    registers,
  });
  const upstream = new Counter({
    name: "dnseds_cache_upstream_lookups_total",
    help: "Lookups the cache passed to DNS, by record type and outcome.",
    labelNames: ["type", "outcome"],
    registers,
  });
  const etcdStateGauge = new Gauge({
    name: "dnseds_cache_etcd_state",
    help: "1 for the current state of the etcd tier (connected, degraded, disabled), 0 for the others.",
    labelNames: ["state"],
    registers,
  });

  const etcdRejected = new Counter({
    name: "dnseds_etcd_rejected_values_total",
    help: "Values read from etcd that failed their checks and were not applied, by kind (dns, health, owners, members) and reason.",
    labelNames: ["kind", "reason"],
    registers,
  });

  const processErrors = new Counter({
    name: "dnseds_process_errors_total",
    help: "Errors nothing caught: unhandled_rejection (logged, serving continues) or uncaught_exception (logged, the process exits 1).",
    labelNames: ["kind"],
    registers,
  });
  const adminUnauthorized = new Counter({
    name: "dnseds_admin_unauthorized_total",
    help: "Admin requests refused with 401 for want of the bearer token.",
    registers,
  });

  const clusterSources: Array<() => readonly ClusterHealthSource[]> = [];
  const endpoints: Gauge<"cluster" | "health"> = new Gauge({
    name: "dnseds_endpoints",
    help: "Endpoints published per cluster and health status.",
    labelNames: ["cluster", "health"],
    registers,
    collect: () => {
      if (clusterSources.length === 0) return;
      // Rebuilt from the source at each scrape, so removed clusters disappear.
      endpoints.reset();
      for (const read of clusterSources) {
        for (const c of read()) {
          const counts: Partial<Record<string, number>> = {};
          for (const e of c.endpoints) counts[e.health] = (counts[e.health] ?? 0) + 1;
          for (const health of HEALTH_LABELS) endpoints.set({ cluster: c.name, health }, counts[health] ?? 0);
        }
      }
    },
  });
  const heldBack: Gauge<"cluster" | "kind"> = new Gauge({
    name: "dnseds_input_held_back",
    help: "Addresses or records from DNS held back per cluster right now, by kind (rebinding_denied, rebinding_all_denied, ...).",
    labelNames: ["cluster", "kind"],
    registers,
    collect: () => {
      if (clusterSources.length === 0) return;
      heldBack.reset();
      for (const read of clusterSources) {
        for (const c of read()) {
          for (const n of c.notes ?? []) heldBack.inc({ cluster: c.name, kind: n.kind }, n.count);
        }
      }
    },
  });
  // An operator's view of the fleet's split of names: without it a replica left holding every shard
  // (the soak's stuck rebalance) looked healthy from outside.
  let ownershipSource: (() => OwnershipGaugeSource | undefined) | undefined;
  // Three gauges, one read per scrape: the status computes the balance over every shard.
  let ownershipRead: { at: number; value: OwnershipGaugeSource | undefined } | undefined;
  const readOwnership = (): OwnershipGaugeSource | undefined => {
    const at = Date.now();
    if (!ownershipRead || at - ownershipRead.at > 100) ownershipRead = { at, value: ownershipSource?.() };
    return ownershipRead.value;
  };
  const ownershipGauge = (name: string, help: string, pick: (o: OwnershipGaugeSource) => number): void => {
    const g: Gauge = new Gauge({
      name,
      help,
      registers,
      collect: () => {
        const o = readOwnership();
        if (o) g.set(pick(o));
        else g.reset();
      },
    });
  };
  ownershipGauge(
    "dnseds_ownership_owned_shards",
    "Shards of the name space this replica resolves and health-checks for the fleet (etcd tier only).",
    (o) => o.ownedShards.length,
  );
  ownershipGauge(
    "dnseds_ownership_members",
    "Live replicas this replica sees in etcd (etcd tier only).",
    (o) => o.members.length,
  );
  ownershipGauge(
    "dnseds_ownership_balanced",
    "1 when every shard is held by the replica rendezvous hashing assigns it among the live members, else 0 (etcd tier only).",
    (o) => (o.balanced ? 1 : 0),
  );
  const healthChecks = new Counter({
    name: "dnseds_health_checks_total",
    help: "Active health checks run, by outcome (ok or the failure code).",
    labelNames: ["outcome"],
    registers,
  });

  const xdsStreams = new Gauge({
    name: "dnseds_xds_streams",
    help: "Open xDS streams by kind (e.g. ads-sotw, ads-delta, eds-sotw).",
    labelNames: ["kind"],
    registers,
  });
  const xdsPushes = new Counter({
    name: "dnseds_xds_pushes_total",
    help: "xDS responses written, by resource type.",
    labelNames: ["type"],
    registers,
  });
  const xdsPushBytes = new Counter({
    name: "dnseds_xds_push_bytes_total",
    help: "Bytes of xDS responses written, by resource type.",
    labelNames: ["type"],
    registers,
  });
  const xdsPushLatency = new Histogram({
    name: "dnseds_xds_push_duration_seconds",
    help: "Time from a resource change to its response being written to a stream, by resource type.",
    labelNames: ["type"],
    buckets: PUSH_BUCKETS,
    registers,
  });
  const pushChildren = new Map<
    string,
    { pushes: Counter.Internal; bytes: Counter.Internal; latency: Histogram.Internal<"type"> }
  >();
  const xdsNacks = new Counter({
    name: "dnseds_xds_nacks_total",
    help: "Responses rejected by clients (NACK), by resource type.",
    labelNames: ["type"],
    registers,
  });

  const xdsLimits = new Counter({
    name: "dnseds_xds_limit_exceeded_total",
    help: "Clients refused or cut off by an xds.limits key, by key (e.g. maxNamesPerRequest, requestsPerSecond).",
    labelNames: ["limit"],
    registers,
  });
  const xdsDenials = new Counter({
    name: "dnseds_xds_authorization_denied_total",
    help: "xDS streams refused by authorization, by reason (no-identity, unknown-identity, node-id, zone).",
    labelNames: ["reason"],
    registers,
  });
  const xdsConnections = new Gauge({
    name: "dnseds_xds_connections",
    help: "Open connections to the xDS port.",
    registers,
  });
  const xdsLogSuppressed = new Counter({
    name: "dnseds_xds_client_log_suppressed_total",
    help: "Log lines quoting client text (NACK details, unsupported types, refusals) held back by the rate limit, by kind.",
    labelNames: ["kind"],
    registers,
  });
  const xdsTlsReloads = new Counter({
    name: "dnseds_xds_tls_reloads_total",
    help: "Changed xDS TLS files applied, or rejected (the previous certificate stays), by outcome.",
    labelNames: ["outcome"],
    registers,
  });
  const xdsConvergence = new Histogram({
    name: "dnseds_xds_convergence_seconds",
    help: "From a change published to the moment the last subscribed client ACKed it (clients that NACK or disconnect are not waited for).",
    buckets: CONVERGENCE_BUCKETS,
    registers,
  });
  const clientSources: Array<() => XdsClientStateCounts> = [];
  const xdsClients: Gauge<"type" | "state"> = new Gauge({
    name: "dnseds_xds_clients",
    help: "Connected xDS clients per type and state: synced, stale (sent, not yet ACKed), stale_over_30s, nacked, not_sent (waiting for a name that does not exist).",
    labelNames: ["type", "state"],
    registers,
    collect: () => {
      if (clientSources.length === 0) return;
      xdsClients.reset();
      const total = new Map<string, Record<string, number>>();
      for (const read of clientSources) {
        for (const [type, counts] of read()) {
          const t = total.get(type) ?? {};
          for (const [state, n] of Object.entries(counts)) t[state] = (t[state] ?? 0) + n;
          total.set(type, t);
        }
      }
      // Every type and state is exported, zeros included, so an alert on a series never sees it vanish.
      for (const type of ["cds", "eds", "lds", "rds"]) {
        for (const state of ["synced", "stale", "stale_over_30s", "nacked", "not_sent"]) {
          xdsClients.set({ type, state }, total.get(type)?.[state] ?? 0);
        }
      }
    },
  });

  const configReloads = new Counter({
    name: "dnseds_config_reloads_total",
    help: "Config reloads by outcome (applied, partial, unchanged, invalid).",
    labelNames: ["outcome"],
    registers,
  });
  const restartPending = new Gauge({
    name: "dnseds_config_restart_pending",
    help: "1 for each config key whose new value in the file waits for a restart.",
    labelNames: ["key"],
    registers,
  });
  const configReloadErrors = new Counter({
    name: "dnseds_config_reload_errors_total",
    help: "Config reloads rejected; the running config was kept.",
    registers,
  });

  const emptyHeld = new Counter({
    name: "dnseds_empty_answers_held_total",
    help: "Empty answers (NXDOMAIN or NODATA) after records that started a grace: the last set kept serving, by cluster.",
    labelNames: ["cluster"],
    registers,
  });
  const shrinksHeld = new Counter({
    name: "dnseds_shrinks_held_total",
    help: "Answers that dropped more than the threshold's share of a name's records, held until seen again, by cluster.",
    labelNames: ["cluster"],
    registers,
  });
  const gracesExpired = new Counter({
    name: "dnseds_empty_graces_expired_total",
    help: "Graces for empty answers that ran out, so the last set started draining, by cluster.",
    labelNames: ["cluster"],
    registers,
  });

  // Cumulative counters owned by the cache tiers, turned into counter increments at scrape time.
  const cacheSources: Array<() => CacheCounterSnapshot> = [];
  const lastSeen = new Map<string, number>();
  const addDelta = (counter: Counter<"tier">, kind: string, tier: string, value: number) => {
    const key = `${kind}|${tier}`;
    const before = lastSeen.get(key) ?? 0;
    // A restarted tier starts from 0 again: count its new total rather than going backwards.
    const delta = value >= before ? value - before : value;
    lastSeen.set(key, value);
    if (delta > 0) counter.inc({ tier }, delta);
  };
  const collectCache = () => {
    for (const read of cacheSources) {
      const snap = read();
      for (const [tier, n] of Object.entries(snap.hits)) addDelta(cacheHits, "hits", tier, n);
      for (const [tier, n] of Object.entries(snap.misses)) addDelta(cacheMisses, "misses", tier, n);
    }
  };

  const api: DnsEdsMetrics = {
    registry,
    dnsQuery(server, outcome, latencyMs) {
      dnsQueries.inc({ server, outcome });
      dnsLatency.observe({ server }, latencyMs / 1000);
    },
    dnsFailover(from, to) {
      dnsFailovers.inc({ from, to });
    },
    dnsRejected(reason) {
      dnsRejected.inc({ reason });
    },
    dnsTcpConnection(server, event) {
      if (event === "opened") {
        dnsTcpOpened.inc({ server });
        dnsTcpOpen.inc({ server });
      } else dnsTcpOpen.dec({ server });
    },
    cacheHit(tier, n = 1) {
      cacheHits.inc({ tier }, n);
    },
    cacheMiss(tier, n = 1) {
      cacheMisses.inc({ tier }, n);
    },
    staleAnswer(type) {
      staleAnswers.inc({ type });
    },
    cacheUpstream(type, outcome) {
      upstream.inc({ type, outcome });
    },
    etcdState(state) {
      for (const s of ["connected", "degraded", "disabled"])
        etcdStateGauge.set({ state: s }, s === state ? 1 : 0);
    },
    etcdRejected(kind, reason) {
      etcdRejected.inc({ kind, reason });
    },
    adminUnauthorized() {
      adminUnauthorized.inc();
    },
    processError(kind) {
      processErrors.inc({ kind });
    },
    observeCacheCounters(read) {
      cacheSources.push(read);
    },
    observeOwnership(read) {
      ownershipSource = read;
    },
    setClusterEndpoints(cluster, counts) {
      for (const health of HEALTH_LABELS) endpoints.set({ cluster, health }, counts[health] ?? 0);
    },
    removeCluster(cluster) {
      for (const health of HEALTH_LABELS) endpoints.remove({ cluster, health });
    },
    observeClusters(read) {
      clusterSources.push(read);
    },
    healthCheck(outcome) {
      healthChecks.inc({ outcome });
    },
    xdsStreamOpened(kind) {
      xdsStreams.inc({ kind });
    },
    xdsStreamClosed(kind) {
      xdsStreams.dec({ kind });
    },
    xdsPushed(typeUrl, bytes, latencyMs) {
      // Called once per stream per response (a thousand times per fan-out): the label children are
      // resolved once per type, not hashed on every call.
      let c = pushChildren.get(typeUrl);
      if (!c) {
        const type = xdsTypeLabel(typeUrl);
        c = {
          pushes: xdsPushes.labels({ type }),
          bytes: xdsPushBytes.labels({ type }),
          latency: xdsPushLatency.labels({ type }),
        };
        pushChildren.set(typeUrl, c);
      }
      c.pushes.inc();
      c.bytes.inc(bytes);
      c.latency.observe(latencyMs / 1000);
    },
    xdsNacked(typeUrl) {
      xdsNacks.inc({ type: xdsTypeLabel(typeUrl) });
    },
    xdsLimitExceeded(limit) {
      xdsLimits.inc({ limit });
    },
    xdsDenied(reason) {
      xdsDenials.inc({ reason });
    },
    xdsConnections(delta) {
      xdsConnections.inc(delta);
    },
    xdsClientLogSuppressed(kind) {
      xdsLogSuppressed.inc({ kind });
    },
    xdsTlsReload(outcome) {
      xdsTlsReloads.inc({ outcome });
    },
    xdsConverged(latencyMs) {
      xdsConvergence.observe(latencyMs / 1000);
    },
    observeXdsClients(read) {
      clientSources.push(read);
    },
    configReload(outcome) {
      configReloads.inc({ outcome });
      if (outcome === "invalid") configReloadErrors.inc();
    },
    setRestartPending(keys) {
      restartPending.reset();
      for (const key of keys) restartPending.set({ key }, 1);
    },
    answerHold(e) {
      if (e.phase === "start")
        (e.hold.kind === "empty" ? emptyHeld : shrinksHeld).inc({ cluster: e.cluster });
      else if (e.hold.kind === "empty" && e.outcome === "expired") gracesExpired.inc({ cluster: e.cluster });
    },
    dnsHooks: () => ({
      query: api.dnsQuery,
      failover: api.dnsFailover,
      rejected: api.dnsRejected,
      tcpConnection: api.dnsTcpConnection,
    }),
    cacheHooks: () => ({
      upstream: api.cacheUpstream,
      etcdState: api.etcdState,
      servedStale: api.staleAnswer,
      etcdRejected: api.etcdRejected,
    }),
    xdsHooks: () => ({
      streamOpened: api.xdsStreamOpened,
      streamClosed: api.xdsStreamClosed,
      pushed: api.xdsPushed,
      nacked: (typeUrl: string) => api.xdsNacked(typeUrl),
      limitExceeded: api.xdsLimitExceeded,
      denied: api.xdsDenied,
      connectionOpened: () => api.xdsConnections(1),
      connectionClosed: () => api.xdsConnections(-1),
      clientLogSuppressed: api.xdsClientLogSuppressed,
      tlsReload: api.xdsTlsReload,
      converged: api.xdsConverged,
    }),
    healthProbeHook: () => (_key, result) => api.healthCheck(result.ok ? "ok" : result.code),
  };
  return api;
}
