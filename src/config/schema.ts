/**
 * The shape of `dns-eds.yaml` as a zod schema: types, ranges, unknown keys (every object is strict) and
 * the checks that span fields. Defaults come from defaults.ts; mapping to the runtime shape is in
 * load-config.ts, so this file only says what a valid file looks like.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { isLoopbackHost } from "../admin/admin-access.js";
import { parseHostPort } from "../dns/host-port.js";
import { nameProblem } from "../dns/name-validation.js";
import { cidrProblem } from "./cidr.js";
import {
  ADMIN_DEFAULTS,
  CACHE_DEFAULTS,
  CLUSTER_DEFAULTS,
  DNS_DEFAULTS,
  HEALTH_DEFAULTS,
  SHUTDOWN_DEFAULTS,
  SOURCE_DEFAULTS,
  XDS_DEFAULTS,
} from "./defaults.js";

/** An integer in [min, max]; the message is what ConfigError prints before ", got ACTUAL". */
const intIn = (min: number, max: number) => {
  const error = `expected an integer ${min}..${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const fractionIn01 = () => {
  const error = "expected a number 0..1";
  return z.number({ error }).min(0, { error }).max(1, { error });
};
const port = () => {
  const error = "expected 1..65535";
  return z.number({ error }).int({ error }).min(1, { error }).max(65535, { error });
};
const bool = () => z.boolean({ error: "expected true or false" });
/** A duration in ms, or "auto" (a default worked out per name). */
const msOrAuto = (max: number) => {
  const error = `expected "auto" or an integer 0..${max}`;
  const ms = z.number({ error }).int({ error }).min(0, { error }).max(max, { error });
  return z.union([z.literal("auto", { error }), ms], { error });
};
/** Issue 16: grace for empty answers, damping for shrinking ones; in `dns` (global) and per cluster. */
const flapGuardFields = {
  emptyGraceMs: msOrAuto(86_400_000),
  shrinkThreshold: fractionIn01(),
  shrinkHoldMs: intIn(0, 86_400_000),
};
const nonEmpty = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

const listenAddress = () =>
  z.string({ error: 'expected "host:port"' }).superRefine((text, ctx) => {
    const r = parseHostPort(text, { allowPortZero: true });
    if (!r.ok) ctx.addIssue({ code: "custom", message: r.problem });
  });

const dnsServer = z.string({ error: 'expected "ip:port"' }).superRefine((text, ctx) => {
  const r = parseHostPort(text, { defaultPort: 53, requireIp: true });
  if (!r.ok) ctx.addIssue({ code: "custom", message: r.problem });
});

const dnsName = (allowServiceLabels: boolean) =>
  z.string({ error: "expected a DNS name" }).superRefine((name, ctx) => {
    const problem = nameProblem(name, allowServiceLabels ? "service" : "host");
    if (problem) ctx.addIssue({ code: "custom", message: `${problem} (in "${name}")` });
  });

const ipLiteral = z.string({ error: "expected an IP address" }).superRefine((text, ctx) => {
  if (isIP(text) === 0)
    ctx.addIssue({ code: "custom", message: `expected an IPv4 or IPv6 address, got "${text}"` });
});

const filePath = () => nonEmpty("a file path");

/** Metadata keys and values end up in filter_metadata["envoy.lb"] as strings. */
const stringMap = () =>
  z.record(
    nonEmpty("a non-empty key"),
    z.string({ error: "expected a string (quote numbers and booleans)" }),
  );

/**
 * xDS resource names double as the `xds:///NAME` target of proxyless gRPC, so they stay within
 * characters that need no escaping in a URI path or an Envoy stat name.
 */
const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const clusterName = z.string({ error: "expected a cluster name" }).superRefine((name, ctx) => {
  if (!CLUSTER_NAME.test(name)) {
    ctx.addIssue({
      code: "custom",
      message: `expected 1..253 letters, digits, ".", "_" or "-" starting with a letter or digit, got "${name}"`,
    });
  }
});

const tlsFiles = z
  .strictObject({
    certFile: filePath().optional(),
    keyFile: filePath().optional(),
    caFile: filePath().optional(),
  })
  .superRefine((tls, ctx) => {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      ctx.addIssue({ code: "custom", message: "expected certFile and keyFile together" });
    }
  });

