/**
 * The config reference table of docs/config.md, rendered from the schema itself (types, defaults,
 * ranges, allowed values) plus one sentence per key. A test fails when a key has no sentence or when
 * the docs hold a different table, so the reference cannot drift from the code.
 */
import { z } from "zod";
import { configFileSchema } from "./schema.js";

/** One sentence per key path (`[]` marks list items). */
export const KEY_DESCRIPTIONS: Readonly<Record<string, string>> = {
  xds: "The xDS gRPC server Envoy and proxyless gRPC clients connect to.",
  "xds.listen": "Address the xDS server binds, `host:port`, IPv6 as `[::]:18000` (port 0: any free port).",
  "xds.limits":
    "What one client may cost the xDS port. A client over a limit gets a status naming it (`xds.limits.KEY`) and `dnseds_xds_limit_exceeded_total{limit}` counts it; see docs/security.md.",
  "xds.limits.maxStreamsPerConnection":
    "HTTP/2 concurrent streams per client connection (SETTINGS_MAX_CONCURRENT_STREAMS). Restart to change.",
  "xds.limits.maxConnectionsPerPeer":
    "Open connections from one client IP address; more are closed at accept, before TLS (no gRPC status is possible there).",
  "xds.limits.maxConnections": "Open connections in total; more are closed at accept.",
  "xds.limits.maxStreams": "Open xDS streams in total; more are refused with RESOURCE_EXHAUSTED.",
  "xds.limits.maxRequestBytes":
    "Largest request message; bigger ones are refused from their length prefix. Restart to change.",
  "xds.limits.maxResponseBytes":
    "Largest response; a bigger one is not sent, its stream ends with RESOURCE_EXHAUSTED and the error is logged. Restart to change.",
  "xds.limits.maxNamesPerRequest":
    "Resource names in one request, every occurrence counted (duplicates too), checked before any is decoded.",
  "xds.limits.maxNameBytes":
    "Longest resource name (and Delta initial version), in UTF-8 bytes; must be ≤ `maxRequestBytes`.",
  "xds.limits.maxNamesPerStream": "Distinct names one stream may watch, all types together.",
  "xds.limits.maxNameBytesPerStream":
    "UTF-8 bytes of one stream's distinct names plus its Delta `initial_resource_versions`; must be ≤ `maxNameBytesTotal`.",
  "xds.limits.maxNameBytesTotal": "The same bytes, summed over every stream of the process.",
  "xds.limits.requestsPerSecond":
    "Requests per second per stream (token bucket); an ACK or NACK of the response in flight is free.",
  "xds.limits.requestBurst": "Bucket size of `requestsPerSecond`: requests one stream may send at once.",
  "xds.limits.idleTimeoutMs":
    "A connection that opens no stream, or a stream that subscribes to nothing, is closed after this long (the stream with UNAVAILABLE).",
  "xds.limits.maxConnectionAgeMs":
    "Connections get a GOAWAY after this age, spread ±10 % per connection, so clients rebalance across replicas; 0 = never. Restart to change.",
  "xds.limits.maxConnectionAgeGraceMs":
    "After that GOAWAY, how long open streams go on before the connection is closed. Restart to change.",
  "xds.limits.keepaliveMs": "Interval of HTTP/2 keepalive pings to clients. Restart to change.",
  "xds.limits.keepaliveTimeoutMs":
    "How long to wait for a keepalive ack before closing the connection. Restart to change.",
  "xds.limits.debounceMs": "How long changes are batched before one push.",
  "xds.tls": "Serve xDS over TLS; absent means plaintext.",
  "xds.tls.certFile":
    "PEM server certificate (with `keyFile`). Relative paths resolve against the config file's folder.",
  "xds.tls.keyFile": "PEM private key of `certFile`.",
  "xds.tls.caFile":
    "PEM CA bundle; when set, clients must present a certificate signed by it (needed by `xds.authorization`).",
  "xds.tls.reloadIntervalMs":
    "How often the three files are compared with the ones in force; a changed set that loads is used for new connections (open ones keep theirs), one that does not is refused and logged.",
  "xds.authorization":
    "Per-node authorization by client certificate; needs `xds.tls.caFile`. Absent: any client may claim any node and see every resource. See docs/security.md.",
  "xds.authorization.rules":
    "The first rule whose `identities` match one of the certificate's SANs applies; a certificate matching none is refused (PERMISSION_DENIED).",
  "xds.authorization.rules[].identities":
    "SPIFFE IDs (URI SAN) or DNS names (DNS SAN) this rule is for; `*` matches any run of characters, `/` and `.` included.",
  "xds.authorization.rules[].nodeIds":
    "Node ids a client of these identities may claim (patterns); another is refused with PERMISSION_DENIED.",
  "xds.authorization.rules[].clusters":
    "Resources it may receive, by name (patterns; a cluster's CDS, EDS, LDS and RDS resources share its name). Others are, for it, absent.",
  "xds.authorization.rules[].zones":
    "Locality zones it may claim (so zone-aware variants it may get); absent: any. A node without a zone is allowed.",
  "xds.authorization.rules[].operator": "May read every client's status (fleet status), not only its own.",
  admin:
    "The admin HTTP server (`/healthz`, `/readyz`, `/metrics`, `/config_dump`, `/clusters`, `/clients`).",
  "admin.listen":
    "Address the admin server binds. Anything but loopback needs `tokenFile`, `tls.caFile` or `allowUnauthenticated: true`.",
  "admin.tokenFile":
    "File holding a bearer token every request must carry (`Authorization: Bearer …`); `/healthz` and the status of `/readyz` stay open.",
  "admin.tls": "Serve the admin port over HTTPS.",
  "admin.tls.certFile": "PEM server certificate (with `keyFile`).",
  "admin.tls.keyFile": "PEM private key of `certFile`.",
  "admin.tls.caFile": "PEM CA bundle; when set, clients must present a certificate signed by it (mTLS).",
  "admin.allowUnauthenticated": "Bind a non-loopback address without a token or mTLS, on purpose.",
  "admin.maxConnections": "Connections to the admin port at once; more are closed at accept.",
  dns: "How names are resolved.",
  "dns.servers":
    "DNS servers `ip:port` in order of preference (port defaults to 53, IPv6 as `[fd00::2]:53`). Omitted: the `nameserver` lines of /etc/resolv.conf, else 127.0.0.1:53.",
  "dns.timeoutMs": "Timeout of one try against one server.",
  "dns.attempts": "Tries per server before failing over to the next.",
  "dns.backoff": "How long a failing server is marked down (exponential with jitter).",
  "dns.backoff.baseMs": "First backoff.",
  "dns.backoff.maxMs": "Longest backoff; must be ≥ `baseMs`.",
  "dns.minTtl": "Answers are cached at least this many seconds.",
  "dns.maxTtl": "Answers are cached at most this many seconds; must be ≥ `minTtl`.",
  "dns.negativeTtlCap":
    "NXDOMAIN/NODATA are cached for min(SOA TTL, SOA MINIMUM), capped at this many seconds.",
  "dns.serveStaleMaxAgeMs":
    "When every server fails, the last good answer is served (stale) for up to this age (RFC 8767).",
  "dns.emptyGraceMs":
    'When a name that had records answers NXDOMAIN or an empty NOERROR, its last set stays published and routable this long, then drains (`drainMs`). `"auto"`: max(60 s, 2 × the TTL of its last answer with records); 0: drain at once. Clusters may override it.',
  "dns.shrinkThreshold":
    "An answer smaller than the last confirmed one that lacks more than this share of its records is held until seen again on the next resolution (re-checked after `minTtl`) or for `shrinkHoldMs`. Growth and smaller changes apply at once.",
  "dns.shrinkHoldMs":
    "Longest hold of such an answer without a second sighting; 0 turns shrink damping off. Clusters may override it.",
  "dns.use0x20": "Randomize the case of query names and check the echo (DNS 0x20), with per-server fallback.",
  "dns.tcpIdleMs":
    "A TCP connection to a DNS server (for names whose answers do not fit in UDP) stays open this long after its last reply, and later queries reuse it, pipelined (RFC 7766). 0: a new connection per query.",
  "dns.allowLoopback":
    "Let DNS answers put loopback addresses (127.0.0.0/8, ::1) into clusters. The rebinding guard always denies unspecified, link-local, cloud metadata, multicast and broadcast addresses (also IPv4-mapped); loopback only unless this is true. For the demo, tests and deliberate local backends; a cluster's own `allowLoopback` wins.",
  "dns.limits":
    "Caps on what a zone controls the size of. Going over one keeps the last good set, with a note on `/clusters` and `dnseds_input_held_back` (security.md).",
  "dns.limits.maxSrvTargets":
    "Distinct targets in one SRV answer; more and the source keeps its last good endpoints (and no new target is looked up).",
  "dns.limits.maxEndpointsPerCluster":
    "Distinct endpoints (address:port) of one cluster; more and the cluster keeps its last good set.",
  "dns.limits.maxTxtKeysPerEndpoint":
    "TXT metadata keys of one source; more and the source keeps its last good endpoints.",
  "dns.limits.maxTxtBytesPerEndpoint":
    "TXT metadata bytes (keys and values) of one source; more and the source keeps its last good endpoints.",
  "dns.rebindingGuard":
    "More CIDR blocks the rebinding guard denies in DNS answers, on top of its built-in set (e.g. `10.99.0.0/16`).",
  cache: "The answer cache: an in-process LRU, optionally over etcd shared by every replica.",
  "cache.localMaxEntries": "Entries kept by the in-process tier.",
  "cache.refreshAheadMaxLeadMs":
    "Served names are re-resolved at 80–90 % of their TTL, but at most this long (jittered down to half) before expiry. Each refresh is a DNS query and an etcd put, so a shorter lead means fewer of both: a 30 s TTL costs 1.05 puts per TTL at the default, 1.18 uncapped.",
  "cache.etcd":
    "Share answers, health and name ownership through etcd. Absent: local tier only (one replica).",
  "cache.etcd.endpoints": "etcd client URLs, `http://` or `https://`.",
  "cache.etcd.prefix": "Key prefix; starts and ends with `/`.",
  "cache.etcd.dialTimeoutMs": "Connect timeout to etcd.",
  "cache.etcd.tls": "TLS to etcd.",
  "cache.etcd.tls.certFile": "PEM client certificate (with `keyFile`).",
  "cache.etcd.tls.keyFile": "PEM private key of `certFile`.",
  "cache.etcd.tls.caFile":
    "PEM CA bundle that signed etcd's server certificate. Absent: Node's default CA store (its bundled roots plus `NODE_EXTRA_CA_CERTS`).",
  "cache.etcd.auth": "etcd user authentication.",
  "cache.etcd.auth.username": "etcd user.",
  "cache.etcd.auth.password": "Password inline (prefer `passwordFile`). Exactly one of the two.",
  "cache.etcd.auth.passwordFile": "File holding the password.",
  "cache.etcd.allowPlaintextPassword":
    "Send `auth` over plaintext `http://` anyway. Without it a password needs TLS (https:// endpoints or `tls`).",
  "cache.etcd.maxClockSkewMs":
    "An answer in etcd whose `resolvedAt` lies further in the future than this is rejected (it would pin itself on every replica).",
  healthDefaults: "Defaults for every cluster's `healthCheck`.",
  "healthDefaults.type": "`tcp` connect, `http`/`https` GET, or `grpc` (grpc.health.v1.Health/Check).",
  "healthDefaults.intervalMs": "Time between checks of one endpoint.",
  "healthDefaults.timeoutMs": "Timeout of one check; must be ≤ `intervalMs`.",
  "healthDefaults.healthyThreshold": "Consecutive successes before an endpoint is HEALTHY.",
  "healthDefaults.unhealthyThreshold":
    "Consecutive failures before an endpoint is UNHEALTHY (a refused connection counts at once).",
  "healthDefaults.initialJitter": "Random delay of the first check, as a fraction of the interval.",
  "healthDefaults.intervalJitter": "Random extra delay per interval, as a fraction of the interval.",
  "healthDefaults.path": "HTTP(S) path checked.",
  "healthDefaults.expectedStatuses": "HTTP statuses that mean healthy (default 200..399).",
  "healthDefaults.grpcService": 'gRPC health service name ("" = the whole server).',
  "healthDefaults.tls":
    "TLS of `https` checks (always verified unless `insecureSkipVerify`), and for `grpc` checks: use TLS. Files are re-read within a minute of a change.",
  "healthDefaults.tls.caFile":
    "PEM CA bundle backends' certificates must chain to. Absent: Node's default CA store.",
  "healthDefaults.tls.certFile": "PEM client certificate (with `keyFile`), for backends that require one.",
  "healthDefaults.tls.keyFile": "PEM private key of `certFile`.",
  "healthDefaults.tls.serverName":
    "Name the backend's certificate must carry, also sent as SNI. Absent: the DNS name the endpoint came from, else its IP.",
  "healthDefaults.tls.insecureSkipVerify": "Accept any certificate. Default false.",
  shutdown: "Stopping on SIGTERM: /readyz turns 503 at once, then streams are drained gradually.",
  "shutdown.drainDelayMs":
    "After SIGTERM, keep serving this long (with /readyz 503) so load balancers stop sending new clients here.",
  "shutdown.drainWindowMs":
    "Then send each client connection away (GOAWAY, streams end UNAVAILABLE) at its own jittered moment within this window.",
  "shutdown.graceMs": "Then give what is still open this long before cutting it; the process then exits 0.",
  clusters:
    "Required (write `clusters: []` to serve none on purpose): the clusters served. Each has a name and exactly one of `dns`, `srv`, `static` (shorthand for one source) or `sources`.",
  "clusters[].name":
    "Cluster name: the EDS/CDS resource name, and the `xds:///NAME` target with `grpcListener`.",
  "clusters[].dns": "Shorthand source: A/AAAA records of a name plus a port.",
  "clusters[].dns.name": "DNS name (LDH labels ≤ 63 characters, ≤ 253 in total).",
  "clusters[].dns.port": "Port of every endpoint, 1..65535.",
  "clusters[].srv":
    "Shorthand source: an SRV name; each target becomes endpoints with the SRV port, priority and weight.",
  "clusters[].srv.name": "SRV owner name, e.g. `_grpc._tcp.payments.example.com`.",
  "clusters[].static": "Shorthand source: fixed addresses.",
  "clusters[].static[].address": "IPv4 or IPv6 literal.",
  "clusters[].static[].port": "Port, 1..65535.",
  "clusters[].sources": "Several sources, each with its own locality and weight.",
  "clusters[].sources[].dns": "A/AAAA name plus port (as `clusters[].dns`).",
  "clusters[].sources[].dns.name": "DNS name.",
  "clusters[].sources[].dns.port": "Port, 1..65535.",
  "clusters[].sources[].srv": "SRV name (as `clusters[].srv`).",
  "clusters[].sources[].srv.name": "SRV owner name.",
  "clusters[].sources[].static": "Fixed addresses (as `clusters[].static`).",
  "clusters[].sources[].static[].address": "IPv4 or IPv6 literal.",
  "clusters[].sources[].static[].port": "Port, 1..65535.",
  "clusters[].sources[].locality": "Locality of this source's endpoints.",
  "clusters[].sources[].locality.region": "Region.",
  "clusters[].sources[].locality.zone": "Zone; matched against the client's node zone when `zoneAware`.",
  "clusters[].sources[].locality.subZone": "Sub-zone.",
  "clusters[].sources[].weight": "Locality load-balancing weight.",
  "clusters[].sources[].metadata":
    'Metadata on every endpoint, under filter_metadata["envoy.lb"] (string values).',
  "clusters[].sources[].txtMetadata": "Also read `key=value` TXT records at the name into the metadata.",
  "clusters[].locality": "Locality of the shorthand source (only with `dns`/`srv`/`static`).",
  "clusters[].locality.region": "Region.",
  "clusters[].locality.zone": "Zone.",
  "clusters[].locality.subZone": "Sub-zone.",
  "clusters[].weight": "Locality weight of the shorthand source (default 1).",
  "clusters[].metadata": "Endpoint metadata of the shorthand source.",
  "clusters[].txtMetadata": "TXT metadata for the shorthand source (default false).",
  "clusters[].ipFamily":
    "Which address families to publish and which goes first (the other one becomes the next priority).",
  "clusters[].happyEyeballs":
    "Publish dual-stack hosts as one endpoint with the other family in additional_addresses.",
  "clusters[].zoneAware": "Put localities in the client's zone at priority 0 and the rest after.",
  "clusters[].endpointHostname":
    "Give every endpoint the DNS name its address came from as `Endpoint.hostname` (Envoy uses it for `auto_host_rewrite` and shows it in its admin). false leaves it out: about a third fewer bytes per A-record endpoint for clients that do not use it.",
  "clusters[].selector": "Keep only endpoints whose metadata has all these key/values.",
  "clusters[].subsetSelectors":
    "Envoy subset load balancing: each entry is a list of metadata keys (from `metadata`/TXT) Envoy builds subsets on; a route's `metadata_match` under `envoy.lb` then picks a subset, and requests matching none go to any endpoint. gRPC ignores it.",
  "clusters[].healthCheck":
    "Active health check; fields omitted here come from `healthDefaults`. Absent: no active check.",
  "clusters[].healthCheck.type": "As `healthDefaults.type`.",
  "clusters[].healthCheck.intervalMs": "As `healthDefaults.intervalMs`.",
  "clusters[].healthCheck.timeoutMs": "As `healthDefaults.timeoutMs`.",
  "clusters[].healthCheck.healthyThreshold": "As `healthDefaults.healthyThreshold`.",
  "clusters[].healthCheck.unhealthyThreshold": "As `healthDefaults.unhealthyThreshold`.",
  "clusters[].healthCheck.initialJitter": "As `healthDefaults.initialJitter`.",
  "clusters[].healthCheck.intervalJitter": "As `healthDefaults.intervalJitter`.",
  "clusters[].healthCheck.path": "As `healthDefaults.path`.",
  "clusters[].healthCheck.expectedStatuses": "As `healthDefaults.expectedStatuses`.",
  "clusters[].healthCheck.grpcService": "As `healthDefaults.grpcService`.",
  "clusters[].healthCheck.tls": "As `healthDefaults.tls` (replaces it as a whole).",
  "clusters[].healthCheck.tls.caFile": "As `healthDefaults.tls.caFile`.",
  "clusters[].healthCheck.tls.certFile": "As `healthDefaults.tls.certFile`.",
  "clusters[].healthCheck.tls.keyFile": "As `healthDefaults.tls.keyFile`.",
  "clusters[].healthCheck.tls.serverName": "As `healthDefaults.tls.serverName`.",
  "clusters[].healthCheck.tls.insecureSkipVerify": "As `healthDefaults.tls.insecureSkipVerify`.",
  "clusters[].grpcListener":
    "Also publish an LDS API listener and RDS route named like the cluster, for `xds:///NAME`.",
  "clusters[].connectTimeoutMs": "Cluster connect timeout.",
  "clusters[].lbPolicy": "Cluster load-balancing policy (proxyless gRPC supports ROUND_ROBIN and RING_HASH).",
  "clusters[].overprovisioningFactor": "Envoy's overprovisioning factor in percent (gRPC ignores it).",
  "clusters[].drainMs": "How long an endpoint that left DNS stays listed as DRAINING.",
  "clusters[].emptyGraceMs": "This cluster's grace for empty answers (default `dns.emptyGraceMs`).",
  "clusters[].shrinkThreshold": "This cluster's shrink threshold (default `dns.shrinkThreshold`).",
  "clusters[].shrinkHoldMs": "This cluster's longest shrink hold (default `dns.shrinkHoldMs`).",
  "clusters[].staleAfterMs":
    "Envoy's `endpoint_stale_after` (0 = off): Envoy empties the cluster when no assignment arrived for this long; dns-eds re-sends it every third of the time. Off by default because a control-plane outage then empties clusters (docs/envoy.md). gRPC ignores it.",
  "clusters[].allowLoopback":
    "Rebinding-guard opt-out for this cluster: allow loopback addresses from DNS (default: `dns.allowLoopback`).",
};

