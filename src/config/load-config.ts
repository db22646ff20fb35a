/**
 * Reads `dns-eds.yaml`: YAML → schema validation (with defaults) → the runtime shape (ClusterSpecs,
 * normalized addresses, absolute file paths) → deep freeze. Every failure is one ConfigError listing
 * every problem with its path.
 */
import { accessSync, constants, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseDocument } from "yaml";
import { formatHostPort, parseHostPort } from "../dns/host-port.js";
import { parseResolvConf } from "../dns/resolv-conf.js";
import type { ClusterSpec, FlapGuardSpec, SourceSpec } from "../endpoints/cluster-spec.js";
import type { HealthCheckSpec } from "../health/types.js";
import { ConfigError, type ConfigProblem } from "./config-error.js";
import type { DnsEdsConfig, EtcdConfig } from "./config-types.js";
import { deepFreeze } from "./deep-freeze.js";
import { DNS_DEFAULTS, SOURCE_DEFAULTS } from "./defaults.js";
import { issuesToProblems } from "./issue-format.js";
import { type ClusterEntry, type ConfigFile, configFileSchema, type SourceEntry } from "./schema.js";

export interface LoadConfigOptions {
  /** Label for errors and `DnsEdsConfig.source` (default: the file path, or "<inline>"). */
  source?: string;
  /** Folder that relative file paths in the config resolve against (default: the file's folder, or cwd). */
  baseDir?: string;
  /** Returns resolv.conf's text, or undefined when it cannot be read (injectable for tests). */
  readResolvConf?: () => string | undefined;
  /** Whether a referenced file (TLS, password) can be read (injectable for tests). */
  fileReadable?: (path: string) => boolean;
}

/** Loads and validates a config file. Rejects with ConfigError (code ERR_CONFIG_INVALID). */
export async function loadConfigFile(path: string, opts: LoadConfigOptions = {}): Promise<DnsEdsConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(path, [{ path: "", message: `expected a readable file, got ${reason}` }]);
  }
  return parseConfigText(text, { source: path, baseDir: dirname(resolve(path)), ...opts });
}

/** Parses YAML text into the runtime config. Throws ConfigError. */
export function parseConfigText(text: string, opts: LoadConfigOptions = {}): DnsEdsConfig {
  const source = opts.source ?? "<inline>";
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
        const what = (e.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
        return { path: "", message: `expected valid YAML, ${where}${what}` };
      }),
    );
  }
  let raw: unknown;
  try {
    // An empty file parses to null: validate it as an empty mapping, which the schema refuses (no clusters).
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    // Alias problems (unresolved, or too many expansions) surface only when building the value.
    throw new ConfigError(source, [{ path: "", message: `expected valid YAML, ${(err as Error).message}` }]);
  }
  return parseConfigObject(raw, { ...opts, source });
}

/** Validates an already-parsed object (e.g. built in code by the embedded demo). Throws ConfigError. */
export function parseConfigObject(raw: unknown, opts: LoadConfigOptions = {}): DnsEdsConfig {
  const source = opts.source ?? "<inline>";
  const result = configFileSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(source, issuesToProblems(result.error.issues));
  const runtime = toRuntime(result.data, { ...opts, source });
  return deepFreeze(runtime);
}

function defaultReadResolvConf(): string | undefined {
  try {
    return readFileSync(DNS_DEFAULTS.resolvConfPath, "utf8");
  } catch {
    return undefined;
  }
}