const L = XDS_DEFAULTS.limits;
const MIB = 1024 * 1024;
/** setTimeout's ceiling (about 24.8 days); grpc-js arms a timer with the connection age. */
const MAX_TIMER_MS = 2_147_483_647;

const xdsLimits = z
  .strictObject({
    maxStreamsPerConnection: intIn(1, 100_000).default(L.maxStreamsPerConnection),
    maxConnectionsPerPeer: intIn(1, 10_000_000).default(L.maxConnectionsPerPeer),
    maxConnections: intIn(1, 10_000_000).default(L.maxConnections),
    maxStreams: intIn(1, 10_000_000).default(L.maxStreams),
    maxRequestBytes: intIn(1024, 256 * MIB).default(L.maxRequestBytes),
    maxResponseBytes: intIn(64 * 1024, MAX_TIMER_MS).default(L.maxResponseBytes),
    maxNamesPerRequest: intIn(1, 10_000_000).default(L.maxNamesPerRequest),
    maxNameBytes: intIn(1, MIB).default(L.maxNameBytes),
    maxNamesPerStream: intIn(1, 10_000_000).default(L.maxNamesPerStream),
    maxNameBytesPerStream: intIn(1024, 1024 * MIB).default(L.maxNameBytesPerStream),
    maxNameBytesTotal: intIn(1024, 1024 * 1024 * MIB).default(L.maxNameBytesTotal),
    requestsPerSecond: intIn(1, 1_000_000).default(L.requestsPerSecond),
    requestBurst: intIn(1, 1_000_000).default(L.requestBurst),
    idleTimeoutMs: intIn(100, MAX_TIMER_MS).default(L.idleTimeoutMs),
    maxConnectionAgeMs: intIn(0, MAX_TIMER_MS).default(L.maxConnectionAgeMs),
    maxConnectionAgeGraceMs: intIn(0, MAX_TIMER_MS).default(L.maxConnectionAgeGraceMs),
    keepaliveMs: intIn(1_000, 86_400_000).default(L.keepaliveMs),
    keepaliveTimeoutMs: intIn(100, 600_000).default(L.keepaliveTimeoutMs),
    debounceMs: intIn(0, 60_000).default(L.debounceMs),
  })
  .prefault({})
  .superRefine((l, ctx) => {
    if (l.maxConnectionAgeMs !== 0 && l.maxConnectionAgeMs < 1_000)
      ctx.addIssue({
        code: "custom",
        path: ["maxConnectionAgeMs"],
        message: `expected 0 (never) or at least 1000, got ${l.maxConnectionAgeMs}`,
      });
    if (l.maxNameBytesPerStream > l.maxNameBytesTotal)
      ctx.addIssue({
        code: "custom",
        path: ["maxNameBytesPerStream"],
        message: `expected ≤ maxNameBytesTotal (${l.maxNameBytesTotal}), got ${l.maxNameBytesPerStream}`,
      });
    if (l.maxNameBytes > l.maxRequestBytes)
      ctx.addIssue({
        code: "custom",
        path: ["maxNameBytes"],
        message: `expected ≤ maxRequestBytes (${l.maxRequestBytes}), got ${l.maxNameBytes}`,
      });
  });

const xdsTls = z.strictObject({
  certFile: filePath(),
  keyFile: filePath(),
  caFile: filePath().optional(),
  reloadIntervalMs: intIn(100, 86_400_000).default(XDS_DEFAULTS.tls.reloadIntervalMs),
});

const patterns = (what: string) =>
  z
    .array(nonEmpty(what), { error: `expected a list of ${what}s` })
    .min(1, { error: `expected at least one ${what}` });

const authorizationRule = z.strictObject({
  identities: patterns("SPIFFE ID or DNS name"),
  nodeIds: patterns("node id"),
  clusters: patterns("cluster name"),
  zones: patterns("zone").optional(),
  operator: bool().default(false),
});

const xdsSection = z
  .strictObject({
    listen: listenAddress().default(XDS_DEFAULTS.listen),
    limits: xdsLimits,
    tls: xdsTls.optional(),
    authorization: z
      .strictObject({ rules: z.array(authorizationRule).min(1, { error: "expected at least one rule" }) })
      .optional(),
  })
  .superRefine((x, ctx) => {
    if (x.authorization !== undefined && x.tls?.caFile === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["authorization"],
        message: "expected xds.tls with caFile: clients are identified by the certificate they present",
      });
  });

