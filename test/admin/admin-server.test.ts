import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../../src/admin/admin-server.js";
import type { ClusterView } from "../../src/admin/clusters-page.js";
import { createMetrics, type DnsEdsMetrics } from "../../src/admin/metrics.js";
import { dnsReadiness, etcdReadiness, firstResolutionReadiness } from "../../src/admin/readiness.js";

const EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

const clusters: ClusterView[] = [
  {
    name: "payments",
    version: "a1b2c3",
    endpoints: [
      {
        address: "10.0.0.2",
        port: 8080,
        health: "UNHEALTHY",
        priority: 0,
        locality: { region: "eu", zone: "eu-1a", subZone: "" },
        source: "dns payments.example.com",
        ttlLeftS: 12.4,
        weight: 1,
      },
      {
        address: "fd00::1",
        port: 8080,
        health: "HEALTHY",
        priority: 1,
        locality: { region: "", zone: "", subZone: "" },
        source: "dns payments.example.com",
        ttlLeftS: 30,
      },
    ],
  },
  { name: "empty", endpoints: [], error: "ERR_DNS_TIMEOUT: all servers timed out <script>" },
];

describe("admin server", () => {
  let admin: AdminServer;
  let metrics: DnsEdsMetrics;
  let etcdState: "connected" | "degraded" | "disabled" = "disabled";
  let pending: string[] = ["payments"];
  let hang = false;
  const cacheCounts = { hits: { local: 10, etcd: 2 }, misses: { local: 3 } };

  beforeAll(async () => {
    metrics = createMetrics({ version: "9.9.9" });
    metrics.observeCacheCounters(() => cacheCounts);
    admin = await startAdminServer({
      listen: "127.0.0.1:0",
      registry: metrics.registry,
      readinessTimeoutMs: 200,
    });
  });
  afterAll(async () => {
    await admin.close();
  });

  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${admin.url}${path}`, init);
    return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
  };

  it("answers /healthz at once and says it is still starting on /readyz", async () => {
    expect(await get("/healthz")).toMatchObject({ status: 200, body: expect.stringContaining('"ok"') });
    const r = await get("/readyz");
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).checks[0].reason).toBe("still starting");
  });

  it("reports readiness from the injected checks with reasons", async () => {
    admin.setProviders({
      readiness: [
        dnsReadiness(() => ({ reachable: true, detail: "127.0.0.1:53 answered" })),
        etcdReadiness(() => etcdState),
        firstResolutionReadiness(() => pending),
        { name: "slow", check: () => (hang ? new Promise(() => {}) : { ok: true }) },
      ],
      configDump: (q) => {
        if (q.resource === "nope")
          throw Object.assign(new Error("nope not found in config dump"), {
            code: "ERR_CONFIG_DUMP_NOT_FOUND",
          });
        if (q.mask === "bogus")
          throw Object.assign(new Error("FieldMask bogus could not be successfully applied to any configs"), {
            code: "ERR_CONFIG_DUMP_BAD_QUERY",
          });
        return { configs: [{ "@type": CDS, query: q, big: 2n ** 40n }] };
      },
      clusters: () => clusters,
    });
    let r = await get("/readyz");
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({
      ready: false,
      checks: [
        { name: "dns", ok: true, reason: "127.0.0.1:53 answered" },
        { name: "etcd", ok: true, reason: "not configured" },
        {
          name: "first-resolution",
          ok: false,
          reason: "waiting for the first resolution of 1 cluster(s): payments",
        },
        { name: "slow", ok: true },
      ],
    });

    pending = [];
    r = await get("/readyz");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).ready).toBe(true);

    etcdState = "degraded";
    r = await get("/readyz");
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).checks[1]).toEqual({
      name: "etcd",
      ok: false,
      reason: "etcd unreachable or without quorum",
    });

    etcdState = "connected";
    hang = true;
    r = await get("/readyz");
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).checks[3]).toEqual({
      name: "slow",
      ok: false,
      reason: "check did not answer within 200 ms",
    });
    hang = false;
  });

  it("serves Prometheus metrics recorded through the stage hooks", async () => {
    const dns = metrics.dnsHooks();
    dns.query("127.0.0.1:53", "ok", 1.5);
    dns.query("127.0.0.1:53", "timeout", 500);
    dns.failover("127.0.0.1:53", "[::1]:53");
    dns.rejected("wrong-id");
    const xds = metrics.xdsHooks();
    xds.streamOpened("ads-sotw");
    xds.streamOpened("ads-sotw");
    xds.streamClosed("ads-sotw");
    xds.pushed(EDS, 2900, 12);
    xds.nacked(CDS, "bad lb policy");
    const cache = metrics.cacheHooks();
    cache.servedStale("A");
    cache.etcdState("connected");
    cache.upstream("A", "ok", 3);
    metrics.setClusterEndpoints("payments", { HEALTHY: 2, UNHEALTHY: 1 });
    const probe = metrics.healthProbeHook();
    probe("10.0.0.2|8080", { ok: true }, "HEALTHY");
    probe("10.0.0.2|8080", { ok: false, code: "ERR_HEALTH_TIMEOUT" }, "HEALTHY");
    metrics.configReload("invalid");

    const r = await get("/metrics");
    expect(r.status).toBe(200);
    expect(r.type).toContain("text/plain");
    const lines = r.body.split("\n");
    for (const line of [
      'dnseds_dns_queries_total{server="127.0.0.1:53",outcome="ok"} 1',
      'dnseds_dns_queries_total{server="127.0.0.1:53",outcome="timeout"} 1',
      'dnseds_dns_query_duration_seconds_bucket{le="0.0025",server="127.0.0.1:53"} 1',
      'dnseds_dns_failovers_total{from="127.0.0.1:53",to="[::1]:53"} 1',
      'dnseds_dns_rejected_replies_total{reason="wrong-id"} 1',
      'dnseds_cache_hits_total{tier="local"} 10',
      'dnseds_cache_hits_total{tier="etcd"} 2',
      'dnseds_cache_misses_total{tier="local"} 3',
      'dnseds_cache_stale_answers_total{type="A"} 1',
      'dnseds_cache_etcd_state{state="connected"} 1',
      'dnseds_cache_etcd_state{state="degraded"} 0',
      'dnseds_endpoints{cluster="payments",health="HEALTHY"} 2',
      'dnseds_endpoints{cluster="payments",health="UNHEALTHY"} 1',
      'dnseds_endpoints{cluster="payments",health="DRAINING"} 0',
      'dnseds_health_checks_total{outcome="ok"} 1',
      'dnseds_health_checks_total{outcome="ERR_HEALTH_TIMEOUT"} 1',
      'dnseds_xds_streams{kind="ads-sotw"} 1',
      'dnseds_xds_pushes_total{type="eds"} 1',
      'dnseds_xds_push_bytes_total{type="eds"} 2900',
      'dnseds_xds_push_duration_seconds_bucket{le="0.025",type="eds"} 1',
      'dnseds_xds_nacks_total{type="cds"} 1',
      "dnseds_config_reload_errors_total 1",
      'dnseds_config_reloads_total{outcome="invalid"} 1',
      'dnseds_build_info{version="9.9.9"} 1',
    ]) {
      expect(lines, line).toContain(line);
    }
    expect(r.body).toContain("process_cpu_seconds_total");
    expect(r.body).toContain("nodejs_heap_size_used_bytes");
    expect(r.body).not.toMatch(/^dnseds_(process|nodejs)_/m);

    // The tiers' cumulative counters become increments: a scrape after more hits shows the new total.
    cacheCounts.hits.local = 15;
    expect((await get("/metrics")).body.split("\n")).toContain('dnseds_cache_hits_total{tier="local"} 15');

    metrics.removeCluster("payments");
    expect((await get("/metrics")).body).not.toContain('cluster="payments"');
  });

  it("passes Envoy's config_dump parameters through and answers bad ones as Envoy does", async () => {
    const r = await get("/config_dump?resource=dynamic_active_clusters&mask=cluster.name&name_regex=pay.*");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({
      configs: [
        {
          "@type": CDS,
          query: { resource: "dynamic_active_clusters", mask: "cluster.name", nameRegex: "pay.*" },
          big: "1099511627776",
        },
      ],
    });
    const missing = await get("/config_dump?resource=nope");
    expect([missing.status, missing.body]).toEqual([404, "nope not found in config dump\n"]);
    const bad = await get("/config_dump?mask=bogus");
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("FieldMask bogus");
  });

  it("shows clusters as a readable page and as JSON", async () => {
    const text = await get("/clusters");
    expect(text.type).toContain("text/plain");
    expect(text.body).toContain("cluster payments (version a1b2c3): 1 UNHEALTHY, 1 HEALTHY");
    expect(text.body).toMatch(
      /10\.0\.0\.2:8080\s+UNHEALTHY\s+0\s+eu\/eu-1a\/\s+1\s+12s\s+dns payments\.example\.com/,
    );
    expect(text.body).toMatch(/\[fd00::1\]:8080\s+HEALTHY\s+1\s+-\s+-\s+30s/);
    expect(text.body).toContain("cluster empty: no endpoints");
    expect(text.body).toContain("last error: ERR_DNS_TIMEOUT: all servers timed out <script>");
    const html = await get("/clusters", { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(html.type).toContain("text/html");
    expect(html.body).toContain('<tr class="UNHEALTHY"><td>10.0.0.2:8080</td><td>UNHEALTHY</td>');
    expect(html.body).toContain(`<h2 id="cluster-empty">empty</h2>`);
    expect(html.body).toContain("timed out &lt;script&gt;");
    expect(html.body).not.toContain("<script>");
    const json = await get("/clusters?format=json");
    expect(json.type).toContain("application/json");
    expect(JSON.parse(json.body)).toEqual({ clusters });
  });

  it("is read-only and answers unknown paths with the index", async () => {
    expect((await get("/config_dump", { method: "POST" })).status).toBe(405);
    const r = await get("/nope");
    expect(r.status).toBe(404);
    expect(r.body).toContain("/readyz");
    expect((await get("/")).body).toContain("/config_dump");
  });

  it("turns a provider failure into a 500 with the message", async () => {
    admin.setProviders({
      clusters: () => {
        throw new Error("pipeline gone");
      },
    });
    const r = await get("/clusters");
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body).error).toBe("pipeline gone");
  });
});

describe("admin server listening", () => {
  it("listens on IPv6 loopback", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const admin = await startAdminServer({ listen: "[::1]:0", registry: metrics.registry });
    try {
      expect(admin.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect((await fetch(`${admin.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${admin.url}/config_dump`)).status).toBe(503);
    } finally {
      await admin.close();
    }
  });

  it("fails with ERR_ADMIN_LISTEN when the port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(
        startAdminServer({
          listen: `127.0.0.1:${port}`,
          registry: createMetrics({ processMetrics: false }).registry,
        }),
      ).rejects.toMatchObject({ code: "ERR_ADMIN_LISTEN" });
    } finally {
      blocker.close();
    }
  });
});