function defaultFileReadable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function toRuntime(file: ConfigFile, opts: LoadConfigOptions & { source: string }): DnsEdsConfig {
  const baseDir = opts.baseDir ?? process.cwd();
  const fileReadable = opts.fileReadable ?? defaultFileReadable;
  const problems: ConfigProblem[] = [];
  const fileAt = (path: string, value: string): string => {
    const abs = isAbsolute(value) ? value : resolve(baseDir, value);
    if (!fileReadable(abs))
      problems.push({ path, message: `expected a readable file, got "${value}" (${abs})` });
    return abs;
  };

  let tls: DnsEdsConfig["xds"]["tls"];
  if (file.xds.tls?.certFile !== undefined && file.xds.tls.keyFile !== undefined) {
    tls = {
      certFile: fileAt("xds.tls.certFile", file.xds.tls.certFile),
      keyFile: fileAt("xds.tls.keyFile", file.xds.tls.keyFile),
      ...(file.xds.tls.caFile !== undefined ? { caFile: fileAt("xds.tls.caFile", file.xds.tls.caFile) } : {}),
      reloadIntervalMs: file.xds.tls.reloadIntervalMs,
    };
  }

  let servers: string[];
  const serversFromSystem = file.dns.servers === undefined;
  if (file.dns.servers !== undefined) {
    servers = file.dns.servers.map((s) => {
      const r = parseHostPort(s, { defaultPort: 53, requireIp: true });
      // The schema already rejected anything unparsable.
      return r.ok ? formatHostPort(r.value) : s;
    });
  } else {
    const text = (opts.readResolvConf ?? defaultReadResolvConf)();
    servers = text === undefined ? [] : parseResolvConf(text).servers;
    if (servers.length === 0) servers = [DNS_DEFAULTS.fallbackServer];
  }

  let etcd: EtcdConfig | undefined;
  const e = file.cache.etcd;
  if (e !== undefined) {
    etcd = {
      endpoints: e.endpoints,
      prefix: e.prefix,
      dialTimeoutMs: e.dialTimeoutMs,
      allowPlaintextPassword: e.allowPlaintextPassword,
      maxClockSkewMs: e.maxClockSkewMs,
    };
    if (e.tls !== undefined) {
      etcd.tls = {};
      if (e.tls.caFile !== undefined) etcd.tls.caFile = fileAt("cache.etcd.tls.caFile", e.tls.caFile);
      if (e.tls.certFile !== undefined) etcd.tls.certFile = fileAt("cache.etcd.tls.certFile", e.tls.certFile);
      if (e.tls.keyFile !== undefined) etcd.tls.keyFile = fileAt("cache.etcd.tls.keyFile", e.tls.keyFile);
    }
    if (e.auth !== undefined) {
      etcd.auth = { username: e.auth.username };
      if (e.auth.password !== undefined) etcd.auth.password = e.auth.password;
      if (e.auth.passwordFile !== undefined)
        etcd.auth.passwordFile = fileAt("cache.etcd.auth.passwordFile", e.auth.passwordFile);
    }
  }

  const healthDefaults = toHealthSpec(file.healthDefaults);
  const clusters = file.clusters.map((c) => toClusterSpec(c, file.healthDefaults, file.dns));
  for (const [i, c] of clusters.entries()) {
    // Only visible after the cluster's fields are merged over healthDefaults.
    const h = c.healthCheck;
    if (h && h.timeoutMs > h.intervalMs)
      problems.push({
        path: `clusters[${i}].healthCheck.timeoutMs`,
        message: `expected ≤ intervalMs (${h.intervalMs}, with healthDefaults), got ${h.timeoutMs}`,
      });
    const tls = h?.tls;
    if (tls) {
      const where = `clusters[${i}].healthCheck.tls`;
      if (tls.caFile !== undefined) tls.caFile = fileAt(`${where}.caFile`, tls.caFile);
      if (tls.certFile !== undefined) tls.certFile = fileAt(`${where}.certFile`, tls.certFile);
      if (tls.keyFile !== undefined) tls.keyFile = fileAt(`${where}.keyFile`, tls.keyFile);
    }
  }
  const defaultsTls = healthDefaults.tls;
  if (defaultsTls) {
    if (defaultsTls.caFile !== undefined)
      defaultsTls.caFile = fileAt("healthDefaults.tls.caFile", defaultsTls.caFile);
    if (defaultsTls.certFile !== undefined)
      defaultsTls.certFile = fileAt("healthDefaults.tls.certFile", defaultsTls.certFile);
    if (defaultsTls.keyFile !== undefined)
      defaultsTls.keyFile = fileAt("healthDefaults.tls.keyFile", defaultsTls.keyFile);
  }

  const adminToken =
    file.admin.tokenFile !== undefined ? fileAt("admin.tokenFile", file.admin.tokenFile) : undefined;
  const a = file.admin.tls;
  const adminTls =
    a?.certFile !== undefined && a.keyFile !== undefined
      ? {
          certFile: fileAt("admin.tls.certFile", a.certFile),
          keyFile: fileAt("admin.tls.keyFile", a.keyFile),
          ...(a.caFile !== undefined ? { caFile: fileAt("admin.tls.caFile", a.caFile) } : {}),
        }
      : undefined;

  if (problems.length > 0) throw new ConfigError(opts.source, problems);
  return {
    source: opts.source,
    xds: {
      listen: normalizeListen(file.xds.listen),
      limits: { ...file.xds.limits },
      ...(tls ? { tls } : {}),
      ...(file.xds.authorization
        ? {
            authorization: {
              rules: file.xds.authorization.rules.map((r) => ({
                identities: [...r.identities],
                nodeIds: [...r.nodeIds],
                clusters: [...r.clusters],
                ...(r.zones !== undefined ? { zones: [...r.zones] } : {}),
                operator: r.operator,
              })),
            },
          }
        : {}),
    },
    admin: {
      listen: normalizeListen(file.admin.listen),
      ...(adminToken !== undefined ? { tokenFile: adminToken } : {}),
      ...(adminTls ? { tls: adminTls } : {}),
      allowUnauthenticated: file.admin.allowUnauthenticated,
      maxConnections: file.admin.maxConnections,
    },
    dns: {
      servers,
      serversFromSystem,
      timeoutMs: file.dns.timeoutMs,
      attempts: file.dns.attempts,
      backoff: { ...file.dns.backoff },
      minTtl: file.dns.minTtl,
      maxTtl: file.dns.maxTtl,
      negativeTtlCap: file.dns.negativeTtlCap,
      serveStaleMaxAgeMs: file.dns.serveStaleMaxAgeMs,
      emptyGraceMs: file.dns.emptyGraceMs,
      shrinkThreshold: file.dns.shrinkThreshold,
      shrinkHoldMs: file.dns.shrinkHoldMs,
      use0x20: file.dns.use0x20,
      tcpIdleMs: file.dns.tcpIdleMs,
      allowLoopback: file.dns.allowLoopback,
      rebindingGuard: file.dns.rebindingGuard,
      limits: { ...file.dns.limits },
    },
    cache: {
      localMaxEntries: file.cache.localMaxEntries,
      refreshAheadMaxLeadMs: file.cache.refreshAheadMaxLeadMs,
      ...(etcd ? { etcd } : {}),
    },
    healthDefaults,
    shutdown: { ...file.shutdown },
    clusters,
  };
}