const adminSection = z
  .strictObject({
    listen: listenAddress().default(ADMIN_DEFAULTS.listen),
    tokenFile: filePath().optional(),
    tls: tlsFiles
      .superRefine((tls, ctx) => {
        if (tls.certFile === undefined)
          ctx.addIssue({ code: "custom", message: "expected certFile and keyFile" });
      })
      .optional(),
    allowUnauthenticated: bool().default(ADMIN_DEFAULTS.allowUnauthenticated),
    maxConnections: intIn(1, 100_000).default(ADMIN_DEFAULTS.maxConnections),
  })
  .superRefine((a, ctx) => {
    const r = parseHostPort(a.listen, { allowPortZero: true });
    const authenticated = a.tokenFile !== undefined || a.tls?.caFile !== undefined;
    if (r.ok && !isLoopbackHost(r.value.host) && !authenticated && !a.allowUnauthenticated)
      ctx.addIssue({
        code: "custom",
        path: ["listen"],
        message: `expected a loopback address, a token (admin.tokenFile) or mTLS (admin.tls.caFile) for "${a.listen}"; set admin.allowUnauthenticated: true to expose it without`,
      });
  });

const shutdownSection = z.strictObject({
  drainDelayMs: intIn(0, 600_000).default(SHUTDOWN_DEFAULTS.drainDelayMs),
  drainWindowMs: intIn(0, 600_000).default(SHUTDOWN_DEFAULTS.drainWindowMs),
  graceMs: intIn(0, 600_000).default(SHUTDOWN_DEFAULTS.graceMs),
});

