import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/admin/metrics.js";
import type { CacheMetrics } from "../../src/cache/cache-metrics.js";
import type { DnsMetrics } from "../../src/dns/dns-metrics.js";
import type { HealthSchedulerOptions } from "../../src/health/health-scheduler.js";
import type { XdsMetrics } from "../../src/xds/metrics.js";

describe("metric adapters fit the other stages' hook interfaces", () => {
  it("type-checks against DnsMetrics, XdsMetrics, CacheMetrics and the health scheduler's onProbe", async () => {
    const metrics = createMetrics({ processMetrics: false });
    // Assignments are the test: tsc (npm run lint) fails when an interface drifts.
    const dns: DnsMetrics = metrics.dnsHooks();
    const xds: XdsMetrics = metrics.xdsHooks();
    const cache: CacheMetrics = metrics.cacheHooks();
    const onProbe: NonNullable<HealthSchedulerOptions["onProbe"]> = metrics.healthProbeHook();
    dns.query?.("[::1]:53", "servfail", 2);
    xds.pushed("type.googleapis.com/envoy.config.cluster.v3.Cluster", 10, 1);
    cache.servedStale?.("AAAA");
    onProbe("::1|80", { ok: false, hard: true, code: "ERR_HEALTH_REFUSED", detail: "refused" }, "UNHEALTHY");
    const text = await metrics.registry.metrics();
    expect(text).toContain('dnseds_dns_queries_total{server="[::1]:53",outcome="servfail"} 1');
    expect(text).toContain('dnseds_xds_pushes_total{type="cds"} 1');
    expect(text).toContain('dnseds_cache_stale_answers_total{type="AAAA"} 1');
    expect(text).toContain('dnseds_health_checks_total{outcome="ERR_HEALTH_REFUSED"} 1');
  });

  it("counts TCP connections to a DNS server opened, and those open now", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const dns: DnsMetrics = metrics.dnsHooks();
    dns.tcpConnection?.("127.0.0.1:53", "opened");
    dns.tcpConnection?.("127.0.0.1:53", "opened");
    dns.tcpConnection?.("127.0.0.1:53", "closed");
    const text = await metrics.registry.metrics();
    expect(text).toContain('dnseds_dns_tcp_connections_opened_total{server="127.0.0.1:53"} 2');
    expect(text).toContain('dnseds_dns_tcp_connections{server="127.0.0.1:53"} 1');
  });

  it("computes the endpoints gauge from the clusters at scrape time", async () => {
    const metrics = createMetrics({ processMetrics: false });
    let clusters = [
      { name: "a", endpoints: [{ health: "HEALTHY" }, { health: "HEALTHY" }, { health: "DRAINING" }] },
      { name: "b", endpoints: [{ health: "UNKNOWN" }] },
    ];
    metrics.observeClusters(() => clusters);
    let text = await metrics.registry.metrics();
    expect(text).toContain('dnseds_endpoints{cluster="a",health="HEALTHY"} 2');
    expect(text).toContain('dnseds_endpoints{cluster="a",health="DRAINING"} 1');
    expect(text).toContain('dnseds_endpoints{cluster="b",health="UNKNOWN"} 1');
    clusters = [{ name: "a", endpoints: [{ health: "UNHEALTHY" }] }];
    text = await metrics.registry.metrics();
    expect(text).toContain('dnseds_endpoints{cluster="a",health="UNHEALTHY"} 1');
    expect(text).toContain('dnseds_endpoints{cluster="a",health="HEALTHY"} 0');
    expect(text).not.toContain('cluster="b"');
  });
});