function normalizeListen(text: string): string {
  const r = parseHostPort(text, { allowPortZero: true });
  return r.ok ? formatHostPort(r.value) : text;
}

type HealthFields = ConfigFile["healthDefaults"];

/** Keeps only the fields that mean something for the check's type. */
function toHealthSpec(h: HealthFields): HealthCheckSpec {
  const spec: HealthCheckSpec = {
    type: h.type,
    intervalMs: h.intervalMs,
    timeoutMs: h.timeoutMs,
    healthyThreshold: h.healthyThreshold,
    unhealthyThreshold: h.unhealthyThreshold,
    initialJitter: h.initialJitter,
    intervalJitter: h.intervalJitter,
  };
  if (h.type === "http" || h.type === "https") {
    spec.path = h.path;
    if (h.expectedStatuses !== undefined) spec.expectedStatuses = [...h.expectedStatuses];
  }
  if (h.type === "grpc") spec.grpcService = h.grpcService;
  if ((h.type === "https" || h.type === "grpc") && h.tls !== undefined) spec.tls = { ...h.tls };
  return spec;
}

/** The cluster's own grace and damping keys over the `dns` section's. */
function toFlapGuard(c: ClusterEntry, dns: ConfigFile["dns"]): FlapGuardSpec {
  return {
    emptyGraceMs: c.emptyGraceMs ?? dns.emptyGraceMs,
    shrinkThreshold: c.shrinkThreshold ?? dns.shrinkThreshold,
    shrinkHoldMs: c.shrinkHoldMs ?? dns.shrinkHoldMs,
  };
}