const dnsSection = z
  .strictObject({
    servers: z
      .array(dnsServer)
      .min(1, { error: "expected at least one server (omit to use resolv.conf)" })
      .optional(),
    timeoutMs: intIn(10, 60_000).default(DNS_DEFAULTS.timeoutMs),
    attempts: intIn(1, 10).default(DNS_DEFAULTS.attempts),
    backoff: z
      .strictObject({
        baseMs: intIn(10, 600_000).default(DNS_DEFAULTS.backoff.baseMs),
        maxMs: intIn(10, 86_400_000).default(DNS_DEFAULTS.backoff.maxMs),
      })
      .prefault({})
      .superRefine((b, ctx) => {
        if (b.maxMs < b.baseMs)
          ctx.addIssue({
            code: "custom",
            path: ["maxMs"],
            message: `expected ≥ baseMs (${b.baseMs}), got ${b.maxMs}`,
          });
      }),
    minTtl: intIn(0, 604_800).default(DNS_DEFAULTS.minTtl),
    maxTtl: intIn(1, 604_800).default(DNS_DEFAULTS.maxTtl),
    negativeTtlCap: intIn(0, 86_400).default(DNS_DEFAULTS.negativeTtlCap),
    serveStaleMaxAgeMs: intIn(0, 30 * 86_400_000).default(DNS_DEFAULTS.serveStaleMaxAgeMs),
    emptyGraceMs: flapGuardFields.emptyGraceMs.default(DNS_DEFAULTS.emptyGraceMs),
    shrinkThreshold: flapGuardFields.shrinkThreshold.default(DNS_DEFAULTS.shrinkThreshold),
    shrinkHoldMs: flapGuardFields.shrinkHoldMs.default(DNS_DEFAULTS.shrinkHoldMs),
    use0x20: bool().default(DNS_DEFAULTS.use0x20),
    tcpIdleMs: intIn(0, 600_000).default(DNS_DEFAULTS.tcpIdleMs),
    allowLoopback: bool().default(DNS_DEFAULTS.allowLoopback),
    rebindingGuard: z
      .array(
        z.string({ error: "expected a CIDR block" }).superRefine((text, ctx) => {
          const problem = cidrProblem(text);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
      )
      .default([]),
    limits: z
      .strictObject({
        maxSrvTargets: intIn(1, 4_096).default(DNS_DEFAULTS.limits.maxSrvTargets),
        maxEndpointsPerCluster: intIn(1, 1_000_000).default(DNS_DEFAULTS.limits.maxEndpoints),
        maxTxtKeysPerEndpoint: intIn(0, 1_024).default(DNS_DEFAULTS.limits.maxTxtKeys),
        maxTxtBytesPerEndpoint: intIn(0, 65_535).default(DNS_DEFAULTS.limits.maxTxtBytes),
      })
      .prefault({}),
  })
  .superRefine((d, ctx) => {
    if (d.maxTtl < d.minTtl)
      ctx.addIssue({
        code: "custom",
        path: ["maxTtl"],
        message: `expected ≥ minTtl (${d.minTtl}), got ${d.maxTtl}`,
      });
  });

const etcdUrl = z.string({ error: "expected an etcd URL" }).superRefine((text, ctx) => {
  let ok = false;
  try {
    const u = new URL(text);
    ok = (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    ok = false;
  }
  if (!ok) ctx.addIssue({ code: "custom", message: `expected an http:// or https:// URL, got "${text}"` });
});

const etcdSection = z
  .strictObject({
    endpoints: z.array(etcdUrl).min(1, { error: "expected at least one endpoint" }),
    prefix: z
      .string({ error: "expected a key prefix" })
      .default(CACHE_DEFAULTS.etcd.prefix)
      .superRefine((p, ctx) => {
        if (!p.startsWith("/") || !p.endsWith("/") || p.length < 2)
          ctx.addIssue({
            code: "custom",
            message: `expected a prefix starting and ending with "/", got "${p}"`,
          });
      }),
    dialTimeoutMs: intIn(100, 60_000).default(CACHE_DEFAULTS.etcd.dialTimeoutMs),
    tls: tlsFiles.optional(),
    auth: z
      .strictObject({
        username: nonEmpty("a user name"),
        password: z.string({ error: "expected a string" }).optional(),
        passwordFile: filePath().optional(),
      })
      .superRefine((a, ctx) => {
        if ((a.password === undefined) === (a.passwordFile === undefined))
          ctx.addIssue({ code: "custom", message: "expected exactly one of password or passwordFile" });
      })
      .optional(),
    allowPlaintextPassword: bool().default(CACHE_DEFAULTS.etcd.allowPlaintextPassword),
    maxClockSkewMs: intIn(0, 600_000).default(CACHE_DEFAULTS.etcd.maxClockSkewMs),
  })
  .superRefine((e, ctx) => {
    // etcd3 speaks TLS to every endpoint when a `tls` section is given or any URL is https://.
    const plaintext = e.tls === undefined && e.endpoints.every((u) => u.startsWith("http://"));
    if (e.auth !== undefined && plaintext && !e.allowPlaintextPassword)
      ctx.addIssue({
        code: "custom",
        path: ["auth"],
        message:
          "expected TLS to etcd (https:// endpoints or a tls section) when sending a password; set allowPlaintextPassword: true to send it in clear on purpose",
      });
  });

const cacheSection = z.strictObject({
  localMaxEntries: intIn(1, 10_000_000).default(CACHE_DEFAULTS.localMaxEntries),
  refreshAheadMaxLeadMs: intIn(100, 86_400_000).default(CACHE_DEFAULTS.refreshAheadMaxLeadMs),
  etcd: etcdSection.optional(),
});

const HEALTH_TYPES = ["tcp", "http", "https", "grpc"] as const;
const httpStatus = intIn(100, 599);

/** Fields of an active health check; in `healthDefaults` each has a default, in a cluster each is optional. */
const healthFields = {
  type: z.enum(HEALTH_TYPES),
  intervalMs: intIn(100, 3_600_000),
  timeoutMs: intIn(10, 600_000),
  healthyThreshold: intIn(1, 100),
  unhealthyThreshold: intIn(1, 100),
  initialJitter: fractionIn01(),
  intervalJitter: fractionIn01(),
  path: z
    .string({ error: "expected an HTTP path" })
    .startsWith("/", { error: 'expected a path starting with "/"' }),
  expectedStatuses: z.array(httpStatus).min(1, { error: "expected at least one status" }),
  grpcService: z.string({ error: "expected a gRPC service name" }),
  tls: z
    .strictObject({
      caFile: filePath().optional(),
      certFile: filePath().optional(),
      keyFile: filePath().optional(),
      serverName: nonEmpty("a host name"),
      insecureSkipVerify: bool(),
    })
    .partial()
    .superRefine((t, ctx) => {
      if ((t.certFile === undefined) !== (t.keyFile === undefined))
        ctx.addIssue({ code: "custom", message: "expected certFile and keyFile together" });
    }),
};

/** TLS settings mean something for `https` checks and make a `grpc` check use TLS; elsewhere they are a mistake. */
const tlsOnlyWhereUsed = (h: { type?: string; tls?: unknown }, ctx: z.RefinementCtx) => {
  if (h.tls !== undefined && h.type !== undefined && h.type !== "https" && h.type !== "grpc")
    ctx.addIssue({
      code: "custom",
      path: ["tls"],
      message: `expected only with type https or grpc, got type ${h.type}`,
    });
};

const timeoutWithinInterval = (h: { intervalMs?: number; timeoutMs?: number }, ctx: z.RefinementCtx) => {
  if (h.intervalMs !== undefined && h.timeoutMs !== undefined && h.timeoutMs > h.intervalMs)
    ctx.addIssue({
      code: "custom",
      path: ["timeoutMs"],
      message: `expected ≤ intervalMs (${h.intervalMs}), got ${h.timeoutMs}`,
    });
};

const healthDefaultsSection = z
  .strictObject({
    type: healthFields.type.default(HEALTH_DEFAULTS.type),
    intervalMs: healthFields.intervalMs.default(HEALTH_DEFAULTS.intervalMs),
    timeoutMs: healthFields.timeoutMs.default(HEALTH_DEFAULTS.timeoutMs),
    healthyThreshold: healthFields.healthyThreshold.default(HEALTH_DEFAULTS.healthyThreshold),
    unhealthyThreshold: healthFields.unhealthyThreshold.default(HEALTH_DEFAULTS.unhealthyThreshold),
    initialJitter: healthFields.initialJitter.default(HEALTH_DEFAULTS.initialJitter),
    intervalJitter: healthFields.intervalJitter.default(HEALTH_DEFAULTS.intervalJitter),
    path: healthFields.path.default(HEALTH_DEFAULTS.path),
    expectedStatuses: healthFields.expectedStatuses.optional(),
    grpcService: healthFields.grpcService.default(HEALTH_DEFAULTS.grpcService),
    tls: healthFields.tls.optional(),
  })
  .superRefine(timeoutWithinInterval)
  .superRefine(tlsOnlyWhereUsed);

const clusterHealthCheck = z
  .strictObject({
    type: healthFields.type.optional(),
    intervalMs: healthFields.intervalMs.optional(),
    timeoutMs: healthFields.timeoutMs.optional(),
    healthyThreshold: healthFields.healthyThreshold.optional(),
    unhealthyThreshold: healthFields.unhealthyThreshold.optional(),
    initialJitter: healthFields.initialJitter.optional(),
    intervalJitter: healthFields.intervalJitter.optional(),
    path: healthFields.path.optional(),
    expectedStatuses: healthFields.expectedStatuses.optional(),
    grpcService: healthFields.grpcService.optional(),
    tls: healthFields.tls.optional(),
  })
  .superRefine(timeoutWithinInterval)
  .superRefine(tlsOnlyWhereUsed);

const locality = z.strictObject({
  region: z.string({ error: "expected a string" }).default(SOURCE_DEFAULTS.locality.region),
  zone: z.string({ error: "expected a string" }).default(SOURCE_DEFAULTS.locality.zone),
  subZone: z.string({ error: "expected a string" }).default(SOURCE_DEFAULTS.locality.subZone),
});

const dnsSource = z.strictObject({ name: dnsName(false), port: port() });
const srvSource = z.strictObject({ name: dnsName(true) });
const staticSource = z
  .array(z.strictObject({ address: ipLiteral, port: port() }))
  .min(1, { error: "expected at least one address" });

const SOURCE_KINDS = ["dns", "srv", "static"] as const;

const exactlyOneKind = (what: string, extra: readonly string[] = []) => {
  const kinds = [...SOURCE_KINDS, ...extra];
  return (v: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const present = kinds.filter((k) => v[k] !== undefined);
    if (present.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `expected exactly one of ${kinds.join(", ")} in ${what}, got ${present.length === 0 ? "none" : present.join(" and ")}`,
      });
    }
  };
};

/** Locality weights must sum within uint32 across a cluster; this bound keeps 4,000 sources safe. */
const localityWeight = () => intIn(1, 1_000_000);

const sourceEntry = z
  .strictObject({
    dns: dnsSource.optional(),
    srv: srvSource.optional(),
    static: staticSource.optional(),
    locality: locality.prefault({}),
    weight: localityWeight().default(SOURCE_DEFAULTS.weight),
    metadata: stringMap().default({}),
    txtMetadata: bool().default(SOURCE_DEFAULTS.txtMetadata),
  })
  .superRefine(exactlyOneKind("a source"));

const IP_FAMILIES = ["V4_ONLY", "V6_ONLY", "V4_PREFERRED", "V6_PREFERRED", "ALL"] as const;
const LB_POLICIES = ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "RING_HASH"] as const;
const SHORTHAND_ONLY = ["locality", "weight", "metadata", "txtMetadata"] as const;

