/**
 * Envoy in the loop, every cluster option the config offers (SotW, then Delta): one cluster per option
 * value — each lbPolicy, LEAST_REQUEST and RANDOM with `grpcListener` (lb_policy ROUND_ROBIN plus
 * load_balancing_policy, gRFC A52), connectTimeoutMs, overprovisioningFactor, staleAfterMs, drainMs,
 * happyEyeballs, zoneAware, each ipFamily, selector, metadata + txtMetadata, each health-check type —
 * is sent to one Envoy once. Envoy ACKs all of it (zero `update_rejected` for CDS and every EDS
 * cluster), holds what was sent (config_dump), and requests through each cluster reach a backend.
 * A second Envoy per mode also fetches LDS over ADS, where the API listeners of `grpcListener` clusters
 * arrive: what Envoy does with them is asserted and documented in docs/envoy.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const V4 = ["127.0.0.81", "127.0.0.82"];
const ALL = [...V4, "::1"];
const ORIGIN = "envoy-opts.test";

let bind: BindServer;
let cp: DnsEdsInstance;
let backends: Map<string, HttpWho>;
let port = 0;

dumpEnvoyLogsOnFailure();

const hc = (type: string) => ({
  type,
  intervalMs: 1000,
  timeoutMs: 500,
  path: "/health",
  healthyThreshold: 1,
  unhealthyThreshold: 3,
});

function clusters(): Array<Record<string, unknown>> {
  const dns = { name: `web.${ORIGIN}`, port };
  const base = { dns, ipFamily: "V4_ONLY" };
  return [
    { name: "lb-round-robin", ...base, lbPolicy: "ROUND_ROBIN" },
    { name: "lb-least-request", ...base, lbPolicy: "LEAST_REQUEST" },
    { name: "lb-random", ...base, lbPolicy: "RANDOM" },
    { name: "lb-ring-hash", ...base, lbPolicy: "RING_HASH" },
    { name: "a52-least-request", ...base, lbPolicy: "LEAST_REQUEST", grpcListener: true },
    { name: "a52-random", ...base, lbPolicy: "RANDOM", grpcListener: true },
    { name: "grpc-round-robin", ...base, grpcListener: true },
    { name: "grpc-ring-hash", ...base, lbPolicy: "RING_HASH", grpcListener: true },
    { name: "connect-timeout", ...base, connectTimeoutMs: 250 },
    { name: "connect-timeout-max", ...base, connectTimeoutMs: 600_000 },
    { name: "overprovisioning-1", ...base, overprovisioningFactor: 1 },
    { name: "overprovisioning-max", ...base, overprovisioningFactor: 100_000 },
    { name: "stale-after", ...base, staleAfterMs: 60_000 },
    { name: "drain-0", ...base, drainMs: 0 },
    { name: "v4-only", dns, ipFamily: "V4_ONLY" },
    { name: "v6-only", dns, ipFamily: "V6_ONLY" },
    { name: "v4-preferred", dns, ipFamily: "V4_PREFERRED" },
    { name: "v6-preferred", dns, ipFamily: "V6_PREFERRED" },
    { name: "all-families", dns, ipFamily: "ALL" },
    { name: "happy-eyeballs", dns, ipFamily: "V6_PREFERRED", happyEyeballs: true },
    {
      name: "zone-aware",
      zoneAware: true,
      ipFamily: "V4_ONLY",
      sources: [
        { dns: { name: `a.${ORIGIN}`, port }, locality: { region: "r", zone: "z-a" } },
        { dns: { name: `b.${ORIGIN}`, port }, locality: { region: "r", zone: "z-b" }, weight: 3 },
      ],
    },
    {
      name: "metadata",
      dns,
      ipFamily: "V4_ONLY",
      metadata: { stage: "prod" },
      txtMetadata: true,
    },
    { name: "selector", dns, ipFamily: "V4_ONLY", txtMetadata: true, selector: { version: "v1" } },
    { name: "hc-tcp", ...base, healthCheck: hc("tcp") },
    { name: "hc-http", ...base, healthCheck: hc("http") },
    { name: "static", static: V4.map((address) => ({ address, port })) },
  ];
}

beforeAll(async () => {
  port = await freePortOnAll(ALL);
  backends = await startHttpWhos(ALL, port);
  bind = await startBindServer({
    zones: [
      {
        origin: ORIGIN,
        records: [
          ...V4.map((h) => `web 5 IN A ${h}`),
          "web 5 IN AAAA ::1",
          'web 5 IN TXT "version=v1"',
          `a 5 IN A ${V4[0]}`,
          `b 5 IN A ${V4[1]}`,
        ].join("\n"),
      },
    ],
  });
  cp = await startDnsEds({
    dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
    clusters: clusters(),
  });
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await bind?.stop();
  for (const b of backends?.values() ?? []) await b.close();
});

const names = () => clusters().map((c) => c.name as string);

describe.each(ADS_MODES)("every cluster option through Envoy (ADS %s)", (mode) => {
  let envoy: Envoy;
  beforeAll(async () => {
    envoy = await startEnvoy({ xdsPorts: [cp.xdsPort], ads: mode, locality: { region: "r", zone: "z-a" } });
    await waitFor("Envoy to hold hosts for every cluster", 30_000, async () => {
      for (const n of names()) if (((await envoy.hosts(n)) ?? []).length === 0) return undefined;
      return true;
    });
  }, 60_000);
  afterAll(async () => {
    await envoy?.stop();
  });

  it("ACKs every Cluster and every assignment: zero update_rejected", async () => {
    expect(await envoy.stat("cluster_manager.cds.update_rejected")).toBe(0);
    expect(await envoy.stat("cluster_manager.cds.update_success")).toBeGreaterThanOrEqual(1);
    for (const n of names()) {
      expect(await envoy.stat(`cluster.${n}.update_rejected`), n).toBe(0);
      expect(await envoy.stat(`cluster.${n}.update_success`), n).toBeGreaterThanOrEqual(1);
    }
    expect(await cp.metric("dnseds_xds_nacks_total")).toBe(0);
  });

  it("holds what was sent: lb policies (A52 list first), timeouts, overprovisioning, stale-after, additional addresses", async () => {
    const cds = JSON.stringify(
      (await envoy.configDump()).configs.find((c) => c["@type"].endsWith("ClustersConfigDump")),
    );
    const dump = await envoy.configDump();
    const cluster = (name: string) => {
      const c = dump.configs.find((x) => x["@type"].endsWith("ClustersConfigDump")) as {
        dynamic_active_clusters?: Array<{ cluster?: Record<string, unknown> & { name?: string } }>;
      };
      return c.dynamic_active_clusters?.find((d) => d.cluster?.name === name)?.cluster ?? {};
    };
    expect(cds).toContain('"name":"lb-round-robin"');
    expect(cluster("lb-least-request").lb_policy).toBe("LEAST_REQUEST");
    expect(cluster("lb-random").lb_policy).toBe("RANDOM");
    expect(cluster("lb-ring-hash").lb_policy).toBe("RING_HASH");
    for (const [n, ext] of [
      ["a52-least-request", "envoy.load_balancing_policies.least_request"],
      ["a52-random", "envoy.load_balancing_policies.random"],
    ] as const) {
      const c = cluster(n) as {
        lb_policy?: string;
        load_balancing_policy?: { policies?: Array<{ typed_extension_config?: { name?: string } }> };
      };
      expect(c.lb_policy ?? "ROUND_ROBIN", n).toBe("ROUND_ROBIN");
      expect(c.load_balancing_policy?.policies?.map((p) => p.typed_extension_config?.name)).toEqual([
        ext,
        "envoy.load_balancing_policies.wrr_locality",
      ]);
    }
    expect(cluster("connect-timeout").connect_timeout).toBe("0.250s");
    expect(cluster("connect-timeout-max").connect_timeout).toBe("600s");
    const policy = async (n: string) =>
      ((await envoy.edsAssignment(n)) as { policy?: Record<string, unknown> } | undefined)?.policy;
    expect((await policy("overprovisioning-1"))?.overprovisioning_factor).toBe(1);
    expect((await policy("overprovisioning-max"))?.overprovisioning_factor).toBe(100_000);
    // Envoy's EDS dump is rebuilt from its hosts and leaves endpoint_stale_after out; its stat shows it.
    expect(await envoy.stat("cluster.stale-after.assignment_timeout_received")).toBeGreaterThanOrEqual(1);
    const he = JSON.stringify(await envoy.edsAssignment("happy-eyeballs"));
    expect(he).toContain('"additional_addresses"');
    expect(he).toMatch(
      /"additional_addresses":\[\{"address":\{"socket_address":\{"address":"127\.0\.0\.8[12]"/,
    );
  });

  it("sends requests through every cluster to a backend; RANDOM and LEAST_REQUEST reach both hosts", async () => {
    for (const n of names()) {
      const body = await envoy.get(n);
      expect(ALL, n).toContain(body);
    }
    for (const n of ["lb-random", "a52-random", "lb-least-request", "a52-least-request"]) {
      const counts = await tally(40, () => envoy.get(n));
      expect([...counts.keys()].sort(), n).toEqual(V4);
    }
    // The zone-aware cluster puts this Envoy's zone (z-a → 127.0.0.81) first.
    const zone = await tally(20, () => envoy.get("zone-aware"));
    expect([...zone.keys()]).toEqual([V4[0]]);
    // The selector keeps the endpoints whose TXT metadata says version=v1 (all of web's v4 here).
    expect(((await envoy.hosts("selector")) ?? []).map((h) => h.address).sort()).toEqual(V4);
  });
});

describe.each(ADS_MODES)("LDS over ADS to Envoy: API listeners of grpcListener clusters (ADS %s)", (mode) => {
  let envoy: Envoy;
  beforeAll(async () => {
    envoy = await startEnvoy({ xdsPorts: [cp.xdsPort], ads: mode, lds: true });
    await waitFor("Envoy to have tried LDS", 20_000, async () =>
      (await envoy.stat("listener_manager.lds.update_attempt")) > 0 &&
      (await envoy.stat("listener_manager.lds.update_success")) +
        (await envoy.stat("listener_manager.lds.update_rejected")) >
        0
        ? true
        : undefined,
    );
  }, 60_000);
  afterAll(async () => {
    await envoy?.stop();
  });

  it("Envoy ACKs LDS but installs none of them: API listeners are for proxyless gRPC only", async () => {
    expect(await envoy.stat("listener_manager.lds.update_rejected")).toBe(0);
    expect(await envoy.stat("listener_manager.lds.update_success")).toBeGreaterThanOrEqual(1);
    // dns-eds did send them (LDS pushes), Envoy took the update and kept only its static listener.
    expect(await cp.metric("dnseds_xds_pushes_total", 'type="lds"')).toBeGreaterThanOrEqual(1);
    const dump = JSON.stringify(
      (await envoy.configDump()).configs.find((c) => c["@type"].endsWith("ListenersConfigDump")),
    );
    for (const n of ["a52-least-request", "a52-random", "grpc-round-robin", "grpc-ring-hash"])
      expect(dump).not.toContain(`"name":"${n}"`);
    // The static listener still serves.
    expect(ALL).toContain(await envoy.get("grpc-round-robin"));
  });
});