export interface SchemaKey {
  path: string;
  type: string;
  default?: unknown;
  constraint: string;
}

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minItems?: number;
  anyOf?: JsonSchema[];
  const?: unknown;
};

/** Every key the schema accepts, depth first, in schema order. */
export function listSchemaKeys(): SchemaKey[] {
  const root = z.toJSONSchema(configFileSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const keys: SchemaKey[] = [];
  const visit = (node: JsonSchema, path: string) => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const p = path === "" ? name : `${path}.${name}`;
      keys.push({ path: p, type: typeOf(child), default: child.default, constraint: constraintOf(child) });
      if (child.type === "object") visit(child, p);
      if (child.type === "array" && child.items?.type === "object") visit(child.items, `${p}[]`);
    }
  };
  visit(root, "");
  return keys;
}

function typeOf(s: JsonSchema): string {
  if (s.anyOf)
    return s.anyOf
      .map((x) => (x.const !== undefined ? `\`${JSON.stringify(x.const)}\`` : typeOf(x)))
      .join(" or ");
  if (s.enum) return "enum";
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "any"}`;
  if (s.type === "object") return typeof s.additionalProperties === "object" ? "map of string" : "mapping";
  return s.type ?? "any";
}

function constraintOf(s: JsonSchema): string {
  if (s.anyOf)
    return s.anyOf
      .map(constraintOf)
      .filter((c) => c !== "")
      .join(", ");
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(", ");
  if (s.minimum !== undefined && s.maximum !== undefined) return `${s.minimum}..${s.maximum}`;
  if (s.type === "array" && s.minItems) return `at least ${s.minItems}`;
  return "";
}

function formatDefault(value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "object" && value !== null && Object.keys(value).length === 0) return "";
  return `\`${JSON.stringify(value)}\``;
}

export const REFERENCE_BEGIN =
  "<!-- config-reference:begin (generated from src/config/schema.ts; do not edit) -->";
export const REFERENCE_END = "<!-- config-reference:end -->";

/** The markdown table between the markers in docs/config.md. */
export function renderConfigReference(): string {
  const rows = listSchemaKeys().map((k) => {
    const description = (KEY_DESCRIPTIONS[k.path] ?? "").replaceAll("|", "\\|");
    return `| \`${k.path}\` | ${k.type} | ${formatDefault(k.default)} | ${k.constraint.replaceAll("|", "\\|")} | ${description} |`;
  });
  return [
    REFERENCE_BEGIN,
    "| Key | Type | Default | Allowed | Meaning |",
    "|---|---|---|---|---|",
    ...rows,
    REFERENCE_END,
  ].join("\n");
}