const clusterEntry = z
  .strictObject({
    name: clusterName,
    dns: dnsSource.optional(),
    srv: srvSource.optional(),
    static: staticSource.optional(),
    sources: z.array(sourceEntry).min(1, { error: "expected at least one source" }).optional(),
    locality: locality.optional(),
    weight: localityWeight().optional(),
    metadata: stringMap().optional(),
    txtMetadata: bool().optional(),
    ipFamily: z.enum(IP_FAMILIES).default(CLUSTER_DEFAULTS.ipFamily),
    happyEyeballs: bool().default(CLUSTER_DEFAULTS.happyEyeballs),
    zoneAware: bool().default(CLUSTER_DEFAULTS.zoneAware),
    endpointHostname: bool().default(CLUSTER_DEFAULTS.endpointHostname),
    selector: stringMap().optional(),
    subsetSelectors: z
      .array(
        z
          .array(nonEmpty("a metadata key"))
          .min(1, { error: "expected at least one key" })
          .max(16, { error: "expected at most 16 keys" }),
      )
      .min(1, { error: "expected at least one selector (omit the key for none)" })
      .max(64, { error: "expected at most 64 selectors" })
      .optional(),
    healthCheck: clusterHealthCheck.optional(),
    grpcListener: bool().default(CLUSTER_DEFAULTS.grpcListener),
    connectTimeoutMs: intIn(1, 600_000).default(CLUSTER_DEFAULTS.connectTimeoutMs),
    lbPolicy: z.enum(LB_POLICIES).default(CLUSTER_DEFAULTS.lbPolicy),
    overprovisioningFactor: intIn(1, 100_000).default(CLUSTER_DEFAULTS.overprovisioningFactor),
    drainMs: intIn(0, 86_400_000).default(CLUSTER_DEFAULTS.drainMs),
    emptyGraceMs: flapGuardFields.emptyGraceMs.optional(),
    shrinkThreshold: flapGuardFields.shrinkThreshold.optional(),
    shrinkHoldMs: flapGuardFields.shrinkHoldMs.optional(),
    staleAfterMs: intIn(0, 86_400_000)
      .default(CLUSTER_DEFAULTS.staleAfterMs)
      .refine((v) => v === 0 || v >= 1_000, { error: "expected 0 (off) or 1000..86400000" }),
    allowLoopback: bool().optional(),
  })
  .superRefine((c, ctx) => {
    exactlyOneKind("a cluster", ["sources"])(c, ctx);
    if (c.sources !== undefined) {
      for (const key of SHORTHAND_ONLY) {
        if (c[key] !== undefined)
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: "expected only with the dns/srv/static shorthand; with sources, set it on each source",
          });
      }
    }
  });

export const configFileSchema = z
  .strictObject({
    xds: xdsSection.prefault({}),
    admin: adminSection.prefault({}),
    dns: dnsSection.prefault({}),
    cache: cacheSection.prefault({}),
    healthDefaults: healthDefaultsSection.prefault({}),
    shutdown: shutdownSection.prefault({}),
    // Required on purpose: a file that lost its clusters (empty, truncated, wrong key) must not start a
    // server that serves nothing; `clusters: []` says "none" explicitly.
    clusters: z.array(clusterEntry, {
      error: (issue) =>
        issue.input === undefined
          ? "expected a list of clusters (write `clusters: []` to serve none on purpose)"
          : "expected a list of clusters",
    }),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    for (const [i, c] of cfg.clusters.entries()) {
      const first = seen.get(c.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["clusters", i, "name"],
          message: `expected a unique cluster name, "${c.name}" is also clusters[${first}].name`,
        });
      } else {
        seen.set(c.name, i);
      }
    }
  });

/** The file after validation and defaults, before mapping to the runtime shape. */
export type ConfigFile = z.output<typeof configFileSchema>;
export type ClusterEntry = ConfigFile["clusters"][number];
export type SourceEntry = NonNullable<ClusterEntry["sources"]>[number];