function toClusterSpec(c: ClusterEntry, healthDefaults: HealthFields, dns: ConfigFile["dns"]): ClusterSpec {
  const spec: ClusterSpec = {
    name: c.name,
    sources: clusterSources(c),
    ipFamily: c.ipFamily,
    happyEyeballs: c.happyEyeballs,
    zoneAware: c.zoneAware,
    endpointHostname: c.endpointHostname,
    grpcListener: c.grpcListener,
    connectTimeoutMs: c.connectTimeoutMs,
    lbPolicy: c.lbPolicy,
    overprovisioningFactor: c.overprovisioningFactor,
    drainMs: c.drainMs,
    flapGuard: toFlapGuard(c, dns),
    // The cluster's own word wins over the global opt-out, either way.
    allowLoopback: c.allowLoopback ?? dns.allowLoopback,
  };
  if (c.staleAfterMs > 0) spec.staleAfterMs = c.staleAfterMs;
  if (dns.rebindingGuard.length > 0) spec.denyRanges = [...dns.rebindingGuard];
  spec.inputLimits = {
    maxSrvTargets: dns.limits.maxSrvTargets,
    maxEndpoints: dns.limits.maxEndpointsPerCluster,
    maxTxtKeys: dns.limits.maxTxtKeysPerEndpoint,
    maxTxtBytes: dns.limits.maxTxtBytesPerEndpoint,
  };
  if (c.selector !== undefined) spec.selector = { ...c.selector };
  if (c.subsetSelectors !== undefined) spec.subsetSelectors = c.subsetSelectors.map((keys) => [...keys]);
  if (c.healthCheck !== undefined) {
    const own = Object.fromEntries(Object.entries(c.healthCheck).filter(([, v]) => v !== undefined));
    spec.healthCheck = toHealthSpec({ ...healthDefaults, ...own } as HealthFields);
  }
  return spec;
}

/** The cluster-level `dns`/`srv`/`static` shorthand is one source with the cluster's locality fields. */
function clusterSources(c: ClusterEntry): SourceSpec[] {
  if (c.sources !== undefined) return c.sources.map(toSourceSpec);
  return [
    toSourceSpec({
      ...(c.dns ? { dns: c.dns } : {}),
      ...(c.srv ? { srv: c.srv } : {}),
      ...(c.static ? { static: c.static } : {}),
      locality: { ...SOURCE_DEFAULTS.locality, ...c.locality },
      weight: c.weight ?? SOURCE_DEFAULTS.weight,
      metadata: c.metadata ?? {},
      txtMetadata: c.txtMetadata ?? SOURCE_DEFAULTS.txtMetadata,
    }),
  ];
}

function toSourceSpec(s: SourceEntry): SourceSpec {
  const base = {
    locality: { ...s.locality },
    weight: s.weight,
    metadata: { ...s.metadata },
    txtMetadata: s.txtMetadata,
  };
  if (s.dns) return { ...base, kind: "dns", name: s.dns.name, port: s.dns.port };
  if (s.srv) return { ...base, kind: "srv", name: s.srv.name };
  return {
    ...base,
    kind: "static",
    addresses: (s.static ?? []).map((a) => ({ address: a.address, port: a.port })),
  };
}
